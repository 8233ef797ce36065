/**
 * What every role needs to know about the chain: the validator set, genesis, and the state
 * machine. Built once per process (Lambda container or local region) from the cluster config.
 */
import { blockHash } from '../core/codec.js';
import type { TransferLedger } from '../core/ledger.js';
import type { Block, Checkpoint, ValidatorSet } from '../core/types.js';

export interface ChainContext {
  readonly set: ValidatorSet;
  readonly ledger: TransferLedger;
  /** Genesis checkpoint: height 0, hash of the empty genesis block, genesis state root. */
  readonly genesis: Checkpoint;
}

export const genesisBlock = (): Block => ({ height: 0, parentHash: new Uint8Array(32), transactions: [] });

/** Writes the genesis state (idempotent: content-addressed nodes) and returns the context. */
export async function createChainContext(set: ValidatorSet, ledger: TransferLedger): Promise<ChainContext> {
  const stateRoot = await ledger.genesis();
  return { set, ledger, genesis: { height: 0, hash: blockHash(set.chainId, genesisBlock()), stateRoot } };
}

/** Members hosted in `region`, in index order. */
export const membersIn = (set: ValidatorSet, region: string): number[] =>
  set.members.filter((m) => m.region === region).map((m) => m.index);

/** Every region that hosts at least one member or is listed in the config. */
export const regionsOf = (set: ValidatorSet): string[] => [...new Set(set.members.map((m) => m.region))];
