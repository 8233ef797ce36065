/**
 * The `afg` command line: verify an account answer without trusting the server (bound to the
 * account asked about, optionally fresh and confirmed by witnesses), show a region's finality
 * status, follow its finalized checkpoints, submit dev transfers, deal threshold keys for a cluster,
 * and export or import a member's slashing protection (EIP-3076 interchange).
 *
 * Exit codes: 0 success; 1 the operation failed (verification failed, server or network error,
 * refusing to overwrite keys); 2 bad usage (the message names the flag or argument).
 * Run: `npx afg --help` (bin/afg.mjs loads this file through tsx) or `npx tsx lib/cli/main.ts`.
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { accountArg, CliFailure, type CliIo, devIndexArg, EXIT, hexArg, intArg, processIo, UsageError, u64Arg, urlArg } from './io.js';
import { keygenCommand } from './keygen.js';
import { exportCommand, importCommand, type StoreFlags } from './slashing-protection.js';
import { statusCommand } from './status.js';
import { transferCommand } from './transfer.js';
import { verifyCommand } from './verify.js';
import { watchCommand } from './watch.js';

/** Builds the program; `setCode` receives each action's exit code. */
function program(io: CliIo, setCode: (code: number) => void): Command {
  const p = new Command('afg')
    .description('Client tools for afg, a serverless asynchronous finality gadget')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run with --help for usage)');

  p.command('verify')
    .description('fetch an account answer and verify its proof and certificate (exit 0 verified, 1 not)')
    .argument('<api-url>', 'base URL of a region API, e.g. http://127.0.0.1:8080', urlArg)
    .argument('<account>', 'account public key (64 hex characters) or dev account index 0-9', accountArg)
    .option('--group-key <hex>', 'pin the 96-byte group public key instead of trusting /v1/validators', hexArg(96))
    .option('--chain-id <hex>', 'pin the 32-byte chain id', hexArg(32))
    .option('--interval <n>', 'pin the checkpoint interval', intArg(1, 1_000_000))
    .option('--min-height <height>', 'refuse an answer read below this height', intArg(0, Number.MAX_SAFE_INTEGER))
    .option(
      '--height <height>',
      'ask for the account at this finalized checkpoint (history) and refuse an answer read at any other height',
      intArg(0, Number.MAX_SAFE_INTEGER),
    )
    .option(
      '--witness <url>',
      'another region or server that must hold the answer checkpoint as finalized, same hash and state root (repeatable)',
      (value: string, previous: string[] = []) => [...previous, urlArg(value)],
    )
    .option(
      '--max-age <checkpoints>',
      'refuse an answer more checkpoints behind the highest finalized height the witnesses prove',
      intArg(0, 1_000_000_000),
    )
    .option('--era <era>', 'the certificate must be for this era', u64Arg)
    .action(
      async (
        api: string,
        account,
        o: {
          groupKey?: Uint8Array;
          chainId?: Uint8Array;
          interval?: number;
          minHeight?: number;
          height?: number;
          witness?: string[];
          maxAge?: number;
          era?: bigint;
        },
      ) => {
        const { witness, ...rest } = o;
        setCode(await verifyCommand(io, { api, account, ...rest, witnesses: witness ?? [] }));
      },
    );

  p.command('status')
    .description('finality and sync summary of a region (exit 0 ok, 1 degraded or down)')
    .argument('<api-url>', 'base URL of a region API', urlArg)
    .action(async (api: string) => setCode(await statusCommand(io, api)));

  p.command('watch')
    .description('follow finalized checkpoints as they arrive, each certificate verified (exit 1 on a gap, repeat or bad certificate)')
    .argument('<api-url>', 'base URL of a region API (or its stream URL)', urlArg)
    .option(
      '--from <height>',
      'resume after this height (default: start with the current finalized checkpoint)',
      intArg(0, Number.MAX_SAFE_INTEGER),
    )
    .option('--group-key <hex>', 'pin the 96-byte group public key instead of trusting /v1/validators', hexArg(96))
    .option('--count <n>', 'stop after this many checkpoints', intArg(1, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print each verified checkpoint as one JSON line', false)
    .action(async (api: string, o: { from?: number; groupKey?: Uint8Array; count?: number; json: boolean }) => {
      setCode(await watchCommand(io, { api, ...o }));
    });

  p.command('transfer')
    .description('sign a transfer with a dev account key and submit it')
    .requiredOption('--api <url>', 'base URL of the home region API', urlArg)
    .requiredOption('--from <index>', 'sending dev account index 0-9', devIndexArg)
    .requiredOption('--to <account>', 'recipient: public key hex or dev account index 0-9', accountArg)
    .requiredOption('--amount <n>', 'amount (u64)', u64Arg)
    .option('--nonce <n>', 'sender nonce (default: the next nonce at the latest finalized state)', u64Arg)
    .action(async (o: { api: string; from: number; to: { index: number } | { key: Uint8Array }; amount: bigint; nonce?: bigint }) =>
      setCode(await transferCommand(io, o)),
    );

  p.command('keygen')
    .description('deal a t-of-n threshold BLS key: one secret file per member and a public cluster.json')
    .requiredOption('--members <n>', 'number of members n', intArg(1, 1024))
    .requiredOption('--threshold <t>', 'signatures needed, at least n - f (f = the faults n members tolerate)', intArg(1, 1024))
    .requiredOption('--out <dir>', 'directory to write the key files to (created, mode 0700)')
    .addOption(new Option('--regions <list>', 'comma-separated regions, assigned to members round-robin').default('us-east-1'))
    .option('--force', 'overwrite existing key files', false)
    .action(async (o: { members: number; threshold: number; out: string; regions: string; force: boolean }) =>
      setCode(
        await keygenCommand(io, {
          ...o,
          regions: o.regions
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean),
        }),
      ),
    );

  const protection = p
    .command('slashing-protection')
    .description("export or import a member's slashing protection as an EIP-3076 (version 5) interchange file");
  const storeOptions = (c: Command) =>
    c
      .requiredOption('--member <index>', 'member index (1-based)', intArg(1, 1024))
      .requiredOption('--config <file>', 'cluster config JSON (as given to cdk synth; npm start writes <data-dir>/config.json)')
      .option('--region <region>', "region whose finality table holds the watermark (default: the member's region)")
      .option('--endpoint <url>', 'DynamoDB endpoint instead of AWS, e.g. the DynamoDB Local that npm start prints');
  storeOptions(protection.command('export'))
    .description("write the member's watermark and last signed vote as an interchange document")
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--force', 'overwrite --out if it exists', false)
    .action(async (o: StoreFlags & { out?: string; force: boolean }) => setCode(await exportCommand(io, o)));
  storeOptions(protection.command('import'))
    .description("merge the member's entry of an interchange file into its watermark (never lowers it)")
    .argument('<file>', 'EIP-3076 interchange JSON (for this chain: genesis_validators_root = chain id)')
    .action(async (file: string, o: StoreFlags) => setCode(await importCommand(io, { ...o, file })));
  return p;
}

/**
 * Runs the CLI on `argv` (arguments only, without node and script). Never throws and never exits
 * the process: returns the exit code.
 * @example process.exitCode = await run(['status', 'http://127.0.0.1:8080']);
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let code: number = EXIT.ok;
  const p = program(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    io.err(p.helpInformation());
    return EXIT.usage;
  }
  try {
    await p.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; commander already printed everything else.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof CliFailure) {
      io.err(`error: ${e.message}\n`);
      return EXIT.failed;
    }
    io.err(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.failed;
  }
}

/** Entry point for bin/afg.mjs and `tsx lib/cli/main.ts`. */
export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
