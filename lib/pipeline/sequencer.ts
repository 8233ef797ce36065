/**
 * Sequencer (home region): orders accepted transactions into blocks, stores them, and sends each
 * proposal to every validator's inbox. Single writer by compare-and-set on the head: a concurrent
 * or retried invocation that lost the race throws, and its batch is redelivered and re-checked
 * against the new head (a transaction already in a block then fails its nonce check, so a retry
 * never includes it twice). A timer may flush a partial block; no rule here reads a clock.
 */
import { txHash, blockHash } from '../core/codec.js';
import { toHex } from '../core/bytes.js';
import { AfgError } from '../core/errors.js';
import type { Block, Transaction } from '../core/types.js';
import { blockToJson } from '../core/wire.js';
import type { ChainContext } from './context.js';
import { MAX_MESSAGE_BYTES, type QueueMessage } from './messages.js';
import type { BlockStore, SequencerHead, SequencerStore, Transport } from './ports.js';

export interface SequencerDeps {
  readonly chain: ChainContext;
  readonly blocks: BlockStore;
  readonly store: SequencerStore;
  readonly transport: Transport;
  readonly maxBlockTransactions: number;
  readonly maxBlockBytes: number;
}

export interface SequencerResult {
  readonly blocks: { height: number; hash: string; transactions: number }[];
  /** Refused for good (bad signature, stale nonce, insufficient balance): logged, never retried. */
  readonly rejected: { hash: string; reason: string; message: string }[];
  /** Indices of messages to redeliver later: transactions whose nonce is ahead of the sender's next one. */
  readonly deferred: number[];
}

/** Another invocation moved the head first; the batch must be retried against the new head. */
export class HeadMovedError extends AfgError<'HEAD_MOVED', { height: number }> {
  constructor(height: number) {
    super('HEAD_MOVED', `sequencer head moved past ${height} concurrently; retry the batch`, { height });
  }
}

// Rough JSON size of one transaction in a proposal (hex fields + decimal strings + keys).
const TX_JSON_BYTES = 330;

/**
 * Handles one batch of ingress messages: transactions are checked (signature, nonce, balance)
 * and ordered; ticks ask for empty blocks up to a height so finality never waits for traffic.
 * @throws HeadMovedError when another invocation advanced the head concurrently.
 */
export async function sequence(deps: SequencerDeps, messages: readonly QueueMessage[]): Promise<SequencerResult> {
  const { chain } = deps;
  let head = (await deps.store.head()) ?? { ...chain.genesis, announced: true };
  if (!head.announced) head = await announce(deps, head);

  const seen = new Set<string>();
  const txs: { tx: Transaction; id: string; index: number }[] = [];
  let tickTo = 0;
  messages.forEach((m, index) => {
    if (m.kind === 'tick') tickTo = Math.max(tickTo, m.height);
    if (m.kind !== 'tx') return;
    const id = toHex(txHash(chain.set.chainId, m.tx));
    if (!seen.has(id)) txs.push({ tx: m.tx, id, index });
    seen.add(id);
  });
  // Queues do not keep order: order each sender's transactions by nonce, senders by key (deterministic).
  txs.sort((a, b) => compareHex(toHex(a.tx.from), toHex(b.tx.from)) || (a.tx.nonce < b.tx.nonce ? -1 : a.tx.nonce > b.tx.nonce ? 1 : 0));

  const result: SequencerResult = { blocks: [], rejected: [], deferred: [] };
  if (txs.length > 0) {
    // Execute once on the head to learn which transactions are valid in this order.
    const trial = await chain.ledger.execute(head.stateRoot, txs.map((t) => t.tx));
    const bad = new Set<number>();
    for (const r of trial.rejected) {
      const item = txs[r.index]!;
      bad.add(r.index);
      if (r.reason === 'BAD_NONCE') {
        const sender = await chain.ledger.account(trial.root, item.tx.from);
        // A nonce ahead of the sender's next one is probably a reordered delivery: retry it later.
        if (item.tx.nonce > (sender?.nonce ?? 0n)) {
          result.deferred.push(item.index);
          continue;
        }
      }
      result.rejected.push({ hash: item.id, reason: r.reason, message: r.message });
    }
    const valid = txs.filter((_, i) => !bad.has(i)).map((t) => t.tx);
    for (const chunk of chunks(valid, deps.maxBlockTransactions, Math.max(1, Math.floor(deps.maxBlockBytes / TX_JSON_BYTES)))) {
      head = await propose(deps, head, chunk, result);
    }
  }
  // A tick says checkpoint `tickTo` was justified: it becomes final once the next checkpoint exists,
  // so propose empty blocks up to it, but only when unfinal blocks carry transactions (otherwise
  // empty blocks would keep finalizing each other forever).
  const K = chain.set.checkpointInterval;
  if (tickTo > 0 && head.height < tickTo + K && (await carriesTransactions(deps.blocks, head, tickTo - K + 1))) {
    while (head.height < tickTo + K) head = await propose(deps, head, [], result);
  }
  return result;
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

const compareHex = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function* chunks<T>(items: readonly T[], maxCount: number, maxBySize: number): Generator<T[]> {
  const size = Math.max(1, Math.min(maxCount, maxBySize));
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

async function propose(deps: SequencerDeps, head: SequencerHead, txs: Transaction[], result: SequencerResult): Promise<SequencerHead> {
  const { chain } = deps;
  const block: Block = { height: head.height + 1, parentHash: head.hash, transactions: txs };
  const hash = blockHash(chain.set.chainId, block);
  const executed = await chain.ledger.execute(head.stateRoot, txs);
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
  if (!block) throw new AfgError('MISSING_BLOCK', `sequencer head block ${toHex(head.hash)} is not in the block store`);
  const inline = JSON.stringify(blockToJson(block)).length <= MAX_MESSAGE_BYTES - 512;
  const message: QueueMessage = { kind: 'proposal', height: head.height, hash: head.hash, ...(inline ? { block } : {}) };
  await Promise.all(deps.chain.set.members.map((m) => deps.transport.send({ queue: 'inbox', region: m.region, member: m.index }, [message])));
  const announced = { ...head, announced: true };
  // Losing this race only means someone else already moved on; the proposal went out either way.
  await deps.store.swapHead(head, announced);
  return announced;
}
