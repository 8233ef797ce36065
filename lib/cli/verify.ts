/**
 * `afg verify <api-url> <account>`: fetches an account answer and checks it the way a browser
 * client would (lib/core/verifier.ts): it must be about the account asked for, proven under a
 * certificate that verifies, and, when asked, fresh enough and confirmed by witnesses.
 *
 * The group key, chain id and interval come from /v1/validators unless pinned with flags; a pinned
 * group key is what makes the check trustless. A certificate never expires, so a valid answer can
 * still be old: `--min-height`, `--max-age` (checkpoints behind the highest finalized height the
 * witnesses prove) and `--era` bound that, and every `--witness` (another region, or another
 * operator's server) must hold the answer's checkpoint as finalized, with the same hash and state
 * root, under a certificate that verifies with the same group key. `--height H` asks for the
 * account at finalized checkpoint H (history) and refuses an answer read at any other height.
 */
import { asafeUint, equalBytes, fromHex, toHex } from '../core/bytes.js';
import { devSecretKey } from '../core/chain.js';
import { ed25519PublicKey } from '../core/ed25519.js';
import type { Checkpoint } from '../core/types.js';
import {
  type AccountVerifyOptions,
  type VerifyFailure,
  type VerifyOptions,
  verifyAccountAnswer,
  verifyCheckpointAnswer,
  verifyFinalityAnswer,
} from '../core/verifier.js';
import { certificateFromJson } from '../core/wire.js';
import { type CliIo, EXIT, requestJson, short, UsageError } from './io.js';

export interface VerifyArgs {
  api: string;
  account: { index: number } | { key: Uint8Array };
  groupKey?: Uint8Array;
  chainId?: Uint8Array;
  interval?: number;
  /** The answer must be read at this height or above. */
  minHeight?: number;
  /** Ask for the account at this finalized checkpoint (GET ...?height=H); the answer must be read there. */
  height?: number;
  /** Base URLs that must hold the answer's checkpoint as finalized (and, for maxAge, prove the reference height). */
  witnesses?: readonly string[];
  /** At most this many checkpoints behind the highest finalized height the witnesses prove. */
  maxAge?: number;
  /** The certificate must be for this era. */
  era?: bigint;
}

export const accountKeyOf = (a: VerifyArgs['account']): Uint8Array => ('key' in a ? a.key : ed25519PublicKey(devSecretKey(a.index)));

/** One witness's problems, each a line of the report. */
interface WitnessFailure {
  witness: string;
  message: string;
}

const witnessReason = (f: VerifyFailure) => (f.check.startsWith('checkpoint.') ? f.message : `[${f.check}] ${f.message}`);

/** Runs `check` against one witness; an unreachable or misbehaving witness becomes failures, never a throw. */
async function askWitness<T>(
  witness: string,
  failures: WitnessFailure[],
  check: () => Promise<{ ok: true; value: T } | { ok: false; failures: VerifyFailure[] }>,
): Promise<T | undefined> {
  try {
    const r = await check();
    if (r.ok) return r.value;
    for (const f of r.failures) failures.push({ witness, message: witnessReason(f) });
  } catch (e) {
    failures.push({ witness, message: e instanceof Error ? e.message : String(e) });
  }
  return undefined;
}

/** The highest finalized height any witness proves with a certificate (undefined when none does). */
async function referenceHeight(io: CliIo, witnesses: readonly string[], opts: VerifyOptions, failures: WitnessFailure[]) {
  const heights = await Promise.all(
    witnesses.map((w) =>
      askWitness(w, failures, async () => {
        const v = verifyFinalityAnswer((await requestJson(io, w, '/v1/finality')).body, opts);
        return v.ok ? { ok: true, value: v.checkpoint.height } : v;
      }),
    ),
  );
  const proven = heights.filter((h): h is number => h !== undefined);
  return proven.length > 0 ? Math.max(...proven) : undefined;
}

/** The checkpoint an account answer claims to be read at, when its fields decode. */
function claimedCheckpoint(answer: unknown): Checkpoint | undefined {
  try {
    const a = answer as { height?: unknown; stateRoot?: unknown; certificate?: unknown };
    const cert = certificateFromJson(a.certificate);
    return { height: asafeUint(a.height, 'height'), hash: cert.source.hash, stateRoot: fromHex(a.stateRoot, 32, 'stateRoot') };
  } catch {
    return undefined;
  }
}

/**
 * Runs the check and prints the verdict. Returns the exit code (0 verified, 1 not).
 * Throws UsageError for --max-age without --witness, or with --height.
 */
