/**
 * Read model behind the HTTP API: answers in the JSON shapes of the fixed contract (DESIGN.md
 * section 4), from finalized state only. Every account answer carries the certificate that
 * finalized the state it was read from and a Merkle proof against that certificate's state root.
 */
import { toHex } from '../core/bytes.js';
import { checkpointEquals } from '../core/codec.js';
import { checkpointAtOrBelow, isCheckpointHeight } from '../core/ffg.js';
import type { Evidence } from '../core/slashing.js';
import { encodeProof, hexOf, type NodeStore, storedChildren } from '../core/smt.js';
import type { Certificate, Checkpoint } from '../core/types.js';
import { poolRegions } from '../core/views.js';
import { type BlockJson, blockToJson, type CertificateJson, certificateToJson, checkpointToJson, voteToJson } from '../core/wire.js';
import { heightVotesToJson } from './audit.js';
import { type ChainContext, sequencerRegions } from './context.js';
import type { AppliedStore, BlockStore, FinalityStore } from './ports.js';
import { finalizationAt, finalizationOf, tallyPair } from './tally.js';

/** Heights probed above the justified checkpoint for the head block (pacing keeps it within a few). */
const HEAD_PROBE = 8;

export interface QueryDeps {
  readonly chain: ChainContext;
  readonly region: string;
  /** The sequencer region of view 0; with it, poolRegions() names the current view's sequencer region and the backups. */
  readonly homeRegion?: string;
  readonly blocks: BlockStore;
  readonly finality: FinalityStore;
  readonly applied: AppliedStore;
  /** The region's state tree nodes, served to peers that bootstrap from a snapshot (stateNodes). */
  readonly nodes?: NodeStore;
  /**
   * Local clock in milliseconds, for the informational `lag.seconds` of health() only (no
   * protocol rule reads it). Without it `lag.seconds` is null.
   */
  readonly now?: () => number;
  /** Messages waiting in each dead-letter queue of this region, by queue name; health() reports them. */
  readonly dlqDepths?: () => Promise<Record<string, number>>;
  /**
   * Checks of what the region needs to make progress (its tables and queues), e.g. regionProbes
   * from lib/aws/probes.ts. Must not throw (a failed check is `ok: false`); may reuse recent results
   * unless `fresh`. Without it health() judges by finality lag alone and `dependencies` is null.
   */
  readonly probes?: (options?: { fresh?: boolean }) => Promise<readonly DependencyStatus[]>;
}

/** One checked dependency of a region, as /v1/health reports it. */
export interface DependencyStatus {
  /** `<service>:<region>/<resource>`, e.g. `dynamodb:us-east-1/afg-finality`, `sqs:us-east-1/afg-votes`. */
  readonly name: string;
  readonly kind: 'table' | 'queue';
  readonly region: string;
  readonly ok: boolean;
  /** Why the check failed, e.g. `unreachable: connect ECONNREFUSED 127.0.0.1:8000`. */
  readonly error?: string;
}

/** The name health() gives the finality-lag check in `failing`. */
export const FINALITY_LAG_CHECK = 'finality-lag';

/** A lookup that found nothing: the API answers 404 with this message. */
export class NotFound extends Error {
  override readonly name: string = 'NotFound';
}

/**
 * A checkpoint at or below the finalized head that this region does not hold: its history starts
 * later (a region bootstrapped from a snapshot). It never will hold it, unlike a checkpoint not
 * reached yet.
 */
export class NotHeld extends NotFound {
  override readonly name = 'NotHeld';
}

const ref = (c: { height: number; hash: Uint8Array }) => ({ height: c.height, hash: toHex(c.hash) });

/** Most nodes one stateNodes answer carries. */
export const MAX_STATE_NODES = 4096;
/** Most node bytes one stateNodes answer carries (its JSON is about twice this, in hex); the first node is always included. */
export const MAX_STATE_NODE_BYTES = 1024 * 1024;
/** Most subtree roots one stateNodes request may name. */
export const MAX_STATE_ROOTS = 200;
/** Node reads in flight at once while walking a subtree. */
const NODE_READS = 32;
/** Subtrees of one stateNodes request read at once. */
const SUBTREES_AT_ONCE = 8;

export class QueryService {
  constructor(private readonly deps: QueryDeps) {}

  /** The region this service answers for. */
  get region(): string {
    return this.deps.region;
  }

  private cert(c: Certificate | undefined): CertificateJson | null {
    return c ? certificateToJson(this.deps.chain.set.chainId, c) : null;
  }

