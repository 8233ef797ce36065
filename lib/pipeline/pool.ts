/**
 * The transaction pool's rules, shared by every PoolStore (memory.ts, lib/aws/pool-store.ts), so
 * both answer the same: which transactions ingress admits, in what order the sequencer reads them,
 * and on which lane (partition) a sender's transactions live. Pure functions; no store, no clock.
 *
 * Admission (before the API answers 202), against the sender's state at the readable finalized
 * checkpoint (`next`, `budget`) and the sender's entries in the pool (pending, and included ones
 * kept until their block is well below finality):
 *   - one transaction per (sender, sequence): another one holding the number is `taken`;
 *   - `too-far`: sequence >= next + W (`nonceWindow`): a client may run at most W numbers ahead
 *     of what is finalized, so nothing waits in the pool for a gap that may never close;
 *   - `gap`: sequence > next needs sequence - 1 in the pool (pending or included): transactions
 *     arrive in order, so the pool holds no transaction that cannot be included next;
 *   - `sender-full`: a sender holds at most `perSender` pending transactions;
 *   - `over-budget`: the spend must fit in the budget minus what the sender's pool entries at or
 *     above `next` spend (those are not reflected in the finalized state yet);
 *   - `full`: each lane holds at most ceil(capacity / lanes) pending transactions; the excess is
 *     refused (HTTP 503), never queued.
 *
 * Fair order (what the sequencer builds blocks from): each sender's pending transactions by
 * sequence; senders round-robin (one transaction each per round) starting with the one whose next
 * transaction arrived first (one that could not be included yet is sent back: it arrives anew). Never by hash, so no one can grind hashes to go first,
 * and a sender with many pending transactions cannot crowd out one with a few.
 */
import { toHex } from '../core/bytes.js';
import type { Application } from '../core/state-machine.js';
import type { AdmissionView, PendingTransaction, PoolLimits, PoolRefusal } from './ports.js';

/**
 * Defaults: a pool of 1000 pending transactions (two blocks of 500), at most 64 per sender, and a
 * window W of 128 sequence numbers above the finalized next one (a sender keeping 40 transfers/s
 * going with 3 s to finality stays inside it).
 */
export const DEFAULT_POOL_LIMITS: PoolLimits = { capacity: 1000, perSender: 64, nonceWindow: 128 };

/** Lanes (DynamoDB partitions) the pool spreads senders over. */
export const DEFAULT_POOL_LANES = 8;

/**
 * Included entries are kept (for the gap rule and the budget) until their block is this many
 * heights below the sequencer's finalized height: the readable state an API admits against may
 * lag a little behind finality.
 */
export const INCLUDED_KEEP_BLOCKS = 16;

/** The pool's own rejection reasons (besides the application's execution ones). */
export const POOL_REJECTIONS = {
  /** An earlier sequence number of the same sender was rejected: this one can only follow it. */
  gap: 'NONCE_GAP',
} as const;

/** A transaction as the pool holds it: its id and what the pool orders and counts it by, from the application. */
export function pendingOf(app: Pick<Application, 'hash' | 'sender' | 'sequence' | 'spend'>, tx: unknown): PendingTransaction {
  return { hash: app.hash(tx), tx, sender: app.sender(tx), sequence: app.sequence(tx), spend: app.spend(tx) };
}

/**
 * Validates pool limits and lanes (config, flags). Returns the first problem as `[field, reason]`,
 * or undefined when they are fine.
 */
export function poolLimitsProblem(limits: PoolLimits, lanes: number): [string, string] | undefined {
  if (!Number.isSafeInteger(lanes) || lanes < 1 || lanes > 256) return ['lanes', 'expected an integer in 1..256'];
  if (!Number.isSafeInteger(limits.capacity) || limits.capacity < lanes)
    return ['capacity', `expected an integer >= lanes (${lanes}): each lane holds ceil(capacity / lanes)`];
  if (!Number.isSafeInteger(limits.perSender) || limits.perSender < 1) return ['perSender', 'expected an integer >= 1'];
  if (!Number.isSafeInteger(limits.nonceWindow) || limits.nonceWindow < 1) return ['nonceWindow', 'expected an integer >= 1'];
  return undefined;
}

