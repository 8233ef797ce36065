/**
 * A local SQS event-source mapping with Lambda's semantics, so the local cluster runs the very
 * handlers deployed on AWS:
 * - `concurrency` pollers, each long-polls, collects up to `batchSize` records within
 *   `maxBatchingWindowMs` of the first one, and invokes the handler with a real SQSEvent; so at most
 *   `concurrency` invocations run at once.
 * - ReportBatchItemFailures: after a successful invocation every record is deleted except those in
 *   `batchItemFailures`. A response naming an unknown or empty itemIdentifier fails the whole batch,
 *   as Lambda does. A thrown error fails the whole batch: nothing is deleted.
 * - Failed records are left alone: they return after the queue's visibility timeout, and the queue's
 *   own RedrivePolicy moves them to the DLQ after maxReceiveCount receives (fauxqs implements
 *   redrive, as SQS does, so the runner needs no DLQ logic).
 *
 * Why not a consumer library such as sqs-consumer (v15): it caps batchSize at 10, has no batching window and runs one batch at
 * a time per consumer; those are the semantics this module exists to keep.
 *
 * Outages: when SQS cannot be reached, or the handler fails because a store cannot be reached (per
 * dependencyFailure in lib/aws/errors.ts), the pollers back off (exponential with jitter, capped at
 * 2 s) instead of retrying at once, which would also spend the messages' receive counts towards the
 * DLQ. The first error of an outage is reported; the rest are counted and summed up in one note when
 * it ends. An `available` hook (the local cluster passes "no embedded service is restarting")
 * holds the pollers entirely while it answers false.
 *
 * Not modelled: the Lambda timeout (getRemainingTimeInMillis counts down from `timeoutMs`, but a slow
 * handler is not cut off) and Lambda's scaling of pollers with queue depth.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { backoffMs, dependencyFailure } from '../aws/errors.js';
import { queueArn as fetchQueueArn } from '../aws/queues.js';
import { InputError } from '../core/errors.js';

// biome-ignore lint/suspicious/noConfusingVoidType: the aws-lambda SQSHandler result, so handlers returning Promise<void> fit
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface EventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** eventSourceARN of the records; looked up once (GetQueueAttributes) when omitted. */
  readonly queueArn?: string;
  readonly region: string;
  /** Records per invocation, 1..10000 (Lambda's limit for standard queues). */
  readonly batchSize: number;
  /** How long to keep gathering records after the first one, 0..300000 ms. 0 invokes with what one receive returns. */
  readonly maxBatchingWindowMs: number;
  /** Overrides the queue's visibility timeout for received messages. */
  readonly visibilityTimeoutSeconds?: number;
  /** Concurrent invocations (pollers), >= 1. */
  readonly concurrency: number;
  readonly handler: SqsBatchHandler;
  /**
   * Handler errors, invalid responses, failed receives and deletes; of an outage (see the module
   * comment) only the first error. Default: ignored (they are counted in stats).
   */
  readonly onError?: (err: unknown) => void;
  /** One line when an outage begins to be backed off and when it ends. Default: none. */
  readonly onNote?: (message: string) => void;
  /** Polled before each receive; while it returns false the pollers wait (e.g. an embedded service is restarting). */
  readonly available?: () => boolean;
  /** Long-poll wait per receive, 0..20 s (default 20). stop() aborts a waiting receive. */
  readonly waitTimeSeconds?: number;
  /** Context.functionName (default: 'afg-local'). */
  readonly functionName?: string;
  /** Context.getRemainingTimeInMillis counts down from this (default 30000). */
  readonly timeoutMs?: number;
}

export interface EventSourceStats {
  /** Messages received (a redelivered message counts again). */
  readonly received: number;
  /** Records deleted after a successful invocation. */
  readonly succeeded: number;
  /** Records left for redelivery: reported in batchItemFailures, in a failed invocation, or not deleted. */
  readonly failed: number;
  /** Handler invocations. */
  readonly batches: number;
}

const MAX_RECEIVE = 10;
/** Backoff while a dependency is unavailable: full jitter up to base * 2^(attempt-1), at most the cap. */
const OUTAGE_BACKOFF = { baseMs: 100, capMs: 2_000 } as const;
const AVAILABLE_POLL_MS = 100;

/** Where an outage was seen: receiving or deleting (SQS), or in the handler (its stores). */
type OutageSide = 'queue' | 'handler';

/**
 * Polls `queueUrl` and invokes `handler` with Lambda's SQS event-source semantics (see the module comment).
 * @example
 * const source = new SqsEventSource({ sqs, queueUrl, region, batchSize: 10, maxBatchingWindowMs: 0, concurrency: 2, handler });
 * source.start(); ...; await source.stop();
 * Throws InputError from the constructor for out-of-range options.
 */
export class SqsEventSource {
  private readonly opts: EventSourceOptions;
  private readonly waitTimeSeconds: number;
  private readonly counts = { received: 0, succeeded: 0, failed: 0, batches: 0 };
  private running = false;
  private abort = new AbortController();
  private workers: Promise<void>[] = [];
  private arn: string | undefined;
  /** Ongoing outages (shared by the pollers), by side. */
  private readonly outages = new Map<OutageSide, { since: number; failures: number }>();

