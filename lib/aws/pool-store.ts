/**
 * The transaction pool (PoolStore) in the home region's blocks table, spread over lanes by sender
 * so no partition carries the whole ingress (the old layout kept every pending transaction under
 * one partition key, POOL: about 1,000 writes/s at most on AWS). Rules and order come from
 * lib/pipeline/pool.ts, the same as the in-memory pool.
 *
 * Item layout (pk S + sk S):
 *   pk `PL#<lane>`   sk `#n`                    n (N): pending transactions in the lane (the capacity gate)
 *   pk `PL#<lane>`   sk `<sender>#<sequence>`   an entry: h (hash hex), tx (M, wire JSON), sp (spend, decimal S),
 *                                               at (N, arrival: ms, later = served later), ad (BOOL, admitted),
 *                                               ih (N, height of the including block; absent while pending)
 *   pk `TX#<hash>`   sk `-`                     status: st (pending | included | rejected), ht (N), rs, msg (S)
 * `<lane>` is three digits, `<sender>` hex, `<sequence>` twenty digits (u64), so a sender's entries
 * are one key range in sequence order.
 *
 * Admission, in this order (timeline: nothing is written unless all of it is, and a refusal costs
 * reads only):
 *   1. read the sender's entries (consistent Query on its key range) and the status item;
 *   2. the rules (admissionRefusal) on what was read;
 *   3. reserve room: `ADD n 1` on the lane's counter if n < ceil(capacity / lanes), else 503 (full);
 *   4. one transaction: the entry (if its (sender, sequence) key is free) and the status (if absent
 *      or rejected). If it is cancelled the reservation is given back, and the cancellation says
 *      why: the key was taken meanwhile, or the transaction became known (a transaction still
 *      conflicting after a few retries is answered like a full lane).
 * A concurrent admission of the same sender may pass step 2 with this one; the key condition keeps
 * one transaction per sequence number, while the per-sender cap and the budget may then be exceeded
 * by that concurrency (a transaction the budget does not cover fails execution and is evicted).
 *
 * The counter drifts only when a step 3 is not followed by step 4 or its give-back (a crash in
 * between), or by a repeated decrement; `pending` reads every lane anyway and corrects it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { toHex } from '../core/bytes.js';
import type { TxJsonCodec } from '../core/wire.js';
import {
  admissionRefusal,
  DEFAULT_POOL_LANES,
  fairOrder,
  gapFollowers,
  INCLUDED_KEEP_BLOCKS,
  laneCapacity,
  laneOf,
  POOL_REJECTIONS,
} from '../pipeline/pool.js';
import type { AdmissionView, AdmitOutcome, PendingTransaction, PoolLimits, PoolOutcome, PoolStatus, PoolStore } from '../pipeline/ports.js';
import { batchWrite } from './batch.js';
import { backoffMs, cancellationReasons, isConditionFailed, oldItem, StoreError } from './errors.js';
import { queryAll } from './tables.js';

export interface DynamoPoolOptions {
  /** Lanes the senders are spread over (default DEFAULT_POOL_LANES); every API and the sequencer must agree. */
  readonly lanes?: number;
  /** Milliseconds clock for arrival order (default Date.now); fairness only, never a rule. */
  readonly now?: () => number;
}

interface EntryItem {
  readonly pk: string;
  readonly sk: string;
  readonly h: string;
  readonly tx: unknown;
  readonly sp: string;
  readonly at: number;
  readonly ad: boolean;
  readonly ih?: number;
}

const COUNTER_SK = '#n';
/** Lane counters further above the truth than this are corrected down (reservations in flight stay below it). */
const COUNTER_SLACK = 64;
/** Transactions an admission retries after a TransactionConflict (a concurrent transaction on the same item). */
const CONFLICT_RETRIES = 3;
const ADD_CONCURRENCY = 8;

