/**
 * The whole pipeline in one process over the in-memory stores: every region built by the same
 * createRegion as Lambda and the local cluster, each message delivered through the region's SQS
 * batch handler (lib/handlers/sqs.ts) with SQS's at-least-once, unordered delivery and redelivery
 * signal. Delivery order comes from a seeded generator, so a run replays exactly. Used by the
 * pipeline tests and as the base of the deterministic simulation.
 */
import { type Dealing, deal } from '../core/bls.js';
import { defaultThresholdCrypto } from '../core/bls-wasm.js';
import { LOCAL_CHAIN_ID } from '../core/chain.js';
import type { ThresholdCrypto } from '../core/crypto.js';
import { defaultThreshold } from '../core/ffg.js';
import { type GenesisAccount, TransferLedger, transferApplication } from '../core/ledger.js';
import type { ApplicationDefinition } from '../core/state-machine.js';
import type { ValidatorSet } from '../core/types.js';
import { blockFromJson } from '../core/wire.js';
import type { RecordResult } from '../handlers/sqs.js';
import { type Admission, admitTransaction } from '../pipeline/admission.js';
import { heightVotesFromJson, heightVotesToJson } from '../pipeline/audit.js';
import type { ChainContext } from '../pipeline/context.js';
import { genesisCheckpoint } from '../pipeline/context.js';
import { memoryRegionStores } from '../pipeline/memory.js';
import { encodeMessage, type QueueMessage } from '../pipeline/messages.js';
import { DEFAULT_POOL_LIMITS } from '../pipeline/pool.js';
import type { BlockStore, Destination, PeerBlocks, PeerFinality, PeerVotes, RegionStores, Transport } from '../pipeline/ports.js';
import { NotFound, type QueryService } from '../pipeline/query.js';
import { createRegion, type Region, type RegionHooks, type RegionQueue } from '../pipeline/region.js';

export interface MemoryClusterOptions {
  readonly regions: readonly string[];
  /** Members per region, round-robin over `regions` when omitted (one each). */
  readonly members?: number;
  readonly threshold?: number;
  readonly checkpointInterval?: number;
  /** Validators' view timeout (default SIM_VIEW_TIMEOUT_SECONDS). */
  readonly viewTimeoutSeconds?: number;
  readonly maxBlockTransactions?: number;
  readonly seed?: number;
  /** A dealing to reuse (dealing is slow-ish); must match members/threshold. */
  readonly dealing?: Dealing;
  /** Genesis balances to reuse (default: the dev accounts, whose public keys take a while to derive). */
  readonly genesis?: readonly GenesisAccount[];
  /** The application (default: transfers over `genesis`). */
  readonly application?: ApplicationDefinition;
  /** Signing and verification (the simulation passes a memoizing one); default threshold BLS. */
  readonly crypto?: ThresholdCrypto;
  /** Deliveries of one message before it is dead-lettered (SQS maxReceiveCount); default 50. */
  readonly maxReceives?: number;
  /** Simulation hooks; every one is optional and the defaults are the honest pipeline. */
  readonly hooks?: ClusterHooks;
  /** Checkpoints between a height's two evidence audits (default STALE_CHECKPOINTS; short runs pass less). */
  readonly auditHorizon?: number;
}

/**
 * Extension points for the deterministic simulation (lib/sim/simulation.ts): wrap stores and the
 * transport (fault injection, recording), change a region's validator set (planted bugs), replace
 * a validator's handling (Byzantine members) and observe outcomes. Hooks are called synchronously
 * while the cluster is built or a message is delivered.
 */
export interface ClusterHooks {
  /** Wraps a region's stores once, at creation; every role and the query service use the returned ones. */
  wrapStores?(region: string, stores: RegionStores): RegionStores;
  /** Wraps the transport every role sends through. */
  wrapTransport?(transport: Transport): Transport;
  /** The validator set one region's runtime believes in (default: the cluster's). */
  regionSet?(region: string, set: ValidatorSet): ValidatorSet;
  /** Seams of every region's runtime (a Byzantine member's inbox). */
  region?: RegionHooks;
  /** The peers a region reads blocks and votes from (default: every other region; a planted bug may take votes away). */
  wrapPeers?(region: string, peers: readonly (PeerBlocks & PeerVotes)[]): readonly PeerBlocks[];
  /** Called after a message was handled, with what its handler reported. */
  onDelivered?(outcome: DeliveryOutcome): void;
}

