import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascii, toHex } from '../../lib/core/bytes.js';
import { InputError } from '../../lib/core/errors.js';
import { type BlockMeta, compareBytes, ForkChoice, ForkChoiceError } from '../../lib/core/fork-choice.js';
import type { Checkpoint } from '../../lib/core/types.js';

const ZERO = new Uint8Array(32);
const GENESIS: BlockMeta = { height: 0, hash: sha256(ascii('genesis')), parentHash: ZERO };
const child = (parent: BlockMeta, tag: string): BlockMeta => ({
  height: parent.height + 1,
  hash: sha256(ascii(`${toHex(parent.hash)}/${tag}`)),
  parentHash: parent.hash,
});
/** A block whose hash starts with `first`, to control tie-breaks. */
const childWithHash = (parent: BlockMeta, first: number): BlockMeta => {
  const hash = new Uint8Array(32).fill(0x55);
  hash[0] = first;
  hash[1] = parent.height + 1;
  return { height: parent.height + 1, hash, parentHash: parent.hash };
};
const cpOf = (b: BlockMeta): Checkpoint => ({ height: b.height, hash: b.hash, stateRoot: ZERO });
const G = cpOf(GENESIS);
/** A chain of `length` blocks on top of `from`. */
const chain = (from: BlockMeta, length: number, tag: string): BlockMeta[] => {
  const out: BlockMeta[] = [];
  let at = from;
  for (let i = 0; i < length; i++) {
    at = child(at, tag);
    out.push(at);
  }
  return out;
};

describe('ForkChoice.add', () => {
  it('adds a child of a known block and reports a repeat as duplicate', () => {
    const forks = new ForkChoice(GENESIS);
    const b1 = child(GENESIS, 'a');
    expect(forks.add(b1)).toBe('added');
    expect(forks.add(b1)).toBe('duplicate');
    expect(forks.add(GENESIS)).toBe('duplicate');
    expect(forks.size).toBe(2);
  });

  it('holds an orphan until its parent arrives, then connects the whole held subtree', () => {
    const forks = new ForkChoice(GENESIS);
    const [b1, b2, b3] = chain(GENESIS, 3, 'a') as [BlockMeta, BlockMeta, BlockMeta];
    expect(forks.add(b3)).toBe('orphan');
    expect(forks.add(b2)).toBe('orphan');
    expect(forks.add(b3)).toBe('duplicate');
    expect(forks.orphanCount).toBe(2);
    expect(forks.get(b3.hash)).toBeUndefined();
    expect(forks.add(b1)).toBe('added');
    expect(forks.orphanCount).toBe(0);
    expect(forks.get(b3.hash)).toEqual(b3);
    expect(forks.head(G, G)).toEqual(b3);
  });

  it('refuses a block whose height is not its parent height + 1', () => {
    const forks = new ForkChoice(GENESIS);
    const b1 = child(GENESIS, 'a');
    expect(forks.add({ ...child(GENESIS, 'b'), height: 2 })).toBe('invalid');
    expect(forks.add(b1)).toBe('added');
  });

  it('drops a held orphan with a wrong height when its parent connects', () => {
    const forks = new ForkChoice(GENESIS);
    const b1 = child(GENESIS, 'a');
    const bad = { ...child(b1, 'x'), height: 5 };
    expect(forks.add(bad)).toBe('orphan');
    expect(forks.add(b1)).toBe('added');
    expect(forks.get(bad.hash)).toBeUndefined();
    expect(forks.orphanCount).toBe(0);
  });

  it('throws InputError on malformed block metadata', () => {
    const forks = new ForkChoice(GENESIS);
    expect(() => forks.add({ ...child(GENESIS, 'a'), hash: new Uint8Array(31) })).toThrow(/block.hash/);
    expect(() => forks.add({ ...child(GENESIS, 'a'), height: -1 })).toThrow(InputError);
    expect(() => new ForkChoice({ ...GENESIS, parentHash: new Uint8Array(1) })).toThrow(/genesis.parentHash/);
  });
});

