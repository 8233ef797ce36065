/**
 * Threshold BLS on BLS12-381, minimal-signature-size variant (DESIGN.md §4): signatures in G1
 * (48 bytes compressed), public keys in G2 (96 bytes compressed), RFC 9380 hash-to-curve with
 * BLS_DST. A dealer shares a secret with a degree t-1 polynomial; member i holds f(i); any t
 * partial signatures combine (Lagrange at x = 0) into the group signature, which verifies as a
 * plain BLS signature under the group public key f(0)·G2.
 *
 * Error policy: bytes that do not decode to a usable point (wrong length, bad flags, not on the
 * curve, not in the prime-order subgroup, point at infinity) throw CryptoError('BAD_POINT');
 * a well-formed but wrong signature is a `false` / `rejected` outcome, never a throw.
 */
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { randomBytes as secureRandomBytes } from '@noble/hashes/utils.js';
import { abytes, equalBytes, toHex } from './bytes.js';
import { CryptoError, InputError } from './errors.js';

export const BLS_DST = 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_';
export const SIGNATURE_LENGTH = 48;
export const PUBLIC_KEY_LENGTH = 96;
export const SECRET_KEY_LENGTH = 32;
/** Upper bound on n for a dealing (keeps accidental huge loops out; far above any real committee). */
export const MAX_MEMBERS = 1024;

/** One member's key share: secret f(index) (32 bytes, big-endian) and public f(index)·G2. */
export interface MemberShare {
  index: number;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** Output of the dealer: Feldman commitments a_k·G2 (k = 0..t-1), the group key (= commitments[0]) and n shares. */
export interface Dealing {
  threshold: number;
  n: number;
  groupPublicKey: Uint8Array;
  commitments: Uint8Array[];
  shares: MemberShare[];
}

export interface PartialSignature {
  index: number;
  signature: Uint8Array;
}

export type CertifyResult =
  | { ok: true; signature: Uint8Array; signers: number[]; rejected: number[] }
  | { ok: false; reason: 'NOT_ENOUGH_VALID_SHARES'; valid: number[]; rejected: number[] };

export interface CertifyParams {
  threshold: number;
  groupPublicKey: Uint8Array;
  /** The member's 96-byte public key, or undefined when `index` is not a member. */
  memberPublicKey: (index: number) => Uint8Array | undefined;
}

const { G1, G2 } = bls12_381;
const { Fp, Fr, Fp12 } = bls12_381.fields;
type G1Point = ReturnType<typeof G1.Point.fromBytes>;
type G2Point = ReturnType<typeof G2.Point.fromBytes>;
type Lines = ReturnType<typeof bls12_381.utils.calcPairingPrecomputes>;

// ---------------------------------------------------------------------------------------------
// Decoding and caches

interface CachedKey {
  point: G2Point;
  lines?: Lines; // Miller-loop line coefficients, computed on first verification
}

const KEY_CACHE_MAX = 4096;
const HASH_CACHE_MAX = 256;
const keyCache = new Map<string, CachedKey>();
const hashCache = new Map<string, G1Point>();
let g2BaseLines: Lines | undefined;

function remember<V>(cache: Map<string, V>, max: number, key: string, value: V): V {
  if (cache.size >= max) cache.clear(); // crude bound; a miss only costs a recomputation
  cache.set(key, value);
  return value;
}

function badPoint(field: string, reason: string, cause?: unknown, members?: number[]): CryptoError {
  return new CryptoError('BAD_POINT', `${field}: ${reason}`, members ? { field, members } : { field }, { cause });
}

/** Decodes a 96-byte compressed G2 public key (subgroup-checked, not infinity), cached by bytes. */
function decodePublicKey(bytes: unknown, field: string): CachedKey {
  if (!(bytes instanceof Uint8Array) || bytes.length !== PUBLIC_KEY_LENGTH) throw badPoint(field, `expected ${PUBLIC_KEY_LENGTH} bytes`);
  const id = toHex(bytes);
  const hit = keyCache.get(id);
  if (hit) return hit;
  let point: G2Point;
  try {
    point = G2.Point.fromBytes(bytes); // checks flags, curve equation and subgroup
  } catch (e) {
    throw badPoint(field, 'not a valid compressed G2 point', e);
  }
  if (point.is0()) throw badPoint(field, 'point at infinity');
  return remember(keyCache, KEY_CACHE_MAX, id, { point });
}

/** Decodes a 48-byte compressed G1 signature with full checks (curve, subgroup, not infinity). */
function decodeSignature(bytes: unknown, field: string, members?: number[]): G1Point {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIGNATURE_LENGTH)
    throw badPoint(field, `expected ${SIGNATURE_LENGTH} bytes`, undefined, members);
  let point: G1Point;
  try {
    point = bls12_381.shortSignatures.Signature.fromBytes(bytes);
  } catch (e) {
    throw badPoint(field, 'not a valid compressed G1 point', e, members);
  }
  if (point.is0()) throw badPoint(field, 'point at infinity', undefined, members);
  return point;
}

