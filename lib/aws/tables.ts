/**
 * Table definitions for local use (DynamoDB Local, LocalStack): three tables per region, each with
 * a string partition key `pk` and a string sort key `sk`, on-demand billing. On AWS the CDK app
 * creates the same tables (with PITR); item layouts are documented in the store files.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, type CreateTableCommandInput, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { resourceNames } from '../config.js';
import { AfgError } from '../core/errors.js';

/** A table did not become ACTIVE in time. */
export class TableNotActiveError extends AfgError<'TABLE_NOT_ACTIVE', { table: string }> {
  constructor(table: string, timeoutMs: number) {
    super('TABLE_NOT_ACTIVE', `table ${table} not ACTIVE after ${timeoutMs} ms`, { table });
  }
}

/** Partition and sort key attribute names shared by every table. */
export const PK = 'pk';
export const SK = 'sk';

/** CreateTable inputs for the blocks, finality and state tables of `prefix`. */
export function tableDefinitions(prefix: string): CreateTableCommandInput[] {
  const names = resourceNames(prefix);
  return [names.blocksTable, names.finalityTable, names.stateTable].map((TableName) => ({
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: PK, AttributeType: 'S' },
      { AttributeName: SK, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: PK, KeyType: 'HASH' },
      { AttributeName: SK, KeyType: 'RANGE' },
    ],
  }));
}

/**
 * Creates the three tables of `prefix` in the client's region if missing and waits until they are
 * ACTIVE. Idempotent. Throws TableNotActiveError after `timeoutMs`; SDK errors pass through.
 * @example await ensureTables(aws.dynamo('eu-west-1'), config.prefix)
 */
export async function ensureTables(dynamo: DynamoDBDocumentClient, prefix: string, timeoutMs = 60_000): Promise<void> {
  await Promise.all(
    tableDefinitions(prefix).map(async (def) => {
      try {
        await dynamo.send(new CreateTableCommand(def));
      } catch (e) {
        if ((e as { name?: string }).name !== 'ResourceInUseException') throw e; // already exists (or being created)
      }
      await waitActive(dynamo, def.TableName!, timeoutMs);
    }),
  );
}

async function waitActive(dynamo: DynamoDBDocumentClient, table: string, timeoutMs: number): Promise<void> {
  for (let waited = 0; ; waited += 200) {
    const out = await dynamo.send(new DescribeTableCommand({ TableName: table }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    if (waited >= timeoutMs) throw new TableNotActiveError(table, timeoutMs);
    await sleep(200);
  }
}

/** Every item of a Query (following LastEvaluatedKey), or the first `limit` items. */
export async function queryAll(
  db: DynamoDBDocumentClient,
  input: QueryCommandInput,
  limit = Number.POSITIVE_INFINITY,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start !== undefined && items.length < limit);
  return items.slice(0, limit);
}