export async function verifyCommand(io: CliIo, args: VerifyArgs): Promise<number> {
  const witnesses = args.witnesses ?? [];
  if (args.maxAge !== undefined && witnesses.length === 0)
    throw new UsageError('--max-age', 'needs at least one --witness (the age is counted from the highest finalized height they prove)');
  if (args.maxAge !== undefined && args.height !== undefined)
    throw new UsageError('--max-age', 'does not combine with --height (an answer at a chosen height is exactly as old as that height)');

  const { body: set } = await requestJson(io, args.api, '/v1/validators');
  const serverKey = fromHex(set.groupPublicKey, 96, 'validators.groupPublicKey');
  const groupPublicKey = args.groupKey ?? serverKey;
  if (!args.groupKey)
    io.err('note: using the group key the server reports; pin it with --group-key <hex> to verify without trusting the server\n');
  else if (!equalBytes(args.groupKey, serverKey)) io.err('note: the server reports a different group key than the pinned one\n');
  const opts: VerifyOptions = {
    groupPublicKey,
    chainId: args.chainId ?? fromHex(set.chainId, 32, 'validators.chainId'),
    checkpointInterval: args.interval ?? set.checkpointInterval,
    threshold: set.threshold,
    ...(args.era !== undefined ? { era: args.era } : {}),
  };

  const accountKey = accountKeyOf(args.account);
  const account = toHex(accountKey);
  const witnessFailures: WitnessFailure[] = [];
  const [{ body: answer }, reference] = await Promise.all([
    requestJson(io, args.api, `/v1/accounts/${account}${args.height === undefined ? '' : `?height=${args.height}`}`),
    args.maxAge !== undefined ? referenceHeight(io, witnesses, opts, witnessFailures) : undefined,
  ]);
  const accountOpts: AccountVerifyOptions = {
    ...opts,
    account: accountKey,
    ...(args.minHeight !== undefined ? { minHeight: args.minHeight } : {}),
    ...(args.height !== undefined ? { height: args.height } : {}),
    ...(args.maxAge !== undefined && reference !== undefined ? { maxAge: { checkpoints: args.maxAge, referenceHeight: reference } } : {}),
  };
  const v = verifyAccountAnswer(answer, accountOpts);
  const failures: VerifyFailure[] = v.ok ? [] : [...v.failures];
  if (args.maxAge !== undefined && reference === undefined)
    failures.push({ check: 'answer.freshness', message: 'no witness proved a finalized height, so the age cannot be checked' });

  // Every witness must hold the answer's checkpoint as finalized, identically.
  const confirmed: string[] = [];
  const claimed = claimedCheckpoint(answer);
  if (claimed && witnesses.length > 0)
    await Promise.all(
      witnesses.map(async (w) => {
        const ok = await askWitness(w, witnessFailures, async () => {
          const c = verifyCheckpointAnswer((await requestJson(io, w, `/v1/checkpoints/${claimed.height}`)).body, claimed, opts);
          return c.ok ? { ok: true, value: true } : c;
        });
        if (ok) confirmed.push(w);
      }),
    );
  const witnessLines = witnesses
    .filter((w) => confirmed.includes(w))
    .map((w) => `   witness ${w}: checkpoint ${claimed!.height} finalized, same hash and state root\n`)
    .join('');
  const referenceLine =
    reference !== undefined
      ? `   highest finalized height reported by the witnesses: ${reference} (at most ${args.maxAge} checkpoint(s) behind allowed)\n`
      : '';

  if (v.ok && failures.length === 0 && witnessFailures.length === 0) {
    const c = v.certificate;
    io.out(
      `OK account ${account}\n` +
        `   balance ${v.balance}  nonce ${v.nonce}\n` +
        `   finalized height ${v.height}${args.height !== undefined ? ' (as requested)' : ''}  stateRoot ${short(v.stateRoot)}\n` +
        `   certificate ${c.source.height} -> ${c.target.height} signed by members ${c.signers.join(', ')} ` +
        `(group key ${args.groupKey ? 'pinned' : 'from server'})\n` +
        witnessLines +
        referenceLine,
    );
    return EXIT.ok;
  }
  const what = v.ok && failures.length === 0 ? 'the witnesses do not confirm the answer' : 'the answer does not verify';
  io.out(`FAILED account ${account}: ${what}\n${witnessLines}${referenceLine}`);
  for (const f of failures) io.out(`   [${f.check}] ${f.message}\n`);
  for (const f of witnessFailures) io.out(`   [witness] ${f.witness}: ${f.message}\n`);
  return EXIT.failed;
}
