/**
 * BlockStore and SequencerStore over one region's blocks table (pk S + sk S).
 *
 * Item layout:
 *   pk `B#<padHeight>`   sk `<hash>`         json (S, the block's wire JSON) or parts (N)
 *   pk `B#<padHeight>`   sk `<hash>#P<0000>` gz (B): part i of the gzipped wire JSON of a block too large to inline
 *   pk `F#<padHeight>`   sk `-`              hash (S hex): the finalized block at a non-checkpoint height (written by the state function)
 *   pk `SEQ`             sk `-`              height (N), hash, stateRoot (S hex), view (N, absent for 0), w (S write token)
 *   pk `PL#<lane>`, `TX#<hash>`              the transaction pool and statuses (pool-store.ts)
 *   pk `PACEMAKER`       sk `-`              generation (N): the live pacemaker chain (lib/pipeline/sequencer.ts)
 *
 * One item per block, keyed by height and hash: every block write is one idempotent put, and
 * `hashesAt` is one query. Readers check a block against the hash they expect (content addressing).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { fromHex, toHex } from '../core/bytes.js';
import { InputError } from '../core/errors.js';
import { padHeight } from '../core/ids.js';
import type { Block } from '../core/types.js';
import { blockFromJson, blockToJson, type TxJsonCodec } from '../core/wire.js';
import type {
  AdmissionView,
  AdmitOutcome,
  BlockStore,
  PendingTransaction,
  PoolLimits,
  PoolOutcome,
  PoolStatus,
  SequencerHead,
  SequencerStore,
} from '../pipeline/ports.js';
import { batchWrite } from './batch.js';
import { cancellationReasons, putOnce, StoreError } from './errors.js';
import { type DynamoPoolOptions, DynamoPoolStore } from './pool-store.js';
import { queryAll } from './tables.js';

/** Largest wire JSON stored inline in the block item (DynamoDB items are limited to 400 KB). */
export const INLINE_BLOCK_BYTES = 350_000;
/** Size of one gzipped part of a large block. */
export const BLOCK_PART_BYTES = 350_000;
/** Parts of one block, all written in one transaction (TransactWriteItems: 100 items, 4 MB in total). */
export const MAX_BLOCK_PARTS = 10;

const PACEMAKER_KEY = { pk: 'PACEMAKER', sk: '-' };
const blockKey = (height: number, hash: Uint8Array) => ({ pk: `B#${padHeight(height)}`, sk: toHex(hash) });
const partSk = (blockSk: string, i: number) => `${blockSk}#P${i.toString().padStart(4, '0')}`;

export interface BlockStoreOptions {
  /** Most gzipped parts of one block (default MAX_BLOCK_PARTS; at most 99, as the block item shares the transaction). */
  readonly maxParts?: number;
}

export class DynamoBlockStore implements BlockStore {
  private readonly maxParts: number;

  /**
   * `codec` is the application's transaction JSON codec (blocks are stored as their wire JSON).
   * @throws InputError when opts.maxParts is not an integer in [1, 99].
   */
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly codec: TxJsonCodec<unknown>,
    opts: BlockStoreOptions = {},
  ) {
    this.maxParts = opts.maxParts ?? MAX_BLOCK_PARTS;
    if (!Number.isInteger(this.maxParts) || this.maxParts < 1 || this.maxParts > 99)
      throw new InputError('maxParts', 'expected an integer in [1, 99]');
  }

  /**
   * Stores the block under its height and hash (idempotent: one item, or its gzipped parts for a block
   * too large for one item).
   * @throws StoreError ITEM_TOO_LARGE when the gzipped block needs more than `maxParts` parts (nothing is written).
   */
  async putBlock(hash: Uint8Array, block: Block): Promise<void> {
    const json = JSON.stringify(blockToJson(block, this.codec));
    // Content-addressed: an existing item under this key is this block (ours or a retry's), so a plain put is idempotent.
    if (Buffer.byteLength(json) <= INLINE_BLOCK_BYTES)
      await this.db.send(new PutCommand({ TableName: this.table, Item: { ...blockKey(block.height, hash), json } }));
    else await this.putLargeBlock(hash, block.height, gzipSync(json));
  }

  /** Parts and the block item in one transaction, so a reader never sees the block item without all its parts. */
  private async putLargeBlock(hash: Uint8Array, height: number, gz: Uint8Array): Promise<void> {
    const parts = Math.ceil(gz.length / BLOCK_PART_BYTES);
    const key = blockKey(height, hash);
    if (parts > this.maxParts)
      throw new StoreError(
        'ITEM_TOO_LARGE',
        `block ${toHex(hash)} is ${gz.length} bytes gzipped; at most ${this.maxParts * BLOCK_PART_BYTES} fit`,
        { table: this.table, key: `${key.pk}/${key.sk}`, bytes: gz.length },
      );
    const items = Array.from({ length: parts }, (_, i) => ({
      Put: {
        TableName: this.table,
        Item: { pk: key.pk, sk: partSk(key.sk, i), gz: gz.subarray(i * BLOCK_PART_BYTES, (i + 1) * BLOCK_PART_BYTES) },
      },
    }));
    try {
      // The SDK reuses one ClientRequestToken across its retries, so a retried transaction is idempotent too.
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            ...items,
            // Guards: the block is already stored (by us earlier or another invocation); then the transaction is a no-op.
            { Put: { TableName: this.table, Item: { ...key, parts }, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      );
    } catch (e) {
      const reasons = cancellationReasons(e);
      const stored = reasons?.[parts] === 'ConditionalCheckFailed' && reasons.every((r) => r === 'None' || r === 'ConditionalCheckFailed');
      if (!stored) throw e;
    }
  }

  async getBlock(height: number, hash: Uint8Array): Promise<Block | undefined> {
    const key = blockKey(height, hash);
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    const item = out.Item;
    if (item === undefined) return undefined;
    if (typeof item.json === 'string') return blockFromJson(JSON.parse(item.json), this.codec, 'block');
    const parts = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': key.pk, ':p': `${key.sk}#P` },
      ConsistentRead: true,
    });
    if (parts.length !== item.parts)
      throw new StoreError('CORRUPT_ITEM', `block ${toHex(hash)} has ${parts.length} of ${String(item.parts)} parts`, {
        table: this.table,
        key: `${key.pk}/${key.sk}`,
      });
    const gz = Buffer.concat(parts.map((p) => p.gz as Uint8Array));
    return blockFromJson(JSON.parse(gunzipSync(gz).toString('utf8')), this.codec, 'block');
  }

  async hashesAt(height: number): Promise<Uint8Array[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `B#${padHeight(height)}` },
      ProjectionExpression: 'sk',
      ConsistentRead: true,
    });
    return items.filter((i) => !String(i.sk).includes('#')).map((i) => fromHex(i.sk, 32, 'sk'));
  }

  async tip(from: number, span: number): Promise<{ height: number; hash: Uint8Array } | undefined> {
    let found: { height: number; hash: Uint8Array } | undefined;
    for (let h = from; h < from + span; h++) {
      const [hash] = await this.hashesAt(h);
      if (!hash) break;
      found = { height: h, hash };
    }
    return found;
  }

  async indexFinalized(entries: readonly { height: number; hash: Uint8Array }[]): Promise<void> {
    // Plain puts are idempotent: a height's finalized block never changes.
    await batchWrite(
      this.db,
      this.table,
      entries.map((e) => ({ pk: `F#${padHeight(e.height)}`, sk: '-', hash: toHex(e.hash) })),
    );
  }

  async finalizedHash(height: number): Promise<Uint8Array | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: `F#${padHeight(height)}`, sk: '-' }, ConsistentRead: true }),
    );
    return out.Item ? fromHex(out.Item.hash, 32, 'hash') : undefined;
  }
}

