/**
 * Compact sparse Merkle tree over 256-bit keys, with content-addressed nodes.
 *
 * A state is just a root hash. `update` writes only the nodes that are new and returns the new root;
 * nothing is ever mutated, so any old root stays readable, speculative blocks can run on any parent
 * root, and a retried update rewrites identical nodes (puts are idempotent).
 *
 * Shape. Key bit i (most significant first: bit 0 is the top bit of byte 0) picks the child at depth i
 * (0 = left, 1 = right). A subtree holding exactly one leaf is that leaf ("collapsed": a leaf's hash
 * does not depend on its depth), a subtree holding none is empty. So the root depends only on the set
 * of (key, value) pairs, never on insertion order or batching, and a path is about log2(N) nodes deep.
 * Two keys sharing a long prefix do make a chain of internal nodes with one empty child; callers that
 * let outsiders pick keys should hash them first (the ledger uses sha256(public key)).
 *
 * Hashes (domain-separated, so a leaf can never be read as an internal node or the other way):
 *   leaf:     sha256(0x00 || key(32) || sha256(value))
 *   internal: sha256(0x01 || left(32) || right(32))
 *   empty:    EMPTY_ROOT = 32 zero bytes (no known preimage; never stored)
 *
 * Node encoding in a NodeStore (stored under the node's hash):
 *   leaf:     0x00 || key(32) || value (the remaining bytes, any length)
 *   internal: 0x01 || left(32) || right(32)            (65 bytes; its hash is sha256 of these bytes)
 *
 * Proof (SmtProof): `siblings` runs top-down, one hash per level from the root to the terminal node
 * on the key's path (a collapsed leaf or an empty subtree): siblings[i] is the child of the depth-i node
 * that is not on the path. Its length is the terminal's depth (~log2 N), not 256; an empty sibling is
 * EMPTY_ROOT. `leaf` is the leaf found at the terminal, if any: the key's own leaf (inclusion) or
 * another key's leaf occupying the path (absence).
 *
 * This module is browser-safe: @noble/hashes only, no node:crypto and no Buffer.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, equalBytes } from './bytes.js';
import { AfgError, InputError } from './errors.js';

export type Hash = Uint8Array; // 32 bytes

/** Hash of the empty tree (and of every empty subtree): 32 zero bytes. */
export const EMPTY_ROOT: Hash = new Uint8Array(32);

/** Deepest possible terminal: two keys differing only in their last bit have leaves at depth 256. */
const MAX_DEPTH = 256;
const LEAF_TAG = 0x00;
const INTERNAL_TAG = 0x01;

/** Storage for encoded nodes, keyed by node hash. Async so a DynamoDB table can implement it. */
export interface NodeStore {
  /** Encoded node bytes stored under `hash`, or undefined. Callers must not mutate the result. */
  get(hash: Hash): Promise<Uint8Array | undefined>;
  /** Stores nodes under their hashes. Idempotent: content addressing makes a rewrite a no-op. */
  putMany(nodes: { hash: Hash; bytes: Uint8Array }[]): Promise<void>;
}

/** The tree's store broke an invariant: a node it needs is missing, or its bytes do not match its hash. */
export class StateError extends AfgError<'MISSING_NODE' | 'CORRUPT_NODE', { hash: string }> {}

// ---- browser-safe hex (lib/core/bytes.ts toHex/fromHex use Buffer) ----

const HEX_DIGITS = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Lowercase hex of `bytes` without Buffer (usable in a browser). */
export function hexOf(bytes: Uint8Array): string {
  // One fromCharCode call yields a flat string; `+=` builds a rope that every Map lookup must flatten,
  // which made hex-keyed node lookups several times slower.
  let out = '';
  for (let at = 0; at < bytes.length; at += 4096) {
    const chunk = bytes.subarray(at, at + 4096);
    const codes = new Array<number>(chunk.length * 2);
    for (let i = 0; i < chunk.length; i++) {
      codes[2 * i] = HEX_DIGITS[chunk[i]! >> 4]!;
      codes[2 * i + 1] = HEX_DIGITS[chunk[i]! & 15]!;
    }
    out += String.fromCharCode(...codes);
  }
  return out;
}

