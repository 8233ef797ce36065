import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.js';
import {
  CachingNodeStore,
  decodeProof,
  EMPTY_ROOT,
  encodeProof,
  type Hash,
  hexOf,
  internalHash,
  leafHash,
  MemoryNodeStore,
  type NodeStore,
  nodeChildren,
  parseHex,
  SparseMerkleTree,
  StateError,
  storedChildren,
  verifyProof,
} from '../../lib/core/smt.js';

const key = (...prefix: number[]): Hash => {
  const k = new Uint8Array(32);
  k.set(prefix);
  return k;
};
const val = (s: string) => new TextEncoder().encode(s);
const fresh = () => new SparseMerkleTree(new MemoryNodeStore());

/**
 * A key pool that exercises every shape: random keys, keys differing only in their last bit (a chain of
 * 255 internal nodes), keys sharing the first byte, and the all-zero / all-one keys.
 */
const POOL: Hash[] = (() => {
  const random = Array.from({ length: 10 }, (_, i) => sha256(Uint8Array.of(i)));
  const twinA = sha256(Uint8Array.of(100));
  const twinB = twinA.slice();
  twinB[31]! ^= 1;
  const sameByte = [key(0x80, 1), key(0x80, 2), key(0x80, 0x80)];
  return [...random, twinA, twinB, ...sameByte, new Uint8Array(32), new Uint8Array(32).fill(0xff)];
})();

const change = fc.record({
  k: fc.nat({ max: POOL.length - 1 }),
  v: fc.option(fc.uint8Array({ maxLength: 6 }), { nil: undefined }),
});
const batches = fc.array(fc.array(change, { maxLength: 8 }), { minLength: 1, maxLength: 8 });

/** Applies batches to a tree and to a Map model; returns every root with the model after it. */
async function run(tree: SparseMerkleTree, bs: { k: number; v: Uint8Array | undefined }[][]) {
  const model = new Map<number, Uint8Array>();
  let root = EMPTY_ROOT;
  const history: { root: Hash; model: Map<number, Uint8Array> }[] = [];
  for (const b of bs) {
    root = (
      await tree.update(
        root,
        b.map((c) => ({ key: POOL[c.k]!, value: c.v })),
      )
    ).root;
    for (const c of b) c.v === undefined ? model.delete(c.k) : model.set(c.k, c.v);
    history.push({ root, model: new Map(model) });
  }
  return history;
}

async function rootOf(entries: [number, Uint8Array][]): Promise<Hash> {
  return (
    await fresh().update(
      EMPTY_ROOT,
      entries.map(([k, v]) => ({ key: POOL[k]!, value: v })),
    )
  ).root;
}

describe('sparse Merkle tree: hashing and shape', () => {
  it('the empty tree has root EMPTY_ROOT (32 zero bytes) and holds nothing', async () => {
    expect(hexOf(EMPTY_ROOT)).toBe('00'.repeat(32));
    expect(await fresh().get(EMPTY_ROOT, POOL[0]!)).toBeUndefined();
  });

  it('a single leaf is the root: sha256(0x00 || key || sha256(value))', async () => {
    const { root } = await fresh().update(EMPTY_ROOT, [{ key: POOL[0]!, value: val('a') }]);
    expect(hexOf(root)).toBe(hexOf(sha256(Uint8Array.of(0, ...POOL[0]!, ...sha256(val('a'))))));
    expect(hexOf(root)).toBe(hexOf(leafHash(POOL[0]!, sha256(val('a')))));
  });

  it('two keys split on the first bit give sha256(0x01 || left || right) of collapsed leaves', async () => {
    const lo = key(0x00, 7);
    const hi = key(0x80, 9);
    const { root } = await fresh().update(EMPTY_ROOT, [
      { key: hi, value: val('h') },
      { key: lo, value: val('l') },
    ]);
    const expected = internalHash(leafHash(lo, sha256(val('l'))), leafHash(hi, sha256(val('h'))));
    expect(hexOf(root)).toBe(hexOf(expected));
    expect(hexOf(expected)).toBe(hexOf(sha256(Uint8Array.of(1, ...leafHash(lo, sha256(val('l'))), ...leafHash(hi, sha256(val('h')))))));
  });

  it('keys sharing a prefix hang under a chain with empty siblings; deleting one collapses it back to a leaf', async () => {
    const tree = fresh();
    const a = key(0x00, 0x00);
    const b = key(0x00, 0x01); // shares the first 15 bits with a
    const { root: one } = await tree.update(EMPTY_ROOT, [{ key: a, value: val('a') }]);
    const { root: two } = await tree.update(one, [{ key: b, value: val('b') }]);
    let expected = internalHash(leafHash(a, sha256(val('a'))), leafHash(b, sha256(val('b'))));
    for (let d = 14; d >= 0; d--) expected = internalHash(expected, EMPTY_ROOT);
    expect(hexOf(two)).toBe(hexOf(expected));
    expect((await tree.prove(two, a)).proof.siblings).toHaveLength(16);
    const { root: back } = await tree.update(two, [{ key: b, value: undefined }]);
    expect(hexOf(back)).toBe(hexOf(one));
  });
});