  validators() {
    const { set } = this.deps.chain;
    return {
      chainId: toHex(set.chainId),
      era: Number(set.era),
      n: set.n,
      threshold: set.threshold,
      checkpointInterval: set.checkpointInterval,
      groupPublicKey: toHex(set.groupPublicKey),
      members: set.members.map((m) => ({ index: m.index, region: m.region, publicKey: toHex(m.publicKey) })),
    };
  }

  /**
   * The regions whose pools hold a transaction before POST answers 202 (core/views.ts poolRegions:
   * the current view's sequencer region, and the others in view order for the backup copy);
   * undefined without `homeRegion`.
   */
  async poolRegions(): Promise<{ readonly view: number; readonly active: string; readonly backups: readonly string[] } | undefined> {
    const { deps } = this;
    if (!deps.homeRegion) return undefined;
    const head = await deps.finality.head();
    return { view: head.view, ...poolRegions(head.view, sequencerRegions(deps.chain.set, deps.homeRegion)) };
  }

  async finality() {
    const { deps } = this;
    const [head, applied] = await Promise.all([deps.finality.head(), deps.applied.applied()]);
    // The head runs a bounded distance ahead of justification (pacing), so a few probes find it.
    const tip = await deps.blocks.tip(head.justified.height, HEAD_PROBE);
    const a = applied ?? deps.chain.genesis;
    return {
      region: deps.region,
      head: ref(tip ?? head.justified),
      justified: ref(head.justified),
      finalized: checkpointToJson(head.finalized),
      applied: { height: a.height, stateRoot: toHex(a.stateRoot) },
      certificate: this.cert(head.finalization),
    };
  }

  /**
   * The checkpoint at `height` from its tally (one read): finalized with the certificate that
   * finalized it, justified with the certificate that justified it, or pending with the block and
   * post-state root its votes name.
   */
  async checkpoint(height: number) {
    const { set } = this.deps.chain;
    if (!isCheckpointHeight(height, set.checkpointInterval))
      throw new NotFound(`height ${height} is not a checkpoint (interval ${set.checkpointInterval})`);
    if (height === 0) return { ...checkpointToJson(this.deps.chain.genesis), status: 'finalized' as const };
    const [t, next] = await tallyPair(this.deps.finality, height, set.checkpointInterval);
    const finalization = finalizationOf(t, next, set.checkpointInterval);
    if (finalization)
      return { ...checkpointToJson(finalization.source), status: 'finalized' as const, certificate: this.cert(finalization)! };
    if (t?.certificate && t.justified)
      return { ...checkpointToJson(t.certificate.target), status: 'justified' as const, certificate: this.cert(t.certificate)! };
    const voted = t && [...t.votes.values()][0];
    if (voted) return { ...checkpointToJson(voted.target), status: 'pending' as const };
    // Every checkpoint up to the finalized head has a record where history is kept (records are
    // written before the head moves): none here means this region started later, from a snapshot.
    if (height <= (await this.deps.finality.head()).finalized.height)
      throw new NotHeld(`checkpoint ${height} is not held by this region: its history starts later, from a snapshot; ask another region`);
    throw new NotFound(`no block at height ${height} yet`);
  }

  /**
   * The finalized checkpoint at checkpoint height `height` with the certificate that finalized it
   * (derived from the tallies at `height` and one checkpoint up); undefined when this region has
   * not finalized it or does not hold its history.
   */
  private async finalizedAt(height: number): Promise<{ checkpoint: Checkpoint; certificate?: Certificate } | undefined> {
    if (height === 0) return { checkpoint: this.deps.chain.genesis };
    const certificate = await finalizationAt(this.deps.finality, height, this.deps.chain.set.checkpointInterval);
    return certificate ? { checkpoint: certificate.source, certificate } : undefined;
  }

