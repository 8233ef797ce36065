/**
 * SqsEventSource against fauxqs: Lambda's SQS semantics (batches, partial batch failures, whole-batch
 * failures, DLQ redrive, graceful stop). Visibility timeouts are 1 s to keep the suite short.
 */
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { changeVisibility, ensureQueue, queueArn, resolveQueueUrl, sendBatch } from '../../lib/aws/queues.js';
import { dlqName } from '../../lib/config.js';
import { InputError } from '../../lib/core/errors.js';
import { type EventSourceOptions, failuresOf, SqsEventSource, toRecord } from '../../lib/local/event-source.js';
import { uniqueName, useEmbeddedServices, waitFor } from '../helpers/embedded.js';

const env = useEmbeddedServices();
const REGION = 'eu-west-1';

const sources: SqsEventSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

/** Creates a queue (1 s visibility unless given), sends `bodies`, and starts a source with `opts` over it. */
async function setup(
  bodies: string[],
  opts: Partial<EventSourceOptions> & Pick<EventSourceOptions, 'handler'>,
  queue: { dlq?: number; visibility?: number } = {},
) {
  const sqs = env().aws.sqs(REGION);
  const name = uniqueName('es');
  const url = await ensureQueue(sqs, name, {
    visibilityTimeoutSeconds: queue.visibility ?? 1,
    ...(queue.dlq ? { dlq: { maxReceiveCount: queue.dlq } } : {}),
  });
  if (bodies.length > 0) await sendBatch(sqs, url, bodies);
  const source = new SqsEventSource({
    sqs,
    queueUrl: url,
    region: REGION,
    batchSize: 10,
    maxBatchingWindowMs: 0,
    concurrency: 1,
    waitTimeSeconds: 1,
    ...opts,
  });
  sources.push(source);
  source.start();
  return { sqs, name, url, source };
}

async function depth(sqs: SQSClient, url: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible);
}

describe('SqsEventSource', () => {
  it('delivers every message in batches of at most batchSize, as real SQS events, and deletes them', async () => {
    const bodies = Array.from({ length: 35 }, (_, i) => `msg-${i}`);
    const events: SQSEvent[] = [];
    // 30 s visibility: this test counts deliveries, so no redelivery even on a loaded machine.
    const { sqs, url, source } = await setup(
      bodies,
      {
        batchSize: 15,
        maxBatchingWindowMs: 300,
        concurrency: 2,
        handler: async (event) => {
          events.push(event);
        },
      },
      { visibility: 30 },
    );
    await waitFor('all messages succeeded', () => source.stats().succeeded === bodies.length);
    const records = events.flatMap((e) => e.Records);
    expect(records.map((r) => r.body).sort()).toEqual([...bodies].sort());
    for (const e of events) expect(e.Records.length).toBeLessThanOrEqual(15);
    // The window lets a batch grow past one receive (at most 10 messages per ReceiveMessage).
    expect(Math.max(...events.map((e) => e.Records.length))).toBeGreaterThan(10);
    const arn = await queueArn(sqs, url);
    expect(records[0]).toMatchObject({ eventSource: 'aws:sqs', eventSourceARN: arn, awsRegion: REGION });
    expect(records[0]!.attributes.ApproximateReceiveCount).toBe('1');
    expect(records[0]!.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(source.stats()).toMatchObject({ received: 35, succeeded: 35, failed: 0, batches: events.length });
    await source.stop();
    expect(await depth(sqs, url)).toBe(0);
  });

  it('redelivers only the records in batchItemFailures, after the visibility timeout', async () => {
    const seen: SQSRecord[] = [];
    const { sqs, url, source } = await setup(['a', 'b', 'c', 'd', 'e'], {
      handler: async (event): Promise<SQSBatchResponse> => {
        seen.push(...event.Records);
        const fail = event.Records.filter((r) => (r.body === 'b' || r.body === 'd') && r.attributes.ApproximateReceiveCount === '1');
        return { batchItemFailures: fail.map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    await waitFor('all five succeeded', () => source.stats().succeeded === 5);
    const receives = (body: string) => seen.filter((r) => r.body === body).map((r) => r.attributes.ApproximateReceiveCount);
    expect(receives('a')).toEqual(['1']);
    expect(receives('c')).toEqual(['1']);
    expect(receives('e')).toEqual(['1']);
    expect(receives('b')).toEqual(['1', '2']);
    expect(receives('d')).toEqual(['1', '2']);
    expect(source.stats()).toMatchObject({ succeeded: 5, failed: 2 });
    await source.stop();
    expect(await depth(sqs, url)).toBe(0);
  });

  it('fails the whole batch when the handler throws: nothing is deleted, every record returns', async () => {
    const seen: SQSRecord[] = [];
    const errors: unknown[] = [];
    let calls = 0;
    const { source } = await setup(['x', 'y', 'z'], {
      batchSize: 3,
      maxBatchingWindowMs: 500,
      onError: (e) => errors.push(e),
      handler: async (event) => {
        seen.push(...event.Records);
        if (calls++ === 0) throw new Error('boom');
      },
    });
    await waitFor('all three succeeded', () => source.stats().succeeded === 3);
    for (const body of ['x', 'y', 'z']) expect(seen.filter((r) => r.body === body).length).toBe(2);
    expect(seen.filter((r) => r.attributes.ApproximateReceiveCount === '2').length).toBe(3);
    expect(errors).toEqual([new Error('boom')]);
    expect(source.stats()).toMatchObject({ failed: 3, succeeded: 3 });
  });

  it('treats an unknown itemIdentifier as a whole-batch failure, as Lambda does', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const { source } = await setup(['only'], {
      onError: (e) => errors.push(e),
      handler: async () => (calls++ === 0 ? { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] } : undefined),
    });
    await waitFor('redelivered and succeeded', () => source.stats().succeeded === 1);
    expect(calls).toBe(2);
    expect(errors[0]).toBeInstanceOf(InputError);
  });

  it('moves a poison message to the DLQ after maxReceiveCount while the others proceed', async () => {
    const poisonCounts: string[] = [];
    const bodies = ['ok-1', 'poison', 'ok-2', 'ok-3'];
    const { sqs, name, url, source } = await setup(
      bodies,
      {
        handler: async (event) => {
          const poison = event.Records.filter((r) => r.body === 'poison');
          for (const r of poison) poisonCounts.push(r.attributes.ApproximateReceiveCount);
          return { batchItemFailures: poison.map((r) => ({ itemIdentifier: r.messageId })) };
        },
      },
      { dlq: 2 },
    );
    const dlqUrl = await resolveQueueUrl(sqs, dlqName(name));
    const inDlq = await waitFor('poison in the DLQ', async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }));
      return out.Messages?.length ? out.Messages : undefined;
    });
    expect(inDlq.map((m) => m.Body)).toEqual(['poison']);
    expect(poisonCounts).toEqual(['1', '2']); // handled maxReceiveCount times, then redriven by the queue
    expect(source.stats().succeeded).toBe(3);
    await source.stop();
    expect(await depth(sqs, url)).toBe(0);
  });

  it('stop() waits for the in-flight batch, which still completes and is deleted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    const { sqs, url, source } = await setup(['slow'], {
      handler: async () => {
        started = true;
        await gate;
      },
    });
    await waitFor('handler started', () => started);
    let stopped = false;
    const stopping = source.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false); // the handler is still blocked on the gate
    release();
    await stopping;
    expect(source.stats()).toMatchObject({ succeeded: 1, failed: 0, batches: 1 });
    expect(await depth(sqs, url)).toBe(0);
  });

  it('stops promptly when idle and starts again', async () => {
    const got: string[] = [];
    const { sqs, url, source } = await setup([], {
      waitTimeSeconds: 20,
      handler: async (e) => {
        got.push(...e.Records.map((r) => r.body));
      },
    });
    await source.stop(); // aborts the 20 s long poll instead of waiting it out
    await sendBatch(sqs, url, ['after-restart']);
    source.start();
    await waitFor('message after restart', () => got.includes('after-restart'));
  });
});

