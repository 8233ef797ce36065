/**
 * AWS errors mapped to domain outcomes. The stores make every write one conditional request and
 * turn a failed condition into an outcome (duplicate, refused, lost race) using the existing item,
 * which DynamoDB returns with the error (`ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`), so no
 * second read is needed. Any other error passes through unchanged.
 *
 * Retries of our own write. The SDK retries a request whose response was lost (timeout, reset); if
 * the first attempt had landed, the retry fails its condition against our own item. Every write
 * whose outcome matters ("true if this call made it") therefore carries a per-call token (attribute
 * `w`, see writeToken); a failed condition whose old item holds our token is our success.
 *
 * Throttling (ThrottlingException, ProvisionedThroughputExceededException, RequestLimitExceeded) is
 * retried with exponential backoff by the SDK's retry strategy, configured once in clients.ts
 * (maxAttempts, adaptive mode); BatchWriteItem's UnprocessedItems, which the SDK does not retry,
 * are retried by the node store with the backoff below.
 */
import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, type PutCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { AfgError } from '../core/errors.js';

/** A store-level failure that is not a domain outcome. */
export class StoreError extends AfgError<
  'ITEM_TOO_LARGE' | 'UNPROCESSED_ITEMS' | 'CORRUPT_ITEM' | 'CONTENDED',
  { table: string; key?: string; bytes?: number; unprocessed?: number }
> {}

/** Names of the error codes DynamoDB uses for throttling (retryable after backoff). */
export const THROTTLING_ERRORS: readonly string[] = [
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
];

const nameOf = (e: unknown): string | undefined => {
  const name = (e as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
};

/**
 * Why a store or queue could not be used: nothing answers at its address, it answered too slowly,
 * it throttled us beyond the SDK's retries, or it failed on its side (5xx).
 */
export type DependencyProblem = 'unreachable' | 'timeout' | 'throttled' | 'service-error';

/** Socket-level error codes (Node and undici) meaning the service cannot be reached. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
/** Throttling as DynamoDB and SQS name it (the SQS JSON protocol may prefix the query-compatible code). */
const THROTTLED_NAMES = new Set([...THROTTLING_ERRORS, 'RequestThrottled', 'TooManyRequestsException', 'LimitExceededException']);
const SERVICE_ERROR_NAMES = new Set([
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);

/**
 * The one classification of dependency failures: returns why `e` means a store or queue is
 * unavailable, or undefined for anything else (a refusal, a missing resource, a bug). Looks through
 * `cause` chains and AggregateErrors, so wrapped errors (TransportError, SendBatchError) classify by
 * what they wrap. Used by the API (503 instead of 500), the health probes and the local event
 * sources (back off instead of retrying at once).
 * @example dependencyFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' })) // 'unreachable'
 */
export function dependencyFailure(e: unknown): DependencyProblem | undefined {
  const seen = new Set<unknown>();
  const visit = (x: unknown, depth: number): DependencyProblem | undefined => {
    if (x === null || typeof x !== 'object' || seen.has(x) || depth > 8) return undefined;
    seen.add(x);
    const err = x as {
      name?: unknown;
      code?: unknown;
      cause?: unknown;
      errors?: unknown;
      $fault?: unknown;
      $metadata?: { httpStatusCode?: unknown };
      meta?: { failed?: { senderFault?: unknown }[] };
    };
    const name = typeof err.name === 'string' ? err.name.replace(/^AWS\.SimpleQueueService\./, '') : '';
    const code = typeof err.code === 'string' ? err.code : '';
    if (THROTTLED_NAMES.has(name)) return 'throttled';
    if (UNREACHABLE_CODES.has(code)) return 'unreachable';
    if (TIMEOUT_CODES.has(code) || TIMEOUT_NAMES.has(name)) return 'timeout';
    if (SERVICE_ERROR_NAMES.has(name) || err.$fault === 'server') return 'service-error';
    const status = err.$metadata?.httpStatusCode;
    if (typeof status === 'number' && status >= 500) return 'service-error';
    if (x instanceof StoreError && x.code === 'UNPROCESSED_ITEMS') return 'throttled';
    const nested = visit(err.cause, depth + 1);
    if (nested !== undefined) return nested;
    if (Array.isArray(err.errors))
      for (const inner of err.errors) {
        const found = visit(inner, depth + 1);
        if (found !== undefined) return found;
      }
    // SendBatchError: entries SQS kept refusing, none for a fault of ours (no request error to look at).
    const failed = err.meta?.failed;
    if (code === 'SQS_SEND_FAILED' && Array.isArray(failed) && failed.length > 0 && failed.every((f) => f.senderFault === false))
      return 'service-error';
    return undefined;
  };
  return visit(e, 0);
}

/** True when `e` is ConditionalCheckFailedException (by name: the class differs between SDK copies and mocks). */
export const isConditionFailed = (e: unknown): boolean => nameOf(e) === 'ConditionalCheckFailedException';

/**
 * The item that failed the condition, unmarshalled (the document client does not unmarshall error
 * payloads). Undefined when the item did not exist or the request did not ask for ALL_OLD.
 */
export function oldItem(e: unknown): Record<string, unknown> | undefined {
  const raw = (e as { Item?: Record<string, AttributeValue> } | null)?.Item;
  return raw === undefined ? undefined : unmarshall(raw, { wrapNumbers: false });
}

/**
 * Runs one conditional write. Resolves `{ ok: true }` when it was applied, and `{ ok: false, old }`
 * (the existing item, if any) when its condition failed; every other error is rethrown unchanged.
 */
export async function conditional<T>(
  write: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; old: Record<string, unknown> | undefined }> {
  try {
    return { ok: true, value: await write() };
  } catch (e) {
    if (!isConditionFailed(e)) throw e;
    return { ok: false, old: oldItem(e) };
  }
}

/** A fresh per-call token for the `w` attribute (see the header). */
export const writeToken = (): string => randomUUID();

/**
 * Cancellation reason codes of a TransactionCanceledException, by item index (e.g. 'None',
 * 'ConditionalCheckFailed', 'TransactionConflict'); undefined for any other error.
 */
export function cancellationReasons(e: unknown): string[] | undefined {
  if (nameOf(e) !== 'TransactionCanceledException') return undefined;
  const reasons = (e as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  return (reasons ?? []).map((r) => r.Code ?? 'None');
}

/** Backoff before retry `attempt` (1-based): base * 2^(attempt-1) with full jitter, capped. */
export function backoffMs(attempt: number, baseMs = 25, capMs = 2_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1));
}

/**
 * A conditional put that reports whether THIS call wrote the item. The item carries a fresh token
 * in `tokenAttribute`; when the condition fails but the stored item holds our token, our own
 * earlier attempt landed (the SDK retried a request whose answer was lost), so it counts as ours.
 */
export async function putOnce(
  db: DynamoDBDocumentClient,
  input: Omit<PutCommandInput, 'ReturnValuesOnConditionCheckFailure'> & { ConditionExpression: string },
  tokenAttribute = 'w',
): Promise<boolean> {
  const token = writeToken();
  const result = await conditional(() =>
    db.send(new PutCommand({ ...input, Item: { ...input.Item, [tokenAttribute]: token }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })),
  );
  return result.ok || result.old?.[tokenAttribute] === token;
}
