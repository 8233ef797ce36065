/**
 * Client-side verification of API answers (DESIGN.md section 4, "certificate"): a client holding
 * only the group public key, the chain id and the checkpoint interval checks that a certificate is
 * a valid threshold signature on exactly the link it shows, and that an account answer is proven
 * under that certificate's state root. Nothing of the server is trusted.
 *
 * Browser-safe: imports only @noble-based core modules (no node:*, no Buffer, no clock).
 * Checks are collected rather than stopped at the first failure, so a report says everything that
 * is wrong; `shape` failures (undecodable JSON) end the check early since nothing else can be read.
 */
import { type Account, accountKey, encodeAccount } from './account.js';
import { verifySignature } from './bls.js';
import { asafeUint, equalBytes, fromHex, parseU64Decimal, toHex } from './bytes.js';
import { checkpointEquals, decodeVoteSigningBytes, voteSigningBytes } from './codec.js';
import { decodeProof, verifyProof } from './smt.js';
import type { Certificate } from './types.js';
import { aobject, certificateFromJson } from './wire.js';

export type VerifyCheck =
  | 'certificate.message'
  | 'certificate.signature'
  | 'certificate.link'
  | 'certificate.signers'
  | 'answer.checkpoint'
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

  const K = opts.checkpointInterval;
  if (cert.target.height !== cert.source.height + K)
    fail('certificate.link', `target height ${cert.target.height} is not source height ${cert.source.height} + checkpoint interval ${K}`);
  else if (cert.source.height % K !== 0)
    fail('certificate.link', `source height ${cert.source.height} is not a multiple of the checkpoint interval ${K}`);

  const distinct = new Set(cert.signers);
  if (distinct.size !== cert.signers.length) fail('certificate.signers', `signers are not distinct: [${cert.signers.join(', ')}]`);
  if (cert.signers.some((s) => s < 1)) fail('certificate.signers', 'member indices start at 1');
  if (opts.threshold !== undefined && distinct.size < opts.threshold)
    fail('certificate.signers', `${distinct.size} distinct signers, threshold is ${opts.threshold}`);

  return failures.length === 0 ? { ok: true, certificate: cert } : { ok: false, failures };
}

/**
 * Verifies a `GET /v1/accounts/{key}` answer: its certificate (as verifyCertificate), that the
 * certificate's source is the answer's checkpoint (same height and state root), and that the
 * proof shows the (balance, nonce) leaf under that state root, or the key's absence when balance
 * and nonce are both 0. Never throws.
 */
export function verifyAccountAnswer(answer: unknown, opts: VerifyOptions): AccountVerdict {
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
  if (a.certificate === null)
    return {
      ok: false,
      failures: [
        {
          check: 'answer.checkpoint',
          message: `no certificate: the answer is read at height ${a.height} (genesis), which no certificate covers`,
        },
      ],
    };
  const verdict = verifyCertificate(a.certificate, opts);
  const failures = verdict.ok ? [] : [...verdict.failures];
  if (failures.some((f) => f.check === 'shape')) return { ok: false, failures };

  // Decoded again (cheap) so the proof is checked against the certified root even if the certificate failed.
  const cert = verdict.ok ? verdict.certificate : certificateFromJson(a.certificate);
  const checkpoint = { height: a.height, hash: cert.source.hash, stateRoot: a.stateRoot };
  if (!checkpointEquals(checkpoint, cert.source))
    failures.push({
      check: 'answer.checkpoint',
      message: `answer (height ${a.height}, stateRoot ${toHex(a.stateRoot)}) is not the certificate's source (height ${cert.source.height}, stateRoot ${toHex(cert.source.stateRoot)})`,
    });

  const key = accountKey(a.account);
  const account: Account = { balance: a.balance, nonce: a.nonce };
  const absent = a.balance === 0n && a.nonce === 0n;
  if (!verifyProof(cert.source.stateRoot, key, absent ? undefined : encodeAccount(account), a.proof))
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
