/**
 * Crypto micro-benchmark (npm run bench:crypto): per-operation BLS costs, naive vs optimistic
 * certification for n in {4, 16, 64, 128} with t = n - floor((n-1)/3), the MSM choice for the
 * Lagrange combination, and ed25519 verification per transaction (native vs pure JS).
 * Steady state is measured: member keys are decoded once (as in a warm finalizer), but every
 * certification signs a fresh message, so each timed certify hashes its message once.
 */
import { mulAddUnsafe, pippenger } from '@noble/curves/abstract/curve.js';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import {
  BLS_DST,
  type CertifyParams,
  certify,
  certifyNaive,
  combine,
  type Dealing,
  deal,
  hashToG1WithDst,
  type PartialSignature,
  signShare,
  verifySignature,
} from '../lib/core/bls.js';
import { ascii, concatBytes, u64 } from '../lib/core/bytes.js';
import { DEV_ACCOUNT_COUNT, devSecretKey, LOCAL_CHAIN_ID } from '../lib/core/chain.js';
import { txSigningBytes } from '../lib/core/codec.js';
import { ed25519PublicKey, ed25519Sign, ed25519Verify, ed25519VerifyNoble } from '../lib/core/ed25519.js';
import { reportBench } from './report.js';

const started = performance.now();

/** Mean milliseconds per call over `iterations` calls of fn(i), after one untimed warm-up call fn(-1) unless `warmUp` is false. */
function measure(iterations: number, fn: (i: number) => unknown, warmUp = true): number {
  if (warmUp) fn(-1);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) fn(i);
  return (performance.now() - t0) / iterations;
}

/** A 195-byte message shaped like vote signing bytes, distinct per (tag, i). */
function message(tag: string, i: number): Uint8Array {
  const head = concatBytes(ascii('AFG-VOTE-V1'), ascii(tag.padEnd(16, '.').slice(0, 16)), u64(i + 1));
  return concatBytes(head, new Uint8Array(195 - head.length));
}

function signAll(d: Dealing, msg: Uint8Array, count = d.n): PartialSignature[] {
  return d.shares.slice(0, count).map((s) => ({ index: s.index, signature: signShare(s.secretKey, msg) }));
}

