/**
 * The store contract against the DynamoDB stores on the real DynamoDB Local (fresh tables per test,
 * one table prefix per file), plus the SQS transport against the fauxqs emulator.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { DynamoBlockStore, DynamoSequencerStore } from '../../lib/aws/block-store.js';
import { DynamoFinalityStore, DynamoSlashingProtectionStore } from '../../lib/aws/finality-store.js';
import { ensureQueue } from '../../lib/aws/queues.js';
import { DynamoAppliedStore, DynamoNodeStore } from '../../lib/aws/state-store.js';
import { ensureTables, queryAll } from '../../lib/aws/tables.js';
import { queueOf, SqsTransport } from '../../lib/aws/transport.js';
import { resourceNames } from '../../lib/config.js';
import { toHex } from '../../lib/core/bytes.js';
import { padHeight } from '../../lib/core/ids.js';
import { transferApplication } from '../../lib/core/ledger.js';
import { decodeMessage, type QueueMessage } from '../../lib/pipeline/messages.js';
import type { Destination } from '../../lib/pipeline/ports.js';
import { uniqueName, useEmbeddedServices } from '../helpers/embedded.js';
import { block, bytes, checkpoint, describeStoreContract } from '../stores/contract.js';

const CODEC = transferApplication.codec(new Uint8Array(32));

const env = useEmbeddedServices();
const REGION = 'eu-west-1';
const FILE_PREFIX = uniqueName('stores');
let tables = 0;

describeStoreContract('DynamoDB Local', async () => {
  const db = env().aws.dynamo(REGION);
  const prefix = `${FILE_PREFIX}-${++tables}`;
  await ensureTables(db, prefix);
  const names = resourceNames(prefix);
  const genesis = checkpoint(0);
  return {
    genesis,
    blocks: new DynamoBlockStore(db, names.blocksTable, CODEC),
    sequencer: new DynamoSequencerStore(db, names.blocksTable, CODEC),
    protection: new DynamoSlashingProtectionStore(db, names.finalityTable),
    finality: new DynamoFinalityStore(db, names.finalityTable, genesis),
    applied: new DynamoAppliedStore(db, names.stateTable),
    nodes: new DynamoNodeStore(db, names.stateTable),
  };
});

describe('DynamoBlockStore on DynamoDB Local', () => {
  it('stores a block above the item limit as gzipped parts, and a second put is a no-op', async () => {
    const db = env().aws.dynamo(REGION);
    const prefix = `${FILE_PREFIX}-big`;
    await ensureTables(db, prefix);
    const table = resourceNames(prefix).blocksTable;
    const store = new DynamoBlockStore(db, table, CODEC);
    const hash = bytes(32);
    const big = block(2, bytes(32), 3_000);
    await store.putBlock(hash, big);
    await store.putBlock(hash, big); // the transaction is cancelled on the block item's condition: mapped to success
    const items = await queryAll(db, {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `B#${padHeight(2)}` },
    });
    const id = toHex(hash);
    expect(items.map((i) => i.sk)).toEqual([id, `${id}#P0000`, `${id}#P0001`]);
    expect(items[0]).toMatchObject({ parts: 2 });
    expect(await store.getBlock(2, hash)).toEqual(big);
    expect((await store.hashesAt(2)).map(toHex)).toEqual([id]);
  });
});

describe('ensureTables', () => {
  it('is idempotent', async () => {
    const db = env().aws.dynamo(REGION);
    const prefix = uniqueName('ensure');
    await ensureTables(db, prefix);
    await ensureTables(db, prefix);
    const store = new DynamoBlockStore(db, resourceNames(prefix).blocksTable, CODEC);
    expect(await store.tip(1, 8)).toBeUndefined();
  });
});

describe('SqsTransport (fauxqs)', () => {
  const HOME = 'eu-west-1';
  const OTHER = 'us-east-1';

  it('routes each destination to its queue and region with encodeMessage bodies', async () => {
    const { aws } = env();
    const prefix = uniqueName('tr');
    const destinations: Destination[] = [
      { queue: 'ingress' },
      { queue: 'inbox', region: OTHER, member: 3 },
      { queue: 'votes', region: OTHER },
      { queue: 'finalized', region: HOME },
    ];
    const urls = await Promise.all(
      destinations.map((d) => {
        const { region, queue } = queueOf(prefix, HOME, d);
        return ensureQueue(aws.sqs(region), queue, { visibilityTimeoutSeconds: 30 });
      }),
    );
    const transport = new SqsTransport({ codec: CODEC, aws, prefix, homeRegion: HOME });
    const ticks: QueueMessage[] = Array.from({ length: 12 }, (_, i) => ({ kind: 'tick', height: i + 1 }));
    await transport.send({ queue: 'ingress' }, ticks); // more than one SendMessageBatch (10 per call)
    await transport.send({ queue: 'finalized', region: HOME }, [{ kind: 'finalized', height: 4 }]);
    await transport.send({ queue: 'votes', region: OTHER }, []);

    const receiveAll = async (region: string, url: string) => {
      const bodies: string[] = [];
      for (;;) {
        const out = await aws.sqs(region).send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!out.Messages?.length) return bodies;
        bodies.push(...out.Messages.map((m) => m.Body ?? ''));
      }
    };
    const ingress = (await receiveAll(HOME, urls[0]!)).map((b) => decodeMessage(b, ['tick'], CODEC));
    expect(ingress.map((m) => m.height).sort((a, b) => a - b)).toEqual(ticks.map((t) => (t as { height: number }).height));
    expect((await receiveAll(HOME, urls[3]!)).map((b) => decodeMessage(b, ['finalized'], CODEC))).toEqual([
      { kind: 'finalized', height: 4 },
    ]);
    expect(await receiveAll(OTHER, urls[1]!)).toEqual([]);
    expect(await receiveAll(OTHER, urls[2]!)).toEqual([]);
  });

  it('refuses to send to a queue that does not exist', async () => {
    const { aws } = env();
    const transport = new SqsTransport({ codec: CODEC, aws, prefix: uniqueName('none'), homeRegion: HOME });
    await expect(transport.send({ queue: 'votes', region: HOME }, [{ kind: 'finalized', height: 1 }])).rejects.toThrow();
  });
});