const P_HALF = (Fp.ORDER - 1n) / 2n;

/**
 * Decompresses a G1 point onto the curve WITHOUT the subgroup check (~4x cheaper: the check is
 * two 64-bit scalar multiplications, the decompression one square root). Safe only where the
 * result of combining such points is itself subgroup-checked and verified, as in certify().
 * Returns undefined for anything that is not a compressed, finite point on the curve.
 */
function decodeSignatureOnCurve(bytes: Uint8Array): G1Point | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIGNATURE_LENGTH) return undefined;
  const flags = bytes[0]! & 0xe0;
  if ((flags & 0x80) === 0 || (flags & 0x40) !== 0) return undefined; // must be compressed, finite
  const xBytes = bytes.slice();
  xBytes[0] = xBytes[0]! & 0x1f;
  const x = bytesToNumberBE(xBytes);
  if (x >= Fp.ORDER) return undefined;
  let y: bigint;
  try {
    y = Fp.sqrt(Fp.add(Fp.pow(x, 3n), 4n)); // y² = x³ + 4
  } catch {
    return undefined; // x³ + 4 is not a square: no point with this x
  }
  if (y > P_HALF !== ((flags & 0x20) !== 0)) y = Fp.neg(y);
  return G1.Point.fromAffine({ x, y });
}

function secretScalar(secretKey: unknown, field: string): bigint {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_LENGTH)
    throw new CryptoError('BAD_SHARE', `${field}: expected ${SECRET_KEY_LENGTH} bytes`, { field });
  const s = bytesToNumberBE(secretKey);
  if (s === 0n || s >= Fr.ORDER) throw new CryptoError('BAD_SHARE', `${field}: not a scalar in [1, r-1]`, { field });
  return s;
}

function assertIndex(index: unknown, field: string): number {
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 1)
    throw new CryptoError('UNKNOWN_MEMBER', `${field}: member index must be an integer >= 1, got ${String(index)}`, { field });
  return index;
}

function assertThreshold(threshold: unknown): number {
  if (typeof threshold !== 'number' || !Number.isSafeInteger(threshold) || threshold < 1 || threshold > MAX_MEMBERS)
    throw new InputError('threshold', `expected an integer in [1, ${MAX_MEMBERS}]`);
  return threshold;
}

function hashPoint(message: Uint8Array): G1Point {
  abytes(message, undefined, 'message');
  const id = toHex(message);
  return hashCache.get(id) ?? remember(hashCache, HASH_CACHE_MAX, id, G1.hashToCurve(message, { DST: BLS_DST }));
}

/** e(S, G2) == e(H, pk), checked as e(-H, pk)·e(S, G2) == 1 over cached Miller-loop lines. */
function pairingCheck(H: G1Point, S: G1Point, key: CachedKey): boolean {
  if (H.is0() || S.is0()) return false;
  key.lines ??= bls12_381.utils.calcPairingPrecomputes(key.point);
  g2BaseLines ??= bls12_381.utils.calcPairingPrecomputes(G2.Point.BASE);
  const h = H.negate().toAffine();
  const s = S.toAffine();
  const f = bls12_381.millerLoopBatch([
    [key.lines, h.x, h.y],
    [g2BaseLines, s.x, s.y],
  ]);
  return Fp12.eql(Fp12.finalExponentiate(f), Fp12.ONE);
}

