/**
 * One region's runtime: the chain context, every role's dependencies, the query service, and
 * the handler of each of the region's queues. It is built the same way everywhere; only what is
 * passed in differs (TigerBeetle's VOPR shape: the production code, a fake world):
 *   - Lambda (lib/handlers/lambda-env.ts) and the local cluster: DynamoDB stores and the SQS transport;
 *   - the simulation (lib/sim/memory-cluster.ts): in-memory stores with fault injection, an
 *     in-memory transport, a memoizing crypto;
 *   - the integration tests: DynamoDB stores and a capturing transport.
 * Messages reach the roles only through `handler(queue)` (lib/handlers/sqs.ts: decoding, routing,
 * ordering, poison and redelivery handling), so every caller runs the code Lambda runs.
 */
import { defaultThresholdCrypto } from '../core/bls-wasm.js';
import type { ThresholdCrypto } from '../core/crypto.js';
import { OverlayNodeStore, SparseMerkleTree } from '../core/smt.js';
import type { ApplicationDefinition } from '../core/state-machine.js';
import type { ValidatorSet } from '../core/types.js';
import { dispatch, type HandlerOptions, type RecordResult, regionHandler, type SqsHandler, silentTelemetry } from '../handlers/sqs.js';
import type { Telemetry } from '../handlers/telemetry.js';
import type { AuditDeps } from './audit.js';
import type { ChainContext } from './context.js';
import { createChainContext, membersIn } from './context.js';
import type { FinalitySyncDeps } from './finality-sync.js';
import { FinalizerCache, type FinalizerDeps, STALE_CHECKPOINTS } from './finalizer.js';
import type { BlockStore, PeerBlocks, PeerFinality, PeerVotes, RegionStores, Transport } from './ports.js';
import { type QueryDeps, QueryService } from './query.js';
import type { SequencerDeps } from './sequencer.js';
import type { StateFunctionDeps } from './state-function.js';
import { type InboxMessage, type ValidatorDeps, ValidatorMemory, type ValidatorOutcome } from './validator.js';

/** The queues one region consumes: the ingress (sequencer), each hosted member's inbox, votes, finality notices. */
export type RegionQueue =
  | { readonly kind: 'ingress' }
  | { readonly kind: 'inbox'; readonly member: number }
  | { readonly kind: 'votes' }
  | { readonly kind: 'finalized' };

/** What a region needs to know about its cluster. */
export interface RegionConfig {
  readonly set: ValidatorSet;
  readonly region: string;
  /** Where the sequencer and the ingress queue live. */
  readonly homeRegion: string;
  readonly application: ApplicationDefinition;
  /** Block limits used by the sequencer. */
  readonly maxBlockTransactions: number;
  readonly maxBlockBytes: number;
  /** Seconds between the sequencer's liveness checks while work is unfinalized (default 3). */
  readonly pacemakerSeconds?: number;
  /**
   * Seconds without finality progress, work pending, before a validator asks for the next view
   * (default 5; doubled per view given up on in a row, up to 8x: pipeline/view-backoff.ts).
   */
  readonly viewTimeoutSeconds?: number;
}

/** Default of RegionConfig.pacemakerSeconds. */
export const DEFAULT_PACEMAKER_SECONDS = 3;
/**
 * Default of RegionConfig.viewTimeoutSeconds: several rounds on AWS (sub-second) and short enough that
 * losing the active region stalls finality for well under 10 s. Where a round takes longer (a slow
 * local machine), the backoff lengthens the timer after a view change or two instead of changing the
 * view at every round.
 */
export const DEFAULT_VIEW_TIMEOUT_SECONDS = 5;

/**
 * Seams for the deterministic simulation (a Byzantine member replaces one validator's handling).
 * Production code passes none.
 */
export interface RegionHooks {
  inbox?(ctx: {
    readonly member: number;
    readonly deps: ValidatorDeps;
    readonly message: InboxMessage;
    readonly honest: (deps?: ValidatorDeps) => Promise<ValidatorOutcome>;
  }): Promise<ValidatorOutcome>;
}

