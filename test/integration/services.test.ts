/**
 * The embedded services against the real DynamoDB Local and fauxqs: conditional writes, per-region
 * isolation of tables and queues, the queue helpers, loopback-only listening (read from /proc),
 * supervision (real SIGKILL, restart on the same port and data, giving up), and process clean-up.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConditionalCheckFailedException, CreateTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createClientFactory } from '../../lib/aws/clients.js';
import { ensureQueue, queueArn, resolveQueueUrl, SendBatchError, sendBatch } from '../../lib/aws/queues.js';
import { dlqName } from '../../lib/config.js';
import { InputError } from '../../lib/core/errors.js';
import { type EmbeddedServices, freePort, ServiceStartError, startEmbeddedServices } from '../../lib/local/services.js';
import { uniqueName, useEmbeddedServices, waitFor } from '../helpers/embedded.js';
import { canReadSockets, isLoopback, listeningSockets } from '../helpers/sockets.js';

const env = useEmbeddedServices();
const EU = 'eu-west-1';
const US = 'us-east-1';

async function createTable(region: string, name: string): Promise<void> {
  await env()
    .aws.dynamo(region)
    .send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
}

async function drain(sqs: SQSClient, url: string): Promise<string[]> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return (out.Messages ?? []).map((m) => m.Body ?? '');
}

describe('DynamoDB Local', () => {
  it('starts with both services answering', () => {
    // The figure is printed for the report, not asserted: no timed assertions.
    console.log(`embedded services answered after ${env().startupMs} ms`);
    expect(env().services.dynamodbEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env().services.sqsEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a second put under attribute_not_exists with ConditionalCheckFailedException', async () => {
    const table = uniqueName('cond');
    await createTable(EU, table);
    const db = env().aws.dynamo(EU);
    const put = (value: string) =>
      db.send(
        new PutCommand({ TableName: table, Item: { pk: 'k', value, gone: undefined }, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    await put('first'); // positive: the first write lands (and removeUndefinedValues drops `gone`)
    await expect(put('second')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const got = await db.send(new GetCommand({ TableName: table, Key: { pk: 'k' } }));
    expect(got.Item).toEqual({ pk: 'k', value: 'first' });
  });

  it('keeps each region its own tables', async () => {
    const table = uniqueName('regional');
    await createTable(EU, table);
    const listed = async (region: string) => (await env().aws.dynamo(region).send(new ListTablesCommand({}))).TableNames ?? [];
    expect(await listed(EU)).toContain(table);
    expect(await listed(US)).not.toContain(table);
    // The same name in another region is a different table with its own items.
    await createTable(US, table);
    await env()
      .aws.dynamo(EU)
      .send(new PutCommand({ TableName: table, Item: { pk: 'k', region: EU } }));
    const us = await env()
      .aws.dynamo(US)
      .send(new GetCommand({ TableName: table, Key: { pk: 'k' } }));
    expect(us.Item).toBeUndefined();
    const eu = await env()
      .aws.dynamo(EU)
      .send(new GetCommand({ TableName: table, Key: { pk: 'k' } }));
    expect(eu.Item).toEqual({ pk: 'k', region: EU });
  });
});

describe('fauxqs and the queue helpers', () => {
  it('keeps same-named queues of different regions apart', async () => {
    const name = uniqueName('q');
    const eu = env().aws.sqs(EU);
    const us = env().aws.sqs(US);
    const euUrl = await ensureQueue(eu, name, { visibilityTimeoutSeconds: 1 });
    const usUrl = await ensureQueue(us, name, { visibilityTimeoutSeconds: 1 });
    expect(euUrl).not.toBe(usUrl);
    expect(await queueArn(eu, euUrl)).toContain(`:${EU}:`);
    expect(await queueArn(us, usUrl)).toContain(`:${US}:`);
    await eu.send(new SendMessageCommand({ QueueUrl: euUrl, MessageBody: 'for-eu' }));
    expect(await drain(us, usUrl)).toEqual([]);
    expect(await drain(eu, euUrl)).toEqual(['for-eu']);
  });

  it('ensureQueue is idempotent, converges attributes and wires the DLQ', async () => {
    const sqs = env().aws.sqs(EU);
    const name = uniqueName('idem');
    const url = await ensureQueue(sqs, name, { visibilityTimeoutSeconds: 1, dlq: { maxReceiveCount: 3 } });
    const again = await ensureQueue(sqs, name, { visibilityTimeoutSeconds: 5, dlq: { maxReceiveCount: 4 } });
    expect(again).toBe(url);
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
    expect(attrs.VisibilityTimeout).toBe('5');
    const dlqArn = await queueArn(sqs, await resolveQueueUrl(sqs, dlqName(name)));
    expect(JSON.parse(attrs.RedrivePolicy ?? '{}')).toMatchObject({ deadLetterTargetArn: dlqArn });
    expect(Number(JSON.parse(attrs.RedrivePolicy ?? '{}').maxReceiveCount)).toBe(4);
  });

  it('resolveQueueUrl finds existing queues and throws QueueDoesNotExist for missing ones', async () => {
    const sqs = env().aws.sqs(US);
    const name = uniqueName('url');
    const url = await ensureQueue(sqs, name, { visibilityTimeoutSeconds: 1 });
    expect(await resolveQueueUrl(sqs, name)).toBe(url);
    await expect(resolveQueueUrl(sqs, uniqueName('missing'))).rejects.toBeInstanceOf(QueueDoesNotExist);
  });

  it('sendBatch delivers every body across several batches', async () => {
    const sqs = env().aws.sqs(EU);
    const url = await ensureQueue(sqs, uniqueName('batch'), { visibilityTimeoutSeconds: 30 });
    // 23 small bodies and two of 100 KiB: forces both the 10-entry and the 256 KiB split.
    const bodies = [...Array.from({ length: 23 }, (_, i) => `m${i}`), 'a'.repeat(100 * 1024), 'b'.repeat(100 * 1024)];
    const ids = await sendBatch(sqs, url, bodies);
    expect(new Set(ids).size).toBe(bodies.length);
    const seen = new Set<string>();
    await waitFor('all bodies', async () => {
      for (const body of await drain(sqs, url)) seen.add(body);
      return seen.size === bodies.length;
    });
    expect([...seen].sort()).toEqual([...bodies].sort());
  });

  it('sendBatch refuses an oversized body before sending anything', async () => {
    const sqs = env().aws.sqs(EU);
    const url = await ensureQueue(sqs, uniqueName('big'), { visibilityTimeoutSeconds: 1 });
    await expect(sendBatch(sqs, url, ['ok', 'x'.repeat(256 * 1024 + 1)])).rejects.toThrow(InputError);
    expect(await drain(sqs, url)).toEqual([]);
  });

  it('sendBatch names the entries SQS refuses (sender fault, not retried)', async () => {
    const sqs = env().aws.sqs(EU);
    const url = await ensureQueue(sqs, uniqueName('bad'), { visibilityTimeoutSeconds: 1 });
    // U+FFFF is outside the characters SQS accepts.
    const err = await sendBatch(sqs, url, ['good', 'bad\uffff'], { backoffMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendBatchError);
    expect((err as SendBatchError).meta.failed).toMatchObject([{ index: 1, code: 'InvalidMessageContents', senderFault: true }]);
    expect(await drain(sqs, url)).toEqual(['good']); // the accepted entry was sent
  });
});

describe('process lifecycle', () => {
  it('explains how to install Java when it is missing, without starting anything', async () => {
    const err = await startEmbeddedServices({ java: '/nonexistent/bin/java' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceStartError);
    expect((err as Error).message).toContain('openjdk-17-jre-headless');
  });

  it('persists tables in dataDir across restarts and frees the port on stop()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'afg-ddb-'));
    try {
      const first = await startEmbeddedServices({ dataDir: dir });
      const aws = createClientFactory({ endpoints: { dynamodb: first.dynamodbEndpoint }, maxAttempts: 1 });
      try {
        await aws.dynamo(EU).send(
          new CreateTableCommand({
            TableName: 'kept',
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          }),
        );
      } finally {
        aws.destroy();
        await first.stop();
      }
      await expect(fetch(first.dynamodbEndpoint)).rejects.toThrow(); // nothing listens any more
      const second = await startEmbeddedServices({ dataDir: dir });
      const aws2 = createClientFactory({ endpoints: { dynamodb: second.dynamodbEndpoint }, maxAttempts: 1 });
      try {
        expect((await aws2.dynamo(EU).send(new ListTablesCommand({}))).TableNames).toEqual(['kept']);
      } finally {
        aws2.destroy();
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes both services down when the owning process is SIGKILLed', async () => {
    const script = [
      "import { startEmbeddedServices } from './lib/local/services.ts';",
      'const s = await startEmbeddedServices();',
      "console.log('ENDPOINT ' + s.dynamodbEndpoint + ' ' + s.sqsEndpoint);",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      owner.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const endpoints = await waitFor('child services', () => /ENDPOINT (\S+) (\S+)/.exec(out)?.slice(1), 45_000);
      for (const endpoint of endpoints) expect((await fetch(endpoint)).status).toBeGreaterThan(0); // answering while the owner lives
      owner.kill('SIGKILL');
      for (const endpoint of endpoints)
        await waitFor(
          `${endpoint} to exit`,
          () =>
            fetch(endpoint).then(
              () => false,
              () => true,
            ),
          15_000,
        );
    } finally {
      owner.kill('SIGKILL');
    }
  });
});

/** Resolves with the error code of a TCP connection attempt to host:port ('connected' when it succeeds). */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((done) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      done('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      done('timeout');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

const portOf = (endpoint: string) => Number(new URL(endpoint).port);

describe('loopback only, supervised', () => {
  let dir: string;
  let services: EmbeddedServices;
  const notes: string[] = [];

  it('both services listen on 127.0.0.1 and nowhere else', async (ctx) => {
    dir = mkdtempSync(join(tmpdir(), 'afg-svc-'));
    services = await startEmbeddedServices({ dataDir: dir, sqsRegions: [EU, US], notify: (m) => notes.push(m) });
    if (!canReadSockets()) ctx.skip(); // needs Linux's /proc
    for (const s of services.status()) {
      const sockets = listeningSockets(s.pid!);
      // Positive control: the service's own port is among what we read, so an empty list cannot pass.
      expect(
        sockets.map((x) => x.port),
        s.name,
      ).toContain(portOf(s.endpoint));
      for (const socket of sockets) expect(isLoopback(socket.address), `${s.name} listens on ${socket.address}:${socket.port}`).toBe(true);
    }
    // And from outside loopback nothing answers: connect through each of this machine's other addresses.
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && !a.internal && a.family === 'IPv4')
      .map((a) => a!.address);
    if (external.length === 0) console.info('[services] no non-loopback IPv4 address on this machine: external connect not tried');
    for (const address of external)
      for (const s of services.status())
        expect(await tryConnect(address, portOf(s.endpoint)), `${s.name} via ${address}`).toBe('ECONNREFUSED');
  });

  it('restarts a SIGKILLed service on the same port and data folder; nothing stored is lost, in any region', async () => {
    const aws = createClientFactory({
      endpoints: { dynamodb: services.dynamodbEndpoint, sqs: services.sqsEndpoint, sqsByRegion: services.sqsEndpoints },
      maxAttempts: 1,
    });
    try {
      await aws.dynamo(EU).send(
        new CreateTableCommand({
          TableName: 'kept',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      await aws.dynamo(EU).send(new PutCommand({ TableName: 'kept', Item: { pk: 'k', v: 1 } }));
      // The same queue name in two regions (every region has afg-votes): fauxqs persists queues by name,
      // so each region has its own server and folder; both queues and their messages must come back.
      const urls: Record<string, string> = {};
      for (const region of [EU, US]) {
        urls[region] = await ensureQueue(aws.sqs(region), 'kept', { visibilityTimeoutSeconds: 1 });
        await aws.sqs(region).send(new SendMessageCommand({ QueueUrl: urls[region], MessageBody: `accepted in ${region}` }));
      }

      const before = services.status();
      for (const s of before) process.kill(s.pid!, 'SIGKILL');
      const after = await waitFor(
        'both services back',
        () => {
          const now = services.status();
          return now.every((s) => s.up && s.restarts === 1) && now;
        },
        60_000,
      );
      for (const [i, s] of after.entries()) {
        expect(s.endpoint).toBe(before[i]!.endpoint); // same port: clients keep their endpoint
        expect(s.pid).not.toBe(before[i]!.pid);
      }
      expect(notes.some((n) => /dynamodb-local: exited unexpectedly \(signal SIGKILL\)/.test(n))).toBe(true);
      expect(notes.some((n) => /sqs-emulator: back on/.test(n))).toBe(true);
      const got = await aws.dynamo(EU).send(new GetCommand({ TableName: 'kept', Key: { pk: 'k' } }));
      expect(got.Item).toEqual({ pk: 'k', v: 1 });
      for (const region of [EU, US]) expect(await drain(aws.sqs(region), urls[region]!)).toEqual([`accepted in ${region}`]);
      if (canReadSockets()) for (const s of after) for (const x of listeningSockets(s.pid!)) expect(isLoopback(x.address)).toBe(true);
    } finally {
      aws.destroy();
    }
  }, 120_000);

  it('stop() restarts nothing and leaves no process', async () => {
    const pids = services.status().map((s) => s.pid!);
    await services.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(); // gone
    expect(services.status().every((s) => !s.up)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  // Crash drill (issue 19): on a loaded machine a port that was free when picked was taken (by an
  // outgoing connection's ephemeral port, or another test's server) before the slow JVM bound it, and
  // `npm start` failed to restart, blaming a missing jdk.compiler module (every source-file-mode stack names it).
  it('starts DynamoDB Local on another free port when the one it picked is taken before it binds, and names the cause', async () => {
    const squatter = createServer();
    await new Promise<void>((ok, fail) => squatter.once('error', fail).listen(0, '127.0.0.1', ok));
    const taken = (squatter.address() as { port: number }).port;
    const picks: number[] = [];
    const lines: string[] = [];
    let s: EmbeddedServices | undefined;
    try {
      s = await startEmbeddedServices({
        supervise: false,
        log: (l) => lines.push(l),
        pickPort: async () => {
          const port = picks.length === 0 ? taken : await freePort();
          picks.push(port);
          return port;
        },
      });
      expect(picks[0]).toBe(taken);
      expect(picks).toHaveLength(2);
      expect(s.dynamodbEndpoint).toBe(`http://127.0.0.1:${picks[1]}`);
      expect(lines.join('\n')).toMatch(
        /dynamodb-local: port \d+ was taken before it could bind \(the port is in use by another program\); trying port \d+/,
      );
      expect(lines.join('\n')).not.toMatch(/jdk\.compiler module/);
    } finally {
      squatter.close();
      await s?.stop();
    }
  }, 120_000);

  it('does not move an explicitly given DynamoDB Local port: a taken one fails, naming the port in use', async () => {
    const squatter = createServer();
    await new Promise<void>((ok, fail) => squatter.once('error', fail).listen(0, '127.0.0.1', ok));
    const taken = (squatter.address() as { port: number }).port;
    try {
      const failure = await startEmbeddedServices({ supervise: false, dynamodbPort: taken }).then(
        (s) => s.stop().then(() => undefined),
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(ServiceStartError);
      expect((failure as Error).message).toMatch(/^dynamodb-local: exited during start-up .*: the port is in use by another program/);
    } finally {
      squatter.close();
    }
  }, 120_000);

  it('gives up after failed restarts in a row and says so; the other service keeps running', async () => {
    const s = await startEmbeddedServices({ supervise: { maxFailures: 3, backoffMs: 100 } });
    let squatter: Server | undefined;
    try {
      const sqs = s.status().find((x) => x.name === 'sqs-emulator')!;
      process.kill(sqs.pid!, 'SIGKILL');
      await waitFor('the exit to be seen', () => !s.status().find((x) => x.name === 'sqs-emulator')!.up);
      // Another program takes the port before the first restart: every restart fails to listen.
      squatter = createServer();
      await new Promise<void>((ok, fail) => squatter!.once('error', fail).listen(portOf(sqs.endpoint), '127.0.0.1', ok));
      const failure = await s.failure;
      expect(failure).toBeInstanceOf(ServiceStartError);
      expect(failure.message).toMatch(/^sqs-emulator: exited unexpectedly and could not be kept running: 3 failed restarts in a row/);
      expect(failure.message).toMatch(/EADDRINUSE|in use/);
      expect(s.status().find((x) => x.name === 'dynamodb-local')!.up).toBe(true);
    } finally {
      squatter?.close();
      await s.stop();
    }
  }, 120_000);
});
