/** BatchWriteItem with the retries the SDK leaves to us (UnprocessedItems). */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoffMs, StoreError } from './errors.js';

/** Items in one BatchWriteItem call (the service's limit). */
const BATCH_ITEMS = 25;
/** Attempts at an unprocessed chunk before giving up. */
const MAX_ATTEMPTS = 8;

/**
 * Puts `puts` and deletes the keys in `deletes` in chunks of 25, re-sending unprocessed items with
 * backoff. Neither list may name one key twice within a chunk (a service rule).
 * @throws StoreError UNPROCESSED_ITEMS when a chunk is still unprocessed after 8 attempts; SDK errors pass through.
 */
export async function batchWrite(
  db: DynamoDBDocumentClient,
  table: string,
  puts: readonly Record<string, unknown>[],
  deletes: readonly Record<string, unknown>[] = [],
): Promise<void> {
  const requests = [...puts.map((Item) => ({ PutRequest: { Item } })), ...deletes.map((Key) => ({ DeleteRequest: { Key } }))];
  for (let i = 0; i < requests.length; i += BATCH_ITEMS) {
    let chunk: typeof requests = requests.slice(i, i + BATCH_ITEMS);
    for (let attempt = 0; chunk.length > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS)
        throw new StoreError('UNPROCESSED_ITEMS', `${chunk.length} writes left unprocessed after ${attempt} attempts`, {
          table,
          unprocessed: chunk.length,
        });
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      const out = await db.send(new BatchWriteCommand({ RequestItems: { [table]: chunk } }));
      chunk = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  }
}
