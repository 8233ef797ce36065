/**
 * Error paths a live service cannot be made to produce on demand: throttling, a conditional failure
 * caused by our own landed write (a retried request), transaction cancellation, unprocessed batch
 * items, refused SQS entries, and unknown errors passing through unchanged.
 *
 * Throttling runs the real client from createClientFactory against a tiny HTTP stub, because
 * aws-sdk-client-mock replaces `send` and so would bypass the SDK retry strategy under test. The
 * rest uses aws-sdk-client-mock, arranged as prepare / act / assess.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { MetadataBearer } from '@smithy/types';
import { type AwsStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBlockStore, DynamoSequencerStore } from '../../lib/aws/block-store.js';
import { type ClientFactory, createClientFactory } from '../../lib/aws/clients.js';
import { conditional, StoreError, THROTTLING_ERRORS } from '../../lib/aws/errors.js';
import { DynamoFinalityStore, DynamoSlashingProtectionStore } from '../../lib/aws/finality-store.js';
import { DynamoAppliedStore, DynamoNodeStore } from '../../lib/aws/state-store.js';
import { SqsTransport, TransportError } from '../../lib/aws/transport.js';
import { toHex } from '../../lib/core/bytes.js';
import { linkId } from '../../lib/core/ids.js';
import { transferApplication } from '../../lib/core/ledger.js';
import { block, bytes, certificate, checkpoint, link, vote } from '../stores/contract.js';

const CODEC = transferApplication.codec(new Uint8Array(32));

const TABLE = 'afg-test';

const ccf = (old: Record<string, unknown> | undefined) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(old ? { Item: marshall(old, { removeUndefinedValues: true }) } : {}),
  });

// ---------------------------------------------------------------- throttling (real SDK retry strategy)

describe('throttling is retried by the client factory with backoff', () => {
  let server: Server;
  let endpoint: string;
  /** Error code to answer with, for how many requests; then a successful GetItem. */
  let script: { code: string; times: number };
  let requests: string[];
  const item = { pk: 'APPLIED', sk: '-', height: 3, hash: 'ab'.repeat(32), stateRoot: 'cd'.repeat(32) };

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests.push(String(req.headers['x-amz-target']));
        if (requests.length <= script.times) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': script.code });
          res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${script.code}`, message: 'slow down' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ Item: marshall(item) }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests = [];
  });

  for (const code of THROTTLING_ERRORS) {
    it(`retries ${code} and returns the answer`, async () => {
      // prepare
      script = { code, times: 1 };
      const aws = createClientFactory({ endpoints: { dynamodb: endpoint }, maxAttempts: 3 });
      const store = new DynamoAppliedStore(aws.dynamo('eu-west-1'), TABLE);
      // act
      const applied = await store.applied();
      aws.destroy();
      // assess
      expect(applied?.height).toBe(3);
      expect(requests).toEqual(['DynamoDB_20120810.GetItem', 'DynamoDB_20120810.GetItem']);
    });
  }

  it('gives up after maxAttempts and surfaces the throttling error unchanged', async () => {
    // prepare
    script = { code: 'ThrottlingException', times: 100 };
    const aws = createClientFactory({ endpoints: { dynamodb: endpoint }, maxAttempts: 3 });
    const store = new DynamoAppliedStore(aws.dynamo('eu-west-1'), TABLE);
    // act
    const error = await store.applied().catch((e: unknown) => e);
    aws.destroy();
    // assess
    expect((error as Error).name).toBe('ThrottlingException');
    expect(requests).toHaveLength(3);
  });
});

// ---------------------------------------------------------------- DynamoDB outcomes (aws-sdk-client-mock)

describe('DynamoDB errors mapped to domain outcomes', () => {
  // Mocks are installed per block (not at collection time) so the throttling tests above keep the real send.
  let ddb: AwsStub<object, MetadataBearer, unknown>;
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  beforeAll(() => {
    ddb = mockClient(DynamoDBDocumentClient) as unknown as typeof ddb;
  });
  beforeEach(() => ddb.reset());
  afterAll(() => ddb.restore());

  describe('recordSignature', () => {
    const l = link(checkpoint(0), checkpoint(1));
    const watermark = (of: typeof l, signature: Uint8Array) => ({
      pk: 'WATERMARK#1',
      sk: '-',
      sourceHeight: of.source.height,
      targetHeight: of.target.height,
      id: linkId(of),
      link: {
        era: '0',
        source: { height: 0, hash: toHex(of.source.hash), stateRoot: toHex(of.source.stateRoot) },
        target: { height: 1, hash: toHex(of.target.hash), stateRoot: toHex(of.target.stateRoot) },
      },
      signature: toHex(signature),
    });

    it('returns the stored signature when the failed condition holds the same link', async () => {
      // prepare: the same link was signed before (or our own write landed and the SDK retried it)
      const stored = bytes(48);
      ddb.on(PutCommand).rejects(ccf(watermark(l, stored)));
      // act
      const outcome = await new DynamoSlashingProtectionStore(db, TABLE).recordSignature(1, l, bytes(48));
      // assess
      expect(outcome).toEqual({ kind: 'identical', signature: stored });
      expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({
        ConditionExpression: 'attribute_not_exists(pk) OR (targetHeight < :t AND sourceHeight <= :s)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    });

    it('refuses with the stored link when the failed condition holds another link', async () => {
      // prepare
      const other = link(l.source, checkpoint(1));
      ddb.on(PutCommand).rejects(ccf(watermark(other, bytes(48))));
      // act
      const outcome = await new DynamoSlashingProtectionStore(db, TABLE).recordSignature(1, l, bytes(48));
      // assess
      expect(outcome).toEqual({ kind: 'refused', last: other, watermark: { lastSourceHeight: 0, lastTargetHeight: 1 } });
    });

    it('signs when the write is accepted', async () => {
      ddb.on(PutCommand).resolves({});
      const signature = bytes(48);
      expect(await new DynamoSlashingProtectionStore(db, TABLE).recordSignature(1, l, signature)).toEqual({ kind: 'signed', signature });
    });
  });

  describe('mergeWatermark', () => {
    const heights = (sourceHeight: number, targetHeight: number) => ({ pk: 'WATERMARK#1', sk: '-', sourceHeight, targetHeight });

    it('merges again from the heights a failed condition returns, until its write lands', async () => {
      // prepare: the item rose to (7, 2) and then to (8, 3) while we were merging (5, 9)
      ddb
        .on(UpdateCommand)
        .rejectsOnce(ccf(heights(7, 2)))
        .rejectsOnce(ccf(heights(8, 3)))
        .resolves({});
      // act
      const merged = await new DynamoSlashingProtectionStore(db, TABLE).mergeWatermark(1, { lastSourceHeight: 5, lastTargetHeight: 9 });
      // assess: the pointwise maximum, written with the compare-and-raise condition
      expect(merged).toEqual({ lastSourceHeight: 8, lastTargetHeight: 9 });
      const calls = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      expect(calls.map((c) => c.ExpressionAttributeValues)).toEqual([
        { ':s': 5, ':t': 9 },
        { ':s': 7, ':t': 9 },
        { ':s': 8, ':t': 9 },
      ]);
      expect(calls[0]).toMatchObject({
        UpdateExpression: 'SET sourceHeight = :s, targetHeight = :t',
        ConditionExpression: 'attribute_not_exists(pk) OR (sourceHeight <= :s AND targetHeight <= :t)',
      });
    });

    it('writes nothing more when the stored watermark already covers the floor', async () => {
      ddb.on(UpdateCommand).rejects(ccf(heights(8, 20)));
      const merged = await new DynamoSlashingProtectionStore(db, TABLE).mergeWatermark(1, { lastSourceHeight: 5, lastTargetHeight: 9 });
      expect(merged).toEqual({ lastSourceHeight: 8, lastTargetHeight: 20 });
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    });

    it('gives up with CONTENDED when the item keeps rising', async () => {
      let target = 10;
      ddb.on(UpdateCommand).callsFake(() => Promise.reject(ccf(heights(0, ++target))));
      await expect(
        new DynamoSlashingProtectionStore(db, TABLE).mergeWatermark(1, { lastSourceHeight: 5, lastTargetHeight: 9 }),
      ).rejects.toMatchObject({ code: 'CONTENDED' });
    });
  });

  describe('a failed condition caused by our own landed write counts as success', () => {
    // The fake answers as DynamoDB would on the SDK's retry after a lost response: the item is ours (our token).
    const ours = (input: { Item?: Record<string, unknown>; ExpressionAttributeValues?: Record<string, unknown> }) => {
      const token = input.ExpressionAttributeValues?.[':w'];
      throw ccf({ pk: 'x', sk: '-', ...input.Item, w: input.Item?.w, jw: token });
    };
    const theirs = () => {
      throw ccf({ pk: 'x', sk: '-', w: 'someone-else', jw: 'someone-else' });
    };
    const cases = [
      {
        name: 'advanceApplied',
        act: () => new DynamoAppliedStore(db, TABLE).advanceApplied({ ...checkpoint(0) }, { ...checkpoint(1) }),
        yes: true,
        no: false,
      },
      {
        name: 'swapHead',
        act: () => new DynamoSequencerStore(db, TABLE, CODEC).swapHead({ ...checkpoint(0) }, { ...checkpoint(1) }),
        yes: true,
        no: false,
      },
      {
        name: 'markJustified',
        act: () =>
          new DynamoFinalityStore(db, TABLE, checkpoint(0))
            .markJustified(certificate(link(checkpoint(0), checkpoint(1))))
            .then((t) => t !== undefined),
        yes: true,
        no: false,
      },
      {
        name: 'swapPacemaker',
        act: () => new DynamoSequencerStore(db, TABLE, CODEC).swapPacemaker(0, 1),
        yes: true,
        no: false,
      },
    ];
    for (const c of cases) {
      it(`${c.name}: ours -> ${String(c.yes)}, another writer's -> ${String(c.no)}`, async () => {
        ddb.on(PutCommand).callsFake(ours).on(UpdateCommand).callsFake(ours);
        expect(await c.act()).toBe(c.yes);
        ddb.reset();
        ddb.on(PutCommand).callsFake(theirs).on(UpdateCommand).callsFake(theirs);
        expect(await c.act()).toBe(c.no);
      });
    }
  });

  it('certify returns the certificate already stored when its condition fails, and claims nothing', async () => {
    // prepare
    const l = link(checkpoint(0), checkpoint(1));
    const first = certificate(l, [1, 2, 4]);
    const cert = {
      era: '0',
      source: { height: 0, hash: toHex(l.source.hash), stateRoot: toHex(l.source.stateRoot) },
      target: { height: 1, hash: toHex(l.target.hash), stateRoot: toHex(l.target.stateRoot) },
      signers: [1, 2, 4],
      signature: toHex(first.signature),
    };
    ddb.on(UpdateCommand).rejects(ccf({ pk: 'T#0000000000000001', sk: '-', cert, cid: linkId(l), cw: 'someone-else' }));
    // act
    const stored = await new DynamoFinalityStore(db, TABLE, checkpoint(0)).certify(certificate(l, [1, 2, 3]), true);
    // assess
    expect(stored).toEqual({ certificate: first, created: false, justifiedNow: false });
  });

  describe('TransactionCanceled (large blocks are written in one transaction)', () => {
    const big = block(1, bytes(32), 3_000);
    const cancelled = (codes: string[]) =>
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: codes.map((Code) => ({ Code })),
      });

    it('treats a failed condition on the block item (already stored) as success', async () => {
      // prepare: the block item is the last of the transaction
      ddb.on(TransactWriteCommand).callsFake((input: { TransactItems: unknown[] }) => {
        throw cancelled([...input.TransactItems.slice(1).map(() => 'None'), 'ConditionalCheckFailed']);
      });
      // act
      await new DynamoBlockStore(db, TABLE, CODEC).putBlock(bytes(32), big);
      // assess: one transaction, nothing else (a block is one item, or its parts)
      expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
      expect(ddb.calls()).toHaveLength(1);
    });

    for (const codes of [['ValidationError'], ['TransactionConflict']]) {
      it(`passes a cancellation for ${codes[0]} through unchanged`, async () => {
        // prepare
        let thrown: unknown;
        ddb.on(TransactWriteCommand).callsFake((input: { TransactItems: unknown[] }) => {
          thrown = cancelled([...input.TransactItems.slice(1).map(() => codes[0]!), 'None']);
          throw thrown;
        });
        // act
        const error = await new DynamoBlockStore(db, TABLE, CODEC).putBlock(bytes(32), big).catch((e: unknown) => e);
        // assess
        expect(error).toBe(thrown);
      });
    }
  });

  describe('unknown errors pass through unchanged', () => {
    const boom = Object.assign(new Error('internal failure'), { name: 'InternalServerError' });
    const cases: { name: string; act: () => Promise<unknown> }[] = [
      { name: 'getBlock (read)', act: () => new DynamoBlockStore(db, TABLE, CODEC).getBlock(1, bytes(32)) },
      {
        name: 'recordSignature (conditional put)',
        act: () => new DynamoSlashingProtectionStore(db, TABLE).recordSignature(1, link(checkpoint(0), checkpoint(1)), bytes(48)),
      },
      {
        name: 'raiseHead (conditional update)',
        act: () => new DynamoFinalityStore(db, TABLE, checkpoint(0)).raiseHead({ justified: checkpoint(2) }),
      },
      {
        name: 'recordVote (condition mapped, errors not)',
        act: () => new DynamoFinalityStore(db, TABLE, checkpoint(0)).recordVote(vote(link(checkpoint(0), checkpoint(1)), 1)),
      },
      { name: 'putMany (batch write)', act: () => new DynamoNodeStore(db, TABLE).putMany([{ hash: bytes(32), bytes: bytes(10) }]) },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        ddb.onAnyCommand().rejects(boom);
        expect(await c.act().catch((e: unknown) => e)).toBe(boom);
      });
    }

    it('conditional() rethrows anything but ConditionalCheckFailedException', async () => {
      await expect(conditional(() => Promise.reject(boom))).rejects.toBe(boom);
      expect(await conditional(() => Promise.reject(ccf(undefined)))).toEqual({ ok: false, old: undefined });
      expect(await conditional(() => Promise.resolve())).toEqual({ ok: true });
    });
  });

  describe('BatchWriteItem unprocessed items', () => {
    const nodes = Array.from({ length: 30 }, () => ({ hash: bytes(32), bytes: bytes(8) }));

    it('re-sends only the unprocessed items until none are left', async () => {
      // prepare: the first call of each chunk leaves its first 3 items unprocessed
      const seen = new Set<string>();
      ddb.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, { PutRequest: { Item: { pk: string } } }[]> }) => {
        const requests = input.RequestItems[TABLE]!;
        const key = requests.map((r) => r.PutRequest.Item.pk).join();
        if (seen.has(key) || requests.length <= 3) return {};
        seen.add(key);
        return { UnprocessedItems: { [TABLE]: requests.slice(0, 3) } };
      });
      // act
      await new DynamoNodeStore(db, TABLE, { backoffMs: 1 }).putMany(nodes);
      // assess: 2 chunks (25 + 5), each sent once in full and once with its 3 unprocessed items
      const sizes = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems![TABLE]!.length);
      expect(sizes.sort((a, b) => a - b)).toEqual([3, 3, 5, 25]);
      const written = new Set(
        ddb.commandCalls(BatchWriteCommand).flatMap((c) => c.args[0].input.RequestItems![TABLE]!.map((r) => r.PutRequest!.Item!.pk)),
      );
      expect(written).toEqual(new Set(nodes.map((n) => `N#${toHex(n.hash)}`)));
    });

    it('throws StoreError UNPROCESSED_ITEMS when items stay unprocessed', async () => {
      // prepare
      ddb.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => ({
        UnprocessedItems: { [TABLE]: input.RequestItems[TABLE]!.slice(0, 1) },
      }));
      // act
      const error = await new DynamoNodeStore(db, TABLE, { attempts: 3, backoffMs: 1, concurrency: 1 })
        .putMany(nodes.slice(0, 5))
        .catch((e: unknown) => e);
      // assess
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('UNPROCESSED_ITEMS');
      expect((error as StoreError).meta.unprocessed).toBe(1);
      expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(3);
    });
  });

  it('refuses a block too large for one transaction with StoreError ITEM_TOO_LARGE, writing nothing', async () => {
    // prepare: about 1 MB of wire JSON, 2 gzipped parts, against a limit of 1 part (the default is 10)
    const big = block(1, bytes(32), 3_000);
    // act
    const error = await new DynamoBlockStore(db, TABLE, CODEC, { maxParts: 1 }).putBlock(bytes(32), big).catch((e: unknown) => e);
    // assess
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('ITEM_TOO_LARGE');
    expect(ddb.calls()).toHaveLength(0);
    expect(() => new DynamoBlockStore(db, TABLE, CODEC, { maxParts: 100 })).toThrow(/maxParts/);
  });

  it('reads absent items as undefined', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await new DynamoBlockStore(db, TABLE, CODEC).getBlock(1, bytes(32))).toBeUndefined();
  });
});