const lanePk = (lane: number) => `PL#${lane.toString().padStart(3, '0')}`;
const entrySk = (sender: Uint8Array, sequence: bigint) => `${toHex(sender)}#${sequence.toString().padStart(20, '0')}`;
const statusKey = (hash: Uint8Array | string) => ({ pk: `TX#${typeof hash === 'string' ? hash : toHex(hash)}`, sk: '-' });

export class DynamoPoolStore implements PoolStore {
  private readonly lanes: number;
  private readonly now: () => number;
  private lastArrival = 0;

  /**
   * `table` is the home region's blocks table; `codec` the application's transaction JSON codec.
   * @throws RangeError when opts.lanes is not an integer in 1..256.
   */
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly codec: TxJsonCodec<unknown>,
    opts: DynamoPoolOptions = {},
  ) {
    this.lanes = opts.lanes ?? DEFAULT_POOL_LANES;
    if (!Number.isSafeInteger(this.lanes) || this.lanes < 1 || this.lanes > 256)
      throw new RangeError('lanes: expected an integer in 1..256');
    this.now = opts.now ?? Date.now;
  }

  async admit(entry: PendingTransaction, view: AdmissionView, limits: PoolLimits): Promise<AdmitOutcome> {
    const lane = laneOf(entry.sender, this.lanes);
    const [items, known] = await Promise.all([this.senderEntries(lane, entry.sender), this.status(entry.hash)]);
    if (known && known.status !== 'rejected') return { kind: 'known', status: known };
    const refusal = admissionRefusal(
      entry,
      view,
      limits,
      items.map((i) => ({ hash: hexBytes(i.h), sequence: sequenceOf(i.sk), spend: BigInt(i.sp), included: i.ih !== undefined })),
    );
    if (refusal) return { kind: 'refused', refusal };
    if (!(await this.reserve(lane, laneCapacity(limits.capacity, this.lanes))))
      return { kind: 'refused', refusal: { kind: 'full', capacity: limits.capacity } };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.send(new TransactWriteCommand(this.admission(lane, entry, true, 'attribute_not_exists(pk) OR st = :rejected')));
        return { kind: 'admitted' };
      } catch (e) {
        const reasons = cancellationReasons(e);
        if (reasons?.includes('TransactionConflict') && attempt < CONFLICT_RETRIES) continue;
        await this.release(lane, 1);
        if (!reasons) throw e;
        // Still contended after the retries: as busy as a full lane, and answered the same way (retry later).
        if (reasons.includes('TransactionConflict')) return { kind: 'refused', refusal: { kind: 'full', capacity: limits.capacity } };
        const old = (e as { CancellationReasons?: { Item?: unknown }[] }).CancellationReasons;
        if (reasons[1] === 'ConditionalCheckFailed')
          return { kind: 'known', status: (await this.status(entry.hash)) ?? { status: 'pending' } };
        if (reasons[0] === 'ConditionalCheckFailed') {
          const holder = oldItem({ Item: old?.[0]?.Item })?.h;
          return { kind: 'refused', refusal: { kind: 'taken', holder: hexBytes(typeof holder === 'string' ? holder : '') } };
        }
        throw e;
      }
    }
  }

  async status(hash: Uint8Array): Promise<PoolStatus | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: statusKey(hash), ConsistentRead: true }));
    const i = out.Item;
    if (!i) return undefined;
    if (i.st === 'included') return { status: 'included', height: Number(i.ht) };
    if (i.st === 'rejected') return { status: 'rejected', reason: String(i.rs), message: String(i.msg ?? '') };
    return { status: 'pending' };
  }

  async addPending(txs: readonly PendingTransaction[], options: { readonly admitted?: boolean } = {}): Promise<void> {
    const added = new Map<number, number>();
    await mapLimited(txs, ADD_CONCURRENCY, async (t) => {
      const lane = laneOf(t.sender, this.lanes);
      try {
        await this.db.send(new TransactWriteCommand(this.admission(lane, t, options.admitted ?? false, 'attribute_not_exists(pk)')));
        added.set(lane, (added.get(lane) ?? 0) + 1);
      } catch (e) {
        if (!cancellationReasons(e)) throw e; // known already, or its sequence number is held: left as it is
      }
    });
    await Promise.all([...added].map(([lane, n]) => this.release(lane, -n)));
  }

  /** Every lane's items, counter included (consistent Query per lane), indexed by lane. */
  private readLanes(): Promise<Record<string, unknown>[][]> {
    return Promise.all(
      Array.from({ length: this.lanes }, (_, lane) =>
        queryAll(this.db, {
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': lanePk(lane) },
          ConsistentRead: true,
        }),
      ),
    );
  }

  async pending(limit: number, options: { finalizedHeight?: number } = {}): Promise<PendingTransaction[]> {
    const lanes = await this.readLanes();
    const open: (EntryItem & { sender: Uint8Array; sequence: bigint; arrival: number })[] = [];
    const stale: { pk: string; sk: string }[] = [];
    const repairs: Promise<void>[] = [];
    lanes.forEach((items, lane) => {
      let counter = 0;
      let count = 0;
      for (const raw of items) {
        if (raw.sk === COUNTER_SK) {
          counter = Number(raw.n ?? 0);
          continue;
        }
        const i = raw as unknown as EntryItem;
        if (i.ih === undefined) {
          count++;
          const [sender] = i.sk.split('#') as [string];
          open.push({ ...i, sender: hexBytes(sender), sequence: sequenceOf(i.sk), arrival: Number(i.at) });
        } else if (options.finalizedHeight !== undefined && i.ih + INCLUDED_KEEP_BLOCKS <= options.finalizedHeight)
          stale.push({ pk: i.pk, sk: i.sk });
      }
      // Below the truth (a repeated decrement): raise it; far above (reservations never completed): lower it.
      if (counter < count || counter > count + COUNTER_SLACK) repairs.push(this.release(lane, counter - count));
    });
    await Promise.all([batchWrite(this.db, this.table, [], stale), ...repairs]);
    return fairOrder(open)
      .slice(0, limit)
      .map((i) => ({
        hash: hexBytes(i.h),
        tx: this.codec.fromJson(i.tx, 'tx'),
        sender: i.sender,
        sequence: i.sequence,
        spend: BigInt(i.sp),
      }));
  }

  async removePending(outcomes: readonly PoolOutcome[]): Promise<void> {
    const puts: Record<string, unknown>[] = [];
    const deletes: { pk: string; sk: string }[] = [];
    const released = new Map<number, number>();
    const waiting: Promise<unknown>[] = [];
    const rejections: Extract<PoolOutcome, { status: 'rejected' }>[] = [];
    for (const o of outcomes) {
      const lane = laneOf(o.entry.sender, this.lanes);
      const key = { pk: lanePk(lane), sk: entrySk(o.entry.sender, o.entry.sequence) };
      if (o.status === 'waiting') {
        waiting.push(this.sendBack(key, toHex(o.entry.hash)));
        continue;
      }
      if (o.status === 'rejected') {
        rejections.push(o);
        continue;
      }
      // Kept as an included entry (the gap rule and the budget need it until finality), and the status.
      puts.push({ ...this.entryItem(lane, o.entry, true), ih: o.height });
      puts.push({ ...statusKey(o.entry.hash), st: 'included', ht: o.height });
      released.set(lane, (released.get(lane) ?? 0) + 1);
    }
    await Promise.all([...waiting, batchWrite(this.db, this.table, puts, deletes)]);
    for (const r of rejections) await this.reject(r);
    await Promise.all([...released].map(([lane, n]) => this.release(lane, n)));
  }

  /**
   * Reads every lane (consistent Query, as `pending` does); each entry included above `above` becomes
   * pending again in one transaction: the entry loses `ih` only if it still has that height, and the
   * status goes back to pending only if it still says included at it; then the lane counts it again.
   */
  async reopen(above: number): Promise<void> {
    const lanes = await this.readLanes();
    const reopened = new Map<number, number>();
    for (const [lane, items] of lanes.entries())
      for (const raw of items) {
        const i = raw as unknown as EntryItem;
        if (raw.sk === COUNTER_SK || i.ih === undefined || Number(i.ih) <= above) continue;
        try {
          await this.db.send(
            new TransactWriteCommand({
              TransactItems: [
                {
                  Update: {
                    TableName: this.table,
                    Key: { pk: i.pk, sk: i.sk },
                    UpdateExpression: 'REMOVE ih',
                    ConditionExpression: 'ih = :ih',
                    ExpressionAttributeValues: { ':ih': Number(i.ih) },
                  },
                },
                {
                  Put: {
                    TableName: this.table,
                    Item: { ...statusKey(i.h), st: 'pending' },
                    ConditionExpression: 'st = :included AND ht = :ih',
                    ExpressionAttributeValues: { ':included': 'included', ':ih': Number(i.ih) },
                  },
                },
              ],
            }),
          );
          reopened.set(lane, (reopened.get(lane) ?? 0) + 1);
        } catch (e) {
          if (!cancellationReasons(e)) throw e; // changed meanwhile: left as it is
        }
      }
    await Promise.all([...reopened].map(([lane, n]) => this.release(lane, -n)));
  }

  /**
   * Reads the statuses (consistent BatchGetItem, 100 keys a call: one read unit per transaction); a
   * pending one becomes included as removePending does (entry, status, lane counter), any other
   * status not already included at `height` gets its status corrected; unknown ones cost the read only.
   */
  async settle(txs: readonly PendingTransaction[], height: number): Promise<void> {
    const statuses = await this.statuses(txs.map((t) => toHex(t.hash)));
    const pending: PendingTransaction[] = [];
    const corrected: Record<string, unknown>[] = [];
    for (const t of txs) {
      const s = statuses.get(toHex(t.hash));
      if (!s || (s.st === 'included' && Number(s.ht) === height)) continue;
      if (s.st === 'pending') pending.push(t);
      else corrected.push({ ...statusKey(t.hash), st: 'included', ht: height });
    }
    if (pending.length > 0) await this.removePending(pending.map((entry) => ({ entry, status: 'included' as const, height })));
    if (corrected.length > 0) await batchWrite(this.db, this.table, corrected, []);
  }

  /** The status items of `hashes` that exist, by hash (hex). */
  private async statuses(hashes: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    const keys = [...new Set(hashes)];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, unknown>[] = keys.slice(i, i + 100).map(statusKey);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        const res = await this.db.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }));
        for (const item of res.Responses?.[this.table] ?? []) out.set(String(item.pk).slice(3), item);
        pending = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
        if (attempt >= 8 && pending.length > 0)
          throw new StoreError('UNPROCESSED_ITEMS', `${pending.length} pool status reads left unprocessed`, {
            table: this.table,
            unprocessed: pending.length,
          });
      }
    }
    return out;
  }

  /** One rejection: the status (never over an included one), the entry if it is still this pending one, then its gap followers. */
  private async reject(o: Extract<PoolOutcome, { status: 'rejected' }>): Promise<void> {
    const hash = toHex(o.entry.hash);
    const lane = laneOf(o.entry.sender, this.lanes);
    const marked = await this.markRejected(hash, o.reason, o.message);
    if (!marked) return;
    const removed = await this.deleteEntry({ pk: lanePk(lane), sk: entrySk(o.entry.sender, o.entry.sequence) }, hash);
    if (removed) await this.release(lane, 1);
    if (o.sequenceUsed || !removed) return;
    const followers = gapFollowers(
      o.entry.sequence,
      (await this.senderEntries(lane, o.entry.sender)).map((i) => ({
        ...i,
        sequence: sequenceOf(i.sk),
        admitted: i.ad === true,
        included: i.ih !== undefined,
      })),
    );
    for (const f of followers)
      if (
        await this.markRejected(
          f.h,
          POOL_REJECTIONS.gap,
          `sequence ${o.entry.sequence} of this sender was rejected (${o.reason}); resubmit from there`,
        )
      )
        if (await this.deleteEntry({ pk: f.pk, sk: f.sk }, f.h)) await this.release(lane, 1);
  }

  /** Status rejected unless it is included already; false when it is. */
  private async markRejected(hash: string, reason: string, message: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: statusKey(hash),
          UpdateExpression: 'SET st = :r, rs = :rs, msg = :msg',
          ConditionExpression: 'attribute_not_exists(st) OR st <> :i',
          ExpressionAttributeValues: { ':r': 'rejected', ':rs': reason, ':msg': message, ':i': 'included' },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  /** Deletes the entry at `key` if it is still the pending transaction `hash`; true when this call did. */
  private async deleteEntry(key: { pk: string; sk: string }, hash: string): Promise<boolean> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: key,
          ConditionExpression: 'h = :h AND attribute_not_exists(ih)',
          ExpressionAttributeValues: { ':h': hash },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  /** A waiting entry goes to the back of the line: a new arrival time, if it is still this pending one. */
  private async sendBack(key: { pk: string; sk: string }, hash: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET #at = :at',
          ConditionExpression: 'h = :h AND attribute_not_exists(ih)',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':at': this.arrival(), ':h': hash },
        }),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
  }

  /** The writes of one admission: the entry under its (sender, sequence) key and its status. */
  private admission(lane: number, t: PendingTransaction, admitted: boolean, statusCondition: string): TransactWriteCommandInput {
    return {
      TransactItems: [
        {
          Put: {
            TableName: this.table,
            Item: this.entryItem(lane, t, admitted),
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: { ...statusKey(t.hash), st: 'pending' },
            ConditionExpression: statusCondition,
            ...(statusCondition.includes(':rejected') ? { ExpressionAttributeValues: { ':rejected': 'rejected' } } : {}),
          },
        },
      ],
    };
  }

  private entryItem(lane: number, t: PendingTransaction, admitted: boolean): EntryItem {
    return {
      pk: lanePk(lane),
      sk: entrySk(t.sender, t.sequence),
      h: toHex(t.hash),
      tx: this.codec.toJson(t.tx),
      sp: t.spend.toString(),
      at: this.arrival(),
      ad: admitted,
    };
  }

  /** Strictly increasing arrival stamps within this process (ms, or one more than the last). */
  private arrival(): number {
    this.lastArrival = Math.max(this.now(), this.lastArrival + 1);
    return this.lastArrival;
  }

  private async senderEntries(lane: number, sender: Uint8Array): Promise<EntryItem[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':pk': lanePk(lane), ':s': `${toHex(sender)}#` },
      ConsistentRead: true,
    });
    return items as unknown as EntryItem[];
  }

  /** Takes one place in the lane if it has room; false when it is full. */
  private async reserve(lane: number, capacity: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: lanePk(lane), sk: COUNTER_SK },
          UpdateExpression: 'ADD n :one',
          ConditionExpression: 'attribute_not_exists(n) OR n < :cap',
          ExpressionAttributeValues: { ':one': 1, ':cap': capacity },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  /** Gives `count` places back to the lane (negative: takes them). */
  private async release(lane: number, count: number): Promise<void> {
    if (count === 0) return;
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: lanePk(lane), sk: COUNTER_SK },
        UpdateExpression: 'ADD n :d',
        ExpressionAttributeValues: { ':d': -count },
      }),
    );
  }
}

const hexBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const sequenceOf = (sk: string): bigint => BigInt(sk.slice(sk.indexOf('#') + 1));

async function mapLimited<T>(items: readonly T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