  constructor(opts: EventSourceOptions) {
    const int = (value: number | undefined, field: string, min: number, max: number) => {
      if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
        throw new InputError(field, `expected an integer in [${min}, ${max}]`);
    };
    int(opts.batchSize, 'batchSize', 1, 10_000);
    int(opts.maxBatchingWindowMs, 'maxBatchingWindowMs', 0, 300_000);
    int(opts.concurrency, 'concurrency', 1, 1000);
    int(opts.visibilityTimeoutSeconds, 'visibilityTimeoutSeconds', 0, 43_200);
    int(opts.waitTimeSeconds, 'waitTimeSeconds', 0, 20);
    int(opts.timeoutMs, 'timeoutMs', 1, 900_000);
    if (typeof opts.queueUrl !== 'string' || opts.queueUrl === '') throw new InputError('queueUrl', 'expected a queue URL');
    if (typeof opts.handler !== 'function') throw new InputError('handler', 'expected a function');
    this.opts = opts;
    this.waitTimeSeconds = opts.waitTimeSeconds ?? 20;
  }

  /** Starts the pollers. Calling start() on a running source does nothing. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.workers = Array.from({ length: this.opts.concurrency }, () => this.poll());
  }

  /**
   * Stops polling and resolves once every in-flight invocation has finished and its deletes are done.
   * A receive still waiting is aborted; a message SQS handed to an aborted receive is not lost, it
   * returns after the visibility timeout. Records already gathered into a batch are still processed.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await Promise.all(this.workers);
    this.workers = [];
  }

  stats(): EventSourceStats {
    return { ...this.counts };
  }

  private report(err: unknown): void {
    try {
      this.opts.onError?.(err);
    } catch {
      // a throwing onError must not stop the poller
    }
  }

  private async poll(): Promise<void> {
    let failures = 0;
    while (this.running) {
      if (this.opts.available && !this.opts.available()) {
        await this.pause(AVAILABLE_POLL_MS);
        continue;
      }
      let messages: Message[];
      let arn: string;
      try {
        arn = this.arn ??= this.opts.queueArn ?? (await fetchQueueArn(this.opts.sqs, this.opts.queueUrl));
        messages = await this.gather();
        failures = 0;
        this.recovered('queue');
      } catch (e) {
        if (!this.running) break;
        failures++;
        // Any receive error waits (a bad queue URL would otherwise spin); an outage is also reported once.
        this.failed('queue', e);
        await this.pause(backoffMs(failures, OUTAGE_BACKOFF.baseMs, OUTAGE_BACKOFF.capMs));
        continue;
      }
      if (messages.length > 0 && (await this.invoke(messages, arn)) === 'outage') {
        failures++;
        await this.pause(backoffMs(failures, OUTAGE_BACKOFF.baseMs, OUTAGE_BACKOFF.capMs));
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.abort.signal }).catch(() => {});
  }

  /** Reports `e`, except that of an outage only the first error is reported. Returns true for an outage. */
  private failed(side: OutageSide, e: unknown): boolean {
    const problem = dependencyFailure(e);
    if (problem === undefined) {
      this.report(e);
      return false;
    }
    const ongoing = this.outages.get(side);
    if (ongoing) {
      ongoing.failures++;
      return true;
    }
    this.outages.set(side, { since: Date.now(), failures: 1 });
    this.report(e);
    this.opts.onNote?.(`${this.name()}: ${side === 'queue' ? 'the queue' : 'a store of the handler'} is ${problem}; backing off`);
    return true;
  }

  private recovered(side: OutageSide): void {
    const ended = this.outages.get(side);
    if (!ended) return;
    this.outages.delete(side);
    const seconds = ((Date.now() - ended.since) / 1000).toFixed(1);
    this.opts.onNote?.(`${this.name()}: working again after ${seconds} s (${ended.failures} failed attempt(s), the first one reported)`);
  }

  private name(): string {
    return this.opts.functionName ?? this.opts.queueUrl;
  }

  /** One batch: the first receive long-polls; later ones fill the batch until it is full or the window closes. */
  private async gather(): Promise<Message[]> {
    const { batchSize, maxBatchingWindowMs } = this.opts;
    const batch = await this.receive(Math.min(MAX_RECEIVE, batchSize), this.waitTimeSeconds);
    if (batch.length === 0 || maxBatchingWindowMs === 0) return batch;
    const closesAt = Date.now() + maxBatchingWindowMs;
    while (batch.length < batchSize && this.running) {
      const remaining = closesAt - Date.now();
      if (remaining <= 0) break;
      let more: Message[];
      try {
        more = await this.receive(Math.min(MAX_RECEIVE, batchSize - batch.length), Math.min(20, Math.floor(remaining / 1000)));
      } catch (e) {
        if (this.running) this.failed('queue', e); // keep what we have: those messages are already in flight
        break;
      }
      batch.push(...more);
      // Sub-second remainder: short polls return at once, so pace them.
      if (more.length === 0 && remaining < 1000)
        await sleep(Math.min(remaining, 50), undefined, { signal: this.abort.signal }).catch(() => {});
    }
    return batch;
  }

