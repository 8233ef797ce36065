/**
 * State function (every region): applies finalized blocks to the queryable state exactly once
 * and in height order. The state is content-addressed, so "applying" a block is computing its
 * post-state root (reusing the validator's execution when present) and then moving the applied
 * pointer from height h-1 to h with one compare-and-set: a duplicate or concurrent invocation
 * loses the race and re-reads, so no block is applied twice or skipped.
 */
import { equalBytes, toHex } from '../core/bytes.js';
import type { Block } from '../core/types.js';
import { type ChainContext, hashBlock } from './context.js';
import { BlockUnavailableError, ConflictingFinalityError } from './errors.js';
import type { AppliedHead, AppliedStore, BlockStore, CheckpointStore, HeadStore, PeerBlocks } from './ports.js';

export interface StateFunctionDeps {
  readonly chain: ChainContext;
  readonly blocks: BlockStore;
  readonly finality: HeadStore & Pick<CheckpointStore, 'checkpointsAt'>;
  readonly applied: AppliedStore;
  /** Peer regions to fetch missing blocks from, tried in order. */
  readonly peers: readonly PeerBlocks[];
}

export interface ApplyResult {
  readonly from: number;
  readonly to: number;
  readonly applied: number[];
  readonly fetched: number[];
}

/** Applies every finalized block above the applied pointer. Safe to call any number of times, concurrently. */
export async function applyFinalized(deps: StateFunctionDeps): Promise<ApplyResult> {
  const { chain } = deps;
  const { finalized } = await deps.finality.head();
  let applied: AppliedHead = (await deps.applied.applied()) ?? chain.genesis;
  const result: ApplyResult = { from: applied.height, to: finalized.height, applied: [], fetched: [] };
  if (applied.height >= finalized.height) return result;

  const chainBlocks = await finalizedSegment(deps, applied, finalized.height, finalized.hash, result.fetched);
  for (const { hash, block } of chainBlocks) {
    if (!equalBytes(block.parentHash, applied.hash))
      throw new ConflictingFinalityError(
        block.height,
        `finalized block ${block.height} does not extend applied block ${toHex(applied.hash)}`,
      );
    const stateRoot = (await deps.blocks.getExecution(hash)) ?? (await executeAndStore(deps, hash, block, applied.stateRoot));
    const next: AppliedHead = { height: block.height, hash, stateRoot };
    if (block.height === finalized.height && !equalBytes(stateRoot, finalized.stateRoot))
      throw new ConflictingFinalityError(block.height, `state root at ${block.height} differs from the certified one`);
    if (!(await deps.applied.advanceApplied(applied, next))) {
      // Someone else applied this height concurrently: continue from whatever they reached.
      const now = (await deps.applied.applied()) ?? chain.genesis;
      if (now.height >= finalized.height) return result;
      return mergeResults(result, await applyFinalized(deps));
    }
    result.applied.push(block.height);
    applied = next;
  }
  return result;
}

function mergeResults(a: ApplyResult, b: ApplyResult): ApplyResult {
  return { from: a.from, to: Math.max(a.to, b.to), applied: [...a.applied, ...b.applied], fetched: [...a.fetched, ...b.fetched] };
}

async function executeAndStore(deps: StateFunctionDeps, hash: Uint8Array, block: Block, parentRoot: Uint8Array): Promise<Uint8Array> {
  const { root } = await deps.chain.app.execute(parentRoot, block.transactions);
  await deps.blocks.putExecution(hash, root);
  return root;
}

/**
 * The blocks above `applied` up to the finalized tip, oldest first, walking parent hashes back
 * from the certified tip hash. Missing blocks come from peers and are accepted only when they hash
 * to the expected (certified or child-committed) value.
 */
async function finalizedSegment(
  deps: StateFunctionDeps,
  applied: AppliedHead,
  tipHeight: number,
  tipHash: Uint8Array,
  fetched: number[],
): Promise<{ hash: Uint8Array; block: Block }[]> {
  const out: { hash: Uint8Array; block: Block }[] = [];
  let hash = tipHash;
  for (let height = tipHeight; height > applied.height; height--) {
    const block = (await deps.blocks.getBlock(hash)) ?? (await fetchFromPeers(deps, height, hash, fetched));
    out.push({ hash, block });
    hash = block.parentHash;
  }
  return out.reverse();
}

async function fetchFromPeers(deps: StateFunctionDeps, height: number, expected: Uint8Array, fetched: number[]): Promise<Block> {
  for (const peer of deps.peers) {
    let block: Block | undefined;
    try {
      block = await peer.fetchBlock(height);
    } catch {
      continue; // an unreachable peer is just skipped
    }
    if (block && block.height === height && equalBytes(hashBlock(deps.chain, block), expected)) {
      await deps.blocks.putBlock(expected, block);
      fetched.push(height);
      return block;
    }
  }
  throw new BlockUnavailableError(height, toHex(expected));
}