/** The sequencer's head and pacemaker in the home region's blocks table, and the pool beside them (DynamoPoolStore). */
export class DynamoSequencerStore implements SequencerStore {
  private readonly pool: DynamoPoolStore;

  /** `codec` is the application's transaction JSON codec (pool items hold the transaction's wire JSON). */
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    codec: TxJsonCodec<unknown>,
    poolOptions: DynamoPoolOptions = {},
  ) {
    this.pool = new DynamoPoolStore(db, table, codec, poolOptions);
  }

  async head(): Promise<SequencerHead | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: 'SEQ', sk: '-' }, ConsistentRead: true }));
    const i = out.Item;
    if (i === undefined) return undefined;
    return {
      height: i.height as number,
      hash: fromHex(i.hash, 32, 'hash'),
      stateRoot: fromHex(i.stateRoot, 32, 'stateRoot'),
      ...(typeof i.view === 'number' && i.view > 0 ? { view: i.view } : {}),
    };
  }

  async swapHead(expected: SequencerHead, next: SequencerHead): Promise<boolean> {
    // Timeline guarded: two invocations read head h and both propose h+1; only the first write may move the
    // head, the second must see that h is gone and retry its batch.
    return putOnce(this.db, {
      TableName: this.table,
      Item: {
        pk: 'SEQ',
        sk: '-',
        height: next.height,
        hash: toHex(next.hash),
        stateRoot: toHex(next.stateRoot),
        ...(next.view ? { view: next.view } : {}),
      },
      // A table without the item is at genesis (height 0), like the applied pointer.
      ConditionExpression: `${expected.height === 0 ? 'attribute_not_exists(pk) OR ' : ''}(height = :h AND #hash = :hash)`,
      ExpressionAttributeNames: { '#hash': 'hash' },
      ExpressionAttributeValues: { ':h': expected.height, ':hash': toHex(expected.hash) },
    });
  }

  async pacemaker(): Promise<number> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: PACEMAKER_KEY, ConsistentRead: true }));
    return Number(out.Item?.generation ?? 0);
  }

  async swapPacemaker(expected: number, next: number): Promise<boolean> {
    // Timeline guarded: two arming batches (or a fired tick and an arming batch) read generation g; only
    // one may start generation g+1, so exactly one pacemaker chain stays live.
    return putOnce(this.db, {
      TableName: this.table,
      Item: { ...PACEMAKER_KEY, generation: next },
      ConditionExpression: expected === 0 ? 'attribute_not_exists(pk) OR generation = :e' : 'generation = :e',
      ExpressionAttributeValues: { ':e': expected },
    });
  }

  admit(entry: PendingTransaction, view: AdmissionView, limits: PoolLimits): Promise<AdmitOutcome> {
    return this.pool.admit(entry, view, limits);
  }
  status(hash: Uint8Array): Promise<PoolStatus | undefined> {
    return this.pool.status(hash);
  }
  addPending(txs: readonly PendingTransaction[], options?: { readonly admitted?: boolean }): Promise<void> {
    return this.pool.addPending(txs, options);
  }
  pending(limit: number, options?: { finalizedHeight?: number }): Promise<PendingTransaction[]> {
    return this.pool.pending(limit, options);
  }
  removePending(outcomes: readonly PoolOutcome[]): Promise<void> {
    return this.pool.removePending(outcomes);
  }

  reopen(above: number): Promise<void> {
    return this.pool.reopen(above);
  }
  settle(txs: readonly PendingTransaction[], height: number): Promise<void> {
    return this.pool.settle(txs, height);
  }
}
