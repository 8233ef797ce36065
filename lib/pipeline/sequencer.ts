/**
 * Sequencer (home region): orders accepted transactions into blocks, stores them, and sends each
 * proposal to every validator's inbox.
 *
 * Accepted transactions first go to a durable pending pool, so the ingress message can be deleted
 * at once and nothing is lost while the sequencer waits. Blocks are paced by justification: the
 * head may run at most two checkpoints ahead of the highest justified one, so under load blocks
 * grow instead of piling up unfinalized (each finality round then covers more transactions).
 * Every justification sends a tick that resumes block building. A local timer may flush a partial
 * block; no rule here reads a clock.
 *
 * Single writer by compare-and-set on the head: an invocation that lost the race throws and its
 * batch is redelivered; transactions already in a block are then refused by the application (a used
 * nonce) and leave the pool, so a retry never includes one twice. The sequencer knows no
 * application rule: it orders by the application's sender and sequence and asks it to execute.
 */

import { toHex } from '../core/bytes.js';
import { isCheckpointHeight } from '../core/ffg.js';
import type { Block } from '../core/types.js';
import { blockToJson } from '../core/wire.js';
import { type ChainContext, hashBlock } from './context.js';
import { HeadMovedError, MissingBlockError } from './errors.js';
import { MAX_MESSAGE_BYTES, type QueueMessage } from './messages.js';
import type { BlockStore, HeadStore, PendingTransaction, SequencerHead, SequencerStore, Transport } from './ports.js';

export interface SequencerDeps {
  readonly chain: ChainContext;
  readonly blocks: BlockStore;
  readonly store: SequencerStore;
  /** The home region's finality head, for pacing. */
  readonly finality: HeadStore;
  readonly transport: Transport;
  readonly maxBlockTransactions: number;
  readonly maxBlockBytes: number;
}

export interface SequencerResult {
  readonly blocks: { height: number; hash: string; transactions: number }[];
  /** Refused for good (the application says it can never apply): logged and dropped from the pool. */
  readonly rejected: { hash: string; reason: string; message: string }[];
  /** Transactions left waiting in the pool (pacing, or not valid yet, e.g. a nonce ahead of the sender's). */
  waiting: number;
}

// Rough JSON size of one transaction in a proposal (hex fields + decimal strings + keys).
const TX_JSON_BYTES = 330;
/** How many checkpoints the head may run ahead of the highest justified checkpoint. */
const MAX_CHECKPOINTS_AHEAD = 2;

/**
 * Handles one batch of ingress messages: transactions join the pending pool; then, while pacing
 * allows, blocks are built from the pool (checked for signature, nonce and balance in order).
 * Ticks ask for empty blocks so a justified checkpoint with transactions gets finalized.
 * @throws HeadMovedError when another invocation advanced the head concurrently.
 */
export async function sequence(deps: SequencerDeps, messages: readonly QueueMessage[]): Promise<SequencerResult> {
  const { chain } = deps;
  const K = chain.set.checkpointInterval;
  let head = (await deps.store.head()) ?? { ...chain.genesis, announced: true };
  if (!head.announced) head = await announce(deps, head);

  let tickTo = 0;
  const incoming: PendingTransaction[] = [];
  for (const m of messages) {
    if (m.kind === 'tick') tickTo = Math.max(tickTo, m.height);
    if (m.kind === 'tx') incoming.push({ hash: chain.app.hash(m.tx), tx: m.tx });
  }
  if (incoming.length > 0) await deps.store.addPending(incoming);

  const result: SequencerResult = { blocks: [], rejected: [], waiting: 0 };
  const { justified } = await deps.finality.head();
  const limit = justified.height + MAX_CHECKPOINTS_AHEAD * K;
  let pool = await deps.store.pending(deps.maxBlockTransactions * 4);
  while (pool.length > 0 && head.height < limit) {
    const { valid, drop } = await selectValid(deps, head, pool, result);
    const perBlock = Math.max(1, Math.min(deps.maxBlockTransactions, Math.floor(deps.maxBlockBytes / TX_JSON_BYTES)));
    const chosen = valid.slice(0, perBlock);
    if (chosen.length === 0) {
      await deps.store.removePending(drop);
      break;
    }
    head = await propose(
      deps,
      head,
      chosen.map((c) => c.tx),
      result,
    );
    await deps.store.removePending([...drop, ...chosen.map((c) => c.hash)]);
    pool = await deps.store.pending(deps.maxBlockTransactions * 4);
  }
  result.waiting = pool.length;
  // Blocks with transactions are followed by empty ones up to the next checkpoint: only
  // checkpoints are voted on, and no later trigger would otherwise complete the interval (K > 1).
  if (result.blocks.length > 0) while (!isCheckpointHeight(head.height, K)) head = await propose(deps, head, [], result);

  // A tick says checkpoint `tickTo` was justified: it becomes final once the next checkpoint exists,
  // so propose empty blocks up to it, but only when unfinal blocks carry transactions (otherwise
  // empty blocks would keep finalizing each other forever).
  if (tickTo > 0 && head.height < tickTo + K && (await carriesTransactions(deps.blocks, head, tickTo - K + 1))) {
    while (head.height < tickTo + K) head = await propose(deps, head, [], result);
  }
  return result;
}