  /**
   * The block at `height` on the finalized chain, or the first known one above finality. O(1) reads
   * for a finalized height: a checkpoint's block is named by its tallies, another height's by the
   * state function's height index; only a height finalized but not yet applied here (not indexed
   * yet) walks parent links down from the checkpoint above it (at most K - 1 steps).
   */
  async block(height: number): Promise<BlockJson & { hash: string; finalized: boolean }> {
    const { deps } = this;
    const K = deps.chain.set.checkpointInterval;
    const head = await deps.finality.head();
    if (height <= head.finalized.height) {
      const checkpoint = isCheckpointHeight(height, K);
      const above = checkpoint ? height : checkpointAtOrBelow(height, K) + K;
      // A checkpoint is named by its tallies, unless it was finalized only as an ancestor (the index has it then).
      const named = checkpoint && above < head.finalized.height ? await this.finalizedAt(above) : undefined;
      const indexed = named ? undefined : await deps.blocks.finalizedHash(height);
      const anchor = named
        ? named
        : indexed
          ? { checkpoint: { height, hash: indexed } }
          : above >= head.finalized.height
            ? { checkpoint: head.finalized }
            : await this.finalizedAt(above);
      if (!anchor) throw new NotFound(`finalized block ${height} is not indexed in this region`);
      let hash = anchor.checkpoint.hash;
      let block = await deps.blocks.getBlock(anchor.checkpoint.height, hash);
      while (block && block.height > height) {
        hash = block.parentHash;
        block = await deps.blocks.getBlock(block.height - 1, hash);
      }
      if (!block) throw new NotFound(`block ${height} is not stored in this region`);
      return { hash: toHex(hash), ...blockToJson(block, deps.chain.app), finalized: true };
    }
    const [hash] = await deps.blocks.hashesAt(height);
    const block = hash && (await deps.blocks.getBlock(height, hash));
    if (!hash || !block) throw new NotFound(`no block at height ${height}`);
    return { hash: toHex(hash), ...blockToJson(block, deps.chain.app), finalized: false };
  }

  /** The latest finalized checkpoint whose state this region has applied, with its finalizing certificate. */
  async readableCheckpoint(): Promise<{ checkpoint: Checkpoint; certificate?: Certificate }> {
    const { deps } = this;
    const [head, applied] = await Promise.all([deps.finality.head(), deps.applied.applied()]);
    const appliedHeight = applied?.height ?? 0;
    if (head.finalized.height <= appliedHeight)
      return { checkpoint: head.finalized, ...(head.finalization ? { certificate: head.finalization } : {}) };
    const K = deps.chain.set.checkpointInterval;
    // Applied heights are finalized blocks; the highest checkpoint at or below it has its finalization recorded.
    for (let h = checkpointAtOrBelow(appliedHeight, K), probes = 0; h > 0 && probes < 4; h -= K, probes++) {
      const found = await this.finalizedAt(h);
      if (found) return found;
    }
    return { checkpoint: deps.chain.genesis };
  }

  /**
   * The finalized checkpoint at `height` whose state this region can read, with the certificate
   * that finalized it (absent for genesis). Every finalized state root stays readable: state trees
   * are content-addressed and never pruned.
   * @throws NotFound when `height` is not a multiple of the checkpoint interval, is above the
   *   region's readable finalized height, or is not recorded as finalized here (e.g. below the
   *   snapshot a follower started from)
   */
  async checkpointAt(height: number): Promise<{ checkpoint: Checkpoint; certificate?: Certificate }> {
    const { deps } = this;
    const K = deps.chain.set.checkpointInterval;
    if (!Number.isSafeInteger(height) || height < 0 || !isCheckpointHeight(height, K))
      throw new NotFound(`height ${height} is not a finalized checkpoint: checkpoints are multiples of ${K}`);
    if (height === 0) return { checkpoint: deps.chain.genesis };
    const readable = await this.readableCheckpoint();
    if (height > readable.checkpoint.height)
      throw new NotFound(
        `height ${height} is not a finalized checkpoint in this region yet: its state is readable up to height ${readable.checkpoint.height}`,
      );
    if (height === readable.checkpoint.height) return readable;
    const found = await this.finalizedAt(height);
    if (!found)
      throw new NotFound(
        `checkpoint ${height} is not recorded as finalized in this region (its history may start later, from a snapshot); ask another region`,
      );
    return found;
  }

  /**
   * The application's state route (for transfers, `GET /v1/accounts/{publicKeyHex}`): the entry named
   * by `key` with its proof and the certificate that finalized the checkpoint it is read at: the
   * latest readable finalized checkpoint, or `options.height` when given (see checkpointAt, whose
   * NotFound it throws).
   */
  async state(
    key: Uint8Array,
    options: { readonly height?: number } = {},
  ): Promise<{
    readonly [field: string]: unknown;
    readonly height: number;
    readonly stateRoot: string;
    readonly proof: ReturnType<typeof encodeProof>;
    readonly certificate: CertificateJson | null;
  }> {
    const { checkpoint, certificate } =
      options.height === undefined ? await this.readableCheckpoint() : await this.checkpointAt(options.height);
    const { fields, proof } = await this.deps.chain.app.read(checkpoint.stateRoot, key);
    return {
      ...fields,
      height: checkpoint.height,
      stateRoot: toHex(checkpoint.stateRoot),
      proof: encodeProof(proof),
      certificate: this.cert(certificate),
    };
  }