describe('SqsEventSource during an outage', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });

  it("backs off while the handler's store is unreachable: the first error reported, the rest summed up; then delivered once", async () => {
    const errors: unknown[] = [];
    const notes: string[] = [];
    let down = 3; // the store answers again after three failed invocations
    const done: string[] = [];
    const { source, sqs, url } = await setup(['kept'], {
      onError: (e) => errors.push(e),
      onNote: (m) => notes.push(m),
      functionName: 'applier',
      handler: async (event) => {
        if (down-- > 0) throw new Error('store read failed', { cause: refused() });
        done.push(...event.Records.map((r) => r.body));
      },
    });
    await waitFor('delivered after the outage', () => done.length > 0, 30_000);
    await waitFor('deleted', async () => (await depth(sqs, url)) === 0);
    expect(done).toEqual(['kept']);
    expect(errors).toHaveLength(1);
    expect(notes).toEqual([
      'applier: a store of the handler is unreachable; backing off',
      expect.stringMatching(/^applier: working again after [\d.]+ s \(3 failed attempt\(s\), the first one reported\)$/),
    ]);
    expect(source.stats()).toMatchObject({ succeeded: 1, failed: 3 });
  });

  it('backs off while SQS is unreachable and resumes by itself', async () => {
    const errors: unknown[] = [];
    const notes: string[] = [];
    const real = env().aws.sqs(REGION);
    let refusedCalls = 0;
    let reachable = false;
    // The same client, except that every request is refused until `reachable`.
    const flaky = {
      send: (...args: Parameters<SQSClient['send']>) => {
        if (reachable) return real.send(...args);
        refusedCalls++;
        return Promise.reject(refused());
      },
    } as unknown as SQSClient;
    const got: string[] = [];
    await setup(['after-outage'], {
      sqs: flaky,
      queueArn: 'arn:aws:sqs:eu-west-1:000000000000:es',
      onError: (e) => errors.push(e),
      onNote: (m) => notes.push(m),
      functionName: 'finalizer',
      handler: async (e) => {
        got.push(...e.Records.map((r) => r.body));
      },
    });
    await waitFor('several refused receives', () => refusedCalls >= 4, 30_000);
    expect(errors).toHaveLength(1);
    expect(notes).toEqual(['finalizer: the queue is unreachable; backing off']);
    reachable = true;
    await waitFor('delivered once SQS answers again', () => got.includes('after-outage'), 30_000);
    expect(notes[1]).toMatch(/^finalizer: working again after/);
    expect(errors).toHaveLength(1);
  });

  it('holds the pollers while available() answers false', async () => {
    let available = false;
    let asked = 0;
    const got: string[] = [];
    const { source } = await setup(['held'], {
      available: () => {
        asked++;
        return available;
      },
      handler: async (e) => {
        got.push(...e.Records.map((r) => r.body));
      },
    });
    await waitFor('the gate to be asked a few times', () => asked >= 5);
    expect(source.stats().received).toBe(0);
    available = true;
    await waitFor('delivered once available', () => got.includes('held'));
  });
});