/** Pending transactions one lane holds at most. */
export const laneCapacity = (capacity: number, lanes: number): number => Math.ceil(capacity / lanes);

/** The lane of a sender: its first two bytes modulo `lanes` (keys are hashes or public keys, spread evenly). */
export function laneOf(sender: Uint8Array, lanes: number): number {
  return (((sender[0] ?? 0) << 8) | (sender[1] ?? 0)) % lanes;
}

/** One of a sender's entries in the pool, as admission needs it. */
export interface SenderEntry {
  readonly hash: Uint8Array;
  readonly sequence: bigint;
  readonly spend: bigint;
  /** In a block already (kept until well below finality). */
  readonly included: boolean;
}

/**
 * Why `entry` may not join the pool given the sender's `entries` there and `view`, or undefined when
 * it may (the lane's room is checked by the store, atomically with the write). A transaction with
 * the same hash is the caller's business (a resubmission): check it first.
 */
export function admissionRefusal(
  entry: Pick<PendingTransaction, 'sequence' | 'spend'>,
  view: AdmissionView,
  limits: PoolLimits,
  entries: readonly SenderEntry[],
): PoolRefusal | undefined {
  const holder = entries.find((e) => e.sequence === entry.sequence);
  if (holder) return { kind: 'taken', holder: holder.hash };
  if (entry.sequence >= view.next + BigInt(limits.nonceWindow)) return { kind: 'too-far', next: view.next, window: limits.nonceWindow };
  if (entry.sequence > view.next && !entries.some((e) => e.sequence === entry.sequence - 1n))
    return { kind: 'gap', missing: entry.sequence - 1n };
  // Entries below `next` are reflected in the admission state already (or were never applied).
  const live = entries.filter((e) => e.sequence >= view.next);
  const pending = live.filter((e) => !e.included).length;
  if (pending >= limits.perSender) return { kind: 'sender-full', pending, cap: limits.perSender };
  const committed = live.reduce((sum, e) => sum + e.spend, 0n);
  if (committed + entry.spend > view.budget) return { kind: 'over-budget', budget: view.budget, committed };
  return undefined;
}

/** A pending entry as fair ordering needs it: `arrival` orders senders (smaller = earlier). */
export interface Orderable {
  readonly sender: Uint8Array;
  readonly sequence: bigint;
  readonly arrival: number;
}

/**
 * `entries` in fair order: rounds over the senders, each round taking every sender's next
 * transaction by sequence; within a round, senders by the arrival of their next (lowest sequence)
 * pending entry, so a sender whose next transaction was sent back waits behind the others
 * (ties by sender key, so the order is deterministic). A sender's transactions keep their sequence
 * order, so a block cut anywhere executes each sender in order.
 */
export function fairOrder<T extends Orderable>(entries: readonly T[]): T[] {
  const bySender = new Map<string, T[]>();
  for (const e of entries) {
    const key = toHex(e.sender);
    const list = bySender.get(key);
    if (list) list.push(e);
    else bySender.set(key, [e]);
  }
  const queues = [...bySender].map(([key, list]) => {
    list.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
    return { key, list, first: list[0]!.arrival };
  });
  queues.sort((a, b) => a.first - b.first || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: T[] = [];
  let active = queues;
  for (let round = 0; active.length > 0; round++) {
    for (const q of active) out.push(q.list[round]!);
    active = active.filter((q) => q.list.length > round + 1);
  }
  return out;
}

/**
 * The admitted entries a rejection takes with it: a sender's admitted transactions above a rejected
 * one can only follow it (admission let them in behind it), so they are evicted with NONCE_GAP.
 * Not when the rejected transaction's sequence number was used already (a stale one): nothing
 * behind it waits for it.
 */
export function gapFollowers<T extends { readonly sequence: bigint; readonly admitted: boolean; readonly included: boolean }>(
  rejectedSequence: bigint,
  senderEntries: readonly T[],
): T[] {
  return senderEntries.filter((e) => e.admitted && !e.included && e.sequence > rejectedSequence);
}
