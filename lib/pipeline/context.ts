/**
 * What every role needs to know about the chain: the validator set, genesis, the application
 * (state machine and transaction codec) and the signature operations. Built once per region
 * (Lambda container, local region, simulated region) by createRegion.
 */
import { blockHash } from '../core/codec.js';
import type { ThresholdCrypto } from '../core/crypto.js';
import { MemoryNodeStore, SparseMerkleTree } from '../core/smt.js';
import type { Application, ApplicationDefinition } from '../core/state-machine.js';
import type { Block, Checkpoint, ValidatorSet } from '../core/types.js';
import { sequencerRegion } from '../core/views.js';

export interface ChainContext {
  readonly set: ValidatorSet;
  readonly app: Application;
  readonly crypto: ThresholdCrypto;
  /** Genesis checkpoint: height 0, hash of the empty genesis block, genesis state root. */
  readonly genesis: Checkpoint;
}

export const genesisBlock = (): Block => ({ height: 0, parentHash: new Uint8Array(32), transactions: [] });

/** The block's hash, with transactions identified by the application's codec. */
export const hashBlock = (chain: Pick<ChainContext, 'set' | 'app'>, block: Block): Uint8Array =>
  blockHash(chain.set.chainId, block, (tx) => chain.app.hash(tx));

/**
 * The genesis checkpoint, computed in memory (nothing is written): stores need it before the region's
 * state tree exists. createChainContext derives the same checkpoint from the real tree.
 */
export async function genesisCheckpoint(set: ValidatorSet, application: ApplicationDefinition): Promise<Checkpoint> {
  const app = application.create({ chainId: set.chainId, tree: new SparseMerkleTree(new MemoryNodeStore()) });
  return { height: 0, hash: hashBlock({ set, app }, genesisBlock()), stateRoot: await app.genesis() };
}

/** Writes the genesis state (idempotent: content-addressed nodes) and returns the context. */
export async function createChainContext(set: ValidatorSet, app: Application, crypto: ThresholdCrypto): Promise<ChainContext> {
  const stateRoot = await app.genesis();
  return { set, app, crypto, genesis: { height: 0, hash: hashBlock({ set, app }, genesisBlock()), stateRoot } };
}

/** Members hosted in `region`, in index order. */
export const membersIn = (set: ValidatorSet, region: string): number[] =>
  set.members.filter((m) => m.region === region).map((m) => m.index);

/** Every region that hosts at least one member. */
export const regionsOf = (set: ValidatorSet): string[] => [...new Set(set.members.map((m) => m.region))];

/**
 * The regions whose sequencer may propose, in view order: the home region (view 0), then the other
 * member regions in member order. The region of view v is sequencerRegions[v mod R] (core/views.ts).
 */
export const sequencerRegions = (set: ValidatorSet, homeRegion: string): string[] => [
  homeRegion,
  ...regionsOf(set).filter((r) => r !== homeRegion),
];

/** The region whose sequencer proposes in `view`. */
export const proposerRegion = (set: ValidatorSet, homeRegion: string, view: number): string =>
  sequencerRegion(view, sequencerRegions(set, homeRegion));