describe('sparse Merkle tree: against a Map model', () => {
  it('random insert/update/delete batches read back like the model, and every root equals a fresh build of its content', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (bs) => {
        const tree = fresh();
        for (const { root, model } of await run(tree, bs)) {
          for (let k = 0; k < POOL.length; k++) {
            const got = await tree.get(root, POOL[k]!);
            expect(got && hexOf(got)).toBe(model.has(k) ? hexOf(model.get(k)!) : undefined);
          }
          expect(hexOf(root)).toBe(hexOf(await rootOf([...model])));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('the root does not depend on insertion order or batching', async () => {
    const entries = fc.uniqueArray(fc.tuple(fc.nat({ max: POOL.length - 1 }), fc.uint8Array({ maxLength: 4 })), {
      selector: ([k]) => k,
      maxLength: POOL.length,
    });
    await fc.assert(
      fc.asyncProperty(entries, fc.nat(), async (es, seed) => {
        const shuffled = es.map((e, i) => ({ e, r: (seed * 7919 + i * 104729) % 1009 })).sort((x, y) => x.r - y.r);
        const tree = fresh();
        let root = EMPTY_ROOT;
        for (const { e } of shuffled) root = (await tree.update(root, [{ key: POOL[e[0]]!, value: e[1] }])).root;
        expect(hexOf(root)).toBe(hexOf(await rootOf(es)));
      }),
      { numRuns: 60 },
    );
  });

  it('the last change to a key within one batch wins', async () => {
    const tree = fresh();
    const { root } = await tree.update(EMPTY_ROOT, [
      { key: POOL[0]!, value: val('first') },
      { key: POOL[0]!, value: val('last') },
      { key: POOL[1]!, value: val('x') },
      { key: POOL[1]!, value: undefined },
    ]);
    expect(hexOf((await tree.get(root, POOL[0]!))!)).toBe(hexOf(val('last')));
    expect(await tree.get(root, POOL[1]!)).toBeUndefined();
  });

  it('refuses malformed keys and values with InputError naming the field', async () => {
    const tree = fresh();
    await expect(tree.update(EMPTY_ROOT, [{ key: new Uint8Array(31), value: val('a') }])).rejects.toThrow(/changes\[0\]\.key/);
    await expect(tree.update(EMPTY_ROOT, [{ key: POOL[0]!, value: 'a' as never }])).rejects.toThrow(/changes\[0\]\.value/);
    await expect(tree.get(new Uint8Array(3), POOL[0]!)).rejects.toThrow(InputError);
  });
});

describe('sparse Merkle tree: persistence and writes', () => {
  it('old roots stay readable after later updates and deletes', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (bs) => {
        const tree = fresh();
        const history = await run(tree, bs);
        for (const { root, model } of history) {
          for (const [k, v] of model) expect(hexOf((await tree.get(root, POOL[k]!))!)).toBe(hexOf(v));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('replaying the same batches on another store gives the same roots; a retry writes nothing new', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (bs) => {
        const a = await run(fresh(), bs);
        const store = new MemoryNodeStore();
        const tree = new SparseMerkleTree(store);
        const b = await run(tree, bs);
        expect(b.map((h) => hexOf(h.root))).toEqual(a.map((h) => hexOf(h.root)));
        const size = store.size;
        await run(tree, bs); // a retried execution rewrites identical nodes only
        expect(store.size).toBe(size);
      }),
      { numRuns: 30 },
    );
  });

  it('a no-op batch (same values, deleting absent keys) keeps the root and writes nothing', async () => {
    const tree = fresh();
    const { root } = await tree.update(
      EMPTY_ROOT,
      POOL.slice(0, 8).map((k, i) => ({ key: k, value: val(`v${i}`) })),
    );
    const again = await tree.update(root, [
      { key: POOL[3]!, value: val('v3') },
      { key: POOL[9]!, value: undefined },
    ]);
    expect(hexOf(again.root)).toBe(hexOf(root));
    expect(again.written).toBe(0);
  });

  it('an update writes one path per touched key: at most touched x (depth + 1) nodes', async () => {
    const store = new MemoryNodeStore();
    const tree = new SparseMerkleTree(store);
    const n = 2048;
    const keys = Array.from({ length: n }, (_, i) => sha256(Uint8Array.of(i >> 8, i & 255)));
    const { root, written } = await tree.update(
      EMPTY_ROOT,
      keys.map((k) => ({ key: k, value: val('x') })),
    );
    // n leaves, n - 1 branching nodes, plus a few one-child nodes where keys share a prefix.
    expect(written).toBeGreaterThanOrEqual(2 * n - 1);
    expect(written).toBeLessThan(3 * n);
    expect(store.size).toBe(written);
    const touched = keys.slice(0, 10).map((k) => ({ key: k, value: val('y') }));
    const maxDepth = Math.max(
      ...(await Promise.all(keys.slice(0, 10).map(async (k) => (await tree.prove(root, k)).proof.siblings.length))),
    );
    const step = await tree.update(root, touched);
    expect(step.written).toBeGreaterThanOrEqual(10 + maxDepth - 1);
    expect(step.written).toBeLessThanOrEqual(10 * (maxDepth + 1));
    expect(store.size).toBe(written + step.written);
  });
});

describe('sparse Merkle tree: proofs', () => {
  it('verify for present and absent keys, and fail when value, key, sibling, leaf or root is tampered', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.nat({ max: POOL.length - 1 }), fc.nat({ max: 31 }), async (bs, k, byte) => {
        const tree = fresh();
        const { root, model } = (await run(tree, bs)).at(-1)!;
        const { value, proof } = await tree.prove(root, POOL[k]!);
        expect(value && hexOf(value)).toBe(model.has(k) ? hexOf(model.get(k)!) : undefined);
        expect(verifyProof(root, POOL[k]!, value, proof)).toBe(true);
        // The JSON form round-trips and still verifies.
        const decoded = decodeProof(JSON.parse(JSON.stringify(encodeProof(proof))));
        expect(verifyProof(root, POOL[k]!, value, decoded)).toBe(true);

        const flip = (h: Hash) => {
          const c = h.slice();
          c[byte]! ^= 1;
          return c;
        };
        expect(verifyProof(flip(root), POOL[k]!, value, proof)).toBe(false);
        expect(verifyProof(root, POOL[k]!, value ? undefined : val('forged'), proof)).toBe(false);
        if (value) expect(verifyProof(root, POOL[k]!, Uint8Array.of(...value, 0), proof)).toBe(false);
        expect(verifyProof(root, POOL[k]!, value, { ...proof, key: flip(POOL[k]!) })).toBe(false);
        const other = POOL[(k + 1) % POOL.length]!;
        if (value) expect(verifyProof(root, other, value, { ...proof, key: other })).toBe(false);
        for (let i = 0; i < proof.siblings.length; i++) {
          const siblings = proof.siblings.map((s, j) => (j === i ? flip(s) : s));
          expect(verifyProof(root, POOL[k]!, value, { ...proof, siblings })).toBe(false);
        }
        if (proof.leaf) {
          expect(verifyProof(root, POOL[k]!, value, { ...proof, leaf: { ...proof.leaf, valueHash: flip(proof.leaf.valueHash) } })).toBe(
            false,
          );
          expect(verifyProof(root, POOL[k]!, value, { key: proof.key, siblings: proof.siblings })).toBe(false);
        }
        if (proof.siblings.length > 0)
          expect(verifyProof(root, POOL[k]!, value, { ...proof, siblings: proof.siblings.slice(1) })).toBe(false);
      }),
      { numRuns: 80 },
    );
  });

  it("an absence proof cannot reuse another key's proof, and a leaf off the key's path is refused", async () => {
    const tree = fresh();
    const a = key(0x00, 1);
    const b = key(0x80, 1);
    const { root } = await tree.update(EMPTY_ROOT, [
      { key: a, value: val('a') },
      { key: b, value: val('b') },
    ]);
    const pa = (await tree.prove(root, a)).proof;
    expect(verifyProof(root, a, val('a'), pa)).toBe(true);
    // Claim c (same first bit as b) is absent using a's leaf: a's leaf is not on c's path.
    const c = key(0x80, 2);
    expect(verifyProof(root, c, undefined, { ...pa, key: c })).toBe(false);
    const pc = (await tree.prove(root, c)).proof;
    expect(pc.leaf && hexOf(pc.leaf.key)).toBe(hexOf(b));
    expect(verifyProof(root, c, undefined, pc)).toBe(true);
    expect(verifyProof(root, b, undefined, { ...pc, key: b })).toBe(false); // b is present
  });

  it('decodeProof names the faulty field', () => {
    const good = { key: '11'.repeat(32), siblings: ['22'.repeat(32)], leaf: { key: '33'.repeat(32), valueHash: '44'.repeat(32) } };
    expect(decodeProof(good).siblings).toHaveLength(1);
    expect(() => decodeProof(null)).toThrow(/^proof: /);
    expect(() => decodeProof({ ...good, key: 'zz' })).toThrow(/proof\.key/);
    expect(() => decodeProof({ ...good, siblings: ['22'.repeat(32), 'AB'.repeat(32)] })).toThrow(/proof\.siblings\[1\]/);
    expect(() => decodeProof({ ...good, siblings: 'x' })).toThrow(/proof\.siblings: expected an array/);
    expect(() => decodeProof({ ...good, leaf: { ...good.leaf, valueHash: '44' } })).toThrow(/proof\.leaf\.valueHash/);
    expect(() => decodeProof({ ...good, siblings: Array(257).fill('00'.repeat(32)) })).toThrow(/at most 256/);
  });

  it('browser-safe hex helpers round-trip, match Buffer hex and validate', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (b) => {
        expect(hexOf(b)).toBe(Buffer.from(b).toString('hex'));
      }),
      { numRuns: 30 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        expect(parseHex(hexOf(b), 32, 'x')).toEqual(b);
      }),
    );
    expect(() => parseHex(`0x${'00'.repeat(31)}`, 32, 'field')).toThrow(/field/);
  });
});

