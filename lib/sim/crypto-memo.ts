/**
 * Memoizing wrappers for the pure BLS functions the pipeline calls (certify, verifySignature,
 * signShare), so the simulation can run thousands of seeds: the same votes on the same links recur
 * across seeds, and a pairing costs 5-25 ms. A cache maps the full input to the result of the real
 * function, so semantics never change: a miss calls the real function, a throw is never cached
 * (the next call throws again).
 *
 * Two ways in: vitest files mock '../../lib/core/bls.js' with `memoizeBls(original)`; the soak
 * script (plain tsx) calls `installCryptoMemo()` before importing the pipeline, which redirects
 * every import of lib/core/bls.ts to lib/sim/bls-memo.ts through a module resolve hook.
 */
import { registerHooks } from 'node:module';
import type * as Bls from '../core/bls.js';

type BlsModule = typeof Bls;

const MAX_ENTRIES = 50_000;
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Counters of the caches, for the soak report. */
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
 * Returns `mod` with certify, verifySignature and signShare replaced by memoizing wrappers.
 * certify's key is the message, threshold, group key and every partial with its member's key,
 * sorted by (index, signature): certify de-duplicates and sorts by index first, so its result does
 * not depend on the order of the partials.
 */
export function memoizeBls(mod: BlsModule): BlsModule {
  const certifyCache = new Map<string, Bls.CertifyResult>();
  const verifyCache = new Map<string, boolean>();
  const signCache = new Map<string, Uint8Array>();
  const certify: BlsModule['certify'] = (message, partials, params) => {
    const parts = partials
      .map((p) => `${p.index}:${p.signature instanceof Uint8Array ? hex(p.signature) : 'x'}:${keyOf(params.memberPublicKey(p.index))}`)
      .sort();
    const key = `${hex(message)}|${params.threshold}|${keyOf(params.groupPublicKey)}|${parts.join(',')}`;
    return cached(certifyCache, key, () => mod.certify(message, partials, params));
  };
  const verifySignature: BlsModule['verifySignature'] = (publicKey, message, signature) =>
    cached(verifyCache, `${keyOf(publicKey)}|${hex(message)}|${keyOf(signature)}`, () =>
      mod.verifySignature(publicKey, message, signature),
    );
  const signShare: BlsModule['signShare'] = (secretKey, message) =>
    cached(signCache, `${keyOf(secretKey)}|${hex(message)}`, () => mod.signShare(secretKey, message));
  return { ...mod, certify, verifySignature, signShare };
}

function keyOf(bytes: unknown): string {
  return bytes instanceof Uint8Array ? hex(bytes) : `!${String(bytes)}`;
}

let installed = false;

/**
 * Redirects later imports of lib/core/bls.ts to the memoizing module (Node >= 22.15 in-thread
 * module hooks; works under tsx). Call before importing anything from lib/pipeline or lib/sim.
 */
export function installCryptoMemo(): void {
  if (installed) return;
  installed = true;
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      if (/\/lib\/core\/bls\.[jt]s$/.test(resolved.url) && !context.parentURL?.includes('/lib/sim/bls-memo.')) {
        return { ...resolved, url: new URL('./bls-memo.ts', import.meta.url).href, shortCircuit: true };
      }
      return resolved;
    },
  });
}
