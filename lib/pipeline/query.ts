/**
 * Read model behind the HTTP API: answers in the JSON shapes of the fixed contract (DESIGN.md
 * section 4), from finalized state only. Every account answer carries the certificate that
 * finalized the state it was read from and a Merkle proof against that certificate's state root.
 */
import { toHex } from '../core/bytes.js';
import { checkpointEquals } from '../core/codec.js';
import { checkpointAtOrBelow, isCheckpointHeight } from '../core/ffg.js';
import type { Evidence } from '../core/slashing.js';
import { encodeProof } from '../core/smt.js';
import type { Certificate, Checkpoint } from '../core/types.js';
import { type BlockJson, blockToJson, type CertificateJson, certificateToJson, checkpointToJson, voteToJson } from '../core/wire.js';
import type { ChainContext } from './context.js';
import type { AppliedStore, BlockStore, FinalityStore } from './ports.js';

/** Heights probed above the justified checkpoint for the head block (pacing keeps it within a few). */
const HEAD_PROBE = 8;

export interface QueryDeps {
  readonly chain: ChainContext;
  readonly region: string;
  readonly blocks: BlockStore;
  readonly finality: FinalityStore;
  readonly applied: AppliedStore;
  /**
   * Local clock in milliseconds, for the informational `lag.seconds` of health() only (no
   * protocol rule reads it). Without it `lag.seconds` is null.
   */
  readonly now?: () => number;
  /** Messages waiting in each dead-letter queue of this region, by queue name; health() reports them. */
  readonly dlqDepths?: () => Promise<Record<string, number>>;
}

/** A lookup that found nothing: the API answers 404 with this message. */
export class NotFound extends Error {
  override readonly name = 'NotFound';
}

const ref = (c: { height: number; hash: Uint8Array }) => ({ height: c.height, hash: toHex(c.hash) });

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
    const t = await this.deps.finality.tally(height);
    if (t?.certificate && t.finalization && checkpointEquals(t.finalization.source, t.certificate.target))
      return { ...checkpointToJson(t.certificate.target), status: 'finalized' as const, certificate: this.cert(t.finalization)! };
    if (t?.certificate && t.justified)
      return { ...checkpointToJson(t.certificate.target), status: 'justified' as const, certificate: this.cert(t.certificate)! };
    const voted = t && [...t.votes.values()][0];
    if (voted) return { ...checkpointToJson(voted.target), status: 'pending' as const };
    throw new NotFound(`no block at height ${height} yet`);
  }

  /**
   * The finalized checkpoint at checkpoint height `height` (from the finalization recorded at that
   * height), with its certificate; undefined when this region has not finalized it.
   */
  private async finalizedAt(height: number): Promise<{ checkpoint: Checkpoint; certificate?: Certificate } | undefined> {
    if (height === 0) return { checkpoint: this.deps.chain.genesis };
    const t = await this.deps.finality.tally(height);
    return t?.finalization && t.finalization.source.height === height
      ? { checkpoint: t.finalization.source, certificate: t.finalization }
      : undefined;
  }

  /**
   * The block at `height` on the finalized chain (O(K) reads: the finalized checkpoint at or above it,
   * then parent links down), or the first known one above finality.
   */
  async block(height: number): Promise<BlockJson & { hash: string; finalized: boolean }> {
    const { deps } = this;
    const K = deps.chain.set.checkpointInterval;
    const head = await deps.finality.head();
    if (height <= head.finalized.height) {
      const above = isCheckpointHeight(height, K) ? height : checkpointAtOrBelow(height, K) + K;
      const anchor = above >= head.finalized.height ? { checkpoint: head.finalized } : await this.finalizedAt(above);
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
   * The application's state route (for transfers, `GET /v1/accounts/{publicKeyHex}`): the entry named
   * by `key` at the latest readable finalized checkpoint, with its proof and the certificate that
   * finalized that checkpoint.
   */
  async state(key: Uint8Array): Promise<{
    readonly [field: string]: unknown;
    readonly height: number;
    readonly stateRoot: string;
    readonly proof: ReturnType<typeof encodeProof>;
    readonly certificate: CertificateJson | null;
  }> {
    const { checkpoint, certificate } = await this.readableCheckpoint();
    const { fields, proof } = await this.deps.chain.app.read(checkpoint.stateRoot, key);
    return {
      ...fields,
      height: checkpoint.height,
      stateRoot: toHex(checkpoint.stateRoot),
      proof: encodeProof(proof),
      certificate: this.cert(certificate),
    };
  }

  async evidence(limit = 100) {
    const list = await this.deps.finality.listEvidence(limit);
    return { count: list.length, evidence: list.map(evidenceJson) };
  }

  /** First local time (ms) this service saw the current finalized height; feeds `lag.seconds`. */
  private finalizedSeen: { height: number; at: number } | undefined;

  /**
   * Sync status of this region. `status` is 'stalled' when the head is more than
   * `options.maxLagBlocks` blocks ahead of finality (the API answers 503), else 'ok'.
   * `lag.seconds` is how long (local clock, seconds) this service has seen the current finalized
   * height, null without `deps.now`; `dlq` is null when no `deps.dlqDepths` is given or it fails.
   */
  async health(options: { maxLagBlocks: number }) {
    const { deps } = this;
    const f = await this.finality();
    const lag = f.head.height - f.finalized.height;
    const K = deps.chain.set.checkpointInterval;
    // Each member's last vote among the recent heights (one batched read of their tallies).
    const heights: number[] = [];
    for (let h = checkpointAtOrBelow(f.head.height, K) + K; h > 0 && heights.length < 12; h -= K) heights.push(h);
    const recent = await deps.finality.tallies(heights);
    const lastVotes = deps.chain.set.members.map((m) => {
      const last = recent.filter((t) => t.votes.has(m.index)).reduce((max, t) => Math.max(max, t.height), -1);
      return { index: m.index, region: m.region, lastVoteHeight: last >= 0 ? last : null };
    });
    const [evidence, invalidVotes, dlq] = await Promise.all([
      deps.finality.listEvidence(1000).then((l) => l.length),
      deps.finality.invalidVotes(),
      // A queue lookup failing must not turn the health answer into a 500: report the depths as unknown.
      deps.dlqDepths ? deps.dlqDepths().catch(() => null) : Promise.resolve(null),
    ]);
    return {
      status: lag > options.maxLagBlocks ? ('stalled' as const) : ('ok' as const),
      region: f.region,
      head: f.head.height,
      justified: f.justified.height,
      finalized: f.finalized.height,
      applied: f.applied.height,
      lag: {
        blocks: lag,
        appliedBehindFinalized: f.finalized.height - f.applied.height,
        seconds: this.secondsAtFinalized(f.finalized.height),
      },
      validators: lastVotes,
      evidence,
      invalidVotes,
      dlq,
    };
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
