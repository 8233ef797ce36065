/**
 * State function (every region): applies finalized blocks to the queryable state exactly once and
 * in height order. It is the only role that persists state: the state is content-addressed, so
 * applying a block is executing it on the applied state (writing its new tree nodes) and then moving
 * the applied pointer from height h-1 to h with one compare-and-set: a duplicate or concurrent
 * invocation loses the race and re-reads, so no block is applied twice or skipped.
 *
 * Blocks come from this region's block store (validators store every proposal) or, when missing,
 * from peer regions; either way each is accepted only when it hashes to the value the certified
 * chain names (the finalized checkpoint's hash, then each child's parent hash).
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { checkpointAtOrBelow } from '../core/ffg.js';
import type { Block, Checkpoint } from '../core/types.js';
import { type ChainContext, hashBlock } from './context.js';
import { BlockUnavailableError, ConflictingFinalityError } from './errors.js';
import { pendingOf } from './pool.js';
import type { AppliedHead, AppliedStore, BlockStore, HeadStore, PeerBlocks, PoolStore, TallyStore, Transport } from './ports.js';
import { finalizationAt } from './tally.js';

export interface StateFunctionDeps {
  /** `chain.app` persists what it executes (the region's state tree). */
  readonly chain: ChainContext;
  readonly blocks: BlockStore;
  /** The region's finality head, and its tallies (each finalized checkpoint's hash, for bounded passes). */
  readonly finality: HeadStore & Pick<TallyStore, 'tallies'>;
  readonly applied: AppliedStore;
  /** Peer regions to fetch missing blocks from, tried in order. */
  readonly peers: readonly PeerBlocks[];
  /** For the notice that continues a pass cut at MAX_BLOCKS_PER_PASS. */
  readonly transport: Transport;
  readonly region: string;
  /**
   * Called with each pass's range (the applied height, the height it applies up to) when the pass
   * starts, and awaited before the applied pointer first moves (the handler audits those heights for
   * evidence: audit.ts auditRange); it runs beside the pass's own reads and writes, so the audit's peer
   * round trip is not added to the time a block takes to become readable. A failure stops the pass
   * before the pointer moves, so a retry runs it again: no height is applied unaudited, even when the
   * invocation crashes after applying.
   */
  readonly beforeApply?: (from: number, to: number) => Promise<void>;
  /**
   * The region's transaction pool (member regions): the transactions of each applied block are
   * settled there (PoolStore.settle), so backup copies of accepted transactions (lib/pipeline/admission.ts)
   * leave it once final.
   */
  readonly pool?: Pick<PoolStore, 'settle'>;
}

export interface ApplyResult {
  readonly from: number;
  readonly to: number;
  readonly applied: number[];
  readonly fetched: number[];
}

/** Most blocks applied in one pass; the next notice (or the pacemaker's) continues from there. */
export const MAX_BLOCKS_PER_PASS = 256;

/**
 * Applies the finalized blocks above the applied pointer, at most MAX_BLOCKS_PER_PASS of them (a
 * region far behind continues with a notice to itself). Safe to call any number of times, concurrently.
 */
export async function applyFinalized(deps: StateFunctionDeps): Promise<ApplyResult> {
  const { chain } = deps;
  const head = await deps.finality.head();
  let applied: AppliedHead = (await deps.applied.applied()) ?? chain.genesis;
  const result: ApplyResult = { from: applied.height, to: head.finalized.height, applied: [], fetched: [] };
  if (applied.height >= head.finalized.height) return result;
  const finalized = await passTarget(deps, applied.height, head.finalized);

  const chainBlocks = await finalizedSegment(deps, applied, finalized.height, finalized.hash, result.fetched);
  // The audit runs beside the pass's reads and writes (it waits on peers; they on this region's tables),
  // and the applied pointer moves only once it is done: a failure fails the pass first.
  const audit = deps.beforeApply?.(applied.height, finalized.height);
  audit?.catch(() => {}); // awaited below; a pass that fails earlier must not leave it unhandled
  // The height index answers GET /v1/blocks/{h} and peers' catch-up in O(1). The finalized tip needs
  // none (the finality tallies name it); a checkpoint below it in the same segment may have been
  // finalized only as an ancestor (after a view change its link was not adjacent), so it is indexed
  // too. Written before applying: it states facts that do not depend on who applies.
  const unindexed = chainBlocks.filter(({ block }) => block.height !== finalized.height);
  if (unindexed.length > 0) await deps.blocks.indexFinalized(unindexed.map(({ hash, block }) => ({ height: block.height, hash })));
  for (const { hash, block } of chainBlocks) {
    if (!equalBytes(block.parentHash, applied.hash))
      throw new ConflictingFinalityError(
        block.height,
        `finalized block ${block.height} does not extend applied block ${toHex(applied.hash)}`,
      );
    const { root: stateRoot } = await chain.app.execute(applied.stateRoot, block.transactions);
    const next: AppliedHead = { height: block.height, hash, stateRoot };
    if (block.height === finalized.height && !equalBytes(stateRoot, finalized.stateRoot))
      throw new ConflictingFinalityError(block.height, `state root at ${block.height} differs from the certified one`);
    // Before the pointer moves, so a pass cut short settles again when it is retried (settle is idempotent).
    if (deps.pool && block.transactions.length > 0)
      await deps.pool.settle(
        block.transactions.map((tx) => pendingOf(chain.app, tx)),
        block.height,
      );
    if (audit) await audit;
    if (!(await deps.applied.advanceApplied(applied, next))) {
      // Someone else applied this height concurrently: continue from whatever they reached.
      const now = (await deps.applied.applied()) ?? chain.genesis;
      if (now.height >= finalized.height) return result;
      return mergeResults(result, await applyFinalized(deps));
    }
    result.applied.push(block.height);
    applied = next;
  }
  if (applied.height < head.finalized.height)
    await deps.transport.send({ queue: 'finalized', region: deps.region }, [{ kind: 'finalized', height: head.finalized.height }]);
  return result;
}

/**
 * Where this pass stops: the finalized checkpoint, or, more than MAX_BLOCKS_PER_PASS above the applied
 * height, the finalized checkpoint at most that far up (as its tallies show it).
 */
async function passTarget(deps: StateFunctionDeps, appliedHeight: number, finalized: Checkpoint): Promise<Checkpoint> {
  const K = deps.chain.set.checkpointInterval;
  const stop = checkpointAtOrBelow(appliedHeight + MAX_BLOCKS_PER_PASS, K);
  if (finalized.height <= appliedHeight + MAX_BLOCKS_PER_PASS || stop <= appliedHeight) return finalized;
  return (await finalizationAt(deps.finality, stop, K))?.source ?? finalized;
}

function mergeResults(a: ApplyResult, b: ApplyResult): ApplyResult {
  return { from: a.from, to: Math.max(a.to, b.to), applied: [...a.applied, ...b.applied], fetched: [...a.fetched, ...b.fetched] };
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
    const stored = await deps.blocks.getBlock(height, hash);
    const block = stored && equalBytes(hashBlock(deps.chain, stored), hash) ? stored : await fetchFromPeers(deps, height, hash, fetched);
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
  throw new BlockUnavailableError(height, toHex(expected), fetched.length);
}
