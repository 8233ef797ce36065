/**
 * The client factory (endpoint switch, credentials, caching, env parsing) and the pure parts of the
 * queue helpers (batch planning, retry of refused entries) with a mocked SQS client.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClientFactory, endpointsFromEnv, LOCAL_CREDENTIALS } from '../../lib/aws/clients.js';
import { MAX_BATCH_BYTES, planBatches, SendBatchError, sendBatch } from '../../lib/aws/queues.js';
import { ConfigError, InputError } from '../../lib/core/errors.js';

describe('createClientFactory endpoint switch', () => {
  const requests: { path: string; headers: IncomingHttpHeaders }[] = [];
  let server: Server;
  let endpoint: string;

  beforeAll(async () => {
    // Records each request and answers with an empty JSON document, which every command here accepts.
    server = createServer((req, res) => {
      requests.push({ path: req.url ?? '', headers: req.headers });
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  afterEach(() => {
    requests.length = 0;
  });

  it('sends every service to its configured endpoint, signed for the region with the local key', async () => {
    const aws = createClientFactory({ endpoints: { dynamodb: endpoint, sqs: endpoint, secretsManager: endpoint }, maxAttempts: 1 });
    try {
      await aws.dynamo('eu-west-1').send(new ListTablesCommand({}));
      // A queue URL on another host must not redirect the request (useQueueUrlAsEndpoint: false).
      await aws.sqs('ap-south-1').send(new GetQueueAttributesCommand({ QueueUrl: 'http://sqs.ap-south-1.localhost:1/000000000000/q' }));
      await aws.secrets('us-east-2').send(new ListSecretsCommand({}));
    } finally {
      aws.destroy();
    }
    expect(requests.map((r) => r.headers['x-amz-target'])).toEqual([
      'DynamoDB_20120810.ListTables',
      'AmazonSQS.GetQueueAttributes',
      'secretsmanager.ListSecrets',
    ]);
    const scopes = requests.map((r) => /Credential=([^/]+)\/\d+\/([^/]+)\/([^/]+)\//.exec(String(r.headers.authorization))?.slice(1));
    expect(scopes).toEqual([
      [LOCAL_CREDENTIALS.accessKeyId, 'eu-west-1', 'dynamodb'],
      [LOCAL_CREDENTIALS.accessKeyId, 'ap-south-1', 'sqs'],
      [LOCAL_CREDENTIALS.accessKeyId, 'us-east-2', 'secretsmanager'],
    ]);
  });

  it('sends a region listed in sqsByRegion to its own SQS endpoint, other regions to sqs', async () => {
    const closed = 'http://127.0.0.1:9'; // discard port: nothing listens
    const aws = createClientFactory({ endpoints: { sqs: closed, sqsByRegion: { 'eu-west-1': endpoint } }, maxAttempts: 1 });
    try {
      await aws.sqs('eu-west-1').send(new GetQueueAttributesCommand({ QueueUrl: 'http://sqs.eu-west-1.localhost:1/000000000000/q' }));
      await expect(
        aws.sqs('us-east-1').send(new GetQueueAttributesCommand({ QueueUrl: 'http://sqs.us-east-1.localhost:1/000000000000/q' })),
      ).rejects.toThrow();
    } finally {
      aws.destroy();
    }
    expect(requests.map((r) => /Credential=[^/]+\/\d+\/([^/]+)\//.exec(String(r.headers.authorization))?.[1])).toEqual(['eu-west-1']);
  });

  it('uses given credentials instead of the local ones', async () => {
    const aws = createClientFactory({
      endpoints: { dynamodb: endpoint },
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 's' },
    });
    try {
      await aws.dynamo('eu-west-1').send(new ListTablesCommand({}));
    } finally {
      aws.destroy();
    }
    expect(String(requests[0]?.headers.authorization)).toContain('Credential=AKIDEXAMPLE/');
  });

  it('caches one client per service and region', () => {
    const aws = createClientFactory({ endpoints: { dynamodb: endpoint, sqs: endpoint } });
    expect(aws.dynamo('eu-west-1')).toBe(aws.dynamo('eu-west-1'));
    expect(aws.dynamo('eu-west-1')).not.toBe(aws.dynamo('us-east-1'));
    expect(aws.sqs('eu-west-1')).toBe(aws.sqs('eu-west-1'));
    const before = aws.sqs('eu-west-1');
    aws.destroy();
    expect(aws.sqs('eu-west-1')).not.toBe(before); // rebuilt after destroy
    aws.destroy();
  });

  it('refuses bad options, naming them', () => {
    expect(() => createClientFactory({ maxAttempts: 0 })).toThrow(ConfigError);
    expect(() => createClientFactory({}).dynamo('')).toThrow(/region/);
  });
});

describe('endpointsFromEnv', () => {
  it('means real AWS when nothing is set or values are empty', () => {
    expect(endpointsFromEnv({})).toEqual({});
    expect(endpointsFromEnv({ AFG_SQS_ENDPOINT: '', AWS_ENDPOINT_URL: '' })).toEqual({});
  });

  it('reads per-service variables, falling back to AWS_ENDPOINT_URL for the rest', () => {
    expect(endpointsFromEnv({ AWS_ENDPOINT_URL: 'http://localhost:4566/' })).toEqual({
      dynamodb: 'http://localhost:4566',
      sqs: 'http://localhost:4566',
      secretsManager: 'http://localhost:4566',
    });
    expect(endpointsFromEnv({ AFG_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000', AWS_ENDPOINT_URL: 'https://ls.example:4566' })).toEqual({
      dynamodb: 'http://127.0.0.1:8000',
      sqs: 'https://ls.example:4566',
      secretsManager: 'https://ls.example:4566',
    });
    expect(endpointsFromEnv({ AFG_SQS_ENDPOINT: 'http://127.0.0.1:9324' })).toEqual({ sqs: 'http://127.0.0.1:9324' });
  });

  it.each([
    ['AFG_DYNAMODB_ENDPOINT', 'localhost:8000', /not a URL|http or https/],
    ['AFG_SQS_ENDPOINT', 'ftp://127.0.0.1:21', /http or https/],
    ['AFG_SECRETS_ENDPOINT', 'http://127.0.0.1:4566/path', /no path/],
    ['AWS_ENDPOINT_URL', 'http://user:pw@127.0.0.1:4566', /credentials/],
    ['AFG_SQS_ENDPOINT', 'not a url', /not a URL/],
  ])('names %s when its value %j is invalid', (key, value, reason) => {
    let err: unknown;
    try {
      endpointsFromEnv({ [key]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).meta.key).toBe(key);
    expect((err as Error).message).toMatch(reason);
  });
});

describe('planBatches', () => {
  const sizes = (batches: number[][], bodies: string[]) => batches.map((b) => b.reduce((n, i) => n + Buffer.byteLength(bodies[i]!), 0));

  it('splits at 10 entries and keeps every index once, in order', () => {
    const bodies = Array.from({ length: 25 }, (_, i) => `m${i}`);
    const batches = planBatches(bodies);
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(bodies.map((_, i) => i));
  });

  it('splits before a batch would exceed 256 KiB, counting UTF-8 bytes', () => {
    const big = 'é'.repeat(40 * 1024); // 80 KiB in UTF-8
    const bodies = [big, big, big, big, 'x'];
    const batches = planBatches(bodies);
    expect(batches).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
    for (const size of sizes(batches, bodies)) expect(size).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(planBatches(['a'.repeat(MAX_BATCH_BYTES)])).toEqual([[0]]); // exactly the limit is fine
  });

  it('refuses empty and oversized bodies, naming the index', () => {
    expect(() => planBatches(['ok', ''])).toThrow(/bodies\[1\]/);
    expect(() => planBatches(['a'.repeat(MAX_BATCH_BYTES + 1)])).toThrow(InputError);
    expect(planBatches([])).toEqual([]);
  });
});

describe('sendBatch retries', () => {
  // Mock this one instance only: mocking the class would also intercept the factory tests' clients.
  const sqs = new SQSClient({ region: 'eu-west-1' });
  const sqsMock = mockClient(sqs);
  const url = 'https://sqs.eu-west-1.amazonaws.com/000000000000/q';
  afterEach(() => sqsMock.reset());
  afterAll(() => sqsMock.restore());

  const sentIds = () => sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries?.map((e) => e.Id));

  it('resends only the entries SQS refused without sender fault, and returns every MessageId', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [
          { Id: '0', MessageId: 'id0', MD5OfMessageBody: '' },
          { Id: '2', MessageId: 'id2', MD5OfMessageBody: '' },
        ],
        Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }],
      })
      .resolvesOnce({ Successful: [{ Id: '1', MessageId: 'id1', MD5OfMessageBody: '' }], Failed: [] });
    expect(await sendBatch(sqs, url, ['a', 'b', 'c'], { backoffMs: 0 })).toEqual(['id0', 'id1', 'id2']);
    expect(sentIds()).toEqual([['0', '1', '2'], ['1']]);
  });

  it('does not retry sender faults and names them after finishing the other batches', async () => {
    const bodies = Array.from({ length: 12 }, (_, i) => `m${i}`);
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.filter((e) => e.Id !== '3').map((e) => ({ Id: e.Id, MessageId: `id${e.Id}`, MD5OfMessageBody: '' })),
      Failed: input.Entries.filter((e) => e.Id === '3').map((e) => ({ Id: e.Id, Code: 'InvalidMessageContents', SenderFault: true })),
    }));
    const err = await sendBatch(sqs, url, bodies, { backoffMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendBatchError);
    expect((err as SendBatchError).meta.failed).toEqual([{ index: 3, code: 'InvalidMessageContents', message: '', senderFault: true }]);
    expect(sentIds()).toHaveLength(2); // both chunks sent once
  });

  it('gives up after `attempts` on a persistent refusal', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'ServiceUnavailable', SenderFault: false }] });
    const err = await sendBatch(sqs, url, ['a'], { attempts: 3, backoffMs: 0 }).catch((e: unknown) => e);
    expect((err as SendBatchError).meta.failed.map((f) => f.index)).toEqual([0]);
    expect(sentIds()).toHaveLength(3);
  });

  it('reports a failed request as every unconfirmed entry, including later chunks', async () => {
    const bodies = Array.from({ length: 15 }, (_, i) => `m${i}`);
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Successful: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageId: `id${i}`, MD5OfMessageBody: '' })) })
      .rejectsOnce(new Error('socket hang up'));
    const err = await sendBatch(sqs, url, bodies, { backoffMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendBatchError);
    expect((err as SendBatchError).meta.failed.map((f) => f.index)).toEqual([10, 11, 12, 13, 14]);
  });

  it('treats an entry missing from the response as not sent', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [{ Id: '0', MessageId: 'id0', MD5OfMessageBody: '' }], Failed: [] });
    const err = await sendBatch(sqs, url, ['a', 'b'], { backoffMs: 0 }).catch((e: unknown) => e);
    expect((err as SendBatchError).meta.failed).toMatchObject([{ index: 1, code: 'Missing' }]);
  });
});