describe('failuresOf and toRecord', () => {
  const event: SQSEvent = {
    Records: [toRecord({ MessageId: 'm1', ReceiptHandle: 'r1', Body: 'b', Attributes: { ApproximateReceiveCount: '3' } }, 'arn:q', REGION)],
  };

  it('reads batchItemFailures like Lambda', () => {
    expect(failuresOf(undefined, event)).toEqual(new Set());
    expect(failuresOf({ batchItemFailures: [] }, event)).toEqual(new Set());
    expect(failuresOf({ batchItemFailures: [{ itemIdentifier: 'm1' }] }, event)).toEqual(new Set(['m1']));
    expect(() => failuresOf({ batchItemFailures: [{ itemIdentifier: 'm2' }] }, event)).toThrow(InputError);
    expect(() => failuresOf({ batchItemFailures: [{ itemIdentifier: '' }] }, event)).toThrow(InputError);
    expect(() => failuresOf({ batchItemFailures: 'm1' } as never, event)).toThrow(InputError);
  });

  it('builds Lambda-shaped records, binary attributes in base64', () => {
    const record = toRecord(
      {
        MessageId: 'm',
        ReceiptHandle: 'r',
        Body: 'b',
        MD5OfBody: 'd',
        Attributes: { ApproximateReceiveCount: '2', SentTimestamp: '1', SenderId: 's', ApproximateFirstReceiveTimestamp: '2' },
        MessageAttributes: { k: { DataType: 'Binary', BinaryValue: Uint8Array.of(1, 2) }, s: { DataType: 'String', StringValue: 'v' } },
      },
      'arn:aws:sqs:eu-west-1:000000000000:q',
      REGION,
    );
    expect(record).toEqual({
      messageId: 'm',
      receiptHandle: 'r',
      body: 'b',
      attributes: { ApproximateReceiveCount: '2', SentTimestamp: '1', SenderId: 's', ApproximateFirstReceiveTimestamp: '2' },
      messageAttributes: {
        k: { dataType: 'Binary', binaryValue: 'AQI=', stringListValues: [], binaryListValues: [] },
        s: { dataType: 'String', stringValue: 'v', stringListValues: [], binaryListValues: [] },
      },
      md5OfBody: 'd',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:q',
      awsRegion: REGION,
    });
  });

  it('refuses out-of-range options, naming the field', () => {
    const base = { sqs: env().aws.sqs(REGION), queueUrl: 'http://q', region: REGION, handler: async () => {} };
    expect(() => new SqsEventSource({ ...base, batchSize: 0, maxBatchingWindowMs: 0, concurrency: 1 })).toThrow(/batchSize/);
    expect(() => new SqsEventSource({ ...base, batchSize: 10, maxBatchingWindowMs: -1, concurrency: 1 })).toThrow(/maxBatchingWindowMs/);
    expect(() => new SqsEventSource({ ...base, batchSize: 10, maxBatchingWindowMs: 0, concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new SqsEventSource({ ...base, batchSize: 10_000, maxBatchingWindowMs: 300_000, concurrency: 1 })).not.toThrow();
  });

  it("a record given changeVisibility comes back in seconds, not after the queue's visibility timeout", async () => {
    const deliveries: number[] = [];
    const sqsOf = (region: string) => env().aws.sqs(region);
    const { source } = await setup(
      ['not-ready'],
      {
        handler: async (event: SQSEvent): Promise<SQSBatchResponse> => {
          const record = event.Records[0]!;
          deliveries.push(Number(record.attributes.ApproximateReceiveCount));
          if (deliveries.length > 1) return { batchItemFailures: [] };
          await changeVisibility(sqsOf, record, 1);
          return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
        },
      },
      { visibility: 600 },
    );
    // Without the change the second delivery would come after 600 s.
    await waitFor('the second delivery', () => deliveries.length >= 2, 15_000);
    expect(deliveries).toEqual([1, 2]);
    await waitFor('the delete', () => source.stats().succeeded === 1);
    await expect(changeVisibility(sqsOf, { receiptHandle: 'x', eventSourceARN: 'arn:aws:sns:eu-west-1:0:topic' }, 1)).rejects.toThrow(
      /not an SQS queue ARN/,
    );
  });
});
