/**
 * One region's stores over its DynamoDB tables (RegionStores), and the wiring of a region on AWS
 * resources: the same for a Lambda container and for a region of the local cluster (only the
 * client factory's endpoints differ).
 */
import type { ClusterConfig } from '../config.js';
import { poolSettings, regionConfig, resourceNames } from '../config.js';
import { CachingNodeStore, type NodeStore, OverlayNodeStore } from '../core/smt.js';
import type { Telemetry } from '../handlers/telemetry.js';
import { genesisCheckpoint } from '../pipeline/context.js';
import type { PeerBlocks, RegionStores, Transport } from '../pipeline/ports.js';
import type { QueryDeps } from '../pipeline/query.js';
import { createRegion, type Region, type RegionHooks } from '../pipeline/region.js';
import { DynamoBlockStore, DynamoSequencerStore } from './block-store.js';
import type { ClientFactory } from './clients.js';
import { DynamoFinalityStore, DynamoSlashingProtectionStore } from './finality-store.js';
import { DynamoPoolStore } from './pool-store.js';
import { changeVisibility } from './queues.js';
import { DynamoAppliedStore, DynamoNodeStore } from './state-store.js';
import { SqsTransport } from './transport.js';

export interface DynamoStoresOptions {
  /** State tree nodes kept in memory (default 200k). */
  readonly nodeCacheEntries?: number;
  /**
   * Whether this runtime writes state-tree nodes to the state table (default true). On AWS only the state
   * function and a follower do (their roles may; lib/handlers/lambda-env.ts reads AFG_STATE_WRITER). With
   * false, node writes stay in this process's memory (an overlay over the table): the genesis state that
   * every region runtime computes at its start is then held in memory, so a read-only role answers genesis
   * reads before the state function has written them, and never writes the table.
   */
  readonly writesState?: boolean;
}

/** Every store of `region`, over its tables. */
export async function dynamoRegionStores(
  aws: ClientFactory,
  config: ClusterConfig,
  region: string,
  opts: DynamoStoresOptions = {},
): Promise<RegionStores> {
  const rc = regionConfig(config, region);
  const names = resourceNames(config.prefix);
  const db = aws.dynamo(region);
  const codec = rc.application.codec(rc.set.chainId);
  const genesis = await genesisCheckpoint(rc.set, rc.application);
  return {
    blocks: new DynamoBlockStore(db, names.blocksTable, codec),
    sequencer: new DynamoSequencerStore(db, names.blocksTable, codec, { lanes: poolSettings(config).lanes }),
    finality: new DynamoFinalityStore(db, names.finalityTable, genesis),
    protection: new DynamoSlashingProtectionStore(db, names.finalityTable),
    applied: new DynamoAppliedStore(db, names.stateTable),
    nodes: nodeStore(new CachingNodeStore(new DynamoNodeStore(db, names.stateTable), opts.nodeCacheEntries ?? 200_000), opts.writesState),
  };
}

/**
 * A member region's transaction pool (in its blocks table): the pool of the region whose sequencer
 * proposes in the current view is where every region's API admits (POST /v1/transactions) and reads
 * statuses (GET /v1/transactions/{hash}). Default: the home region's (view 0).
 */
export function regionPool(aws: ClientFactory, config: ClusterConfig, region = config.homeRegion): DynamoPoolStore {
  const rc = regionConfig(config, region);
  return new DynamoPoolStore(aws.dynamo(region), resourceNames(config.prefix).blocksTable, rc.application.codec(rc.set.chainId), {
    lanes: poolSettings(config).lanes,
  });
}

/** The API's pools: the home region's, and each member region's for the current view (createApi's `pool`). */
export function apiPools(
  aws: ClientFactory,
  config: ClusterConfig,
): { store: DynamoPoolStore; storeOf: (region: string) => DynamoPoolStore } {
  const pools = new Map<string, DynamoPoolStore>();
  const storeOf = (region: string) => {
    if (!pools.has(region)) pools.set(region, regionPool(aws, config, region));
    return pools.get(region)!;
  };
  return { store: storeOf(config.homeRegion), storeOf };
}

/** The table's node store, or for a runtime that does not write state, an in-memory overlay over it (writes kept here). */
const nodeStore = (table: NodeStore, writesState = true): NodeStore => (writesState ? table : new OverlayNodeStore(table));

export interface AwsRegionOptions {
  readonly config: ClusterConfig;
  readonly region: string;
  readonly aws: ClientFactory;
  /** Other regions' APIs, for catching up on missing blocks. */
  readonly peers?: readonly PeerBlocks[];
  /** Transport override (tests); default SQS. */
  readonly transport?: Transport;
  /** The secret key share of a member hosted here (validators). */
  readonly memberKey?: (member: number) => Promise<Uint8Array>;
  /** State tree nodes kept in memory (default 200k). */
  readonly nodeCacheEntries?: number;
  /** See DynamoStoresOptions.writesState (default true). */
  readonly writesState?: boolean;
  readonly health?: Pick<QueryDeps, 'now' | 'dlqDepths' | 'probes'>;
  readonly telemetry?: Telemetry;
  readonly hooks?: RegionHooks;
}

/**
 * A region over its DynamoDB tables and SQS queues.
 * @throws ConfigError when `region` is not in the config.
 */
export async function createAwsRegion(opts: AwsRegionOptions): Promise<Region> {
  const { config, region, aws } = opts;
  const rc = regionConfig(config, region);
  const names = resourceNames(config.prefix);
  const codec = rc.application.codec(rc.set.chainId);
  return createRegion({
    config: rc,
    stores: await dynamoRegionStores(aws, config, region, {
      ...(opts.nodeCacheEntries === undefined ? {} : { nodeCacheEntries: opts.nodeCacheEntries }),
      ...(opts.writesState === undefined ? {} : { writesState: opts.writesState }),
    }),
    blocksOf: (other) => new DynamoBlockStore(aws.dynamo(other), names.blocksTable, codec),
    transport: opts.transport ?? new SqsTransport({ aws, prefix: config.prefix, homeRegion: config.homeRegion, codec }),
    ...(opts.peers ? { peers: opts.peers } : {}),
    ...(opts.memberKey ? { memberKey: opts.memberKey } : {}),
    ...(opts.health ? { health: opts.health } : {}),
    ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    retrySoon: (record, seconds) => changeVisibility((r) => aws.sqs(r), record, seconds),
  });
}