// ---------------------------------------------------------------- SQS transport (aws-sdk-client-mock)

describe('SqsTransport never drops a message', () => {
  let sqsMock: AwsStub<object, MetadataBearer, unknown>;
  beforeAll(() => {
    sqsMock = mockClient(SQSClient) as unknown as typeof sqsMock;
  });
  afterEach(() => sqsMock.reset());
  afterAll(() => sqsMock.restore());
  const transportWith = (sqs: SQSClient) =>
    new SqsTransport({
      codec: CODEC,
      aws: { sqs: () => sqs } as unknown as ClientFactory,
      prefix: 'afg',
      homeRegion: 'eu-west-1',
      send: { attempts: 3, backoffMs: 1 },
    });

  it('retries an entry SQS refused without sender fault, then succeeds', async () => {
    // prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/afg-votes' });
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm0', MD5OfMessageBody: '' }],
        Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }],
      })
      .resolves({ Successful: [{ Id: '1', MessageId: 'm1', MD5OfMessageBody: '' }] });
    // act
    await transportWith(new SQSClient({ region: 'eu-west-1' })).send({ queue: 'votes', region: 'eu-west-1' }, [
      { kind: 'finalized', height: 1 },
      { kind: 'finalized', height: 2 },
    ]);
    // assess
    const calls = sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries!.map((e) => e.MessageBody));
    expect(calls).toEqual([
      ['{"v":1,"kind":"finalized","height":1}', '{"v":1,"kind":"finalized","height":2}'],
      ['{"v":1,"kind":"finalized","height":2}'],
    ]);
    expect(sqsMock.commandCalls(GetQueueUrlCommand)[0]!.args[0].input).toEqual({ QueueName: 'afg-votes' });
  });

  it('throws TransportError naming each message still refused after retries', async () => {
    // prepare
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/afg-proposals-m2' });
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.filter((e) => e.Id !== '1').map((e) => ({ Id: e.Id, MessageId: `m${e.Id}`, MD5OfMessageBody: '' })),
      Failed: input.Entries.filter((e) => e.Id === '1').map((e) => ({ Id: e.Id, Code: 'ServiceUnavailable', SenderFault: false })),
    }));
    // act
    const error = await transportWith(new SQSClient({ region: 'us-east-1' }))
      .send({ queue: 'inbox', region: 'us-east-1', member: 2 }, [
        { kind: 'justified', certificate: certificate(link(checkpoint(2), checkpoint(3))) },
        { kind: 'proposal', height: 4, hash: bytes(32) },
      ])
      .catch((e: unknown) => e);
    // assess
    expect(error).toBeInstanceOf(TransportError);
    const t = error as TransportError;
    expect(t.meta.queue).toBe('afg-proposals-m2');
    expect(t.meta.region).toBe('us-east-1');
    expect(t.meta.failed).toEqual([{ index: 1, kind: 'proposal', code: 'ServiceUnavailable', message: '' }]);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });

  it('sends to the ingress queue in the home region', async () => {
    sqsMock
      .on(GetQueueUrlCommand)
      .resolves({ QueueUrl: 'u' })
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [{ Id: '0', MessageId: 'm', MD5OfMessageBody: '' }] });
    const regions: string[] = [];
    const sqs = new SQSClient({ region: 'eu-west-1' });
    const transport = new SqsTransport({
      codec: CODEC,
      aws: {
        sqs: (r: string) => {
          regions.push(r);
          return sqs;
        },
      } as unknown as ClientFactory,
      prefix: 'afg',
      homeRegion: 'eu-west-1',
    });
    await transport.send({ queue: 'ingress' }, [{ kind: 'tick', height: 1 }]);
    expect(regions).toEqual(['eu-west-1']);
    expect(sqsMock.commandCalls(GetQueueUrlCommand)[0]!.args[0].input).toEqual({ QueueName: 'afg-ingress' });
  });
});
