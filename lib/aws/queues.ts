/**
 * SQS queue helpers: idempotent creation with a dead-letter queue, cached URL lookup, and batched
 * sends that retry only the entries SQS refused and never drop one silently.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueNameExists,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { dlqName } from '../config.js';
import { AfgError, InputError } from '../core/errors.js';

/** SQS answered without a field it always returns (a broken emulator or proxy). */
export class SqsBadResponseError extends AfgError<'SQS_BAD_RESPONSE'> {
  constructor(message: string) {
    super('SQS_BAD_RESPONSE', message);
  }
}

/** Largest total payload of one SendMessageBatch request (and of one message) we send: 256 KiB. */
export const MAX_BATCH_BYTES = 256 * 1024;
/** Most entries SQS accepts in one SendMessageBatch. */
export const MAX_BATCH_ENTRIES = 10;
/** DLQ retention: the SQS maximum (14 days), so poison messages stay around for inspection. */
const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

export interface EnsureQueueOptions {
  /** Create `<name>-dlq` and redrive to it after this many receives. */
  readonly dlq?: { readonly maxReceiveCount: number };
  readonly visibilityTimeoutSeconds: number;
}

export interface FailedEntry {
  /** Index of the body in the array given to sendBatch. */
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly senderFault: boolean;
}

/** Some messages of a sendBatch call were not accepted by SQS; `failed` names each one. */
export class SendBatchError extends AfgError<'SQS_SEND_FAILED', { queueUrl: string; failed: FailedEntry[] }> {
  constructor(queueUrl: string, failed: FailedEntry[], options?: { cause?: unknown }) {
    const first = failed[0];
    super(
      'SQS_SEND_FAILED',
      `${failed.length} message(s) not accepted by ${queueUrl}` +
        (first ? ` (first: #${first.index} ${first.code}: ${first.message})` : ''),
      { queueUrl, failed },
      options,
    );
  }
}

/**
 * Creates the queue (and its DLQ with a RedrivePolicy when `opts.dlq` is set) or, when it exists,
 * sets the same attributes on it. Safe to call on every start-up. Returns the queue URL.
 * Throws InputError for out-of-range options; SDK errors pass through.
 */
export async function ensureQueue(sqs: SQSClient, name: string, opts: EnsureQueueOptions): Promise<string> {
  const visibility = opts.visibilityTimeoutSeconds;
  if (!Number.isInteger(visibility) || visibility < 0 || visibility > 43_200)
    throw new InputError('visibilityTimeoutSeconds', 'expected an integer in [0, 43200]');
  const attributes: Record<string, string> = { VisibilityTimeout: String(visibility) };
  if (opts.dlq !== undefined) {
    const { maxReceiveCount } = opts.dlq;
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000)
      throw new InputError('dlq.maxReceiveCount', 'expected an integer in [1, 1000]');
    const dlqUrl = await createOrUpdate(sqs, dlqName(name), { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) });
    const arn = await queueArn(sqs, dlqUrl);
    attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount });
  }
  return createOrUpdate(sqs, name, attributes);
}

async function createOrUpdate(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  try {
    const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (out.QueueUrl === undefined) throw new SqsBadResponseError(`CreateQueue ${name} returned no QueueUrl`);
    rememberUrl(sqs, name, out.QueueUrl);
    return out.QueueUrl;
  } catch (e) {
    // CreateQueue is idempotent only with identical attributes; converge an existing queue instead.
    if (!isQueueNameExists(e)) throw e;
    const url = await resolveQueueUrl(sqs, name);
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
    return url;
  }
}

// SQS's JSON protocol may surface the query-compatible code (AWS.SimpleQueueService.QueueNameExists)
// instead of the modelled exception class, depending on the service or emulator.
function isQueueNameExists(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return e instanceof QueueNameExists || (typeof name === 'string' && /QueueNameExists|QueueAlreadyExists/.test(name));
}

/** The queue's ARN (GetQueueAttributes). */
export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (arn === undefined) throw new SqsBadResponseError(`GetQueueAttributes ${queueUrl} returned no QueueArn`);
  return arn;
}

// URLs never change for a (client = region + endpoint, name) pair, so one lookup per process suffices.
const urlCache = new WeakMap<SQSClient, Map<string, Promise<string>>>();

function urlsOf(sqs: SQSClient): Map<string, Promise<string>> {
  let byName = urlCache.get(sqs);
  if (byName === undefined) {
    byName = new Map();
    urlCache.set(sqs, byName);
  }
  return byName;
}

function rememberUrl(sqs: SQSClient, name: string, url: string): void {
  urlsOf(sqs).set(name, Promise.resolve(url));
}

/**
 * The URL of queue `name` in the client's region (GetQueueUrl), cached per client and name.
 * A failed lookup is not cached. Throws the SDK's QueueDoesNotExist when the queue is missing.
 */
export function resolveQueueUrl(sqs: SQSClient, name: string): Promise<string> {
  const byName = urlsOf(sqs);
  const hit = byName.get(name);
  if (hit !== undefined) return hit;
  const lookup = sqs.send(new GetQueueUrlCommand({ QueueName: name })).then((out) => {
    if (out.QueueUrl === undefined) throw new SqsBadResponseError(`GetQueueUrl ${name} returned no QueueUrl`);
    return out.QueueUrl;
  });
  byName.set(name, lookup);
  lookup.catch(() => byName.delete(name));
  return lookup;
}