// ---------------------------------------------------------------------------------------------
// Polynomial helpers

/** Lagrange coefficients at x = 0 for distinct nonzero indices: λ_i = Π_{j≠i} x_j / (x_j - x_i). */
function lagrangeAtZero(indices: number[]): bigint[] {
  const xs = indices.map((i) => BigInt(i));
  const nums: bigint[] = [];
  const dens: bigint[] = [];
  for (let i = 0; i < xs.length; i++) {
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < xs.length; j++) {
      if (j === i) continue;
      num = Fr.mul(num, xs[j]!);
      den = Fr.mul(den, Fr.sub(xs[j]!, xs[i]!));
    }
    nums.push(num);
    dens.push(den);
  }
  const inv = Fr.invertBatch(dens);
  return nums.map((n, i) => Fr.mul(n, inv[i]!));
}

/**
 * Σ λ_i·σ_i. Interleaved wNAF (Strauss) measured faster than both pippenger and per-point
 * multiplication for the t <= 128 we run (npm run bench:crypto, "combine MSM" rows).
 */
function interpolateAtZero(indices: number[], points: G1Point[]): G1Point {
  return mulAddUnsafe(G1.Point, points, lagrangeAtZero(indices));
}

/** Σ_k C_k·i^k by Horner's rule; i is small, so each step is a short unsafe multiplication. */
function evalCommitments(commitments: G2Point[], index: number): G2Point {
  const x = BigInt(index);
  let acc = commitments[commitments.length - 1]!;
  for (let k = commitments.length - 2; k >= 0; k--) acc = acc.multiplyUnsafe(x).add(commitments[k]!);
  return acc;
}

function decodeCommitments(commitments: unknown): G2Point[] {
  if (!Array.isArray(commitments) || commitments.length < 1 || commitments.length > MAX_MEMBERS)
    throw new InputError('commitments', `expected 1..${MAX_MEMBERS} commitments`);
  // Infinity is refused for every coefficient: our dealer never draws a zero coefficient, and a
  // zero top coefficient would silently lower the threshold.
  return commitments.map((c, k) => decodePublicKey(c, `commitments[${k}]`).point);
}

// ---------------------------------------------------------------------------------------------
// Dealer and keys

type DealOptions = { coefficients: bigint[]; randomBytes?: never } | { coefficients?: never; randomBytes?: (len: number) => Uint8Array };

/**
 * Trusted dealer for a t-of-n key. Coefficients a_0..a_{t-1} are drawn uniformly from [1, r-1]
 * (48 random bytes each, reduced as in noble's randomSecretKey) using `opts.randomBytes`
 * (default: crypto.getRandomValues), or taken from `opts.coefficients` (tests, contract vectors).
 * Returns the Feldman commitments a_k·G2, the group key a_0·G2 and member i's share f(i), i = 1..n.
 * Throws InputError for n, t or coefficients out of range.
 * @example const { groupPublicKey, shares } = deal(4, 3);
 */
