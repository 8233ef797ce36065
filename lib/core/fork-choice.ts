/**
 * Fork choice over a block tree, with no clock: heights and hashes only.
 *
 * The head is the highest block descending from the justified checkpoint (when that descends from the
 * finalized one), else from the finalized checkpoint; among equally high blocks the lowest hash
 * (bytewise) wins, so every replica holding the same blocks picks the same head. Blocks whose parent is
 * unknown are held as orphans and connected as soon as the parent arrives (blocks fan out through
 * queues, so a child can overtake its parent). `prune` forgets everything that does not descend from the
 * finalized block; afterwards the tree only answers about the finalized block and its descendants.
 *
 * Checkpoints are matched by block hash: the tree knows no state roots, so the caller passes only
 * checkpoints whose state root it accepts (a validator compares them with its own execution).
 */
import { abytes, asafeUint, toHex } from './bytes.js';
import { AfgError, InputError } from './errors.js';
import type { Checkpoint } from './types.js';

export interface BlockMeta {
  readonly height: number;
  readonly hash: Uint8Array; // 32 bytes
  readonly parentHash: Uint8Array; // 32 bytes
}

export type AddResult =
  | 'added' // connected to the tree (and any orphans waiting on it were connected too)
  | 'duplicate' // already known, connected or held
  | 'orphan' // parent unknown: held until the parent arrives, dropped once finality passes its height
  | 'stale' // at or below the pruned root's height: cannot be on the finalized chain
  | 'invalid'; // parent known but height !== parent.height + 1

/** The finalized chain was contradicted: a finalized checkpoint at the root's height with another hash. */
export class ForkChoiceError extends AfgError<'CONFLICTING_FINALIZED', { height: number; root: string; finalized: string }> {}