function paramsOf(d: Dealing): CertifyParams {
  return { threshold: d.threshold, groupPublicKey: d.groupPublicKey, memberPublicKey: (i) => d.shares[i - 1]?.publicKey };
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// --- Dealings ---------------------------------------------------------------------------------

const SIZES = [4, 16, 64, 128];
const dealings = new Map<number, Dealing>();
const dealMs = new Map<number, number>();
for (const n of SIZES) {
  const t = n - Math.floor((n - 1) / 3);
  const t0 = performance.now();
  dealings.set(n, deal(n, t));
  dealMs.set(n, performance.now() - t0);
}
const d64 = dealings.get(64)!;

// --- Per-operation costs ----------------------------------------------------------------------

const m0 = message('ops', 0);
const sk = d64.shares[0]!.secretKey;
const pk = d64.shares[0]!.publicKey;
const partials64 = signAll(d64, m0);
const sig0 = partials64[0]!.signature;
const group64 = combine(partials64, d64.threshold);
const H0 = bls12_381.shortSignatures.hash(m0);

const operations = [
  { op: 'hash to G1 (RFC 9380, uncached)', ms: measure(30, (i) => hashToG1WithDst(message('hash', i), BLS_DST)) },
  { op: 'partial sign (message hash cached)', ms: measure(30, () => signShare(sk, m0)) },
  { op: 'partial sign incl. hash (fresh message)', ms: measure(20, (i) => signShare(sk, message('sign', i))) },
  { op: 'partial verify (cached key lines + hash)', ms: measure(20, () => verifySignature(pk, m0, sig0)) },
  { op: 'partial verify, noble verify(bytes) baseline', ms: measure(10, () => bls12_381.shortSignatures.verify(sig0, H0, pk)) },
  { op: `combine t=${d64.threshold} partials (decode+subgroup+MSM)`, ms: measure(5, () => combine(partials64, d64.threshold)) },
  { op: 'group verify (cached key lines + hash)', ms: measure(20, () => verifySignature(d64.groupPublicKey, m0, group64)) },
  ...SIZES.map((n) => ({ op: `deal n=${n} t=${dealings.get(n)!.threshold} (once)`, ms: dealMs.get(n)! })),
].map((r) => ({ ...r, ms: round(r.ms) }));

// --- MSM choice for the Lagrange combination --------------------------------------------------

const { Fr } = bls12_381.fields;
const G1 = bls12_381.G1.Point;
const msm = [3, 11, 43, 86].map((t) => {
  const points = signAll(dealings.get(128)!, m0, t).map((p) => G1.fromBytes(p.signature));
  const scalars = points.map((_, i) =>
    Fr.create(BigInt(`0x${Buffer.from(bls12_381.utils.randomSecretKey()).toString('hex')}`) + BigInt(i)),
  );
  const iterations = t > 40 ? 3 : 6;
  return {
    t,
    'per-point multiply ms': round(
      measure(iterations, () => points.reduce((acc, p, i) => acc.add(p.multiplyUnsafe(scalars[i]!)), G1.ZERO)),
    ),
    'pippenger ms': round(measure(iterations, () => pippenger(G1, points, scalars))),
    'strauss (mulAddUnsafe) ms': round(measure(iterations, () => mulAddUnsafe(G1, points, scalars))),
  };
});

// --- Certification: naive vs optimistic -------------------------------------------------------

interface CertRow {
  n: number;
  t: number;
  partials: number;
  tampered: number;
  iterations: number;
  'naive ms': number;
  'optimistic ms': number;
  ratio: number;
}

function certRow(n: number, partialCount: 't' | 'n', tampered: number, iterations: number): CertRow {
  const d = dealings.get(n)!;
  const count = partialCount === 't' ? d.threshold : n;
  const prepared = (tag: string) =>
    Array.from({ length: iterations }, (_, i) => {
      const msg = message(`${tag}-${n}-${count}-${tampered}`, i);
      const partials = signAll(d, msg, count);
      // Tampered members sign another message: well-formed points that fail verification.
      for (let k = 0; k < tampered; k++) partials[k * 3 + 1]!.signature = signShare(d.shares[k * 3 + 1]!.secretKey, message('other', i));
      return { msg, partials };
    });
  const naiveInputs = prepared('naive');
  const optimisticInputs = prepared('optimistic');
  const params = paramsOf(d);
  const check = (r: ReturnType<typeof certify>) => {
    if (!r.ok || r.rejected.length !== tampered) throw new Error(`bench: unexpected certification result ${JSON.stringify(r)}`);
  };
  // Warm the member-key cache (decode + Miller-loop lines) as a long-lived finalizer has it; no
  // other warm-up, so every timed call hashes a fresh message.
  for (const p of naiveInputs[0]!.partials) verifySignature(d.shares[p.index - 1]!.publicKey, naiveInputs[0]!.msg, p.signature);
  const naive = measure(iterations, (i) => check(certifyNaive(naiveInputs[i]!.msg, naiveInputs[i]!.partials, params)), false);
  const optimistic = measure(iterations, (i) => check(certify(optimisticInputs[i]!.msg, optimisticInputs[i]!.partials, params)), false);
  return {
    n,
    t: d.threshold,
    partials: count,
    tampered,
    iterations,
    'naive ms': round(naive, 1),
    'optimistic ms': round(optimistic, 1),
    ratio: round(naive / optimistic, 1),
  };
}

// Fewer iterations for big n: one naive certification at n = 128 is already 86 pairing checks.
const iterationsFor = (n: number) => (n <= 4 ? 8 : n <= 16 ? 4 : n <= 64 ? 2 : 1);
const certification: CertRow[] = [];
// The finalizer certifies as soon as t partials are in.
for (const n of SIZES) certification.push(certRow(n, 't', 0, iterationsFor(n)));
// All n partials present (naive checks every one of them).
certification.push(certRow(64, 'n', 0, 2));
// f Byzantine members send bad partials: the optimistic check fails and certify falls back.
certification.push(certRow(16, 'n', 5, 1));

// --- ed25519 per transaction ------------------------------------------------------------------

const txs = Array.from({ length: 200 }, (_, i) => {
  const from = i % DEV_ACCOUNT_COUNT;
  const secret = devSecretKey(from);
  const publicKey = ed25519PublicKey(secret);
  const msg = txSigningBytes(LOCAL_CHAIN_ID, {
    from: publicKey,
    to: ed25519PublicKey(devSecretKey((from + 1) % DEV_ACCOUNT_COUNT)),
    amount: BigInt(i + 1),
    nonce: BigInt(i),
  });
  return { msg, publicKey, signature: ed25519Sign(msg, secret) };
});
const tx = (i: number) => txs[(i + txs.length) % txs.length]!;
const nativeMs = measure(2000, (i) => ed25519Verify(tx(i).signature, tx(i).msg, tx(i).publicKey));
const nobleMs = measure(200, (i) => ed25519VerifyNoble(tx(i).signature, tx(i).msg, tx(i).publicKey));
const ed25519 = [
  { verifier: 'native (node:crypto)', 'µs per tx': round(nativeMs * 1000, 1), 'tx/s per core': Math.round(1000 / nativeMs) },
  { verifier: 'pure JS (@noble/curves)', 'µs per tx': round(nobleMs * 1000, 1), 'tx/s per core': Math.round(1000 / nobleMs) },
];

// --- Report -----------------------------------------------------------------------------------

const headline = certification.find((r) => r.n === 64 && r.partials === r.t && r.tampered === 0)!;
reportBench('crypto', certification as unknown as Record<string, unknown>[], {
  target: {
    what: 'optimistic certify at n = 64, t = 43 at least 10x cheaper than naive',
    ratio: headline.ratio,
    met: headline.ratio >= 10,
  },
  ed25519NativeSpeedup: round(nobleMs / nativeMs, 1),
  totalSeconds: round((performance.now() - started) / 1000, 1),
  operations,
  msm,
  ed25519,
});