export function deal(n: number, t: number, opts: DealOptions = {}): Dealing {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_MEMBERS) throw new InputError('n', `expected an integer in [1, ${MAX_MEMBERS}]`);
  if (!Number.isSafeInteger(t) || t < 1 || t > n) throw new InputError('t', `expected an integer in [1, n = ${n}]`);
  let coefficients: bigint[];
  if (opts.coefficients !== undefined) {
    if (opts.coefficients.length !== t) throw new InputError('coefficients', `expected exactly t = ${t} coefficients`);
    opts.coefficients.forEach((a, k) => {
      if (typeof a !== 'bigint' || a <= 0n || a >= Fr.ORDER) throw new InputError(`coefficients[${k}]`, 'expected a bigint in [1, r-1]');
    });
    coefficients = opts.coefficients.slice();
  } else {
    const rng = opts.randomBytes ?? secureRandomBytes;
    const seedLength = bls12_381.shortSignatures.lengths.seed ?? 48;
    coefficients = Array.from({ length: t }, () => {
      const seed = rng(seedLength);
      abytes(seed, seedLength, 'randomBytes()');
      return bytesToNumberBE(bls12_381.utils.randomSecretKey(seed));
    });
  }
  const commitments = coefficients.map((a) => G2.Point.BASE.multiply(a).toBytes());
  const shares: MemberShare[] = [];
  for (let index = 1; index <= n; index++) {
    let s = 0n; // Horner: f(index)
    for (let k = t - 1; k >= 0; k--) s = Fr.add(Fr.mul(s, BigInt(index)), coefficients[k]!);
    if (s === 0n) throw new InputError('coefficients', `the share of member ${index} is zero`);
    shares.push({ index, secretKey: numberToBytesBE(s, SECRET_KEY_LENGTH), publicKey: G2.Point.BASE.multiply(s).toBytes() });
  }
  return { threshold: t, n, groupPublicKey: commitments[0]!, commitments, shares };
}

/**
 * Feldman check: true iff secretKey·G2 equals Σ_k commitments[k]·index^k.
 * Throws CryptoError UNKNOWN_MEMBER (index < 1), BAD_SHARE (secret not in [1, r-1]) or BAD_POINT (commitment).
 */
export function verifyShare(index: number, secretKey: Uint8Array, commitments: Uint8Array[]): boolean {
  assertIndex(index, 'index');
  const s = secretScalar(secretKey, 'secretKey');
  return G2.Point.BASE.multiply(s).equals(evalCommitments(decodeCommitments(commitments), index));
}

/** Member `index`'s public key Σ_k commitments[k]·index^k (96 bytes). Throws like verifyShare. */
export function memberPublicKeyFromCommitments(commitments: Uint8Array[], index: number): Uint8Array {
  assertIndex(index, 'index');
  const point = evalCommitments(decodeCommitments(commitments), index);
  if (point.is0()) throw new CryptoError('BAD_SHARE', `commitments: member ${index} would have the zero key`, { members: [index] });
  return point.toBytes();
}

/** The group public key (commitments[0]) after checking every commitment decodes. Throws BAD_POINT. */
export function groupPublicKeyFromCommitments(commitments: Uint8Array[]): Uint8Array {
  return decodeCommitments(commitments)[0]!.toBytes();
}

/** What a published dealing must satisfy; `members` are listed as the config lists them. */
export interface PublicDealing {
  threshold: number;
  groupPublicKey: Uint8Array;
  commitments: Uint8Array[];
  members: readonly { index: number; publicKey: Uint8Array }[];
}

/** One way a published dealing is inconsistent. `field` names it as a cluster config does. */
export interface DealingProblem {
  field: string;
  reason: string;
}

/**
 * Checks the public half of a dealing, in this order: `threshold` commitments (a polynomial of
 * degree t - 1, so any t shares and no fewer fix the group key), each a valid G2 point,
 * commitments[0] equal to `groupPublicKey` (the constant term), and each member's key equal to
 * Σ_k commitments[k]·index^k (its share lies on that polynomial). Anyone can run it: it needs no
 * secret. Returns every problem found (empty when consistent; a member problem per wrong member),
 * or only the first structural one when the commitments cannot be used. Never throws.
 * @example dealingProblems({ threshold: 3, groupPublicKey, commitments, members }) // []
 */
export function dealingProblems(d: PublicDealing): DealingProblem[] {
  if (d.commitments.length !== d.threshold)
    return [
      {
        field: 'commitments',
        reason: `expected threshold = ${d.threshold} commitments (a polynomial of degree t - 1 = ${d.threshold - 1}), got ${d.commitments.length}`,
      },
    ];
  let points: G2Point[];
  try {
    points = decodeCommitments(d.commitments);
  } catch (e) {
    const field = e instanceof CryptoError && e.meta.field ? e.meta.field : 'commitments';
    return [{ field, reason: e instanceof Error ? e.message.replace(`${field}: `, '') : String(e) }];
  }
  const problems: DealingProblem[] = [];
  if (!equalBytes(d.commitments[0]!, d.groupPublicKey))
    problems.push({
      field: 'groupPublicKey',
      reason: "is not commitments[0] (the dealing's constant term): the members' shares do not combine to this key",
    });
  d.members.forEach((m, position) => {
    const expected = evalCommitments(points, m.index);
    if (expected.is0() || !equalBytes(expected.toBytes(), m.publicKey))
      problems.push({
        field: `members[${position}].publicKey`,
        reason: `member ${m.index}'s key is not the dealing's share at x = ${m.index} (Σ commitments[k]·${m.index}^k)`,
      });
  });
  return problems;
}