  /**
   * State tree nodes for a region bootstrapping from a snapshot (lib/pipeline/snapshot.ts): for
   * each of `roots` in order, the node stored under it followed by its descendants breadth-first
   * (each level left to right, empty subtrees skipped), one root's subtree after the other, as
   * stored bytes. The answer is cut after `limit` nodes (at most MAX_STATE_NODES), once
   * MAX_STATE_NODE_BYTES of node bytes are reached (the first node is always included), or before
   * the first node this region lacks, so it is always a prefix of that order: the caller checks
   * each node against the hash its parent names and asks again for what is left.
   * @throws NotFound when this region has no node under the first root (or serves no nodes)
   */
  async stateNodes(roots: readonly Uint8Array[], limit = MAX_STATE_NODES): Promise<{ nodes: string[] }> {
    const store = this.deps.nodes;
    if (!store || roots.length === 0) throw new NotFound(`no state node ${roots[0] ? hexOf(roots[0]) : ''} in this region`);
    const wanted = Math.max(1, Math.min(limit, MAX_STATE_NODES));
    const out: Uint8Array[] = [];
    let bytes = 0;
    // Subtrees are read a few at a time (their reads overlap) and emitted in root order.
    for (let at = 0; at < roots.length; at += SUBTREES_AT_ONCE) {
      const budget = wanted - out.length;
      const walks = await Promise.all(roots.slice(at, at + SUBTREES_AT_ONCE).map((root) => this.subtree(store, root, budget)));
      for (const [i, walk] of walks.entries()) {
        if (at + i === 0 && walk.nodes.length === 0) throw new NotFound(`no state node ${hexOf(roots[0]!)} in this region`);
        for (const node of walk.nodes) {
          if (out.length >= wanted || (out.length > 0 && bytes + node.length > MAX_STATE_NODE_BYTES)) return { nodes: out.map(hexOf) };
          out.push(node);
          bytes += node.length;
        }
        if (!walk.complete) return { nodes: out.map(hexOf) };
      }
    }
    return { nodes: out.map(hexOf) };
  }

  /** Up to `budget` nodes of the subtree under `root`, breadth-first, read a level at a time; `complete` when that is all of it. */
  private async subtree(store: NodeStore, root: Uint8Array, budget: number): Promise<{ nodes: Uint8Array[]; complete: boolean }> {
    const nodes: Uint8Array[] = [];
    let level = [root];
    while (level.length > 0) {
      if (nodes.length >= budget) return { nodes, complete: false };
      const batch = level.slice(0, budget - nodes.length);
      const read: (Uint8Array | undefined)[] = new Array(batch.length);
      for (let at = 0; at < batch.length; at += NODE_READS)
        await Promise.all(
          batch.slice(at, at + NODE_READS).map(async (hash, i) => {
            read[at + i] = await store.get(hash);
          }),
        );
      const next: Uint8Array[] = [];
      for (const node of read) {
        if (!node) return { nodes, complete: false };
        nodes.push(node);
        // Not checked against its hash here: the caller checks every node (a corrupt store's bytes are refused there).
        for (const child of storedChildren(node)) next.push(child);
      }
      if (batch.length < level.length) return { nodes, complete: false };
      level = next;
    }
    return { nodes, complete: true };
  }

  /**
   * The votes this region's tally holds at checkpoint `height` (each member's slot and the span notes
   * covering it), for peers' evidence audits (lib/pipeline/audit.ts); empty lists when none are recorded.
   * @throws NotFound when `height` is not a checkpoint height
   */
  async votesAt(height: number) {
    const K = this.deps.chain.set.checkpointInterval;
    if (!isCheckpointHeight(height, K)) throw new NotFound(`${height} is not a checkpoint height (a multiple of ${K})`);
    return heightVotesToJson(height, await this.deps.finality.tally(height));
  }

  async evidence(limit = 100) {
    const list = await this.deps.finality.listEvidence(limit);
    return { count: list.length, evidence: list.map(evidenceJson) };
  }

  /** First local time (ms) this service saw the current finalized height; feeds `lag.seconds`. */
  private finalizedSeen: { height: number; at: number } | undefined;