describe('ForkChoice.head', () => {
  it('is the tip of a single chain', () => {
    const forks = new ForkChoice(GENESIS);
    const blocks = chain(GENESIS, 5, 'a');
    for (const b of blocks) forks.add(b);
    expect(forks.head(G, G)).toEqual(blocks[4]);
  });

  it('prefers the higher fork and breaks equal heights by the lowest hash, whatever the insertion order', () => {
    const b1 = child(GENESIS, 'a');
    const low = childWithHash(b1, 0x10);
    const high = childWithHash(b1, 0xf0);
    for (const order of [
      [b1, low, high],
      [b1, high, low],
      [high, low, b1],
    ]) {
      const forks = new ForkChoice(GENESIS);
      for (const b of order) forks.add(b);
      expect(forks.head(G, G)).toEqual(low);
    }
    const forks = new ForkChoice(GENESIS);
    for (const b of [b1, low, high]) forks.add(b);
    const higher = child(high, 'x');
    forks.add(higher);
    expect(forks.head(G, G)).toEqual(higher);
  });

  it('stays in the justified subtree even when another fork is longer', () => {
    const forks = new ForkChoice(GENESIS);
    const a = chain(GENESIS, 2, 'a');
    const b = chain(GENESIS, 6, 'b');
    for (const x of [...a, ...b]) forks.add(x);
    expect(forks.head(G, G)).toEqual(b[5]);
    expect(forks.head(cpOf(a[0]!), G)).toEqual(a[1]);
  });

  it('ignores a justified checkpoint that does not descend from the finalized one, and never leaves the finalized subtree', () => {
    const forks = new ForkChoice(GENESIS);
    const a = chain(GENESIS, 3, 'a');
    const b = chain(GENESIS, 6, 'b');
    for (const x of [...a, ...b]) forks.add(x);
    expect(forks.head(cpOf(b[2]!), cpOf(a[0]!))).toEqual(a[2]);
  });

  it('falls back to the root when the finalized block is not known yet', () => {
    const forks = new ForkChoice(GENESIS);
    const a = chain(GENESIS, 2, 'a');
    for (const x of a) forks.add(x);
    const unknown: Checkpoint = { height: 1, hash: new Uint8Array(32).fill(9), stateRoot: ZERO };
    expect(forks.head(unknown, unknown)).toEqual(a[1]);
  });
});

describe('ForkChoice ancestry', () => {
  const forks = new ForkChoice(GENESIS);
  const a = chain(GENESIS, 4, 'a');
  const b = chain(a[1]!, 2, 'b'); // branches after a[1]
  for (const x of [...a, ...b]) forks.add(x);

  it('ancestorAt walks parents to the requested height', () => {
    expect(forks.ancestorAt(b[1]!.hash, 1)).toEqual(a[0]);
    expect(forks.ancestorAt(b[1]!.hash, b[1]!.height)).toEqual(b[1]);
    expect(forks.ancestorAt(b[1]!.hash, 0)).toEqual(GENESIS);
  });

  it('ancestorAt is undefined above the block or for an unknown hash', () => {
    expect(forks.ancestorAt(a[0]!.hash, 3)).toBeUndefined();
    expect(forks.ancestorAt(new Uint8Array(32), 0)).toBeUndefined();
  });

  it('isDescendant holds along a branch (a block descends from itself) and not across branches', () => {
    expect(forks.isDescendant(b[1]!.hash, a[1]!.hash)).toBe(true);
    expect(forks.isDescendant(a[3]!.hash, a[3]!.hash)).toBe(true);
    expect(forks.isDescendant(b[1]!.hash, a[2]!.hash)).toBe(false);
    expect(forks.isDescendant(a[1]!.hash, b[0]!.hash)).toBe(false);
    expect(forks.isDescendant(a[1]!.hash, new Uint8Array(32))).toBe(false);
  });
});