export interface CreateRegionOptions {
  readonly config: RegionConfig;
  readonly stores: RegionStores;
  /** Another region's block store: validators read proposals sent by reference from the home region. */
  readonly blocksOf: (region: string) => BlockStore;
  readonly transport: Transport;
  /** Signing and verification; default threshold BLS. */
  readonly crypto?: ThresholdCrypto;
  /** Other regions' APIs, for catching up on missing blocks. */
  readonly peers?: readonly PeerBlocks[];
  /**
   * Other regions whose recorded votes the evidence audit reads (lib/pipeline/audit.ts); default: the
   * `peers` that serve votes (HttpPeerBlocks and HttpPeer do).
   */
  readonly peerVotes?: readonly PeerVotes[];
  /** Checkpoints between a height's first evidence audit and its second (default STALE_CHECKPOINTS). */
  readonly auditHorizon?: number;
  /** The secret key share of a member hosted here (validators); absent where no validator runs. */
  readonly memberKey?: (member: number) => Promise<Uint8Array>;
  /** Health hooks of the query service (a local clock for informational lag, DLQ depths). */
  readonly health?: Pick<QueryDeps, 'now' | 'dlqDepths' | 'probes'>;
  /** Where the handlers report (logs and counters); default silent. */
  readonly telemetry?: Telemetry;
  readonly hooks?: RegionHooks;
  /**
   * Makes a received message visible again after `seconds` (SQS ChangeMessageVisibility), for a
   * record that failed only because something is not ready yet: it returns in seconds instead of
   * after the queue's visibility timeout. Absent (no-op) where delivery is not SQS's.
   */
  readonly retrySoon?: RetrySoon;
}

/** See CreateRegionOptions.retrySoon. */
export type RetrySoon = (record: { readonly receiptHandle: string; readonly eventSourceARN: string }, seconds: number) => Promise<void>;

export interface Region {
  readonly name: string;
  readonly config: RegionConfig;
  readonly chain: ChainContext;
  readonly stores: RegionStores;
  readonly transport: Transport;
  readonly query: QueryService;
  readonly peers: readonly PeerBlocks[];
  readonly hooks: RegionHooks;
  readonly retrySoon?: RetrySoon;
  /** The members whose validators run in this region. */
  readonly members: readonly number[];
  sequencer(): SequencerDeps;
  /** @throws ConfigError-like Error when the member is not hosted here or no key provider was given. */
  validator(member: number): Promise<ValidatorDeps>;
  finalizer(): FinalizerDeps;
  stateFunction(): StateFunctionDeps;
  /** The cross-region evidence audit's dependencies; undefined where it does not run (no member hosted here, or no peer serves votes). */
  auditor(): AuditDeps | undefined;
  /**
   * The finality sync's dependencies (lib/pipeline/finality-sync.ts); undefined where it does not run
   * (a follower region follows its peers instead, and a region without peers that serve finality).
   */
  finalitySync(): FinalitySyncDeps | undefined;
  /** The SQS batch handler of one of this region's queues (what Lambda and the local event sources invoke). */
  handler(queue: RegionQueue, options?: HandlerOptions): SqsHandler;
  /** Delivers one message body to one of this region's queues through its handler; never throws for a failed record. */
  dispatch(queue: RegionQueue, body: string, options?: { redelivered?: boolean }): Promise<RecordResult>;
}

/**
 * Builds a region: writes the genesis state (idempotent) and returns the runtime.
 * @example const region = await createRegion({ config, stores: memoryRegionStores(), blocksOf, transport });
 */
