/**
 * A memoizing ThresholdCrypto for the simulation, so it can run thousands of seeds: the same votes
 * on the same links recur across seeds, and a pairing costs 5-25 ms. A cache maps the full input to
 * the result of the wrapped implementation, so semantics never change: a miss calls it, a throw is
 * never cached (the next call throws again). The simulation passes it to every region
 * (createRegion's `crypto`), as grandpa's tests pass their own Environment; nothing is patched.
 */
import type { CertifyResult } from '../core/bls.js';
import type { ThresholdCrypto } from '../core/crypto.js';

const MAX_ENTRIES = 50_000;
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const keyOf = (bytes: unknown): string => (bytes instanceof Uint8Array ? hex(bytes) : `!${String(bytes)}`);

/** Hits and misses of every cache of the memoizing implementations made in this process (the soak report). */
export const memoStats = { hits: 0, misses: 0 };

function cached<V>(cache: Map<string, V>, key: string, compute: () => V): V {
  const hit = cache.get(key);
  if (hit !== undefined) {
    memoStats.hits++;
    return hit;
  }
  memoStats.misses++;
  const value = compute(); // a throw propagates and is not cached
  if (cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(key, value);
  return value;
}

/**
 * `inner` with every operation memoized. certify's key is the message, threshold, group key and every
 * partial with its member's key, sorted: certify de-duplicates and sorts by index first, so its result
 * does not depend on the order of the partials.
 */
export function memoizedCrypto(inner: ThresholdCrypto): ThresholdCrypto {
  const certifyCache = new Map<string, CertifyResult>();
  const verifyCache = new Map<string, boolean>();
  const signCache = new Map<string, Uint8Array>();
  const combineCache = new Map<string, Uint8Array>();
  return {
    combine: (partials, threshold) =>
      cached(combineCache, `${threshold}|${partials.map((p) => `${p.index}:${keyOf(p.signature)}`).join(',')}`, () =>
        inner.combine(partials, threshold),
      ),
    signShare: (secretKey, message) => cached(signCache, `${keyOf(secretKey)}|${hex(message)}`, () => inner.signShare(secretKey, message)),
    verify: (publicKey, message, signature) =>
      cached(verifyCache, `${keyOf(publicKey)}|${hex(message)}|${keyOf(signature)}`, () => inner.verify(publicKey, message, signature)),
    certify(message, partials, params) {
      const parts = partials.map((p) => `${p.index}:${keyOf(p.signature)}:${keyOf(params.memberPublicKey(p.index))}`).sort();
      const key = `${hex(message)}|${params.threshold}|${keyOf(params.groupPublicKey)}|${parts.join(',')}`;
      return cached(certifyCache, key, () => inner.certify(message, partials, params));
    },
  };
}