describe('ForkChoice.prune', () => {
  function tree() {
    const forks = new ForkChoice(GENESIS);
    const a = chain(GENESIS, 4, 'a');
    const b = chain(a[0]!, 4, 'b'); // longer fork branching after a[0]
    for (const x of [...a, ...b]) forks.add(x);
    return { forks, a, b };
  }

  it('keeps only the finalized block and its descendants, and the head follows the finalized chain', () => {
    const { forks, a, b } = tree();
    expect(forks.head(G, G)).toEqual(b[3]);
    expect(forks.prune(cpOf(a[1]!))).toBe(1 + 1 + 4); // genesis, a[0], fork b
    expect(forks.size).toBe(3);
    expect(forks.root()).toEqual(a[1]);
    expect(forks.get(b[0]!.hash)).toBeUndefined();
    expect(forks.head(G, cpOf(a[1]!))).toEqual(a[3]);
    expect(forks.ancestorAt(a[3]!.hash, 0)).toBeUndefined();
  });

  it('then refuses stale blocks at or below the root and drops orphans that finality passed', () => {
    const { forks, a } = tree();
    const held = child(child(a[0]!, 'z'), 'z'); // height 3, parent unknown
    const heldHigh = child(child(child(child(a[3]!, 'y'), 'y'), 'y'), 'y'); // height 8, parent unknown
    expect(forks.add(held)).toBe('orphan');
    expect(forks.add(heldHigh)).toBe('orphan');
    forks.prune(cpOf(a[2]!));
    expect(forks.orphanCount).toBe(1);
    expect(forks.add(child(a[0]!, 'late'))).toBe('stale');
    expect(forks.add(child(a[3]!, 'next'))).toBe('added');
  });

  it('is a no-op for an unknown or an older checkpoint', () => {
    const { forks, a } = tree();
    forks.prune(cpOf(a[1]!));
    expect(forks.prune({ height: 9, hash: new Uint8Array(32).fill(1), stateRoot: ZERO })).toBe(0);
    expect(forks.prune(cpOf(a[0]!))).toBe(0);
    expect(forks.prune(cpOf(a[1]!))).toBe(0);
    expect(forks.root()).toEqual(a[1]);
  });

  it('throws on a finalized checkpoint that conflicts with the root, or whose height does not match its block', () => {
    const { forks, a, b } = tree();
    forks.prune(cpOf(a[1]!));
    expect(() => forks.prune(cpOf(b[0]!))).toThrow(ForkChoiceError);
    expect(() => forks.prune({ ...cpOf(a[3]!), height: 3 })).toThrow(/finalized.height/);
  });
});

describe('ForkChoice properties', () => {
  // A random tree: block i (1-based) has parent p_i < i (0 = genesis); hashes are pseudo-random.
  const arbTree = fc.array(fc.nat(), { minLength: 1, maxLength: 25 }).map((picks) => {
    const blocks: BlockMeta[] = [GENESIS];
    for (const [i, p] of picks.entries()) blocks.push(child(blocks[p % (i + 1)]!, String(i)));
    return blocks;
  });
  const descends = (blocks: BlockMeta[], x: BlockMeta, anc: BlockMeta): boolean => {
    for (let at: BlockMeta | undefined = x; at !== undefined; at = blocks.find((b) => compareBytes(b.hash, at!.parentHash) === 0))
      if (at === anc) return true;
    return false;
  };
  /** Reference head: max height, then lowest hash, among descendants of `anchor`. */
  const refHead = (blocks: BlockMeta[], anchor: BlockMeta) =>
    blocks.filter((b) => descends(blocks, b, anchor)).sort((x, y) => y.height - x.height || compareBytes(x.hash, y.hash))[0]!;

  it('the head is the same for every insertion order and equals the reference rule', () => {
    fc.assert(
      fc.property(
        arbTree.chain((blocks) => fc.tuple(fc.constant(blocks), fc.shuffledSubarray(blocks.slice(1), { minLength: blocks.length - 1 }))),
        ([blocks, order]) => {
          const forks = new ForkChoice(GENESIS);
          for (const b of order) expect(['added', 'orphan']).toContain(forks.add(b));
          expect(forks.orphanCount).toBe(0);
          expect(forks.size).toBe(blocks.length);
          expect(forks.head(G, G)).toEqual(refHead(blocks, GENESIS));
        },
      ),
    );
  });

  it('the head never leaves the finalized subtree, before and after pruning', () => {
    fc.assert(
      fc.property(arbTree, fc.nat(), fc.nat(), (blocks, fi, ji) => {
        const forks = new ForkChoice(GENESIS);
        for (const b of blocks.slice(1)) forks.add(b);
        const fin = blocks[fi % blocks.length]!;
        const jus = blocks[ji % blocks.length]!;
        const head = forks.head(cpOf(jus), cpOf(fin));
        expect(forks.isDescendant(head.hash, fin.hash)).toBe(true);
        const anchor = descends(blocks, jus, fin) ? jus : fin;
        expect(head).toEqual(refHead(blocks, anchor));
        forks.prune(cpOf(fin));
        expect(forks.head(cpOf(jus), cpOf(fin))).toEqual(head);
        expect(forks.size).toBe(blocks.filter((b) => descends(blocks, b, fin)).length);
      }),
    );
  });
});