export async function createRegion(opts: CreateRegionOptions): Promise<Region> {
  const { config, stores, transport } = opts;
  const { set, region } = config;
  const tree = new SparseMerkleTree(stores.nodes);
  const app = config.application.create({ chainId: set.chainId, tree });
  const chain = await createChainContext(set, app, opts.crypto ?? (await defaultThresholdCrypto()));
  // Sequencer trial runs and validators' executions stay in memory: only the state function persists state.
  const executor = config.application.create({ chainId: set.chainId, tree: new SparseMerkleTree(new OverlayNodeStore(stores.nodes)) });
  const memories = new Map<number, ValidatorMemory>();
  const finalizerCache = new FinalizerCache();
  const peers = opts.peers ?? [];
  const members = membersIn(set, region);
  const peerVotes = opts.peerVotes ?? peers.filter(servesVotes);
  const query = new QueryService({
    chain,
    region,
    homeRegion: config.homeRegion,
    blocks: stores.blocks,
    finality: stores.finality,
    applied: stores.applied,
    nodes: stores.nodes,
    ...opts.health,
  });
  const telemetry = opts.telemetry ?? silentTelemetry;
  /** A member region's blocks: this region's own store, or a peer's (proposals sent by reference, state rebuilt from another region). */
  const blocksOf = (r: string): BlockStore => (r === region ? stores.blocks : opts.blocksOf(r));
  const self: Region = {
    name: region,
    config,
    chain,
    stores,
    transport,
    query,
    peers,
    hooks: opts.hooks ?? {},
    ...(opts.retrySoon ? { retrySoon: opts.retrySoon } : {}),
    members,
    sequencer: () => ({
      chain,
      region,
      homeRegion: config.homeRegion,
      blocks: stores.blocks,
      blocksOf,
      store: stores.sequencer,
      finality: stores.finality,
      transport,
      executor,
      applied: stores.applied,
      maxBlockTransactions: config.maxBlockTransactions,
      maxBlockBytes: config.maxBlockBytes,
      pacemakerSeconds: config.pacemakerSeconds ?? DEFAULT_PACEMAKER_SECONDS,
    }),
    async validator(member) {
      if (!members.includes(member)) throw new Error(`member ${member} is not hosted in ${region} (hosted: ${members.join(', ')})`);
      if (!opts.memberKey) throw new Error(`no key provider for the validators of ${region}`);
      const secretKey = await opts.memberKey(member);
      if (!memories.has(member)) memories.set(member, new ValidatorMemory());
      return {
        chain,
        member,
        secretKey,
        region,
        homeRegion: config.homeRegion,
        blocks: stores.blocks,
        blocksOf,
        viewTimeoutSeconds: config.viewTimeoutSeconds ?? DEFAULT_VIEW_TIMEOUT_SECONDS,
        finality: stores.finality,
        applied: stores.applied,
        protection: stores.protection,
        transport,
        executor,
        memory: memories.get(member)!,
      };
    },
    finalizer: () => ({ chain, region, homeRegion: config.homeRegion, store: stores.finality, transport, members, cache: finalizerCache }),
    stateFunction: () => ({
      chain,
      blocks: stores.blocks,
      finality: stores.finality,
      applied: stores.applied,
      peers,
      transport,
      region,
      // Member regions hold pools (the active view's, a backup copy in the next view's); followers none.
      ...(members.length > 0 ? { pool: stores.sequencer } : {}),
    }),
    auditor: () =>
      members.length > 0 && peerVotes.length > 0
        ? { chain, store: stores.finality, peers: peerVotes, cache: finalizerCache, horizon: opts.auditHorizon ?? STALE_CHECKPOINTS }
        : undefined,
    finalitySync: () => {
      const finalityPeers = peers.filter(servesFinality);
      return members.length > 0 && finalityPeers.length > 0
        ? { chain, region, finality: stores.finality, applied: stores.applied, transport, peers: finalityPeers }
        : undefined;
    },
    handler: (queue, options) => regionHandler(async () => self, queue, telemetry, options),
    dispatch: (queue, body, options = {}) => dispatch(self, queue, body, { ...options, telemetry }),
  };
  return self;
}

/** Whether a peer also serves its finalized head (PeerFinality). */
const servesFinality = (p: PeerBlocks): p is PeerBlocks & PeerFinality => typeof (p as Partial<PeerFinality>).finality === 'function';

/** Whether a peer also serves its recorded votes (PeerVotes). */
const servesVotes = (p: PeerBlocks): p is PeerBlocks & PeerVotes => typeof (p as Partial<PeerVotes>).votesAt === 'function';
