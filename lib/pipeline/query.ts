/**
 * Read model behind the HTTP API: answers in the JSON shapes of the fixed contract (DESIGN.md
 * section 4), from finalized state only. Every account answer carries the certificate that
 * finalized the state it was read from and a Merkle proof against that certificate's state root.
 */
import { toHex } from '../core/bytes.js';
import { checkpointEquals } from '../core/codec.js';
import type { Evidence } from '../core/slashing.js';
import { encodeProof } from '../core/smt.js';
import type { Certificate, Checkpoint } from '../core/types.js';
import { type BlockJson, blockToJson, type CertificateJson, certificateToJson, checkpointToJson, voteToJson } from '../core/wire.js';
import type { ChainContext } from './context.js';
import type { AppliedStore, BlockStore, CheckpointRecord, FinalityStore } from './ports.js';

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
    const [head, tip, applied] = await Promise.all([deps.finality.head(), deps.blocks.tip(), deps.applied.applied()]);
    const a = applied ?? deps.chain.genesis;
    return {
      region: deps.region,
      head: ref(tip ?? deps.chain.genesis),
      justified: ref(head.justified),
      finalized: checkpointToJson(head.finalized),
      applied: { height: a.height, stateRoot: toHex(a.stateRoot) },
      certificate: this.cert(head.finalization),
    };
  }

  async checkpoint(height: number) {
    const { set } = this.deps.chain;
    if (height % set.checkpointInterval !== 0)
      throw new NotFound(`height ${height} is not a checkpoint (interval ${set.checkpointInterval})`);
    if (height === 0) return { ...checkpointToJson(this.deps.chain.genesis), status: 'finalized' as const };
    const records = await this.deps.finality.checkpointsAt(height);
    const best = records.find((r) => r.status === 'finalized') ?? records[0];
    if (best) return recordJson(this.deps.chain.set.chainId, best);
    const [hash] = await this.deps.blocks.hashesAt(height);
    const stateRoot = hash && (await this.deps.blocks.getExecution(hash));
    if (!hash || !stateRoot) throw new NotFound(`no block at height ${height} yet`);
    return { height, hash: toHex(hash), stateRoot: toHex(stateRoot), status: 'pending' as const };
  }

  /** The block at `height` on the finalized chain, or the first known one above finality. */
  async block(height: number): Promise<BlockJson & { hash: string; finalized: boolean }> {
    const { deps } = this;
    const head = await deps.finality.head();
    if (height <= head.finalized.height) {
      let hash = head.finalized.hash;
      let block = await deps.blocks.getBlock(hash);
      while (block && block.height > height) {
        hash = block.parentHash;
        block = await deps.blocks.getBlock(hash);
      }
      if (!block) throw new NotFound(`block ${height} is not stored in this region`);
      return { hash: toHex(hash), ...blockToJson(block), finalized: true };
    }
    const [hash] = await deps.blocks.hashesAt(height);
    const block = hash && (await deps.blocks.getBlock(hash));
    if (!hash || !block) throw new NotFound(`no block at height ${height}`);
    return { hash: toHex(hash), ...blockToJson(block), finalized: false };
  }

  /** The latest finalized checkpoint whose state this region has applied, with its finalizing certificate. */
  async readableCheckpoint(): Promise<{ checkpoint: Checkpoint; certificate?: Certificate }> {
    const { deps } = this;
    const [head, applied] = await Promise.all([deps.finality.head(), deps.applied.applied()]);
    const appliedHeight = applied?.height ?? 0;
    if (head.finalized.height <= appliedHeight)
      return { checkpoint: head.finalized, ...(head.finalization ? { certificate: head.finalization } : {}) };
    const K = deps.chain.set.checkpointInterval;
    for (let h = appliedHeight - (appliedHeight % K); h > 0; h -= K) {
      const rec = (await deps.finality.checkpointsAt(h)).find((r) => r.status === 'finalized');
      if (rec) return { checkpoint: rec.checkpoint, ...(rec.finalization ? { certificate: rec.finalization } : {}) };
    }
    return { checkpoint: deps.chain.genesis };
  }

  async account(publicKey: Uint8Array) {
    const { checkpoint, certificate } = await this.readableCheckpoint();
    const { account, proof } = await this.deps.chain.ledger.proveAccount(checkpoint.stateRoot, publicKey);
    return {
      account: toHex(publicKey),
      balance: (account?.balance ?? 0n).toString(),
      nonce: (account?.nonce ?? 0n).toString(),
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
    const [lastVotes, evidence] = await Promise.all([
      Promise.all(
        deps.chain.set.members.map(async (m) => {
          const votes = await deps.finality.votesOf(m.index, Math.max(0, f.finalized.height - 8 * K));
          const last = votes.reduce((max, v) => Math.max(max, v.target.height), -1);
          return { index: m.index, region: m.region, lastVoteHeight: last >= 0 ? last : null };
        }),
      ),
      deps.finality.listEvidence(1000).then((l) => l.length),
    ]);
    return { f, lag: f.head.height - f.finalized.height, lastVotes, evidence };
  }

  /** Seconds since this service first saw `height` as the finalized height (informational; local clock). */
  private secondsAtFinalized(height: number): number | null {
    if (!this.deps.now) return null;
    const now = this.deps.now();
    if (this.finalizedSeen?.height !== height) this.finalizedSeen = { height, at: now };
    return Math.max(0, Math.round((now - this.finalizedSeen.at) / 100) / 10);
  }
}

function recordJson(chainId: Uint8Array, r: CheckpointRecord) {
  const certificate = r.status === 'finalized' ? r.finalization : r.justification;
  return {
    ...checkpointToJson(r.checkpoint),
    status: r.status,
    ...(certificate ? { certificate: certificateToJson(chainId, certificate) } : {}),
  };
}

export function evidenceJson(e: Evidence) {
  return { kind: e.kind, member: e.member, first: voteToJson(e.first), second: voteToJson(e.second) };
}

export const isGenesis = (chain: ChainContext, c: Checkpoint) => checkpointEquals(c, chain.genesis);