/**
 * Recovers the Feldman commitments of a dealing from `threshold` of its secret shares: the
 * shares fix the polynomial f (Lagrange interpolation of its coefficients a_k over Fr), and the
 * commitments are a_k·G2. For key files written without their commitments. Uses the t lowest
 * indices given; check the other shares with verifyShare against the result.
 * Throws InputError (threshold), CryptoError UNKNOWN_MEMBER / DUPLICATE_MEMBER (indices),
 * NOT_ENOUGH_SHARES (fewer than t), BAD_SHARE (a secret out of range, or a zero coefficient, which
 * no dealing of ours produces).
 */
export function commitmentsFromShares(shares: readonly { index: number; secretKey: Uint8Array }[], threshold: number): Uint8Array[] {
  const t = assertThreshold(threshold);
  const byIndex = new Map<number, bigint>();
  shares.forEach((s, i) => {
    const index = assertIndex(s.index, `shares[${i}].index`);
    const value = secretScalar(s.secretKey, `shares[${i}].secretKey`);
    if (byIndex.has(index) && byIndex.get(index) !== value)
      throw new CryptoError('DUPLICATE_MEMBER', `shares: two different secrets for member ${index}`, { members: [index] });
    byIndex.set(index, value);
  });
  const used = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).slice(0, t);
  if (used.length < t)
    throw new CryptoError('NOT_ENOUGH_SHARES', `shares: ${used.length} distinct members, threshold is ${t}`, {
      members: used.map(([i]) => i),
    });
  // f = Σ_i y_i·L_i with L_i(x) = Π_{j≠i} (x - x_j) / (x_i - x_j); accumulate L_i's coefficients.
  const xs = used.map(([i]) => BigInt(i));
  const coefficients: bigint[] = new Array(t).fill(0n);
  used.forEach(([, y], i) => {
    let basis = [1n]; // coefficients of Π_{j≠i} (x - x_j), lowest degree first
    let denominator = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      const next: bigint[] = new Array(basis.length + 1).fill(0n);
      basis.forEach((c, k) => {
        next[k] = Fr.sub(next[k]!, Fr.mul(c, xj));
        next[k + 1] = Fr.add(next[k + 1]!, c);
      });
      basis = next;
      denominator = Fr.mul(denominator, Fr.sub(xs[i]!, xj));
    });
    const scale = Fr.mul(y, Fr.inv(denominator));
    basis.forEach((c, k) => {
      coefficients[k] = Fr.add(coefficients[k]!, Fr.mul(c, scale));
    });
  });
  return coefficients.map((a, k) => {
    if (a === 0n) throw new CryptoError('BAD_SHARE', `shares: coefficient ${k} of the recovered polynomial is zero`, {});
    return G2.Point.BASE.multiply(a).toBytes();
  });
}

/** secretKey·G2, 96 bytes. Throws CryptoError BAD_SHARE for a secret not a 32-byte scalar in [1, r-1]. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return G2.Point.BASE.multiply(secretScalar(secretKey, 'secretKey')).toBytes();
}

// ---------------------------------------------------------------------------------------------
// Sign and verify

/** RFC 9380 hash_to_curve of `message` onto G1 with BLS_DST; 48-byte compressed point. */
export function hashToG1(message: Uint8Array): Uint8Array {
  return hashPoint(message).toBytes();
}

/** hash_to_curve with an arbitrary DST, uncached; for conformance tests against RFC 9380 vectors. */
export function hashToG1WithDst(message: Uint8Array, dst: string | Uint8Array): Uint8Array {
  abytes(message, undefined, 'message');
  return G1.hashToCurve(message, { DST: dst }).toBytes();
}