/** One handled message: its queue and the role's result. */
export interface DeliveryOutcome {
  readonly queue: string;
  readonly result: unknown;
}

export interface RegionNode {
  readonly region: string;
  readonly runtime: Region;
  readonly chain: ChainContext;
  readonly query: QueryService;
  /** The stores as created (no fault injection): for the simulation's own reads. */
  readonly raw: RegionStores;
  /** What the roles use: `raw`, or the hooks' wrappers of it. */
  readonly stores: RegionStores;
}

/** A message on a queue; `receives` counts deliveries (like SQS ApproximateReceiveCount). */
export interface Envelope {
  readonly queue: string;
  readonly body: string;
  receives: number;
  /** Deliveries that must happen before this one is eligible (SQS DelaySeconds, as steps). */
  delaySteps?: number;
}

/** Simulated deliveries per second of SQS delay (a pacemaker tick of 3 s waits 30 deliveries). */
export const STEPS_PER_SECOND = 10;
/**
 * The validators' view timeout here: 600 deliveries, well above what one finality round takes in a
 * four-region cluster, as 10 s is on AWS (a timeout shorter than a round changes views needlessly).
 */
export const SIM_VIEW_TIMEOUT_SECONDS = 60;

/** Small deterministic PRNG (mulberry32): the only source of choice in a run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const queueId = (d: Destination): string =>
  d.queue === 'ingress'
    ? d.region
      ? `ingress:${d.region}`
      : 'ingress'
    : d.queue === 'inbox'
      ? `inbox:${d.region}:${d.member}`
      : `${d.queue}:${d.region}`;

/** The region and queue of a queue id (the inverse of queueId; the ingress lives in `homeRegion`). */
export function parseQueueId(queue: string, homeRegion: string): { region: string; queue: RegionQueue } {
  const [kind, region, member] = queue.split(':');
  switch (kind) {
    case 'ingress':
      return { region: region ?? homeRegion, queue: { kind: 'ingress' } };
    case 'inbox':
      return { region: region!, queue: { kind: 'inbox', member: Number(member) } };
    case 'votes':
    case 'finalized':
      return { region: region!, queue: { kind } };
    default:
      throw new Error(`unknown queue ${queue}`);
  }
}

/** A call into a region that is cut off (its queues, tables and API), as a network error would surface. */
export class RegionUnreachableError extends Error {
  override readonly name = 'RegionUnreachableError';
  constructor(readonly region: string) {
    super(`region ${region} is unreachable (simulated partition)`);
  }
}

export class MemoryCluster {
  readonly nodes = new Map<string, RegionNode>();
  /** Regions cut off from the others: sends to their queues and reads of their blocks and API throw. */
  readonly unreachable = new Set<string>();
  readonly pending: Envelope[] = [];
  readonly errors: { queue: string; error: unknown }[] = [];
  /** Messages dropped after `maxReceives` deliveries (a DLQ). */
  readonly deadLetters: Envelope[] = [];
  delivered = 0;
  private readonly random: () => number;
  private wrappedTransport: Transport | undefined;

  private constructor(
    readonly regions: readonly string[],
    readonly set: ValidatorSet,
    readonly dealing: Dealing,
    readonly homeRegion: string,
    readonly application: ApplicationDefinition,
    /** The signing and verification every region uses (the Byzantine actors sign with it too). */
    readonly crypto: ThresholdCrypto,
    seed: number,
    readonly hooks: ClusterHooks = {},
    readonly maxReceives = 50,
  ) {
    this.random = mulberry32(seed);
  }

