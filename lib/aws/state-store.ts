/**
 * The state function's AppliedStore and the ledger's sparse-Merkle-tree NodeStore over one region's
 * state table (pk S + sk S).
 *
 * Item layout:
 *   pk `APPLIED`   sk `-`   height (N), hash (S hex), stateRoot (S hex), w (S write token): the applied pointer
 *   pk `N#<hash>`  sk `-`   b (B): encoded SMT node; content-addressed, written once, never changed
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { fromHex, toHex } from '../core/bytes.js';
import type { NodeStore } from '../core/smt.js';
import type { AppliedHead, AppliedStore } from '../pipeline/ports.js';
import { backoffMs, putOnce, StoreError } from './errors.js';

const APPLIED_KEY = { pk: 'APPLIED', sk: '-' };

export class DynamoAppliedStore implements AppliedStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async applied(): Promise<AppliedHead | undefined> {
    // Strongly consistent: a compare-and-set is only as good as the read it is based on.
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: APPLIED_KEY, ConsistentRead: true }));
    const i = out.Item;
    return i === undefined
      ? undefined
      : { height: i.height as number, hash: fromHex(i.hash, 32, 'hash'), stateRoot: fromHex(i.stateRoot, 32, 'stateRoot') };
  }

  async advanceApplied(expected: AppliedHead, next: AppliedHead): Promise<boolean> {
    // Timeline guarded: two state-function invocations both read the pointer at h and apply h+1; only the first
    // write may move it, the loser re-reads (so no block is applied twice or skipped). A table without the item
    // is at height 0 (genesis).
    return putOnce(this.db, {
      TableName: this.table,
      Item: { ...APPLIED_KEY, height: next.height, hash: toHex(next.hash), stateRoot: toHex(next.stateRoot) },
      ConditionExpression: expected.height === 0 ? 'attribute_not_exists(pk) OR height = :e' : 'height = :e',
      ExpressionAttributeValues: { ':e': expected.height },
    });
  }
}

/** Most put requests in one BatchWriteItem call. */
export const BATCH_WRITE_ITEMS = 25;

export interface NodeStoreOptions {
  /** BatchWriteItem calls in flight at once (default 4). */
  readonly concurrency?: number;
  /** Attempts for items DynamoDB returns as unprocessed (default 8). */
  readonly attempts?: number;
  /** First backoff before re-sending unprocessed items, doubled each attempt, with jitter (default 25 ms). */
  readonly backoffMs?: number;
}

/** SMT nodes by hash. Reads are strongly consistent so a node written by another invocation just before is seen. */
export class DynamoNodeStore implements NodeStore {
  private readonly concurrency: number;
  private readonly attempts: number;
  private readonly baseMs: number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    opts: NodeStoreOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 4;
    this.attempts = opts.attempts ?? 8;
    this.baseMs = opts.backoffMs ?? 25;
  }

  async get(hash: Uint8Array): Promise<Uint8Array | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: `N#${toHex(hash)}`, sk: '-' }, ConsistentRead: true }),
    );
    return out.Item?.b as Uint8Array | undefined;
  }

  /**
   * Writes the nodes with BatchWriteItem, 25 per call (duplicates removed: a batch may not name one key twice).
   * Plain puts are idempotent here (content addressing). Unprocessed items are re-sent with backoff.
   * @throws StoreError UNPROCESSED_ITEMS when items are still unprocessed after `attempts`; SDK errors pass through.
   */
  async putMany(nodes: { hash: Uint8Array; bytes: Uint8Array }[]): Promise<void> {
    const unique = new Map<string, Uint8Array>();
    for (const n of nodes) unique.set(toHex(n.hash), n.bytes);
    const requests = [...unique].map(([hex, b]) => ({ PutRequest: { Item: { pk: `N#${hex}`, sk: '-', b } } }));
    const chunks: (typeof requests)[] = [];
    for (let i = 0; i < requests.length; i += BATCH_WRITE_ITEMS) chunks.push(requests.slice(i, i + BATCH_WRITE_ITEMS));
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) await this.writeChunk(chunks[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, chunks.length) }, worker));
  }

  private async writeChunk(chunk: { PutRequest: { Item: Record<string, unknown> } }[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 1; ; attempt++) {
      const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
      pending = (out.UnprocessedItems?.[this.table] ?? []) as typeof pending;
      if (pending.length === 0) return;
      if (attempt >= this.attempts)
        throw new StoreError('UNPROCESSED_ITEMS', `${pending.length} node(s) still unprocessed after ${attempt} BatchWriteItem attempts`, {
          table: this.table,
          unprocessed: pending.length,
        });
      // DynamoDB returns unprocessed items when a partition is throttled; back off before re-sending them.
      await sleep(backoffMs(attempt, this.baseMs));
    }
  }
}