/** Parses lowercase hex of exactly `length` bytes without Buffer. Throws InputError naming `field`. */
export function parseHex(hex: unknown, length: number, field: string): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) throw new InputError(field, 'expected lowercase hex without 0x prefix');
  if (hex.length !== length * 2)
    throw new InputError(field, `expected ${length} bytes (${length * 2} hex chars), got ${hex.length} hex chars`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---- stores ----

/** In-memory NodeStore (tests, benches, the local runner). `size` counts distinct nodes. */
export class MemoryNodeStore implements NodeStore {
  private readonly nodes = new Map<string, Uint8Array>();

  get size(): number {
    return this.nodes.size;
  }

  async get(hash: Hash): Promise<Uint8Array | undefined> {
    return this.nodes.get(hexOf(hash));
  }

  async putMany(nodes: { hash: Hash; bytes: Uint8Array }[]): Promise<void> {
    for (const n of nodes) this.nodes.set(hexOf(n.hash), n.bytes);
  }
}

/**
 * LRU read cache in front of another store, write-through. Nodes never change under a hash, so a
 * cached entry can never be stale; only absence is not cached (a node may be written later).
 */
export class CachingNodeStore implements NodeStore {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    private readonly inner: NodeStore,
    private readonly maxEntries = 100_000,
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new InputError('maxEntries', 'expected a positive integer');
  }

  async get(hash: Hash): Promise<Uint8Array | undefined> {
    const id = hexOf(hash);
    const hit = this.cache.get(id);
    if (hit) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const bytes = await this.inner.get(hash);
    if (bytes) this.remember(id, bytes);
    return bytes;
  }

  async putMany(nodes: { hash: Hash; bytes: Uint8Array }[]): Promise<void> {
    await this.inner.putMany(nodes);
    for (const n of nodes) this.remember(hexOf(n.hash), n.bytes);
  }

  private remember(id: string, bytes: Uint8Array): void {
    this.cache.delete(id);
    this.cache.set(id, bytes);
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }
}

/**
 * Writes stay in memory, reads fall back to `base`: the store for executing blocks that are not
 * final yet (the sequencer's trial runs, validators' own executions). Only the state function
 * persists nodes, once a block is final. Memory is bounded (LRU of `maxEntries` nodes); an evicted
 * node that is still needed surfaces as StateError MISSING_NODE, and the caller re-executes from a
 * persisted state.
 */
export class OverlayNodeStore implements NodeStore {
  private readonly overlay = new Map<string, Uint8Array>();

  constructor(
    private readonly base: NodeStore,
    private readonly maxEntries = 500_000,
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new InputError('maxEntries', 'expected a positive integer');
  }

  async get(hash: Hash): Promise<Uint8Array | undefined> {
    const id = hexOf(hash);
    const hit = this.overlay.get(id);
    if (hit) {
      this.overlay.delete(id);
      this.overlay.set(id, hit);
      return hit;
    }
    return this.base.get(hash);
  }

  async putMany(nodes: { hash: Hash; bytes: Uint8Array }[]): Promise<void> {
    for (const n of nodes) {
      const id = hexOf(n.hash);
      this.overlay.delete(id);
      this.overlay.set(id, n.bytes);
    }
    while (this.overlay.size > this.maxEntries) this.overlay.delete(this.overlay.keys().next().value!);
  }
}

// ---- hashing and node codec ----

/** 0x?? || a(32) || b(32): the preimage of both hash kinds, and the stored form of an internal node. */
function tagged(tag: number, a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(65);
  out[0] = tag;
  out.set(a, 1);
  out.set(b, 33);
  return out;
}

/** Hash of a leaf: sha256(0x00 || key || valueHash). */
export function leafHash(key: Hash, valueHash: Hash): Hash {
  return sha256(tagged(LEAF_TAG, key, valueHash));
}

/** Hash of an internal node: sha256(0x01 || left || right). */
export function internalHash(left: Hash, right: Hash): Hash {
  return sha256(tagged(INTERNAL_TAG, left, right));
}

type Node = { kind: 'empty' } | { kind: 'leaf'; key: Hash; value: Uint8Array } | { kind: 'internal'; left: Hash; right: Hash };

const EMPTY_NODE: Node = { kind: 'empty' };

function isEmptyHash(hash: Hash): boolean {
  for (let i = 0; i < 32; i++) if (hash[i] !== 0) return false;
  return true;
}

