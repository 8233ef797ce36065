/**
 * The `afg` command line: verify an account answer without trusting the server, show a region's
 * finality status, submit dev transfers, and deal threshold keys for a cluster.
 *
 * Exit codes: 0 success; 1 the operation failed (verification failed, server or network error,
 * refusing to overwrite keys); 2 bad usage (the message names the flag or argument).
 * Run: `npx afg --help` (bin/afg.mjs loads this file through tsx) or `npx tsx lib/cli/main.ts`.
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { accountArg, CliFailure, type CliIo, devIndexArg, EXIT, hexArg, intArg, processIo, UsageError, u64Arg, urlArg } from './io.js';
import { keygenCommand } from './keygen.js';
import { statusCommand } from './status.js';
import { transferCommand } from './transfer.js';
import { verifyCommand } from './verify.js';

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
    .action(async (api: string, account, o: { groupKey?: Uint8Array; chainId?: Uint8Array; interval?: number }) => {
      setCode(await verifyCommand(io, { api, account, ...o }));
    });

  p.command('status')
    .description('finality and sync summary of a region (exit 0 ok, 1 degraded or down)')
    .argument('<api-url>', 'base URL of a region API', urlArg)
    .action(async (api: string) => setCode(await statusCommand(io, api)));

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
    .requiredOption('--threshold <t>', 'signatures needed, at least n - floor((n-1)/3)', intArg(1, 1024))
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
