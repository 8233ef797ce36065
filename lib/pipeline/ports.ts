/**
 * The storage and transport interfaces the roles are written against. Each has an in-memory
 * implementation (memory.ts: unit tests, deterministic simulation) and a DynamoDB / SQS one
 * (lib/aws). Interfaces stay small; every write is idempotent or a compare-and-set, so a
 * retried or concurrent Lambda invocation can never double-apply.
 */
import type { CheckpointStatus } from '../core/ffg.js';
import type { Evidence, Watermark } from '../core/slashing.js';
import type { NodeStore } from '../core/smt.js';
import type { Block, Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import type { QueueMessage } from './messages.js';

// ---------------------------------------------------------------- blocks (every region)

/** Blocks and their execution results in one region. */
export interface BlockStore {
  /** Idempotent: a block is stored under its hash. */
  putBlock(hash: Uint8Array, block: Block): Promise<void>;
  getBlock(hash: Uint8Array): Promise<Block | undefined>;
  /** Hashes of every stored block at `height` (more than one only under a Byzantine sequencer). */
  hashesAt(height: number): Promise<Uint8Array[]>;
  /** Post-state root of executing the block: deterministic, so a rewrite stores the same value. */
  putExecution(hash: Uint8Array, stateRoot: Uint8Array): Promise<void>;
  getExecution(hash: Uint8Array): Promise<Uint8Array | undefined>;
  /** The highest stored block (height and hash); undefined before the first proposal. */
  tip(): Promise<{ height: number; hash: Uint8Array } | undefined>;
}

// ---------------------------------------------------------------- sequencer (home region)

export interface SequencerHead {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stateRoot: Uint8Array;
  /** Whether the proposal of this head went out to every validator (re-sent on the next run if not). */
  readonly announced: boolean;
}

/** An accepted transaction (of the chain's application type) waiting in the sequencer's pool, by its id. */
export interface PendingTransaction {
  readonly hash: Uint8Array;
  readonly tx: unknown;
}

export interface SequencerStore {
  head(): Promise<SequencerHead | undefined>;
  /**
   * Compare-and-set of the head: succeeds iff the stored head still has `expected`'s height and
   * hash; a store with no head yet is at genesis (height 0), like AppliedStore. False means
   * another invocation moved it; nothing was written.
   */
  swapHead(expected: SequencerHead, next: SequencerHead): Promise<boolean>;
  /** Durably adds accepted transactions to the pending pool (idempotent by transaction hash). */
  addPending(txs: readonly PendingTransaction[]): Promise<void>;
  /** Up to `limit` pending transactions, in no particular order. */
  pending(limit: number): Promise<PendingTransaction[]>;
  /** Removes transactions that were included in a block or refused for good. */
  removePending(hashes: readonly Uint8Array[]): Promise<void>;
}

// ---------------------------------------------------------------- validator (one record per member)

export type SignOutcome =
  | { readonly kind: 'signed'; readonly signature: Uint8Array }
  /** The same link was signed before (a retry): the stored signature is returned, nothing changes. */
  | { readonly kind: 'identical'; readonly signature: Uint8Array }
  /**
   * Signing would break the watermark (double or surround vote risk): nothing is released. `watermark`
   * is the one that refused; `last` the last link signed in this store, absent when none was (the
   * watermark came from an import, WatermarkStore.mergeWatermark).
   */
  | { readonly kind: 'refused'; readonly last?: Link; readonly watermark: Watermark };

export interface SlashingProtectionStore {
  /**
   * One conditional write on the member's watermark item: stores `link` and `signature` iff no
   * link was signed yet, or link.target.height > last target and link.source.height >= last
   * source. An identical link returns the stored signature.
   */
  recordSignature(member: number, link: Link, signature: Uint8Array): Promise<SignOutcome>;
  /** The member's last signed link and signature (re-sent after a crash that may have cut its fan-out short). */
  lastSigned(member: number): Promise<{ link: Link; signature: Uint8Array } | undefined>;
}

/**
 * Direct access to a member's watermark, for the slashing-protection interchange (`afg
 * slashing-protection export/import`, lib/core/interchange.ts). Implemented by the same stores as
 * SlashingProtectionStore, on the same item: a watermark raised here holds no link or signature, so
 * lastSigned stays as it was and recordSignature refuses whatever the raised watermark forbids.
 */
export interface WatermarkStore {
  /** The member's watermark (highest source and target heights signed or imported); undefined when none. */
  watermark(member: number): Promise<Watermark | undefined>;
  /**
   * Raises the member's watermark to the pointwise maximum of itself and `floor`, never lowering
   * either height, with conditional writes that are safe against concurrent signatures and merges.
   * Returns the watermark after the merge.
   */
  mergeWatermark(member: number, floor: Watermark): Promise<Watermark>;
}

// ---------------------------------------------------------------- finalizer (every region)

export interface VoteLog {
  /**
   * Idempotent; 'duplicate' when this exact vote (member, link and signature bytes) is already
   * recorded. Copies with other signature bytes are kept apart: an honest member has one valid
   * signature per link (BLS is deterministic), so a forged copy recorded first must not hide it.
   */
  recordVote(vote: Vote): Promise<'new' | 'duplicate'>;
  /** The member's recorded votes whose target height is >= `fromTargetHeight` (for slashing detection). */
  votesOf(member: number, fromTargetHeight: number): Promise<Vote[]>;
}

export interface EvidenceStore {
  /** Idempotent per (member, kind, pair of links). */
  putEvidence(evidence: Evidence): Promise<void>;
  listEvidence(limit: number): Promise<Evidence[]>;
}

export interface LinkTally {
  readonly link: Link;
  /** Partial signatures by member index. */
  readonly partials: ReadonlyMap<number, Uint8Array>;
  readonly certificate?: Certificate;
}

export interface TallyStore {
  /** Adds the member's partial to the link's tally (idempotent) and returns the tally after the write. */
  addPartial(vote: Vote): Promise<LinkTally>;
  /** Drops partials that failed verification (only if still the same bytes). */
  removePartials(link: Link, bad: readonly { member: number; signature: Uint8Array }[]): Promise<void>;
  /** First writer wins; returns the stored certificate. */
  setCertificate(certificate: Certificate): Promise<Certificate>;
}

export interface CheckpointRecord {
  readonly checkpoint: Checkpoint;
  readonly status: Exclude<CheckpointStatus, 'pending'>;
  /** Certificate of the link that justified it (absent for genesis). */
  readonly justification?: Certificate;
  /** Certificate of the link from it to the next checkpoint, which finalized it (absent for genesis). */
  readonly finalization?: Certificate;
}

export interface CheckpointStore {
  /** Records of justified/finalized checkpoints at `height` (more than one only after f+1 equivocations). */
  checkpointsAt(height: number): Promise<CheckpointRecord[]>;
  /** Idempotent; true if this call made it justified. Never downgrades a finalized checkpoint. */
  markJustified(checkpoint: Checkpoint, justification: Certificate | undefined): Promise<boolean>;
  /** Idempotent; true if this call made it finalized. */
  markFinalized(checkpoint: Checkpoint, finalization: Certificate | undefined): Promise<boolean>;
  /** Records that a certified link waits for its source to become justified. */
  awaitSource(certificate: Certificate): Promise<void>;
  /** Certified links whose source is `source`. */
  linksFrom(source: Checkpoint): Promise<Certificate[]>;
}

export interface FinalityHead {
  readonly justified: Checkpoint;
  readonly finalized: Checkpoint;
  /** The certificate that finalized `finalized` (its source is `finalized`); absent at genesis. */
  readonly finalization?: Certificate;
}

export interface HeadStore {
  head(): Promise<FinalityHead>;
  /** Monotone: each of justified/finalized only moves to a greater height. */
  raiseHead(update: { justified?: Checkpoint; finalized?: Checkpoint; finalization?: Certificate }): Promise<FinalityHead>;
}

export type FinalityStore = VoteLog & EvidenceStore & TallyStore & CheckpointStore & HeadStore;

// ---------------------------------------------------------------- state function (every region)

export interface AppliedHead {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stateRoot: Uint8Array;
}

export interface AppliedStore {
  /** undefined before the first block is applied (the state is then genesis). */
  applied(): Promise<AppliedHead | undefined>;
  /** Compare-and-set fence: moves the pointer from `expected` (by height; a store with no pointer is at height 0) to `next`. */
  advanceApplied(expected: AppliedHead, next: AppliedHead): Promise<boolean>;
}

// ---------------------------------------------------------------- transport

export type Destination =
  | { readonly queue: 'ingress' }
  | { readonly queue: 'inbox'; readonly region: string; readonly member: number }
  | { readonly queue: 'votes'; readonly region: string }
  | { readonly queue: 'finalized'; readonly region: string };

export interface Transport {
  /** Sends all messages or throws: an accepted message is never dropped silently. */
  send(to: Destination, messages: readonly QueueMessage[]): Promise<void>;
}

/** Fetches a block from a peer region (its HTTP API), for catch-up. The caller checks the hash. */
export interface PeerBlocks {
  fetchBlock(height: number): Promise<Block | undefined>;
}

/**
 * A peer region as a snapshot source (its HTTP API: lib/pipeline/peers.ts HttpPeer). Untrusted: the
 * caller verifies the certificate with the group key and every node against its hash.
 */
export interface SnapshotPeer {
  /** How the peer is named in reports (its URL). */
  readonly name: string;
  /** Its `GET /v1/finality` answer, unverified. */
  finality(): Promise<unknown>;
  /**
   * For each of `roots` in order, the node stored under it and its descendants breadth-first, one
   * subtree after the other, cut anywhere (the `POST /v1/state/nodes` answer), unverified;
   * undefined when the peer has no node under the first root.
   */
  stateNodes(roots: readonly Uint8Array[]): Promise<Uint8Array[] | undefined>;
}

// ---------------------------------------------------------------- one region's stores

/**
 * Every store one region's roles use, as one set: built by dynamoRegionStores (lib/aws) for Lambda
 * and the local cluster, and by memoryRegionStores (memory.ts) for the simulation and unit tests.
 * The store contract suite (test/stores/contract.ts) runs against both.
 */
export interface RegionStores {
  readonly blocks: BlockStore;
  /** The sequencer's head and pool (used only where the sequencer runs). */
  readonly sequencer: SequencerStore;
  readonly finality: FinalityStore;
  readonly protection: SlashingProtectionStore;
  readonly applied: AppliedStore;
  /** State tree nodes (content-addressed). */
  readonly nodes: NodeStore;
}