  private async receive(max: number, waitTimeSeconds: number): Promise<Message[]> {
    const out = await this.opts.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.opts.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitTimeSeconds,
        ...(this.opts.visibilityTimeoutSeconds === undefined ? {} : { VisibilityTimeout: this.opts.visibilityTimeoutSeconds }),
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.abort.signal },
    );
    const messages = out.Messages ?? [];
    this.counts.received += messages.length;
    return messages;
  }

  /** Runs one batch; 'outage' when the handler failed because a dependency is unavailable. */
  private async invoke(messages: Message[], arn: string): Promise<'done' | 'outage'> {
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, arn, this.opts.region)) };
    this.counts.batches++;
    let failedIds: Set<string>;
    try {
      const response = await this.opts.handler(event, this.context());
      failedIds = failuresOf(response, event);
      this.recovered('handler');
    } catch (e) {
      this.counts.failed += messages.length;
      return this.failed('handler', e) ? 'outage' : 'done';
    }
    const toDelete = event.Records.filter((r) => !failedIds.has(r.messageId));
    this.counts.failed += messages.length - toDelete.length;
    const notDeleted = await this.delete(toDelete);
    this.counts.succeeded += toDelete.length - notDeleted;
    this.counts.failed += notDeleted;
    return 'done';
  }

  /** Deletes records in chunks of 10, retrying refused entries once. Returns how many stayed on the queue. */
  private async delete(records: SQSRecord[]): Promise<number> {
    let left = 0;
    for (let i = 0; i < records.length; i += MAX_RECEIVE) {
      let pending = records.slice(i, i + MAX_RECEIVE);
      for (let attempt = 1; pending.length > 0; attempt++) {
        try {
          const out = await this.opts.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: this.opts.queueUrl,
              Entries: pending.map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
            }),
          );
          const failed = new Set((out.Failed ?? []).map((f) => Number(f.Id)));
          if (failed.size > 0 && attempt >= 2) {
            this.report(new Error(`DeleteMessageBatch refused ${failed.size} entries: ${JSON.stringify(out.Failed)}`));
            left += failed.size;
            break;
          }
          pending = pending.filter((_, j) => failed.has(j));
        } catch (e) {
          // The records come back after the visibility timeout and are processed again: at-least-once, as on Lambda.
          this.failed('queue', e);
          left += pending.length;
          break;
        }
      }
    }
    return left;
  }

  private context(): Context {
    const functionName = this.opts.functionName ?? 'afg-local';
    const deadline = Date.now() + (this.opts.timeoutMs ?? 30_000);
    const unsupported = () => {
      throw new Error('callback-style Lambda context methods are not supported; return a promise');
    };
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${this.opts.region}:000000000000:function:${functionName}`,
      memoryLimitInMB: '1024',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
  }
}

/**
 * The messageIds to keep on the queue, per Lambda's ReportBatchItemFailures rules: undefined, null or
 * an empty list means all succeeded; an itemIdentifier that is empty or not in the batch makes the
 * whole batch fail (thrown, so the caller treats it like a handler error).
 */
export function failuresOf(response: unknown, event: SQSEvent): Set<string> {
  const ids = new Set<string>();
  if (response === undefined || response === null) return ids;
  const list = (response as Partial<SQSBatchResponse>).batchItemFailures;
  if (list === undefined || list === null) return ids;
  if (!Array.isArray(list)) throw new InputError('batchItemFailures', 'expected an array; the whole batch is treated as failed');
  const inBatch = new Set(event.Records.map((r) => r.messageId));
  for (const [i, item] of list.entries()) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !inBatch.has(id))
      throw new InputError(`batchItemFailures[${i}].itemIdentifier`, 'not a messageId of this batch; the whole batch is treated as failed');
    ids.add(id);
  }
  return ids;
}

/** Converts an SDK message into the record Lambda would deliver. */
export function toRecord(m: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  const a = m.Attributes ?? {};
  const attributes: SQSRecordAttributes = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? '',
    SenderId: a.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '',
  };
  for (const key of ['AWSTraceHeader', 'SequenceNumber', 'MessageGroupId', 'MessageDeduplicationId', 'DeadLetterQueueSourceArn'] as const)
    if (a[key] !== undefined) attributes[key] = a[key];
  const record: SQSRecord = {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes,
    messageAttributes: toMessageAttributes(m.MessageAttributes),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
  if (m.MD5OfMessageAttributes !== undefined) record.md5OfMessageAttributes = m.MD5OfMessageAttributes;
  return record;
}

function toMessageAttributes(attrs: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(attrs ?? {})) {
    out[name] = {
      dataType: v.DataType ?? 'String',
      stringListValues: [],
      binaryListValues: [],
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
    };
  }
  return out;
}
