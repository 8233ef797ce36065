/**
 * Client-side verification of API answers (DESIGN.md section 4, "certificate"): a client holding
 * only the group public key, the chain id and the checkpoint interval checks that a certificate is
 * a valid threshold signature on exactly the link it shows, and that an account answer is about
 * the account it asked for and proven under that certificate's state root. Nothing of the server
 * is trusted.
 *
 * What a valid answer does NOT show is that it is recent: a certificate never expires, so a server
 * can keep serving an old finalized state (down to genesis, under the certificate 0 -> K). The
 * caller bounds that with `minHeight`, `maxAge` (against a height learned elsewhere, e.g. from
 * other regions acting as witnesses: verifyFinalityAnswer, verifyCheckpointAnswer) and `era`.
 *
 * Browser-safe: imports only @noble-based core modules (no node:*, no Buffer, no clock).
 * Checks are collected rather than stopped at the first failure, so a report says everything that
 * is wrong; `shape` failures (undecodable JSON) end the check early since nothing else can be read.
 */
import { type Account, accountKey, encodeAccount } from './account.js';
import { verifySignature } from './bls.js';
import { abytes, asafeUint, equalBytes, fromHex, parseU64Decimal, toHex } from './bytes.js';
import { checkpointEquals, decodeVoteSigningBytes, voteSigningBytes } from './codec.js';
import { isCheckpointHeight } from './ffg.js';
import { decodeProof, verifyProof } from './smt.js';
import type { Certificate, Checkpoint } from './types.js';
import { aobject, certificateFromJson, checkpointFromJson } from './wire.js';

export type VerifyCheck =
  | 'certificate.message'
  | 'certificate.signature'
  | 'certificate.link'
  | 'certificate.signers'
  | 'certificate.era'
  | 'answer.account'
  | 'answer.height'
  | 'answer.checkpoint'
  | 'answer.freshness'
  | 'checkpoint.status'
  | 'checkpoint.mismatch'
  | 'proof'
  | 'shape';

export interface VerifyFailure {
  check: VerifyCheck;
  message: string;
}

export interface VerifyOptions {
  /** The 96-byte group public key (pin it; do not take it from the server you are checking). */
  groupPublicKey: Uint8Array;
  /** The 32-byte chain id the certificate must be for. */
  chainId: Uint8Array;
  /** K: a finalizing link goes from a checkpoint to the next one, K blocks higher. */
  checkpointInterval: number;
  /** When given, a certificate must name at least this many distinct signers. */
  threshold?: number;
  /** When given, a certificate must be for this era (an old era's certificate is refused). */
  era?: bigint;
}

/** What an account answer must match besides its certificate: the question asked, and how fresh it must be. */
export interface AccountVerifyOptions extends VerifyOptions {
  /** The 32-byte account public key that was asked about: the answer and its proof must be for it. */
  account: Uint8Array;
  /** The answer must be read at this height or above. */
  minHeight?: number;
  /**
   * The answer must be read at exactly this checkpoint height (a history query,
   * `GET /v1/accounts/{key}?height=H`): its certificate is then the one that finalized H.
   */
  height?: number;
  /**
   * The answer may be at most `checkpoints` checkpoints (of `checkpointInterval` blocks) below
   * `referenceHeight`, a height the caller trusts to be finalized (e.g. the highest one its
   * witnesses prove). An answer above the reference is never stale.
   */
  maxAge?: { checkpoints: number; referenceHeight: number };
}

export type CertificateVerdict =
  | { ok: true; certificate: Certificate & { message: Uint8Array } }
  | { ok: false; failures: VerifyFailure[] };

export type AccountVerdict =
  | { ok: true; account: string; balance: bigint; nonce: bigint; height: number; stateRoot: string; certificate: Certificate }
  | { ok: false; failures: VerifyFailure[] };

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Which shown fields differ from the ones encoded in `message` (already known to be for this chain). */
function fieldDiffs(cert: Certificate, encoded: { era: bigint; source: Certificate['source']; target: Certificate['target'] }): string[] {
  const out: string[] = [];
  if (cert.era !== encoded.era) out.push(`era (shown ${cert.era}, signed ${encoded.era})`);
  for (const side of ['source', 'target'] as const) {
    const a = cert[side];
    const b = encoded[side];
    if (a.height !== b.height) out.push(`${side}.height (shown ${a.height}, signed ${b.height})`);
    if (!equalBytes(a.hash, b.hash)) out.push(`${side}.hash`);
    if (!equalBytes(a.stateRoot, b.stateRoot)) out.push(`${side}.stateRoot`);
  }
  return out;
}

