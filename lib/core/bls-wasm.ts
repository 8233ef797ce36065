/**
 * The same BLS verification as bls.ts with the pairing computed in WebAssembly (mcl-wasm, herumi's
 * mcl), about three times faster than the pure-JS pairing: the finalizer verifies every vote at the
 * edge, so this is its hot path. Only the pairing product moves: hash-to-curve (RFC 9380) and point
 * decoding (curve, subgroup and infinity checks) stay with @noble/curves, so exactly the inputs
 * bls.ts accepts are accepted. bls.ts remains the reference; test/core/bls-wasm.test.ts checks that
 * both give the same answer on published vectors and generated valid and invalid inputs.
 */
import { bls12_381 } from '@noble/curves/bls12-381.js';
import mcl from 'mcl-wasm';
import { BLS_DST, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './bls.js';
import { blsCrypto, type ThresholdCrypto } from './crypto.js';

const G1 = bls12_381.G1;
const G2 = bls12_381.G2;
const MAX_CACHED = 4096;

let ready: Promise<void> | undefined;

/** Loads the WebAssembly module once per process. */
function init(): Promise<void> {
  ready ??= (async () => {
    await mcl.init(mcl.BLS12_381);
    mcl.setETHserialization(true); // the compressed ZCash encoding @noble/curves uses
  })();
  return ready;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
  return value;
}

/**
 * Threshold BLS with verification in WebAssembly: `verify` as in bls.ts (never throws, false on any
 * malformed input); signing and combining unchanged. Resolves once the module is loaded.
 */
export async function wasmBlsCrypto(): Promise<ThresholdCrypto> {
  await init();
  const negG2 = new mcl.G2();
  negG2.deserialize(G2.Point.BASE.negate().toBytes());
  // Precomputed line coefficients: a verification is then one double Miller loop over two fixed G2 points.
  const negG2Lines = new mcl.PrecomputedG2(negG2);
  const keys = new Map<string, mcl.PrecomputedG2 | null>(); // null: not a valid key
  const hashes = new Map<string, mcl.G1>();

  const keyOf = (bytes: Uint8Array): mcl.PrecomputedG2 | null => {
    const id = hex(bytes);
    const hit = keys.get(id);
    if (hit !== undefined) return hit;
    let lines: mcl.PrecomputedG2 | null = null;
    try {
      const p = G2.Point.fromBytes(bytes); // flags, curve equation, subgroup
      if (!p.is0()) {
        const point = new mcl.G2();
        point.deserialize(bytes);
        lines = new mcl.PrecomputedG2(point);
      }
    } catch {
      lines = null;
    }
    if (keys.size >= MAX_CACHED) {
      const [oldest, old] = keys.entries().next().value!;
      keys.delete(oldest);
      old?.destroy(); // wasm memory is not garbage-collected
    }
    keys.set(id, lines);
    return lines;
  };

  const hashOf = (message: Uint8Array): mcl.G1 => {
    const id = hex(message);
    const hit = hashes.get(id);
    if (hit) return hit;
    const point = new mcl.G1();
    point.deserialize(G1.hashToCurve(message, { DST: BLS_DST }).toBytes());
    return remember(hashes, id, point);
  };

  return {
    ...blsCrypto,
    verify(publicKey, message, signature) {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) return false;
      if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH || !(message instanceof Uint8Array)) return false;
      const key = keyOf(publicKey);
      if (!key) return false;
      const S = new mcl.G1();
      try {
        S.deserialize(signature); // flags, canonical x, curve equation
      } catch {
        return false;
      }
      if (S.isZero() || !S.isValidOrder()) return false; // the point at infinity, or outside the subgroup
      // e(S, G2) == e(H, pk)  <=>  e(S, -G2) * e(H, pk) == 1
      return mcl.finalExp(mcl.precomputedMillerLoop2(S, negG2Lines, hashOf(message), key)).isOne();
    },
  };
}

let shared: Promise<ThresholdCrypto> | undefined;

/**
 * The process's ThresholdCrypto: wasmBlsCrypto, loaded once and shared (its caches of decoded keys
 * and hashed messages then serve every role of the process).
 */
export function defaultThresholdCrypto(): Promise<ThresholdCrypto> {
  shared ??= wasmBlsCrypto();
  return shared;
}