  static async create(opts: MemoryClusterOptions): Promise<MemoryCluster> {
    const n = opts.members ?? opts.regions.length;
    const threshold = opts.threshold ?? defaultThreshold(n);
    const dealing = opts.dealing ?? deal(n, threshold);
    const set: ValidatorSet = {
      chainId: LOCAL_CHAIN_ID,
      era: 0n,
      n,
      threshold,
      checkpointInterval: opts.checkpointInterval ?? 1,
      groupPublicKey: dealing.groupPublicKey,
      members: dealing.shares.map((s, i) => ({ index: s.index, region: opts.regions[i % opts.regions.length]!, publicKey: s.publicKey })),
    };
    const hooks = opts.hooks ?? {};
    const genesis = opts.genesis;
    const application: ApplicationDefinition =
      opts.application ??
      (genesis
        ? { ...transferApplication, create: (ctx) => new TransferLedger({ ...ctx, genesis }) }
        : (transferApplication as ApplicationDefinition));
    const crypto = opts.crypto ?? (await defaultThresholdCrypto());
    const cluster = new MemoryCluster(
      opts.regions,
      set,
      dealing,
      opts.regions[0]!,
      application,
      crypto,
      opts.seed ?? 1,
      hooks,
      opts.maxReceives,
    );
    cluster.wrappedTransport = hooks.wrapTransport ? hooks.wrapTransport(cluster.transport) : cluster.transport;
    const secretKey = async (member: number) => dealing.shares[member - 1]!.secretKey;
    for (const region of opts.regions) {
      const regionSet = hooks.regionSet ? hooks.regionSet(region, set) : set;
      const raw = memoryRegionStores(await genesisCheckpoint(regionSet, application));
      const stores = hooks.wrapStores ? hooks.wrapStores(region, raw) : raw;
      const runtime = await createRegion({
        config: {
          set: regionSet,
          region,
          homeRegion: cluster.homeRegion,
          application,
          maxBlockTransactions: opts.maxBlockTransactions ?? 100,
          maxBlockBytes: 200_000,
          viewTimeoutSeconds: opts.viewTimeoutSeconds ?? SIM_VIEW_TIMEOUT_SECONDS,
        },
        stores,
        blocksOf: (other) => cluster.reachableBlocks(other),
        transport: cluster.wrappedTransport,
        crypto,
        peers: hooks.wrapPeers ? hooks.wrapPeers(region, cluster.peersOf(region)) : cluster.peersOf(region),
        ...(opts.auditHorizon !== undefined ? { auditHorizon: opts.auditHorizon } : {}),
        memberKey: secretKey,
        ...(hooks.region ? { hooks: hooks.region } : {}),
      });
      cluster.nodes.set(region, { region, runtime, chain: runtime.chain, query: runtime.query, raw, stores });
    }
    return cluster;
  }

  node(region: string): RegionNode {
    const node = this.nodes.get(region);
    if (!node) throw new Error(`unknown region ${region}`);
    return node;
  }

  /** Throws when `region` is cut off. */
  checkReachable(region: string): void {
    if (this.unreachable.has(region)) throw new RegionUnreachableError(region);
  }

  /** Another region's block store as a role reads it across regions: each call fails while that region is cut off. */
  reachableBlocks(region: string): BlockStore {
    const blocks = this.node(region).stores.blocks;
    return new Proxy(blocks, {
      get: (obj, prop, receiver) => {
        const value = Reflect.get(obj, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          this.checkReachable(region);
          return value.apply(obj, args);
        };
      },
    });
  }

  /** The transport every role sends through: bodies are encoded, as on a real queue. */
  readonly transport: Transport = {
    send: async (to, messages, options = {}) => {
      this.checkReachable(to.region ?? this.homeRegion);
      const delaySteps = (options.delaySeconds ?? 0) * STEPS_PER_SECOND;
      for (const m of messages)
        this.pending.push({
          queue: queueId(to),
          body: this.encode(m),
          receives: 0,
          ...(delaySteps ? { delaySteps: this.delivered + delaySteps } : {}),
        });
    },
  };

  /** A queue body in the chain's wire form. */
  encode(message: QueueMessage): string {
    return encodeMessage(message, this.application.codec(this.set.chainId));
  }

  /** Sends a transaction to a region's ingress (default: the home region's). */
  submit(tx: unknown, region?: string): void {
    this.pending.push({ queue: region ? `ingress:${region}` : 'ingress', body: this.encode({ kind: 'tx', tx }), receives: 0 });
  }