/**
 * Verifies a certificate in its JSON form. Checks: `message` is 195 vote signing bytes for
 * `opts.chainId` encoding exactly the shown era/source/target; the group signature verifies over
 * those bytes under `opts.groupPublicKey`; target.height = source.height + checkpointInterval;
 * signers are distinct member indices, at least `threshold` of them when given.
 * Never throws: returns the decoded certificate, or every failure found.
 * @example const v = verifyCertificate(finality.certificate, { groupPublicKey, chainId, checkpointInterval: 1 });
 */
export function verifyCertificate(c: unknown, opts: VerifyOptions): CertificateVerdict {
  let cert: Certificate & { message: Uint8Array };
  try {
    cert = certificateFromJson(c, 'certificate');
  } catch (e) {
    return { ok: false, failures: [{ check: 'shape', message: errorText(e) }] };
  }
  const failures: VerifyFailure[] = [];
  const fail = (check: VerifyCheck, message: string) => failures.push({ check, message });

  // The bytes the group must have signed for this chain and these fields.
  let expected: Uint8Array | undefined;
  try {
    expected = voteSigningBytes(opts.chainId, cert);
  } catch (e) {
    fail('shape', errorText(e));
  }
  try {
    const decoded = decodeVoteSigningBytes(cert.message);
    if (!equalBytes(decoded.chainId, opts.chainId))
      fail('certificate.message', `message is for chain ${toHex(decoded.chainId)}, expected chain ${toHex(opts.chainId)}`);
    const diffs = fieldDiffs(cert, decoded.link);
    if (diffs.length > 0) fail('certificate.message', `message does not encode the fields shown: ${diffs.join(', ')}`);
  } catch (e) {
    fail('certificate.message', `message is not vote signing bytes: ${errorText(e)}`);
  }

  if (expected) {
    try {
      if (!verifySignature(opts.groupPublicKey, expected, cert.signature))
        fail(
          'certificate.signature',
          'group signature does not verify over the signing bytes of the fields shown, for this chain, under the group key',
        );
    } catch (e) {
      fail('certificate.signature', `signature or group key does not decode: ${errorText(e)}`);
    }
  }

  if (opts.era !== undefined && cert.era !== opts.era)
    fail('certificate.era', `certificate is for era ${cert.era}, expected era ${opts.era}`);

  const K = opts.checkpointInterval;
  if (cert.target.height !== cert.source.height + K)
    fail('certificate.link', `target height ${cert.target.height} is not source height ${cert.source.height} + checkpoint interval ${K}`);
  else if (!isCheckpointHeight(cert.source.height, K))
    fail('certificate.link', `source height ${cert.source.height} is not a multiple of the checkpoint interval ${K}`);

  const distinct = new Set(cert.signers);
  if (distinct.size !== cert.signers.length) fail('certificate.signers', `signers are not distinct: [${cert.signers.join(', ')}]`);
  if (cert.signers.some((s) => s < 1)) fail('certificate.signers', 'member indices start at 1');
  if (opts.threshold !== undefined && distinct.size < opts.threshold)
    fail('certificate.signers', `${distinct.size} distinct signers, threshold is ${opts.threshold}`);

  return failures.length === 0 ? { ok: true, certificate: cert } : { ok: false, failures };
}

/** Checks the caller's options; a bad option is a programming error, not an answer's fault. */
function checkAccountOptions(opts: AccountVerifyOptions): void {
  abytes(opts.account, 32, 'account');
  if (opts.minHeight !== undefined) asafeUint(opts.minHeight, 'minHeight');
  if (opts.height !== undefined) asafeUint(opts.height, 'height');
  if (opts.maxAge !== undefined) {
    asafeUint(opts.maxAge.checkpoints, 'maxAge.checkpoints');
    asafeUint(opts.maxAge.referenceHeight, 'maxAge.referenceHeight');
  }
}

/** Freshness failures of an answer read at `height` (empty when no bound is asked). */
function freshnessFailures(height: number, opts: AccountVerifyOptions): VerifyFailure[] {
  const out: VerifyFailure[] = [];
  if (opts.minHeight !== undefined && height < opts.minHeight)
    out.push({ check: 'answer.freshness', message: `the answer is read at height ${height}, below the minimum height ${opts.minHeight}` });
  if (opts.maxAge !== undefined) {
    const K = opts.checkpointInterval;
    const { checkpoints, referenceHeight } = opts.maxAge;
    const behind = Math.ceil((referenceHeight - height) / K);
    if (behind > checkpoints)
      out.push({
        check: 'answer.freshness',
        message: `the answer is ${behind} checkpoint(s) behind height ${referenceHeight}, at most ${checkpoints} allowed`,
      });
  }
  return out;
}