/** Decodes stored node bytes and checks they hash to `hash`, so a corrupt store cannot forge state. */
function decodeNode(bytes: Uint8Array, hash: Hash): Node {
  const corrupt = () => new StateError('CORRUPT_NODE', 'stored node does not match its hash', { hash: hexOf(hash) });
  if (bytes[0] === INTERNAL_TAG && bytes.length === 65) {
    if (!equalBytes(sha256(bytes), hash)) throw corrupt();
    return { kind: 'internal', left: bytes.subarray(1, 33), right: bytes.subarray(33, 65) };
  }
  if (bytes[0] === LEAF_TAG && bytes.length >= 33) {
    const key = bytes.subarray(1, 33);
    const value = bytes.subarray(33);
    if (!equalBytes(leafHash(key, sha256(value)), hash)) throw corrupt();
    return { kind: 'leaf', key, value };
  }
  throw corrupt();
}

/**
 * Checks that `bytes` is the stored encoding of the node whose hash is `hash` and returns its
 * non-empty children, left then right (none for a leaf). This is how a node fetched from an
 * untrusted peer is accepted: content addressing makes the bytes under a hash unique, so a tree
 * fetched node by node from its root hash, each node checked here, is exactly that state.
 * @throws StateError CORRUPT_NODE when the bytes are not a node or do not hash to `hash`
 * @example for (const child of nodeChildren(root, await peer.node(root))) queue.push(child);
 */
export function nodeChildren(hash: Hash, bytes: Uint8Array): Hash[] {
  abytes(hash, 32, 'hash');
  if (!(bytes instanceof Uint8Array)) throw new StateError('CORRUPT_NODE', 'node bytes are not bytes', { hash: hexOf(hash) });
  const node = decodeNode(bytes, hash);
  if (node.kind !== 'internal') return [];
  return [node.left, node.right].filter((child) => !isEmptyHash(child));
}

/**
 * The non-empty children named by stored node `bytes`, without checking the bytes against a hash:
 * for a store serving its own nodes to peers, which check every node themselves (nodeChildren).
 * Bytes that are not an internal node (a leaf, or garbage) name no children.
 */
export function storedChildren(bytes: Uint8Array): Hash[] {
  if (bytes[0] !== INTERNAL_TAG || bytes.length !== 65) return [];
  return [bytes.subarray(1, 33), bytes.subarray(33, 65)].filter((child) => !isEmptyHash(child));
}

/** Whether `hash` is the empty subtree's (EMPTY_ROOT, never stored). */
export const isEmptySubtree = (hash: Hash): boolean => isEmptyHash(hash);

function bitAt(key: Hash, depth: number): number {
  return (key[depth >> 3]! >> (7 - (depth & 7))) & 1;
}

