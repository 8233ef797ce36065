/**
 * The key-value registry (lib/core/registry.ts), the second application behind the plug-in
 * interface: its codec, admission and execution rules, on a real state tree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, concatBytes, toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { InputError } from '../../lib/core/errors.js';
import { entryKey, KeyValueRegistry, registryApplication, signRegistration } from '../../lib/core/registry.js';
import { decodeProof, EMPTY_ROOT, encodeProof, MemoryNodeStore, SparseMerkleTree, verifyProof } from '../../lib/core/smt.js';

const registry = () => new KeyValueRegistry(LOCAL_CHAIN_ID, new SparseMerkleTree(new MemoryNodeStore()));
const owner = (i: number) => devSecretKey(i);
const reg = (i: number, key: string, value: string, nonce: bigint) =>
  signRegistration(LOCAL_CHAIN_ID, owner(i), { key: ascii(key), value: ascii(value), nonce });

describe('registry codec', () => {
  it('round-trips JSON and refuses malformed fields naming them', () => {
    const app = registry();
    const r = reg(0, 'k', 'v', 0n);
    const json = app.toJson(r);
    expect(app.fromJson(JSON.parse(JSON.stringify(json)), 'tx')).toEqual(r);
    expect(() => app.fromJson({ ...json, key: '' }, 'tx')).toThrow(/tx\.key/);
    expect(() => app.fromJson({ ...json, value: 'ab'.repeat(1025) }, 'tx')).toThrow(/tx\.value/);
    expect(() => app.fromJson({ ...json, extra: 1 }, 'tx')).toThrow(InputError);
    expect(toHex(app.hash(r))).toBe(toHex(registryApplication.codec(LOCAL_CHAIN_ID).hash(r)));
  });
});

describe('registry rules', () => {
  it('registers a key once, with the owner nonce in order; later tries are refused for good or kept for later', async () => {
    const app = registry();
    const first = reg(0, 'alpha', 'one', 0n);
    const next = reg(0, 'beta', 'two', 1n);
    const taken = reg(1, 'alpha', 'other', 0n);
    const future = reg(2, 'gamma', 'x', 3n);
    const out = await app.execute(EMPTY_ROOT, [first, next, taken, future]);
    expect(out.applied).toBe(2);
    expect(out.rejected.map((r) => [r.index, r.reason, r.retryable])).toEqual([
      [2, 'KEY_TAKEN', false],
      [3, 'BAD_NONCE', true],
    ]);
    const read = await app.read(out.root, ascii('alpha'));
    expect(read.fields).toEqual({ key: toHex(ascii('alpha')), owner: toHex(ed25519PublicKey(owner(0))), value: toHex(ascii('one')) });
    const proof = decodeProof(JSON.parse(JSON.stringify(encodeProof(read.proof))));
    expect(verifyProof(out.root, entryKey(ascii('alpha')), concatBytes(ed25519PublicKey(owner(0)), ascii('one')), proof)).toBe(true);
    // An absent key has an absence proof.
    const absent = await app.read(out.root, ascii('nothing'));
    expect(absent.fields.owner).toBeUndefined();
    expect(verifyProof(out.root, entryKey(ascii('nothing')), undefined, absent.proof)).toBe(true);
  });

  it('admission refuses a bad signature, a used nonce and a taken key, and accepts a fresh registration', async () => {
    const app = registry();
    const { root } = await app.execute(EMPTY_ROOT, [reg(0, 'alpha', 'one', 0n)]);
    const state = { root, height: 1 };
    expect(await app.admit(state, reg(1, 'beta', 'b', 0n))).toEqual({ ok: true });
    expect(await app.admit(state, reg(0, 'beta', 'b', 0n))).toMatchObject({ ok: false, code: 'STALE_NONCE' });
    expect(await app.admit(state, reg(1, 'alpha', 'b', 0n))).toMatchObject({ ok: false, code: 'KEY_TAKEN' });
    const forged = { ...reg(1, 'beta', 'b', 0n), value: ascii('c') };
    expect(await app.admit(state, forged)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('property: execution is deterministic and order-sensitive only through the rules', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 2 })), {
          maxLength: 6,
        }),
        async (items) => {
          const txs = items.map(([o, k, n]) => reg(o, k, 'v', BigInt(n)));
          const a = await registry().execute(EMPTY_ROOT, txs);
          const b = await registry().execute(EMPTY_ROOT, txs);
          expect(toHex(a.root)).toBe(toHex(b.root));
          // Each key is registered at most once, whatever the sequence.
          expect(a.applied).toBeLessThanOrEqual(new Set(items.map(([, k]) => k)).size);
        },
      ),
      { numRuns: 40 },
    );
  });
});