/**
 * Orders the pool (each sender by sequence, senders by key: queues do not keep order) and executes
 * it on the head: returns the valid transactions in block order and the hashes to drop for good.
 * A transaction the application calls retryable (a nonce ahead of the sender's) stays in the pool.
 */
async function selectValid(deps: SequencerDeps, head: SequencerHead, pool: PendingTransaction[], result: SequencerResult) {
  const { app } = deps.chain;
  const ordered = pool
    .map((p) => ({ ...p, sender: toHex(app.sender(p.tx)), sequence: app.sequence(p.tx) }))
    .sort((a, b) => compareStrings(a.sender, b.sender) || (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  const trial = await app.execute(
    head.stateRoot,
    ordered.map((t) => t.tx),
  );
  const bad = new Set<number>();
  const drop: Uint8Array[] = [];
  for (const r of trial.rejected) {
    const item = ordered[r.index]!;
    bad.add(r.index);
    if (r.retryable) continue;
    drop.push(item.hash);
    result.rejected.push({ hash: toHex(item.hash), reason: r.reason, message: r.message });
  }
  return { valid: ordered.filter((_, i) => !bad.has(i)), drop };
}

/** Whether any block on the head's chain at height >= `fromHeight` has transactions. */
async function carriesTransactions(blocks: BlockStore, head: SequencerHead, fromHeight: number): Promise<boolean> {
  let hash = head.hash;
  for (let h = head.height; h >= Math.max(1, fromHeight); h--) {
    const block = await blocks.getBlock(hash);
    if (!block) return false;
    if (block.transactions.length > 0) return true;
    hash = block.parentHash;
  }
  return false;
}

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function propose(deps: SequencerDeps, head: SequencerHead, txs: unknown[], result: SequencerResult): Promise<SequencerHead> {
  const { chain } = deps;
  const block: Block = { height: head.height + 1, parentHash: head.hash, transactions: txs };
  const hash = hashBlock(chain, block);
  const executed = await chain.app.execute(head.stateRoot, txs);
  // Store before moving the head: a crash in between leaves an unreferenced block, never a head without its block.
  await deps.blocks.putBlock(hash, block);
  await deps.blocks.putExecution(hash, executed.root);
  const next: SequencerHead = { height: block.height, hash, stateRoot: executed.root, announced: false };
  if (!(await deps.store.swapHead(head, next))) throw new HeadMovedError(head.height);
  result.blocks.push({ height: block.height, hash: toHex(hash), transactions: txs.length });
  return announce(deps, next, block);
}

/** Sends the head's proposal to every member's inbox, then marks it announced. Validators treat repeats as no-ops. */
async function announce(deps: SequencerDeps, head: SequencerHead, known?: Block): Promise<SequencerHead> {
  const block = known ?? (await deps.blocks.getBlock(head.hash));
  if (!block) throw new MissingBlockError(toHex(head.hash), "the sequencer region's block store");
  const inline = JSON.stringify(blockToJson(block, deps.chain.app)).length <= MAX_MESSAGE_BYTES - 512;
  const message: QueueMessage = { kind: 'proposal', height: head.height, hash: head.hash, ...(inline ? { block } : {}) };
  await Promise.all(
    deps.chain.set.members.map((m) => deps.transport.send({ queue: 'inbox', region: m.region, member: m.index }, [message])),
  );
  const announced = { ...head, announced: true };
  // Losing this race only means someone else already moved on; the proposal went out either way.
  await deps.store.swapHead(head, announced);
  return announced;
}