describe('node stores', () => {
  it('the tree-level node cache changes no answer, whatever its size', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.constantFrom(0, 1, 2, 5, 1000), async (bs, nodeCache) => {
        const store = new MemoryNodeStore();
        const history = await run(new SparseMerkleTree(store), bs);
        const tree = new SparseMerkleTree(store, { nodeCache });
        for (const { root, model } of history) {
          for (let k = 0; k < POOL.length; k++) {
            const got = await tree.get(root, POOL[k]!);
            expect(got && hexOf(got)).toBe(model.has(k) ? hexOf(model.get(k)!) : undefined);
          }
        }
      }),
      { numRuns: 20 },
    );
    expect(() => new SparseMerkleTree(new MemoryNodeStore(), { nodeCache: -1 })).toThrow(/nodeCache/);
  });

  it('a missing or corrupt node is a StateError, not a wrong answer', async () => {
    const store = new MemoryNodeStore();
    const tree = new SparseMerkleTree(store);
    const { root } = await tree.update(EMPTY_ROOT, [
      { key: POOL[0]!, value: val('a') },
      { key: POOL[1]!, value: val('b') },
    ]);
    await expect(new SparseMerkleTree(new MemoryNodeStore()).get(root, POOL[0]!)).rejects.toMatchObject({ code: 'MISSING_NODE' });
    const bytes = (await store.get(root))!.slice();
    bytes[5]! ^= 1;
    const corrupt: NodeStore = { get: async (h) => (hexOf(h) === hexOf(root) ? bytes : store.get(h)), putMany: (n) => store.putMany(n) };
    const err = await new SparseMerkleTree(corrupt).get(root, POOL[0]!).catch((e) => e);
    expect(err).toBeInstanceOf(StateError);
    expect(err.code).toBe('CORRUPT_NODE');
    expect(await tree.get(root, POOL[0]!)).toEqual(val('a'));
  });

  it('CachingNodeStore gives the same answers, serves repeats from cache and stays within maxEntries', async () => {
    const inner = new MemoryNodeStore();
    let innerGets = 0;
    const counting: NodeStore = {
      get: (h) => {
        innerGets++;
        return inner.get(h);
      },
      putMany: (n) => inner.putMany(n),
    };
    const build = new SparseMerkleTree(inner);
    const { root } = await build.update(
      EMPTY_ROOT,
      POOL.map((k, i) => ({ key: k, value: val(`v${i}`) })),
    );
    const cached = new CachingNodeStore(counting, 8);
    const tree = new SparseMerkleTree(cached, { nodeCache: 0 }); // no tree-level cache: every read reaches the store
    expect(await tree.get(root, POOL[2]!)).toEqual(val('v2'));
    const afterFirst = innerGets;
    expect(await tree.get(root, POOL[2]!)).toEqual(val('v2'));
    expect(innerGets).toBe(afterFirst); // same path: all from cache
    for (const k of POOL) await tree.get(root, k); // more distinct nodes than the cache holds
    expect((cached as unknown as { cache: Map<string, Uint8Array> }).cache.size).toBeLessThanOrEqual(8);
    // Write-through: nodes written through the cache are in the inner store.
    const { root: next } = await tree.update(root, [{ key: POOL[0]!, value: val('new') }]);
    expect(await new SparseMerkleTree(inner).get(next, POOL[0]!)).toEqual(val('new'));
    expect(() => new CachingNodeStore(inner, 0)).toThrow(/maxEntries/);
  });
});