  /**
   * Sync status of this region, and whether it can make progress. `status` is
   * - 'down' when a table of the region cannot be read (a dependency check fails, or reading fails
   *   and a fresh check then names a dependency): heights, lag and evidence are null;
   * - 'degraded' when the tables answer but a queue check fails, or the head is more than
   *   `options.maxLagBlocks` blocks ahead of finality (`failing` holds FINALITY_LAG_CHECK);
   * - 'ok' otherwise (the API answers 200 only then).
   * `failing` names every failed check; `dependencies` lists every check (null without `deps.probes`).
   * `lag.seconds` is how long (local clock, seconds) this service has seen the current finalized
   * height, null without `deps.now`; `dlq` is null when no `deps.dlqDepths` is given or it fails.
   * Throws only when reading fails while every dependency check passes (the API maps the error).
   */
  async health(options: { maxLagBlocks: number }) {
    const { deps } = this;
    // A queue lookup failing must not turn the health answer into a 500: report the depths as unknown.
    const dlqLookup = deps.dlqDepths ? deps.dlqDepths().catch(() => null) : Promise.resolve(null);
    const probes = deps.probes;
    let checks = probes ? await probes() : null;
    const tablesDown = (list: readonly DependencyStatus[] | null) => list?.some((c) => c.kind === 'table' && !c.ok) === true;
    let sync: Awaited<ReturnType<QueryService['syncStatus']>> | undefined;
    // Reading through unreachable tables would only wait out the SDK's retries: skip it.
    if (!tablesDown(checks)) {
      try {
        sync = await this.syncStatus();
      } catch (e) {
        if (!probes) throw e;
        checks = await probes({ fresh: true });
        if (checks.every((c) => c.ok)) throw e;
      }
    }
    const dlq = await dlqLookup;
    const failing = (checks ?? []).filter((c) => !c.ok).map((c) => c.name);
    const lagged = sync !== undefined && sync.lag > options.maxLagBlocks;
    if (lagged) failing.push(FINALITY_LAG_CHECK);
    const status = sync === undefined || tablesDown(checks) ? 'down' : failing.length > 0 ? 'degraded' : 'ok';
    return {
      status: status as 'ok' | 'degraded' | 'down',
      region: deps.region,
      head: sync?.f.head.height ?? null,
      justified: sync?.f.justified.height ?? null,
      finalized: sync?.f.finalized.height ?? null,
      applied: sync?.f.applied.height ?? null,
      lag: {
        blocks: sync?.lag ?? null,
        appliedBehindFinalized: sync ? sync.f.finalized.height - sync.f.applied.height : null,
        seconds: sync ? this.secondsAtFinalized(sync.f.finalized.height) : null,
      },
      validators:
        sync?.lastVotes ?? deps.chain.set.members.map((m) => ({ index: m.index, region: m.region, lastVoteHeight: null as number | null })),
      evidence: sync?.evidence ?? null,
      invalidVotes: sync?.invalidVotes ?? null,
      dlq,
      dependencies: checks,
      failing,
    };
  }

  /** Heights, each member's last vote and the evidence count, read from the region's tables. */
  private async syncStatus() {
    const { deps } = this;
    const f = await this.finality();
    const K = deps.chain.set.checkpointInterval;
    // Each member's last vote among the recent heights (one batched read of their tallies).
    const heights: number[] = [];
    for (let h = checkpointAtOrBelow(f.head.height, K) + K; h > 0 && heights.length < 12; h -= K) heights.push(h);
    const [recent, evidence, invalidVotes] = await Promise.all([
      deps.finality.tallies(heights),
      deps.finality.listEvidence(1000).then((l) => l.length),
      deps.finality.invalidVotes(),
    ]);
    const lastVotes = deps.chain.set.members.map((m) => {
      const last = recent.filter((t) => t.votes.has(m.index)).reduce((max, t) => Math.max(max, t.height), -1);
      return { index: m.index, region: m.region, lastVoteHeight: last >= 0 ? last : null };
    });
    return { f, lag: f.head.height - f.finalized.height, lastVotes, evidence, invalidVotes };
  }

  /** Seconds since this service first saw `height` as the finalized height (informational; local clock). */
  private secondsAtFinalized(height: number): number | null {
    if (!this.deps.now) return null;
    const now = this.deps.now();
    if (this.finalizedSeen?.height !== height) this.finalizedSeen = { height, at: now };
    return Math.max(0, Math.round((now - this.finalizedSeen.at) / 100) / 10);
  }
}

export function evidenceJson(e: Evidence) {
  return { kind: e.kind, member: e.member, first: voteToJson(e.first), second: voteToJson(e.second) };
}

export const isGenesis = (chain: ChainContext, c: Checkpoint) => checkpointEquals(c, chain.genesis);
