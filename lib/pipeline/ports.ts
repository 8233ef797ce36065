/**
 * The storage and transport interfaces the roles are written against. Each has an in-memory
 * implementation (memory.ts: unit tests, deterministic simulation) and a DynamoDB / SQS one
 * (lib/aws). Interfaces stay small; every write is idempotent or a compare-and-set, so a
 * retried or concurrent Lambda invocation can never double-apply.
 */
import type { Evidence, Watermark } from '../core/slashing.js';
import type { NodeStore } from '../core/smt.js';
import type { Block, Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import type { ViewCertificate, ViewChange } from '../core/views.js';
import type { QueueMessage } from './messages.js';

// ---------------------------------------------------------------- blocks (every region)

/**
 * Proposed blocks in one region, stored by height and hash (one item each). Content-addressed:
 * readers that need a block check it against the hash they expect (`readBlock` in blocks.ts).
 */
export interface BlockStore {
  /** Idempotent: a block is stored under its height and hash. */
  putBlock(hash: Uint8Array, block: Block): Promise<void>;
  getBlock(height: number, hash: Uint8Array): Promise<Block | undefined>;
  /** Hashes of every stored block at `height` (more than one only after a fork: a Byzantine or replaced sequencer). */
  hashesAt(height: number): Promise<Uint8Array[]>;
  /**
   * The highest stored block at or above `from`, probing at most `span` heights upward (heads run
   * a bounded distance ahead of justification, so a small span finds the tip); undefined when no
   * block is stored from `from` on.
   */
  tip(from: number, span: number): Promise<{ height: number; hash: Uint8Array } | undefined>;
  /**
   * Records the hashes of finalized blocks by height (idempotent: a height's finalized block never
   * changes). The state function writes it for the non-checkpoint heights it applies; checkpoint
   * heights are known from the finality tallies.
   */
  indexFinalized(entries: readonly { readonly height: number; readonly hash: Uint8Array }[]): Promise<void>;
  /** The hash of the finalized block at `height` from the index, if indexed. */
  finalizedHash(height: number): Promise<Uint8Array | undefined>;
}

// ---------------------------------------------------------------- transaction pool (home region)

/**
 * An accepted transaction (of the chain's application type) waiting in the pool, by its id, with
 * what the pool orders and counts it by: the application's sender(tx), sequence(tx) and spend(tx).
 */
export interface PendingTransaction {
  readonly hash: Uint8Array;
  readonly tx: unknown;
  readonly sender: Uint8Array;
  readonly sequence: bigint;
  readonly spend: bigint;
}

/** What the pool knows of a transaction (GET /v1/transactions/{hash} adds `finalized` and `unknown`). */
export type PoolStatus =
  | { readonly status: 'pending' }
  /** In the block at `height` on the sequencer's chain (not necessarily final yet). */
  | { readonly status: 'included'; readonly height: number }
  /** Evicted: it can no longer be included (`reason` is the application's or the pool's code). */
  | { readonly status: 'rejected'; readonly reason: string; readonly message: string };

/**
 * What the sequencer found of a pending transaction: included in a block, rejected for good (both
 * leave the pool), or `waiting`: not includable on the current head yet (a nonce ahead), so it
 * stays pending but goes to the back of the line, behind everything that arrived before now.
 */
export type PoolOutcome =
  | { readonly entry: PendingTransaction; readonly status: 'included'; readonly height: number }
  | { readonly entry: PendingTransaction; readonly status: 'waiting' }
  | {
      readonly entry: PendingTransaction;
      readonly status: 'rejected';
      readonly reason: string;
      readonly message: string;
      /** Its sequence number is used already (ExecutionRejection.sequenceUsed): nothing waits behind it. */
      readonly sequenceUsed?: boolean;
    };

/** The pool's admission limits (lib/pipeline/pool.ts DEFAULT_POOL_LIMITS documents the defaults). */
export interface PoolLimits {
  /** Pending transactions the pool holds at most, over all senders (each lane holds ceil(capacity / lanes)). */
  readonly capacity: number;
  /** Pending transactions one sender may hold at most. */
  readonly perSender: number;
  /** W: a sequence number is admitted only below the sender's next one (in the admission state) + W. */
  readonly nonceWindow: number;
}

/** The sender as admission read it: next sequence number and budget at the readable finalized `height`. */
export interface AdmissionView {
  readonly next: bigint;
  readonly budget: bigint;
  readonly height: number;
}

/** Why the pool refused a transaction; nothing was written. */
export type PoolRefusal =
  /** sequence >= next + nonceWindow. */
  | { readonly kind: 'too-far'; readonly next: bigint; readonly window: number }
  /** sequence > next and the sender's sequence - 1 is neither pending nor recently included. */
  | { readonly kind: 'gap'; readonly missing: bigint }
  /** The sender already holds `perSender` pending transactions. */
  | { readonly kind: 'sender-full'; readonly pending: number; readonly cap: number }
  /** Another transaction of this sender holds this sequence number. */
  | { readonly kind: 'taken'; readonly holder: Uint8Array }
  /** The budget does not cover this spend on top of the sender's pending and unfinalized ones. */
  | { readonly kind: 'over-budget'; readonly budget: bigint; readonly committed: bigint }
  /** The pool (the sender's lane) is full: the excess is refused, not queued. */
  | { readonly kind: 'full'; readonly capacity: number };

export type AdmitOutcome =
  /** Durably in the pool, status pending. */
  | { readonly kind: 'admitted' }
  /** The same transaction (same hash) is already pending or included: nothing written (a resubmission). */
  | { readonly kind: 'known'; readonly status: PoolStatus }
  | { readonly kind: 'refused'; readonly refusal: PoolRefusal };

/**
 * The transaction pool, in every member region: the current view's sequencer region holds what
 * ingress admitted and the next view's a backup copy of it (lib/pipeline/admission.ts). Ingress admits into it before answering 202; the sequencer reads it in fair order and
 * reports what became of each transaction it took; every region's API reads statuses from it.
 * Entries are spread over lanes by sender (partitions on DynamoDB), each sender's in sequence order.
 */
export interface PoolStore {
  /**
   * Admits `entry` if the pool rules allow it against `view` (lib/pipeline/pool.ts admissionRefusal:
   * nonce window, no gap, per-sender cap, budget minus committed spends, one transaction per
   * sequence number) and its lane has room; writes entry and status together or nothing.
   * A transaction known already (same hash, pending or included) is answered `known`; a rejected
   * one may be admitted again.
   */
  admit(entry: PendingTransaction, view: AdmissionView, limits: PoolLimits): Promise<AdmitOutcome>;
  /** The status of a transaction the pool has seen; undefined when it has not (or no longer keeps it). */
  status(hash: Uint8Array): Promise<PoolStatus | undefined>;
  /**
   * Adds transactions without admission limits (ingress `tx` messages from an API without a pool,
   * and the backup copies of transactions another region's pool admitted, lib/pipeline/admission.ts):
   * idempotent by hash, and a transaction with a status already (pending, included, rejected) is
   * left as it is. With `admitted`, they count as admitted ones (a rejection below them evicts them
   * with NONCE_GAP, as in the pool that admitted them).
   */
  addPending(txs: readonly PendingTransaction[], options?: { readonly admitted?: boolean }): Promise<void>;
  /**
   * Makes pending again every entry this pool marked included at a height above `above` (the region's
   * finalized height when a new view restarts this region's sequencer): those blocks were this
   * region's proposals in an older view (views come round to it again), and the new view's chain may
   * not hold them. One still on the chain is refused by the application when proposed again, and
   * settled as included at finality. A status that changed meanwhile is left as it is. Idempotent.
   */
  reopen(above: number): Promise<void>;
  /**
   * Up to `limit` pending transactions in fair order (lib/pipeline/pool.ts fairOrder): each sender's
   * by sequence, senders round-robin, the one waiting longest first; never by hash. With
   * `finalizedHeight`, entries kept for the gap rule whose block is well below it are dropped.
   */
  pending(limit: number, options?: { readonly finalizedHeight?: number }): Promise<PendingTransaction[]>;
  /**
   * Takes transactions out of the pool with what became of them (their status), or sends waiting
   * ones to the back of the line; included ones stay as entries for the gap rule until `pending`
   * drops them. Rejecting a transaction whose sequence
   * number stays unused also evicts its sender's admitted transactions above it (reason NONCE_GAP:
   * they can only follow it). A rejection never overwrites an included status. Idempotent.
   */
  removePending(outcomes: readonly PoolOutcome[]): Promise<void>;
  /**
   * The transactions of the finalized block at `height` (the state function calls it as it applies
   * the block): each one this pool knows is marked included at `height` (a pending entry becomes an
   * included one, as removePending does; a status that says otherwise, such as a backup copy rejected
   * because another region's block used its sequence number first, is corrected). Transactions it
   * does not know are left alone: nothing is written for them. Idempotent.
   */
  settle(txs: readonly PendingTransaction[], height: number): Promise<void>;
}

// ---------------------------------------------------------------- sequencer (home region)

export interface SequencerHead {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly stateRoot: Uint8Array;
  /** The view this head was built in (absent: 0). A new view restarts from its base, a justified checkpoint. */
  readonly view?: number;
}

/** The sequencer's head and pacemaker, and the pool it builds blocks from (in the same home-region table). */
export interface SequencerStore extends PoolStore {
  head(): Promise<SequencerHead | undefined>;
  /**
   * Compare-and-set of the head: succeeds iff the stored head still has `expected`'s height and
   * hash; a store with no head yet is at genesis (height 0), like AppliedStore. False means
   * another invocation moved it; nothing was written.
   */
  swapHead(expected: SequencerHead, next: SequencerHead): Promise<boolean>;
  /** The generation of the live pacemaker chain (0 before any was armed). */
  pacemaker(): Promise<number>;
  /** Compare-and-set of the pacemaker generation: true iff it was `expected` and is now `next`. */
  swapPacemaker(expected: number, next: number): Promise<boolean>;
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

/**
 * Everything one region's finalizer records about one target height, in one item: each member's
 * first verified vote with that target height (one slot per member, so a member counts once per
 * height and a second, different vote is evidence), the certificate of the link certified there,
 * whether its target is justified, the certified links waiting for this height's checkpoint to be
 * justified, and the non-adjacent votes that span this height (for surround detection).
 *
 * Finality is derived, not written: the checkpoint at h is finalized by the certificate stored at
 * h + K when that certificate is adjacent, its source is that checkpoint and it is justified.
 */
export interface HeightTally {
  readonly height: number;
  readonly votes: ReadonlyMap<number, Vote>;
  readonly certificate?: Certificate;
  /** `certificate.target` is justified (its source was, when it was marked). */
  readonly justified: boolean;
  /** Certified links whose source is a checkpoint at this height, stored while it was not justified. */
  readonly waiting: readonly Certificate[];
  /** Non-adjacent votes whose span covers this height (at most one kept per member). */
  readonly spans: readonly Vote[];
}

export type RecordOutcome =
  /** The vote holds its member's slot at its target height (newly, or it was already there). */
  | { readonly kind: 'recorded'; readonly fresh: boolean; readonly tally: HeightTally }
  /** The member's slot already holds another vote: this one is never counted (evidence when slashable). */
  | { readonly kind: 'slot-taken'; readonly existing: Vote; readonly tally: HeightTally }
  /** The member's slot is free, but `existing`, a vote of the member noted as spanning this height, surrounds this one: never counted. */
  | { readonly kind: 'surrounded'; readonly existing: Vote; readonly tally: HeightTally };

export interface TallyStore {
  /**
   * One conditional write: the vote takes its member's slot at its target height if the counting rule
   * allows it (tally.ts slotRefusal: the slot is free and no span note of the member there surrounds
   * the vote, or the slot already holds this very vote). Returns the tally after.
   */
  recordVote(vote: Vote): Promise<RecordOutcome>;
  /**
   * Notes a non-adjacent vote in the tallies of `heights` (the heights it could surround) and returns
   * them, so votes already there that it surrounds are seen. Idempotent.
   */
  recordSpan(vote: Vote, heights: readonly number[]): Promise<HeightTally[]>;
  /** The tally of one height (undefined when nothing was recorded there); height 0 is genesis. */
  tally(height: number): Promise<HeightTally | undefined>;
  /** Tallies of several heights in one read; missing ones are left out. */
  tallies(heights: readonly number[]): Promise<HeightTally[]>;
  /**
   * First writer wins: stores `certificate` at its target height, marking it justified too when
   * `justified`. Returns the stored certificate, which marks this call made, and (when it justified)
   * the tally after the write (its waiting links).
   */
  certify(
    certificate: Certificate,
    justified: boolean,
  ): Promise<{ certificate: Certificate; created: boolean; justifiedNow: boolean; tally?: HeightTally }>;
  /**
   * Marks the stored certificate `certificate` justified. Returns the tally after the write when this
   * call made the mark (a retry of our own landed write counts), else undefined.
   */
  markJustified(certificate: Certificate): Promise<HeightTally | undefined>;
  /**
   * Notes a certified link in the tally of its source's height, as waiting for that checkpoint to be
   * justified, and returns that tally after the write (one atomic step: either it is already
   * justified, or whoever justifies it later finds this link).
   */
  awaitSource(certificate: Certificate): Promise<HeightTally>;
}

export interface EvidenceStore {
  /** Idempotent per (member, kind, pair of links); at most a fixed number of items per member are kept. */
  putEvidence(evidence: Evidence): Promise<void>;
  listEvidence(limit: number): Promise<Evidence[]>;
  /** Counts one vote whose signature did not verify (dropped, never stored). */
  countInvalidVote(): Promise<void>;
  /** Votes dropped for a bad signature since the table was created. */
  invalidVotes(): Promise<number>;
}

export interface FinalityHead {
  readonly justified: Checkpoint;
  /** The certificate that justified `justified`; absent at genesis. */
  readonly justification?: Certificate;
  readonly finalized: Checkpoint;
  /** The certificate that finalized `finalized` (its source is `finalized`); absent at genesis. */
  readonly finalization?: Certificate;
  /** The highest view this region has certified (0 before any view change). */
  readonly view: number;
  /** The certificate of `view`; absent for view 0. */
  readonly viewCertificate?: ViewCertificate;
}

export interface HeadStore {
  head(): Promise<FinalityHead>;
  /**
   * Monotone: each of justified/finalized/view only moves up, with its certificate. Returns the head's
   * view as the write saw it (undefined when nothing was written): a process whose cached view is stale
   * (another invocation recorded a view change) learns the current one at no extra call.
   */
  raiseHead(update: {
    justified?: Checkpoint;
    justification?: Certificate;
    finalized?: Checkpoint;
    finalization?: Certificate;
    view?: ViewCertificate;
  }): Promise<number | undefined>;
}

/** Everything one region's finalizer records about one view: each member's view change, and the certificate. */
export interface ViewTally {
  readonly view: number;
  /** Each member's first verified view change to this view. */
  readonly changes: ReadonlyMap<number, ViewChange>;
  readonly certificate?: ViewCertificate;
}

export interface ViewStore {
  /**
   * One conditional write: the member's first verified view change to `change.view` takes its slot
   * (a repeat finds itself; a different one from the same member is not counted). Returns the tally
   * after the write and whether the slot was free.
   */
  recordViewChange(change: ViewChange): Promise<{ fresh: boolean; tally: ViewTally }>;
  /** First writer wins: stores the view's certificate. Returns the stored one and whether this call stored it. */
  certifyView(certificate: ViewCertificate): Promise<{ certificate: ViewCertificate; created: boolean }>;
}

export type FinalityStore = TallyStore & EvidenceStore & HeadStore & ViewStore;

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
  /** A region's sequencer (default: the home region's, the sequencer of view 0). */
  | { readonly queue: 'ingress'; readonly region?: string }
  | { readonly queue: 'inbox'; readonly region: string; readonly member: number }
  | { readonly queue: 'votes'; readonly region: string }
  | { readonly queue: 'finalized'; readonly region: string };

export interface SendOptions {
  /**
   * Deliver no sooner than this many seconds from now (SQS DelaySeconds, 0..900). Used only for
   * liveness (a role's own delayed re-check), never by a safety rule.
   */
  readonly delaySeconds?: number;
}

export interface Transport {
  /** Sends all messages or throws: an accepted message is never dropped silently. */
  send(to: Destination, messages: readonly QueueMessage[], options?: SendOptions): Promise<void>;
}

/** Fetches a block from a peer region (its HTTP API), for catch-up. The caller checks the hash. */
export interface PeerBlocks {
  fetchBlock(height: number): Promise<Block | undefined>;
}

/** The votes one region's tally holds at a target height, as its API serves them (`GET /v1/checkpoints/{height}/votes`). */
export interface HeightVotes {
  readonly height: number;
  /** Each member's slot: its first verified vote with this target height (at most one per member). */
  readonly votes: readonly Vote[];
  /** Non-adjacent votes whose span covers this height (at most one per member). */
  readonly spans: readonly Vote[];
}

/**
 * A peer region's recorded votes (its HTTP API, or another region's stores in the memory cluster),
 * read by the cross-region evidence audit (lib/pipeline/audit.ts). Untrusted: the audit checks
 * every vote's shape and verifies its partial signature before it stores evidence.
 */
export interface PeerVotes {
  /** How the peer is named in reports (its URL or region). */
  readonly name: string;
  /** The peer's tally at `height`, parsed but unverified. @throws when the peer cannot be read or answers off-contract */
  votesAt(height: number): Promise<HeightVotes>;
}

/** A peer region's finalized head (its API's `GET /v1/finality`): snapshots and the finality sync read it. */
export interface PeerFinality {
  /** How the peer is named in reports (its URL). */
  readonly name: string;
  /** Its `GET /v1/finality` answer, unverified. */
  finality(): Promise<unknown>;
}

/**
 * A peer region as a snapshot source (its HTTP API: lib/pipeline/peers.ts HttpPeer). Untrusted: the
 * caller verifies the certificate with the group key and every node against its hash.
 */
export interface SnapshotPeer extends PeerFinality {
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
