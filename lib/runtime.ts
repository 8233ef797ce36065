/**
 * Builds one region's stores, transport and chain context from the cluster config: the same
 * wiring for a Lambda container and for a region of the local cluster (only the client
 * factory's endpoints differ).
 */
import { DynamoBlockStore, DynamoSequencerStore } from './aws/block-store.js';
import type { ClientFactory } from './aws/clients.js';
import { DynamoFinalityStore, DynamoSlashingProtectionStore } from './aws/finality-store.js';
import { DynamoAppliedStore, DynamoNodeStore } from './aws/state-store.js';
import { SqsTransport } from './aws/transport.js';
import { type ClusterConfig, resourceNames, validatorSet } from './config.js';
import { ConfigError } from './core/errors.js';
import { TransferLedger } from './core/ledger.js';
import { CachingNodeStore, SparseMerkleTree } from './core/smt.js';
import type { ApplierDeps } from './pipeline/applier.js';
import { type ChainContext, createChainContext } from './pipeline/context.js';
import type { FinalizerDeps } from './pipeline/finalizer.js';
import type { PeerBlocks, Transport } from './pipeline/ports.js';
import { type QueryDeps, QueryService } from './pipeline/query.js';
import type { SequencerDeps } from './pipeline/sequencer.js';
import type { ValidatorDeps } from './pipeline/validator.js';

export interface RegionRuntime {
  readonly config: ClusterConfig;
  readonly region: string;
  readonly chain: ChainContext;
  readonly blocks: DynamoBlockStore;
  readonly finality: DynamoFinalityStore;
  readonly applied: DynamoAppliedStore;
  readonly transport: Transport;
  readonly query: QueryService;
  sequencer(): SequencerDeps;
  validator(member: number, secretKey: Uint8Array): ValidatorDeps;
  finalizer(): FinalizerDeps;
  applier(): ApplierDeps;
}

export interface RegionRuntimeOptions {
  readonly config: ClusterConfig;
  readonly region: string;
  readonly aws: ClientFactory;
  /** Other regions' APIs, for catching up on missing blocks. */
  readonly peers?: readonly PeerBlocks[];
  /** Transport override (tests); default SQS. */
  readonly transport?: Transport;
  /** State tree nodes kept in memory (default 200k). */
  readonly nodeCacheEntries?: number;
  /** Health hooks for the query service (local clock for informational lag, DLQ depths, dependency checks). */
  readonly health?: Pick<QueryDeps, 'now' | 'dlqDepths' | 'probes'>;
}

/** @throws ConfigError when `region` is not in the config. */
export async function createRegionRuntime(opts: RegionRuntimeOptions): Promise<RegionRuntime> {
  const { config, region, aws } = opts;
  if (!config.regions.includes(region)) throw new ConfigError('region', `${region} is not one of ${config.regions.join(', ')}`);
  const names = resourceNames(config.prefix);
  const db = aws.dynamo(region);
  const set = validatorSet(config);
  const tree = new SparseMerkleTree(new CachingNodeStore(new DynamoNodeStore(db, names.stateTable), opts.nodeCacheEntries ?? 200_000));
  const chain = await createChainContext(set, new TransferLedger({ chainId: set.chainId, tree }));
  const blocks = new DynamoBlockStore(db, names.blocksTable);
  const homeBlocks = region === config.homeRegion ? blocks : new DynamoBlockStore(aws.dynamo(config.homeRegion), names.blocksTable);
  const finality = new DynamoFinalityStore(db, names.finalityTable, chain.genesis);
  const protection = new DynamoSlashingProtectionStore(db, names.finalityTable);
  const applied = new DynamoAppliedStore(db, names.stateTable);
  const transport = opts.transport ?? new SqsTransport({ aws, prefix: config.prefix, homeRegion: config.homeRegion });
  const query = new QueryService({ chain, region, blocks, finality, applied, ...opts.health });
  return {
    config,
    region,
    chain,
    blocks,
    finality,
    applied,
    transport,
    query,
    sequencer: () => ({
      chain,
      blocks,
      store: new DynamoSequencerStore(db, names.blocksTable),
      finality,
      transport,
      maxBlockTransactions: config.maxBlockTransactions,
      maxBlockBytes: config.maxBlockBytes,
    }),
    validator: (member, secretKey) => ({ chain, member, secretKey, blocks, homeBlocks, finality, protection, transport }),
    finalizer: () => ({ chain, region, homeRegion: config.homeRegion, store: finality, transport }),
    applier: () => ({ chain, blocks, finality, applied, peers: opts.peers ?? [] }),
  };
}