describe('nodeChildren (a node fetched from an untrusted peer)', () => {
  it('accepts exactly the stored bytes under each hash of a tree, and walking from the root reaches every node', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: POOL.length }), async (keys) => {
        const store = new MemoryNodeStore();
        const { root } = await new SparseMerkleTree(store).update(
          EMPTY_ROOT,
          keys.map((k, i) => ({ key: k, value: val(`v${i}`) })),
        );
        const queue = [root];
        for (let i = 0; i < queue.length; i++) {
          const bytes = (await store.get(queue[i]!))!;
          const children = nodeChildren(queue[i]!, bytes);
          expect(storedChildren(bytes)).toEqual(children);
          queue.push(...children);
          // One flipped byte anywhere is refused.
          const bad = bytes.slice();
          bad[bytes.length - 1]! ^= 1;
          expect(() => nodeChildren(queue[i]!, bad)).toThrow(StateError);
        }
        expect(queue.length).toBe(store.size);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses bytes that are not a node', () => {
    const hash = sha256(Uint8Array.of(1));
    for (const bytes of [new Uint8Array(0), Uint8Array.of(2, 3), new Uint8Array(65).fill(1), new Uint8Array(20)])
      expect(() => nodeChildren(hash, bytes)).toThrow(/does not match its hash/);
    expect(storedChildren(Uint8Array.of(0, 1, 2))).toEqual([]);
  });
});