/** Partial (or plain) BLS signature secretKey·H(message), 48 bytes. Throws BAD_SHARE for a bad secret. */
export function signShare(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  const s = secretScalar(secretKey, 'secretKey');
  return hashPoint(message).multiply(s).toBytes();
}

/**
 * Plain BLS verification: true iff e(signature, G2) == e(H(message), publicKey).
 * Returns false for a well-formed wrong signature; throws CryptoError BAD_POINT when either the
 * public key or the signature does not decode (wrong length, not on curve / in subgroup, infinity).
 */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const key = decodePublicKey(publicKey, 'publicKey');
  const S = decodeSignature(signature, 'signature');
  return pairingCheck(hashPoint(message), S, key);
}

// ---------------------------------------------------------------------------------------------
// Combine and certify

/**
 * Validates indices and de-duplicates: identical copies of a partial collapse into one (a
 * redelivered vote), two different signatures under one index throw DUPLICATE_MEMBER.
 * Returns the partials sorted by index.
 */
function distinctPartials(partials: PartialSignature[]): PartialSignature[] {
  if (!Array.isArray(partials)) throw new InputError('partials', 'expected an array');
  const byIndex = new Map<number, PartialSignature>();
  const conflicting = new Set<number>();
  partials.forEach((p, i) => {
    const index = assertIndex(p?.index, `partials[${i}].index`);
    abytes(p.signature, undefined, `partials[${i}].signature`);
    const seen = byIndex.get(index);
    if (!seen) byIndex.set(index, p);
    else if (!equalBytes(seen.signature, p.signature)) conflicting.add(index);
  });
  if (conflicting.size > 0) {
    const members = [...conflicting].sort((a, b) => a - b);
    throw new CryptoError('DUPLICATE_MEMBER', `partials: different signatures for member(s) ${members.join(', ')}`, { members });
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

function assertEnough(partials: PartialSignature[], threshold: number): void {
  if (partials.length < threshold)
    throw new CryptoError('NOT_ENOUGH_SHARES', `partials: ${partials.length} distinct members, threshold is ${threshold}`, {
      members: partials.map((p) => p.index),
    });
}

/**
 * Group signature from partials: the Lagrange combination at x = 0 of the t partials with the
 * LOWEST indices (any t valid ones give the same signature). Does not verify anything: use
 * certify() when partials come from the network.
 * Throws InputError (threshold), CryptoError UNKNOWN_MEMBER (index < 1), DUPLICATE_MEMBER (two
 * different signatures for one index), NOT_ENOUGH_SHARES (fewer than t distinct members),
 * BAD_POINT (a used partial does not decode), BAD_SIGNATURE (the combination is infinity).
 */
export function combine(partials: PartialSignature[], threshold: number): Uint8Array {
  const t = assertThreshold(threshold);
  const distinct = distinctPartials(partials);
  assertEnough(distinct, t);
  const used = distinct.slice(0, t);
  const points = used.map((p) => decodeSignature(p.signature, `partials[index ${p.index}].signature`, [p.index]));
  const S = interpolateAtZero(
    used.map((p) => p.index),
    points,
  );
  if (S.is0())
    throw new CryptoError('BAD_SIGNATURE', 'partials: combination is the point at infinity', { members: used.map((p) => p.index) });
  return S.toBytes();
}

interface Prepared {
  t: number;
  groupKey: CachedKey;
  partials: PartialSignature[];
  H: G1Point;
}

function prepare(message: Uint8Array, partials: PartialSignature[], params: CertifyParams): Prepared {
  const t = assertThreshold(params?.threshold);
  const groupKey = decodePublicKey(params.groupPublicKey, 'groupPublicKey');
  const distinct = distinctPartials(partials);
  const unknown = distinct.filter((p) => params.memberPublicKey(p.index) === undefined).map((p) => p.index);
  if (unknown.length > 0)
    throw new CryptoError('UNKNOWN_MEMBER', `partials: not member(s) ${unknown.join(', ')}`, { field: 'partials', members: unknown });
  assertEnough(distinct, t);
  return { t, groupKey, partials: distinct, H: hashPoint(message) };
}

/**
 * Verifies every partial against its member key, then combines the t lowest valid ones and checks
 * the result against the group key (guards against member keys inconsistent with the group key).
 */
function certifyEach(prep: Prepared, params: CertifyParams): CertifyResult {
  const valid: { index: number; point: G1Point }[] = [];
  const rejected: number[] = [];
  for (const p of prep.partials) {
    const key = decodePublicKey(params.memberPublicKey(p.index), `memberPublicKey(${p.index})`);
    let point: G1Point | undefined;
    try {
      point = decodeSignature(p.signature, 'signature');
    } catch {
      point = undefined; // an undecodable partial is the member's fault, not ours: reject it
    }
    if (point && pairingCheck(prep.H, point, key)) valid.push({ index: p.index, point });
    else rejected.push(p.index);
  }
  if (valid.length < prep.t) return { ok: false, reason: 'NOT_ENOUGH_VALID_SHARES', valid: valid.map((v) => v.index), rejected };
  const used = valid.slice(0, prep.t);
  const signers = used.map((v) => v.index);
  const S = interpolateAtZero(
    signers,
    used.map((v) => v.point),
  );
  if (!pairingCheck(prep.H, S, prep.groupKey))
    throw new CryptoError('BAD_SHARE', 'memberPublicKey: valid partials combine to an invalid group signature', { members: signers });
  return { ok: true, signature: S.toBytes(), signers, rejected };
}

/**
 * Optimistic certification of `message`: combine the t lowest-index partials that decode onto the
 * curve and verify the result once against the group key (one pairing check instead of t). Only
 * if that fails, verify every partial against `memberPublicKey(index)`, name the bad ones in
 * `rejected` and combine the t lowest valid ones. The message is hashed once.
 *
 * Returns ok with `signers` (exactly t, ascending) and `rejected` (partials that failed to decode
 * or verify; empty when all decode and the optimistic check passes, and partials above the t
 * lowest decodable ones are then not examined at all), or NOT_ENOUGH_VALID_SHARES
 * with the valid and rejected members when fewer than t partials verify.
 * On the optimistic path `signers` means "their partials combine to the valid group signature",
 * not "each partial verified on its own" (colluders could offset each other's errors); never
 * store an unverified partial as slashing evidence on the strength of certify() alone.
 * Throws InputError (threshold, partial shapes), CryptoError BAD_POINT (group or member key),
 * UNKNOWN_MEMBER (index < 1 or memberPublicKey undefined), DUPLICATE_MEMBER (two different
 * signatures for one index), NOT_ENOUGH_SHARES (fewer than t distinct partials given), BAD_SHARE
 * (valid partials do not combine to a valid group signature: member keys inconsistent).
 */
export function certify(message: Uint8Array, partials: PartialSignature[], params: CertifyParams): CertifyResult {
  const prep = prepare(message, partials, params);
  const decoded: { index: number; point: G1Point }[] = [];
  const undecodable: number[] = [];
  for (const p of prep.partials) {
    if (decoded.length === prep.t) break;
    const point = decodeSignatureOnCurve(p.signature);
    if (point) decoded.push({ index: p.index, point });
    else undecodable.push(p.index);
  }
  if (decoded.length === prep.t) {
    const S = interpolateAtZero(
      decoded.map((d) => d.index),
      decoded.map((d) => d.point),
    );
    // Partials skipped the subgroup check, so the combination gets it here, before the pairing.
    if (!S.is0() && S.isTorsionFree() && pairingCheck(prep.H, S, prep.groupKey))
      return { ok: true, signature: S.toBytes(), signers: decoded.map((d) => d.index), rejected: undecodable };
  }
  return certifyEach(prep, params);
}

/** Naive certification for comparison: verify every partial first, then combine. Same result and throws as certify(). */
export function certifyNaive(message: Uint8Array, partials: PartialSignature[], params: CertifyParams): CertifyResult {
  return certifyEach(prepare(message, partials, params), params);
}