/**
 * Verifies a `GET /v1/accounts/{key}` answer to the question "what is `opts.account`?": the
 * answer names that account and its proof is for that account's key (a server cannot answer
 * with another account's valid answer); its certificate verifies (as verifyCertificate); the
 * certificate's source is the answer's checkpoint (same height and state root); the proof shows
 * the (balance, nonce) leaf under that state root, or the key's absence when balance and nonce
 * are both 0; and, when asked, the answer is at `height` exactly, fresh enough (`minHeight`,
 * `maxAge`) and of `era`.
 * Returns every failure found; never throws for anything in `answer`.
 * Throws InputError (naming the option) when `opts` itself is invalid (account not 32 bytes,
 * height, minHeight or maxAge fields not non-negative integers).
 * @example verifyAccountAnswer(await res.json(), { groupPublicKey, chainId, checkpointInterval: 1, account, minHeight: 120 })
 */
export function verifyAccountAnswer(answer: unknown, opts: AccountVerifyOptions): AccountVerdict {
  checkAccountOptions(opts);
  let a: {
    account: Uint8Array;
    balance: bigint;
    nonce: bigint;
    height: number;
    stateRoot: Uint8Array;
    proof: ReturnType<typeof decodeProof>;
    certificate: unknown;
  };
  try {
    const o = aobject(answer, 'answer', ['account', 'balance', 'nonce', 'height', 'stateRoot', 'proof', 'certificate']);
    a = {
      account: fromHex(o.account, 32, 'answer.account'),
      balance: parseU64Decimal(o.balance, 'answer.balance'),
      nonce: parseU64Decimal(o.nonce, 'answer.nonce'),
      height: asafeUint(o.height, 'answer.height'),
      stateRoot: fromHex(o.stateRoot, 32, 'answer.stateRoot'),
      proof: decodeProof(o.proof),
      certificate: o.certificate,
    };
  } catch (e) {
    return { ok: false, failures: [{ check: 'shape', message: errorText(e) }] };
  }

  // The question first: an answer about another account proves nothing about this one.
  const failures: VerifyFailure[] = [];
  const key = accountKey(opts.account);
  if (!equalBytes(a.account, opts.account))
    failures.push({
      check: 'answer.account',
      message: `answer is for account ${toHex(a.account)}, not the requested ${toHex(opts.account)}`,
    });
  else if (!equalBytes(a.proof.key, key))
    failures.push({
      check: 'answer.account',
      message: `proof is for key ${toHex(a.proof.key)}, not the requested account's key ${toHex(key)}`,
    });
  const aboutAccount = failures.length === 0;
  // A history query: an answer at another height (a server ignoring ?height) is not the answer asked for.
  if (opts.height !== undefined && a.height !== opts.height)
    failures.push({
      check: 'answer.height',
      message: `the answer is read at height ${a.height}, not at the requested height ${opts.height}`,
    });
  failures.push(...freshnessFailures(a.height, opts));

  if (a.certificate === null) {
    failures.push({
      check: 'answer.checkpoint',
      message: `no certificate: the answer is read at height ${a.height} (genesis), which no certificate covers`,
    });
    return { ok: false, failures };
  }
  const verdict = verifyCertificate(a.certificate, opts);
  if (!verdict.ok) failures.push(...verdict.failures);
  if (failures.some((f) => f.check === 'shape')) return { ok: false, failures };

  // Decoded again (cheap) so the proof is checked against the certified root even if the certificate failed.
  const cert = verdict.ok ? verdict.certificate : certificateFromJson(a.certificate);
  const checkpoint = { height: a.height, hash: cert.source.hash, stateRoot: a.stateRoot };
  if (!checkpointEquals(checkpoint, cert.source))
    failures.push({
      check: 'answer.checkpoint',
      message: `answer (height ${a.height}, stateRoot ${toHex(a.stateRoot)}) is not the certificate's source (height ${cert.source.height}, stateRoot ${toHex(cert.source.stateRoot)})`,
    });

  const account: Account = { balance: a.balance, nonce: a.nonce };
  const absent = a.balance === 0n && a.nonce === 0n;
  // A proof for another key is already reported above; checking it here would only repeat that.
  if (aboutAccount && !verifyProof(cert.source.stateRoot, key, absent ? undefined : encodeAccount(account), a.proof))
    failures.push({
      check: 'proof',
      message: absent
        ? 'proof does not show the account absent under the certified state root (balance 0, nonce 0 needs an absence proof)'
        : `proof does not show balance ${a.balance}, nonce ${a.nonce} for this account under the certified state root`,
    });

  if (failures.length > 0) return { ok: false, failures };
  return {
    ok: true,
    account: toHex(a.account),
    balance: a.balance,
    nonce: a.nonce,
    height: a.height,
    stateRoot: toHex(a.stateRoot),
    certificate: cert,
  };
}

