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
export async function conditional(
  write: () => Promise<unknown>,
): Promise<{ ok: true } | { ok: false; old: Record<string, unknown> | undefined }> {
  try {
    await write();
    return { ok: true };
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