/** Bytewise lexicographic order, shorter-is-smaller on a common prefix. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export class ForkChoice {
  private readonly blocks = new Map<string, BlockMeta>(); // hash hex -> block, all descend from root
  private readonly children = new Map<string, string[]>(); // hash hex -> child hash hexes
  private readonly orphans = new Map<string, BlockMeta[]>(); // missing parent hex -> held blocks
  private readonly orphanKeys = new Set<string>();
  private rootBlock: BlockMeta;

  /** `genesis` (or any trusted finalized block) is the root. Throws InputError on a malformed block. */
  constructor(genesis: BlockMeta) {
    assertBlock(genesis, 'genesis');
    this.rootBlock = genesis;
    this.blocks.set(toHex(genesis.hash), genesis);
  }

  /** Adds one block; see AddResult. Throws InputError on a malformed block (height, 32-byte hashes). */
  add(block: BlockMeta): AddResult {
    assertBlock(block, 'block');
    const key = toHex(block.hash);
    if (this.blocks.has(key) || this.orphanKeys.has(key)) return 'duplicate';
    if (block.height <= this.rootBlock.height) return 'stale';
    const parentKey = toHex(block.parentHash);
    const parent = this.blocks.get(parentKey);
    if (parent === undefined) {
      this.orphans.set(parentKey, [...(this.orphans.get(parentKey) ?? []), block]);
      this.orphanKeys.add(key);
      return 'orphan';
    }
    if (block.height !== parent.height + 1) return 'invalid';
    this.connect(block, parentKey);
    // Connect held descendants breadth-first; a held block with a wrong height is dropped.
    const work = [key];
    for (let at = work.shift(); at !== undefined; at = work.shift()) {
      const held = this.orphans.get(at);
      if (held === undefined) continue;
      this.orphans.delete(at);
      const p = this.blocks.get(at)!;
      for (const child of held) {
        const childKey = toHex(child.hash);
        this.orphanKeys.delete(childKey);
        if (child.height !== p.height + 1) continue;
        this.connect(child, at);
        work.push(childKey);
      }
    }
    return 'added';
  }

  /**
   * The canonical head: the highest block descending from `justified` if that block is known and
   * descends from `finalized`, else from `finalized` if known, else from the root. Ties go to the lowest
   * hash. Never returns a block outside the finalized block's subtree when the finalized block is known.
   */
  head(justified: Checkpoint, finalized: Checkpoint): BlockMeta {
    const fin = this.blocks.get(toHex(finalized.hash)) ?? this.rootBlock;
    const jus = this.blocks.get(toHex(justified.hash));
    const anchor = jus !== undefined && this.isDescendant(jus.hash, fin.hash) ? jus : fin;
    let best = anchor;
    const stack = [toHex(anchor.hash)];
    for (let at = stack.pop(); at !== undefined; at = stack.pop()) {
      const b = this.blocks.get(at)!;
      if (b.height > best.height || (b.height === best.height && compareBytes(b.hash, best.hash) < 0)) best = b;
      stack.push(...(this.children.get(at) ?? []));
    }
    return best;
  }

  /** The ancestor of block `hash` at `height` (the block itself at its own height); undefined if unknown or pruned. */
  ancestorAt(hash: Uint8Array, height: number): BlockMeta | undefined {
    let b = this.blocks.get(toHex(hash));
    while (b !== undefined && b.height > height) b = this.blocks.get(toHex(b.parentHash));
    return b !== undefined && b.height === height ? b : undefined;
  }

  /** True when block `hash` is `ancestorHash` or descends from it. False when either is unknown or pruned. */
  isDescendant(hash: Uint8Array, ancestorHash: Uint8Array): boolean {
    const ancestor = this.blocks.get(toHex(ancestorHash));
    if (ancestor === undefined) return false;
    const at = this.ancestorAt(hash, ancestor.height);
    return at !== undefined && compareBytes(at.hash, ancestor.hash) === 0;
  }

  /**
   * Makes the `finalized` block the new root and forgets every block that does not descend from it, and
   * every orphan at or below its height. Returns how many connected blocks were removed; 0 when the
   * block is unknown (not received yet) or not above the current root.
   * Throws ForkChoiceError when `finalized` sits at the root's height with another hash (a finality
   * conflict: an invariant of the whole system, not a local condition), InputError when the
   * checkpoint's height does not match the known block's height.
   */
  prune(finalized: Checkpoint): number {
    const key = toHex(finalized.hash);
    if (finalized.height === this.rootBlock.height && key !== toHex(this.rootBlock.hash))
      throw new ForkChoiceError('CONFLICTING_FINALIZED', `finalized checkpoint at height ${finalized.height} conflicts with the root`, {
        height: finalized.height,
        root: toHex(this.rootBlock.hash),
        finalized: key,
      });
    const anchor = this.blocks.get(key);
    if (anchor === undefined || anchor.height <= this.rootBlock.height) return 0;
    if (anchor.height !== finalized.height)
      throw new InputError('finalized.height', `block ${key} is at height ${anchor.height}, not ${finalized.height}`);
    const keep = new Set<string>();
    const stack = [key];
    for (let at = stack.pop(); at !== undefined; at = stack.pop()) {
      keep.add(at);
      stack.push(...(this.children.get(at) ?? []));
    }
    const before = this.blocks.size;
    for (const k of [...this.blocks.keys()]) {
      if (keep.has(k)) continue;
      this.blocks.delete(k);
      this.children.delete(k);
    }
    for (const [parentKey, held] of [...this.orphans]) {
      const rest = held.filter((b) => b.height > anchor.height);
      for (const b of held) if (b.height <= anchor.height) this.orphanKeys.delete(toHex(b.hash));
      if (rest.length === 0) this.orphans.delete(parentKey);
      else this.orphans.set(parentKey, rest);
    }
    this.rootBlock = anchor;
    return before - this.blocks.size;
  }

  /** The connected block with this hash, if any. */
  get(hash: Uint8Array): BlockMeta | undefined {
    return this.blocks.get(toHex(hash));
  }

  /** The current root: genesis, or the last block passed to a successful prune. */
  root(): BlockMeta {
    return this.rootBlock;
  }

  /** Number of connected blocks (root included). */
  get size(): number {
    return this.blocks.size;
  }

  /** Number of blocks held waiting for a parent. */
  get orphanCount(): number {
    return this.orphanKeys.size;
  }

  private connect(block: BlockMeta, parentKey: string): void {
    const key = toHex(block.hash);
    this.blocks.set(key, block);
    this.children.set(parentKey, [...(this.children.get(parentKey) ?? []), key]);
  }
}

function assertBlock(b: BlockMeta, field: string): void {
  asafeUint(b.height, `${field}.height`);
  abytes(b.hash, 32, `${field}.hash`);
  abytes(b.parentHash, 32, `${field}.parentHash`);
}