function compareKeys(a: Hash, b: Hash): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** First index in sorted[from, to) (keys sharing their first `depth` bits) whose bit `depth` is 1. */
function splitIndex<T extends { key: Hash }>(sorted: readonly T[], depth: number, from = 0, to = sorted.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bitAt(sorted[mid]!.key, depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- the tree ----

/** A key/value change; `value: undefined` deletes the key. */
export interface SmtChange {
  key: Hash;
  value: Uint8Array | undefined;
}

/** A subtree result: its hash and, when known without a read, its kind (needed to collapse a lone leaf). */
interface Ref {
  hash: Hash;
  kind?: Node['kind'];
}

/** A leaf to place while building: `hash` is set when it already exists in the store (no rewrite needed). */
interface Entry {
  key: Hash;
  value: Uint8Array;
  hash?: Hash;
}

type Write = { hash: Hash; bytes: Uint8Array };

export interface SparseMerkleTreeOptions {
  /**
   * How many decoded, hash-checked nodes to keep (approximate LRU; default 50_000, 0 disables). Every read checks
   * a node against its hash; the top levels are on every path, so caching them saves most of that work.
   */
  nodeCache?: number;
}

/**
 * Persistent sparse Merkle tree over a NodeStore. Stateless apart from the store (and a cache of
 * immutable nodes): every method takes the root to read. Throws StateError if the store lacks a node
 * reachable from that root or returns bytes that do not match a node's hash.
 */
export class SparseMerkleTree {
  // Two-generation cache (an approximate LRU without per-hit reordering): hits in `older` are promoted
  // to `recent`; when `recent` is full it becomes `older` and the previous `older` is dropped.
  private recent = new Map<string, Node>();
  private older = new Map<string, Node>();
  private readonly nodeCache: number;

  constructor(
    readonly store: NodeStore,
    options: SparseMerkleTreeOptions = {},
  ) {
    this.nodeCache = options.nodeCache ?? 50_000;
    if (!Number.isSafeInteger(this.nodeCache) || this.nodeCache < 0) throw new InputError('nodeCache', 'expected a non-negative integer');
  }

  /** Value bytes stored under `key` in the state `root`, or undefined when absent. */
  async get(root: Hash, key: Hash): Promise<Uint8Array | undefined> {
    abytes(root, 32, 'root');
    abytes(key, 32, 'key');
    let hash = root;
    for (let depth = 0; depth <= MAX_DEPTH; depth++) {
      const node = await this.load(hash);
      if (node.kind === 'empty') return undefined;
      if (node.kind === 'leaf') return equalBytes(node.key, key) ? node.value.slice() : undefined;
      hash = bitAt(key, depth) === 0 ? node.left : node.right;
    }
    throw new StateError('CORRUPT_NODE', 'path deeper than 256 levels', { hash: hexOf(root) });
  }

  /**
   * Applies a batch of changes to `root` and returns the new root with the number of nodes written.
   * Within a batch the last change to a key wins. Only nodes on the touched paths are written, so
   * `written` grows with touched keys x log2(size); a no-op change writes nothing.
   * Throws InputError on a malformed key or value, StateError on a broken store.
   */
  async update(root: Hash, changes: readonly SmtChange[]): Promise<{ root: Hash; written: number }> {
    abytes(root, 32, 'root');
    const sorted = normalizeChanges(changes);
    const writes: Write[] = [];
    const result = await this.updateAt({ hash: root }, 0, sorted, writes);
    if (writes.length > 0) await this.store.putMany(writes);
    return { root: result.hash, written: writes.length };
  }

  /** The value under `key` (or undefined) with a proof checkable by verifyProof against `root`. */
  async prove(root: Hash, key: Hash): Promise<{ value: Uint8Array | undefined; proof: SmtProof }> {
    abytes(root, 32, 'root');
    abytes(key, 32, 'key');
    const siblings: Hash[] = [];
    let hash = root;
    for (let depth = 0; depth <= MAX_DEPTH; depth++) {
      const node = await this.load(hash);
      if (node.kind === 'empty') return { value: undefined, proof: { key: key.slice(), siblings } };
      if (node.kind === 'leaf') {
        const leaf = { key: node.key.slice(), valueHash: sha256(node.value) };
        const value = equalBytes(node.key, key) ? node.value.slice() : undefined;
        return { value, proof: { key: key.slice(), leaf, siblings } };
      }
      const right = bitAt(key, depth) === 1;
      siblings.push((right ? node.left : node.right).slice());
      hash = right ? node.right : node.left;
    }
    throw new StateError('CORRUPT_NODE', 'path deeper than 256 levels', { hash: hexOf(root) });
  }

  private async load(hash: Hash): Promise<Node> {
    if (isEmptyHash(hash)) return EMPTY_NODE;
    const id = hexOf(hash);
    const recent = this.recent.get(id);
    if (recent) return recent;
    let node = this.older.get(id);
    if (!node) {
      const bytes = await this.store.get(hash);
      if (!bytes) throw new StateError('MISSING_NODE', `node ${id} is not in the store`, { hash: id });
      node = decodeNode(bytes, hash);
    }
    this.remember(id, node);
    return node;
  }

  private remember(id: string, node: Node): void {
    const half = Math.ceil(this.nodeCache / 2);
    if (half === 0) return;
    if (this.recent.size >= half) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(id, node);
  }

  /** Applies sorted, de-duplicated `changes` (all sharing the first `depth` key bits) to the subtree `at`. */
  private async updateAt(at: Ref, depth: number, changes: readonly SmtChange[], writes: Write[]): Promise<Ref> {
    if (changes.length === 0) return at;
    const node = await this.load(at.hash);
    let result: Ref;
    // Writes of this subtree go to a local list first: if the subtree comes out unchanged (a no-op
    // change), every node it produced already exists and is dropped instead of rewritten.
    const local: Write[] = [];
    if (node.kind === 'internal') {
      if (depth >= MAX_DEPTH) throw new StateError('CORRUPT_NODE', 'internal node at depth 256', { hash: hexOf(at.hash) });
      const split = splitIndex(changes, depth);
      const leftWrites: Write[] = [];
      const rightWrites: Write[] = [];
      // Both sides in parallel: with a remote store this overlaps the reads of the two subtrees.
      const [left, right] = await Promise.all([
        this.updateAt({ hash: node.left }, depth + 1, changes.slice(0, split), leftWrites),
        this.updateAt({ hash: node.right }, depth + 1, changes.slice(split), rightWrites),
      ]);
      appendAll(local, leftWrites);
      appendAll(local, rightWrites);
      result = await this.join(left, right, local);
    } else {
      const entries: Entry[] = [];
      let existing: Entry | undefined;
      if (node.kind === 'leaf' && !changes.some((c) => equalBytes(c.key, node.key))) {
        existing = { key: node.key, value: node.value, hash: at.hash };
      }
      for (const c of changes) {
        if (existing && compareKeys(existing.key, c.key) < 0) {
          entries.push(existing);
          existing = undefined;
        }
        if (c.value !== undefined) entries.push({ key: c.key, value: c.value });
      }
      if (existing) entries.push(existing);
      result = buildSubtree(entries, 0, entries.length, depth, local);
    }
    if (equalBytes(result.hash, at.hash)) return { hash: at.hash, kind: node.kind };
    appendAll(writes, local);
    return result;
  }

  /** Parent of two subtrees, collapsing a lone leaf upward (its hash does not depend on depth). */
  private async join(left: Ref, right: Ref, writes: Write[]): Promise<Ref> {
    const leftEmpty = isEmptyHash(left.hash);
    const rightEmpty = isEmptyHash(right.hash);
    if (leftEmpty && rightEmpty) return { hash: EMPTY_ROOT, kind: 'empty' };
    if (leftEmpty || rightEmpty) {
      const only = leftEmpty ? right : left;
      const kind = only.kind ?? (await this.load(only.hash)).kind;
      if (kind === 'leaf') return { hash: only.hash, kind };
    }
    return internalNode(left.hash, right.hash, writes);
  }
}

function internalNode(left: Hash, right: Hash, writes: Write[]): Ref {
  const bytes = tagged(INTERNAL_TAG, left, right);
  const hash = sha256(bytes);
  writes.push({ hash, bytes });
  return { hash, kind: 'internal' };
}

/** Builds the canonical subtree at `depth` for sorted entries[from, to) with distinct keys (no store reads). */
function buildSubtree(entries: readonly Entry[], from: number, to: number, depth: number, writes: Write[]): Ref {
  if (to === from) return { hash: EMPTY_ROOT, kind: 'empty' };
  if (to - from === 1) {
    const e = entries[from]!;
    if (e.hash) return { hash: e.hash, kind: 'leaf' };
    const bytes = new Uint8Array(33 + e.value.length);
    bytes[0] = LEAF_TAG;
    bytes.set(e.key, 1);
    bytes.set(e.value, 33);
    const hash = leafHash(e.key, sha256(e.value));
    writes.push({ hash, bytes });
    return { hash, kind: 'leaf' };
  }
  // Two or more leaves never collapse; one side may be empty when they share bit `depth`.
  const split = splitIndex(entries, depth, from, to);
  const left = buildSubtree(entries, from, split, depth + 1, writes);
  const right = buildSubtree(entries, split, to, depth + 1, writes);
  return internalNode(left.hash, right.hash, writes);
}

function appendAll<T>(into: T[], from: readonly T[]): void {
  for (const x of from) into.push(x);
}

/** Validates, sorts by key and de-duplicates (last change to a key wins). */
function normalizeChanges(changes: readonly SmtChange[]): SmtChange[] {
  if (!Array.isArray(changes)) throw new InputError('changes', 'expected an array');
  const byKey = new Map<string, SmtChange>();
  changes.forEach((c, i) => {
    abytes(c?.key, 32, `changes[${i}].key`);
    if (c.value !== undefined) abytes(c.value, undefined, `changes[${i}].value`);
    byKey.set(hexOf(c.key), c);
  });
  return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
}

// ---- proofs ----

/** Inclusion or absence proof for `key`; see the module comment for the sibling order. */
export interface SmtProof {
  key: Hash;
  /** The leaf at the end of the key's path, if the path ends in a leaf (the key's own, or another's). */
  leaf?: { key: Hash; valueHash: Hash };
  /** Top-down siblings along the key's path, one per level down to the terminal (length = its depth). */
  siblings: Hash[];
}

/**
 * Checks, with no store, that `key` has `value` under `root` (inclusion) or, with `value` undefined,
 * that `key` is absent. Returns false (never throws) for any mismatch or malformed proof.
 * Rejects non-canonical proofs too: a collapsed terminal never sits directly under an empty sibling.
 */
export function verifyProof(root: Hash, key: Hash, value: Uint8Array | undefined, proof: SmtProof): boolean {
  if (!isHash(root) || !isHash(key) || (value !== undefined && !(value instanceof Uint8Array))) return false;
  if (typeof proof !== 'object' || proof === null || !isHash(proof.key) || !equalBytes(proof.key, key)) return false;
  const { siblings, leaf } = proof;
  if (!Array.isArray(siblings) || siblings.length > MAX_DEPTH || !siblings.every(isHash)) return false;
  const depth = siblings.length;
  let hash: Hash;
  if (leaf !== undefined) {
    if (typeof leaf !== 'object' || leaf === null || !isHash(leaf.key) || !isHash(leaf.valueHash)) return false;
    const own = equalBytes(leaf.key, key);
    if (value !== undefined ? !own || !equalBytes(leaf.valueHash, sha256(value)) : own) return false;
    // Another key's leaf proves absence only if it sits on this key's path (shares the first `depth` bits).
    for (let i = 0; i < depth; i++) if (bitAt(leaf.key, i) !== bitAt(key, i)) return false;
    hash = leafHash(leaf.key, leaf.valueHash);
  } else {
    if (value !== undefined) return false;
    hash = EMPTY_ROOT;
  }
  if (depth > 0 && isEmptyHash(siblings[depth - 1]!)) return false;
  for (let i = depth - 1; i >= 0; i--) {
    const sibling = siblings[i]!;
    hash = bitAt(key, i) === 1 ? internalHash(sibling, hash) : internalHash(hash, sibling);
  }
  return equalBytes(hash, root);
}

function isHash(x: unknown): x is Hash {
  return x instanceof Uint8Array && x.length === 32;
}

/** JSON shape of a proof: `{ key, leaf?: { key, valueHash }, siblings: [hex...] }`, all lowercase hex. */
export interface SmtProofJson {
  key: string;
  leaf?: { key: string; valueHash: string };
  siblings: string[];
}

/** JSON-safe form of a proof (lowercase hex fields). */
export function encodeProof(proof: SmtProof): SmtProofJson {
  const out: SmtProofJson = { key: hexOf(proof.key), siblings: proof.siblings.map(hexOf) };
  if (proof.leaf) out.leaf = { key: hexOf(proof.leaf.key), valueHash: hexOf(proof.leaf.valueHash) };
  return out;
}

/** Parses the JSON form back. Throws InputError naming the field (e.g. `proof.siblings[3]`). */
export function decodeProof(json: unknown): SmtProof {
  if (typeof json !== 'object' || json === null) throw new InputError('proof', 'expected an object');
  const j = json as Record<string, unknown>;
  const key = parseHex(j.key, 32, 'proof.key');
  if (!Array.isArray(j.siblings)) throw new InputError('proof.siblings', 'expected an array');
  if (j.siblings.length > MAX_DEPTH) throw new InputError('proof.siblings', `at most ${MAX_DEPTH} entries`);
  const siblings = j.siblings.map((s, i) => parseHex(s, 32, `proof.siblings[${i}]`));
  if (j.leaf === undefined) return { key, siblings };
  if (typeof j.leaf !== 'object' || j.leaf === null) throw new InputError('proof.leaf', 'expected an object');
  const l = j.leaf as Record<string, unknown>;
  return {
    key,
    leaf: { key: parseHex(l.key, 32, 'proof.leaf.key'), valueHash: parseHex(l.valueHash, 32, 'proof.leaf.valueHash') },
    siblings,
  };
}