  /**
   * Submits a transaction as POST /v1/transactions does in region `via` (default: the home region):
   * admission into the active view's pool and a backup copy in the next view's
   * (lib/pipeline/admission.ts), then a wake-up for the active sequencer. `admitted` or `known` is
   * what the API answers 202 for.
   * @throws BackupWriteError or a store's error when the API would answer 503.
   */
  async accept(tx: unknown, via: string = this.homeRegion): Promise<Admission> {
    const node = this.node(via);
    const admission = await admitTransaction(
      {
        chain: node.chain,
        query: node.query,
        store: this.node(this.homeRegion).stores.sequencer,
        storeOf: (region) => this.node(region).stores.sequencer,
        limits: DEFAULT_POOL_LIMITS,
      },
      tx,
    );
    if (admission.kind === 'admitted')
      await this.transport.send({ queue: 'ingress', ...(admission.active ? { region: admission.active } : {}) }, [
        { kind: 'tick', height: 0 },
      ]);
    return admission;
  }

  /**
   * Delivers one message chosen by the seeded generator among those not delayed (when all are,
   * time jumps to the earliest). Returns false when nothing is pending.
   */
  async step(): Promise<boolean> {
    if (this.pending.length === 0) return false;
    let eligible = this.pending.filter((e) => (e.delaySteps ?? 0) <= this.delivered);
    if (eligible.length === 0) {
      const earliest = Math.min(...this.pending.map((e) => e.delaySteps ?? 0));
      eligible = this.pending.filter((e) => (e.delaySteps ?? 0) === earliest);
    }
    const envelope = eligible[Math.floor(this.random() * eligible.length)]!;
    this.pending.splice(this.pending.indexOf(envelope), 1);
    await this.deliver(envelope);
    return true;
  }

  /** Runs until no message is pending or `maxSteps` deliveries happened. Returns the number of steps. */
  async run(maxSteps = 100_000): Promise<number> {
    let steps = 0;
    while (steps < maxSteps && (await this.step())) steps++;
    return steps;
  }

  /**
   * Hands one envelope to its region's queue handler (as an SQS event, with the redelivery signal);
   * on a failed record it records the error and puts the message back (or dead-letters it).
   * Returns whether it succeeded.
   */
  async deliver(envelope: Envelope): Promise<boolean> {
    envelope.receives++;
    this.delivered++;
    const { region, queue } = parseQueueId(envelope.queue, this.homeRegion);
    const result: RecordResult = await this.node(region).runtime.dispatch(queue, envelope.body, { redelivered: envelope.receives > 1 });
    if (result.ok) {
      this.hooks.onDelivered?.({ queue: envelope.queue, result: result.outcome });
      return true;
    }
    this.errors.push({ queue: envelope.queue, error: result.error });
    // Like a visibility timeout expiring: the message comes back later.
    if (envelope.receives < this.maxReceives) this.pending.push(envelope);
    else this.deadLetters.push(envelope);
    return false;
  }

  /**
   * Every other region's blocks and recorded votes, as a peer's API would serve them (resolved at call
   * time; votes go through the same JSON answer and parser as over HTTP). A peer's answer is read from
   * its stores as created, so the simulation's faults hit the region that audits, not its peers.
   */
  peersOf(region: string): (PeerBlocks & PeerVotes & PeerFinality)[] {
    return this.regions
      .filter((r) => r !== region)
      .map((peer) => ({
        name: peer,
        fetchBlock: async (height: number) => {
          this.checkReachable(peer);
          return blockAt(this.node(peer), height);
        },
        finality: async () => {
          this.checkReachable(peer);
          return JSON.parse(JSON.stringify(await this.node(peer).query.finality())) as unknown;
        },
        votesAt: async (height: number) => {
          this.checkReachable(peer);
          return heightVotesFromJson(heightVotesToJson(height, await this.node(peer).raw.finality.tally(height)));
        },
      }));
  }
}

/** What GET /v1/blocks/{height} answers in that region: the finalized block there, else the first known one. */
async function blockAt(node: RegionNode, height: number) {
  try {
    const { hash, finalized, ...json } = await node.query.block(height);
    return blockFromJson(json, node.chain.app, 'block');
  } catch (e) {
    if (e instanceof NotFound) return undefined;
    throw e;
  }
}

export type { QueueMessage };