/** Splits bodies into SendMessageBatch requests: at most 10 entries and MAX_BATCH_BYTES each. Returns body indices. */
export function planBatches(bodies: readonly string[]): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  bodies.forEach((body, index) => {
    if (typeof body !== 'string') throw new InputError(`bodies[${index}]`, 'expected a string');
    const size = Buffer.byteLength(body, 'utf8');
    if (size === 0) throw new InputError(`bodies[${index}]`, 'SQS refuses empty messages');
    if (size > MAX_BATCH_BYTES) throw new InputError(`bodies[${index}]`, `${size} bytes exceeds ${MAX_BATCH_BYTES}`);
    if (current.length === MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  });
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface SendBatchOptions {
  /** Attempts for entries SQS reports as failed without sender fault (default 4). */
  readonly attempts?: number;
  /** First backoff between attempts, doubled each time (default 50 ms). */
  readonly backoffMs?: number;
  /** Deliver no sooner than this many seconds (0..900; SQS DelaySeconds on every entry). */
  readonly delaySeconds?: number;
}

/**
 * Sends every body to `queueUrl` with SendMessageBatch (chunks of <= 10 entries and <= 256 KiB).
 * Entries SQS refuses without sender fault are retried alone with backoff; the whole-request
 * retries are the SDK's. Returns the MessageId of each body, by index.
 * Throws InputError for an empty or oversized body (before sending anything), and SendBatchError
 * naming every entry that was not confirmed (refused, or in a request that failed) once retries are spent.
 */
export async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  opts: SendBatchOptions = {},
): Promise<string[]> {
  const attempts = opts.attempts ?? 4;
  const backoffMs = opts.backoffMs ?? 50;
  const batches = planBatches(bodies);
  const ids: string[] = new Array(bodies.length);
  const failed: FailedEntry[] = [];
  for (let b = 0; b < batches.length; b++) {
    let pending = batches[b]!;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let out: SendMessageBatchCommandOutput;
      try {
        out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: pending.map((i) => ({
              Id: String(i),
              MessageBody: bodies[i]!,
              ...(opts.delaySeconds ? { DelaySeconds: opts.delaySeconds } : {}),
            })),
          }),
        );
      } catch (e) {
        // The SDK already retried this request; whether SQS stored any of it is unknown, so report all unconfirmed.
        const unconfirmed = [...pending, ...batches.slice(b + 1).flat()].map((index) => ({
          index,
          code: (e as { name?: string }).name ?? 'Error',
          message: (e as Error).message,
          senderFault: false,
        }));
        throw new SendBatchError(queueUrl, [...failed, ...unconfirmed], { cause: e });
      }
      for (const ok of out.Successful ?? []) if (ok.MessageId !== undefined) ids[Number(ok.Id)] = ok.MessageId;
      const retry: number[] = [];
      for (const f of out.Failed ?? []) {
        const index = Number(f.Id);
        const entry = { index, code: f.Code ?? 'Unknown', message: f.Message ?? '', senderFault: f.SenderFault === true };
        if (entry.senderFault || attempt >= attempts) failed.push(entry);
        else retry.push(index);
      }
      // An entry in neither list would be a service bug; never treat it as sent.
      for (const index of pending)
        if (ids[index] === undefined && !retry.includes(index) && !failed.some((f) => f.index === index))
          failed.push({ index, code: 'Missing', message: 'absent from the SendMessageBatch response', senderFault: false });
      pending = retry;
      if (pending.length > 0) await sleep(backoffMs * 2 ** (attempt - 1));
    }
  }
  if (failed.length > 0)
    throw new SendBatchError(
      queueUrl,
      failed.sort((x, y) => x.index - y.index),
    );
  return ids;
}

/** Approximate visible messages per queue name (e.g. DLQ depths for /v1/health). */
export async function queueDepths(sqs: SQSClient, names: readonly string[]): Promise<Record<string, number>> {
  const entries = await Promise.all(
    names.map(async (name) => {
      const out = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: await resolveQueueUrl(sqs, name), AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      return [name, Number(out.Attributes?.ApproximateNumberOfMessages ?? 0)] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * Makes a received message visible again after `seconds` (ChangeMessageVisibility), the queue named
 * by the record's eventSourceARN (`arn:aws:sqs:<region>:<account>:<name>`), through `sqsOf(region)`.
 * @throws InputError when the ARN is not an SQS queue ARN; the SDK's error when the request fails
 */
export async function changeVisibility(
  sqsOf: (region: string) => SQSClient,
  record: { readonly receiptHandle: string; readonly eventSourceARN: string },
  seconds: number,
): Promise<void> {
  const m = /^arn:[^:]+:sqs:([^:]+):[^:]*:(.+)$/.exec(record.eventSourceARN);
  if (!m) throw new InputError('eventSourceARN', `${record.eventSourceARN} is not an SQS queue ARN`);
  const sqs = sqsOf(m[1]!);
  const url = await resolveQueueUrl(sqs, m[2]!);
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: record.receiptHandle, VisibilityTimeout: seconds }));
}