export type CheckpointVerdict = { ok: true; checkpoint: Checkpoint } | { ok: false; failures: VerifyFailure[] };

/** The finalized checkpoint `shown` with its finalizing certificate `c` (null only for genesis), verified. */
function finalizedCheckpoint(shown: Checkpoint, c: unknown, opts: VerifyOptions): VerifyFailure[] {
  if (c === null || c === undefined)
    return shown.height === 0
      ? [] // genesis is final by definition; no certificate covers it
      : [{ check: 'checkpoint.status', message: `checkpoint ${shown.height} is shown finalized without a certificate` }];
  const verdict = verifyCertificate(c, opts);
  if (!verdict.ok) return verdict.failures;
  return checkpointEquals(verdict.certificate.source, shown)
    ? []
    : [
        {
          check: 'checkpoint.mismatch',
          message: `the certificate's source (height ${verdict.certificate.source.height}) is not checkpoint ${shown.height} as shown`,
        },
      ];
}

/**
 * Verifies a `GET /v1/checkpoints/{height}` answer from a witness (another region or server)
 * against a checkpoint the caller already holds, e.g. an account answer's: it must be finalized
 * there, with the same height, hash and state root, under a certificate that verifies (as
 * verifyCertificate) and whose source is that checkpoint. Genesis (height 0) needs no certificate.
 * Returns the witness's checkpoint or every failure found; never throws.
 * @example verifyCheckpointAnswer(await (await fetch(`${witness}/v1/checkpoints/${h}`)).json(), answerCheckpoint, opts)
 */
export function verifyCheckpointAnswer(answer: unknown, expected: Checkpoint, opts: VerifyOptions): CheckpointVerdict {
  let shown: Checkpoint;
  let status: unknown;
  let certificate: unknown;
  try {
    const o = aobject(answer, 'checkpoint', ['height', 'hash', 'stateRoot', 'status'], ['certificate']);
    shown = checkpointFromJson({ height: o.height, hash: o.hash, stateRoot: o.stateRoot });
    status = o.status;
    certificate = o.certificate;
  } catch (e) {
    return { ok: false, failures: [{ check: 'shape', message: errorText(e) }] };
  }
  const failures: VerifyFailure[] = [];
  const h = expected.height;
  if (shown.height !== h) failures.push({ check: 'checkpoint.mismatch', message: `asked for checkpoint ${h}, got ${shown.height}` });
  if (!equalBytes(shown.hash, expected.hash))
    failures.push({
      check: 'checkpoint.mismatch',
      message: `checkpoint ${h} has hash ${toHex(shown.hash)}, expected ${toHex(expected.hash)}`,
    });
  if (!equalBytes(shown.stateRoot, expected.stateRoot))
    failures.push({
      check: 'checkpoint.mismatch',
      message: `checkpoint ${h} has state root ${toHex(shown.stateRoot)}, expected ${toHex(expected.stateRoot)}`,
    });
  if (status !== 'finalized') failures.push({ check: 'checkpoint.status', message: `checkpoint ${h} is ${String(status)}, not finalized` });
  else failures.push(...finalizedCheckpoint(shown, certificate, opts));
  return failures.length === 0 ? { ok: true, checkpoint: shown } : { ok: false, failures };
}

/**
 * Verifies the finalized checkpoint of a `GET /v1/finality` answer: its certificate verifies (as
 * verifyCertificate) and its source is that checkpoint (genesis needs none). A client uses the
 * highest such height among its witnesses as the reference height for `maxAge`: a witness cannot
 * claim a finalized height it holds no certificate for. Returns the checkpoint or every failure;
 * never throws.
 */
export function verifyFinalityAnswer(answer: unknown, opts: VerifyOptions): CheckpointVerdict {
  let finalized: Checkpoint;
  let certificate: unknown;
  try {
    const o = aobject(answer, 'finality', ['finalized', 'certificate'], ['region', 'head', 'justified', 'applied']);
    finalized = checkpointFromJson(o.finalized, 'finality.finalized');
    certificate = o.certificate;
  } catch (e) {
    return { ok: false, failures: [{ check: 'shape', message: errorText(e) }] };
  }
  const failures = finalizedCheckpoint(finalized, certificate, opts);
  return failures.length === 0 ? { ok: true, checkpoint: finalized } : { ok: false, failures };
}
