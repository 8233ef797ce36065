/**
 * Certificate size and client verification cost (npx tsx bench/certificate.ts): a threshold
 * certificate (one 48-byte group signature + the signer list) against a certificate made of t
 * individual member signatures, for n = 4..128 with t = n - floor((n-1)/3).
 *
 * Sizes do not depend on signature values, so the certificates are built with placeholder
 * signatures through the real JSON encoder (certificateToJson); binary sizes count the fields a
 * compact encoding needs (message 195 B shared by both; signer list as a bitmap, or 2-byte member
 * indices next to each individual signature). Verification costs come from bench/results/crypto.json
 * (run `npm run bench:crypto` first) when present, otherwise from a quick measurement here.
 * The certification CPU time vs n (naive vs optimistic) is copied from crypto.json as well.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { deal, signShare, verifySignature } from '../lib/core/bls.js';
import { LOCAL_CHAIN_ID } from '../lib/core/chain.js';
import { VOTE_SIGNING_BYTES_LENGTH, voteSigningBytes } from '../lib/core/codec.js';
import type { Certificate } from '../lib/core/types.js';
import { certificateToJson, voteToJson } from '../lib/core/wire.js';
import { reportBench } from './report.js';

const SIZES = [4, 7, 10, 16, 32, 64, 128];
const SIGNATURE = 48;
const MEMBER_KEY = 96;
const threshold = (n: number) => n - Math.floor((n - 1) / 3);

interface CryptoResults {
  date: string;
  rows: { n: number; t: number; partials: number; tampered: number; 'naive ms': number; 'optimistic ms': number; ratio: number }[];
  operations: { op: string; ms: number }[];
}

function readCrypto(): CryptoResults | undefined {
  const path = new URL('./results/crypto.json', import.meta.url);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CryptoResults;
  } catch {
    return undefined;
  }
}

/** Mean ms of one BLS verification with a warm key, measured here when crypto.json is absent. */
function measureVerifyMs(): number {
  const d = deal(4, 3);
  const msg = new Uint8Array(VOTE_SIGNING_BYTES_LENGTH).fill(7);
  const sig = signShare(d.shares[0]!.secretKey, msg);
  verifySignature(d.shares[0]!.publicKey, msg, sig);
  const t0 = performance.now();
  const k = 5;
  for (let i = 0; i < k; i++) verifySignature(d.shares[0]!.publicKey, msg, sig);
  return (performance.now() - t0) / k;
}

const crypto = readCrypto();
const op = (prefix: string) => crypto?.operations.find((o) => o.op.startsWith(prefix))?.ms;
const measured = op('partial verify (cached') === undefined ? measureVerifyMs() : undefined;
const partialVerifyMs = op('partial verify (cached') ?? measured!;
const groupVerifyMs = op('group verify (cached') ?? measured!;

const checkpoint = (height: number, tag: number) => ({
  height,
  hash: new Uint8Array(32).fill(tag),
  stateRoot: new Uint8Array(32).fill(tag + 1),
});
const link = { era: 0n, source: checkpoint(100, 1), target: checkpoint(101, 3) };
const message = voteSigningBytes(LOCAL_CHAIN_ID, link);
const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

const rows = SIZES.map((n) => {
  const t = threshold(n);
  const signers = Array.from({ length: t }, (_, i) => i + 1);
  const cert: Certificate = { ...link, signers, signature: new Uint8Array(SIGNATURE).fill(0xaa) };
  const thresholdJson = jsonBytes(certificateToJson(LOCAL_CHAIN_ID, cert));
  // The alternative: the link once plus t votes' member index and signature (what a finalizer collects).
  const votes = signers.map((member) => {
    const { member: m, signature } = voteToJson({ ...link, member, signature: new Uint8Array(SIGNATURE).fill(0xbb) });
    return { member: m, signature };
  });
  const { era, source, target, message: messageHex } = certificateToJson(LOCAL_CHAIN_ID, cert);
  const individualJson = jsonBytes({ era, source, target, votes, message: messageHex });
  const thresholdBinary = message.length + SIGNATURE + Math.ceil(n / 8);
  const individualBinary = message.length + t * (SIGNATURE + 2);
  return {
    n,
    t,
    'threshold B': thresholdBinary,
    'individual B': individualBinary,
    'binary ratio': individualBinary / thresholdBinary,
    'threshold JSON B': thresholdJson,
    'individual JSON B': individualJson,
    'JSON ratio': individualJson / thresholdJson,
    'group key B': MEMBER_KEY,
    'member keys B': n * MEMBER_KEY,
    'verify 1 group ms': groupVerifyMs,
    'verify t partials ms': t * partialVerifyMs,
  };
});

const certification = (crypto?.rows ?? [])
  .filter((r) => r.partials === r.t && r.tampered === 0)
  .map((r) => ({ n: r.n, t: r.t, 'naive ms': r['naive ms'], 'optimistic ms': r['optimistic ms'], ratio: r.ratio }));
const at64 = certification.find((r) => r.n === 64);

reportBench('certificate', rows, {
  description:
    'Threshold certificate (48-byte group signature + signer list) vs t individual 48-byte signatures. Binary: 195-byte ' +
    'vote message + signature + signer bitmap, vs message + t x (signature + 2-byte index). JSON: the API certificate ' +
    '(certificateToJson) vs the same link with t {member, signature} votes. Verify: a client checks 1 pairing equation ' +
    'with the group key vs t equations with t member keys (ms per verification from crypto.json on this machine).',
  verifyCostSource: crypto ? `bench/results/crypto.json (${crypto.date})` : `measured here (${measured?.toFixed(1)} ms per verification)`,
  partialVerifyMs,
  groupVerifyMs,
  certification,
  certificationSource: crypto ? `bench/results/crypto.json (${crypto.date})` : 'absent: run npm run bench:crypto',
  target: at64
    ? { what: 'optimistic certification at least 10x cheaper than naive at n = 64', ratio: at64.ratio, met: at64.ratio >= 10 }
    : { what: 'optimistic certification at least 10x cheaper than naive at n = 64', ratio: null, met: null },
  loadAverage: loadavg(),
});
