/**
 * Counts AWS operations made through SDK clients, per service and operation, for the cost
 * benchmark: requests as SQS bills them (one per call, plus one per further 64 KiB chunk of
 * payload), message entries, empty receives, and DynamoDB read/write request units.
 *
 * DynamoDB units come from the service itself: the counter sets ReturnConsumedCapacity = TOTAL on
 * every data-plane call that takes it and adds up the ConsumedCapacity it returns (DynamoDB Local
 * reports it). A call that fails with a refused condition returns no ConsumedCapacity but is still
 * billed on AWS, so it is counted as an estimate: 1 unit per item written (2 in a transaction),
 * the minimum for items up to 1 KB. Those units are also reported apart as `estimatedUnits`.
 *
 * Counting is a middleware on each client's stack, so it sees exactly what the adapters send:
 * `instrumentClients(aws, regions, counter)` attaches it to the (cached) clients that a
 * ClientFactory hands out, including those built before, e.g. inside a LocalCluster.
 */
import type { ClientFactory } from '../lib/aws/clients.js';

export interface OpCount {
  /** Who made the call, as told by the counter's `originOf` (e.g. a role name); '' without one. */
  readonly origin: string;
  readonly service: string;
  readonly operation: string;
  /** Logical calls (one send()). */
  calls: number;
  /** HTTP attempts, retries included (each is billed by SQS). */
  attempts: number;
  /** Calls that ended in an error (after retries). */
  errors: number;
  /** Batch entries sent/deleted, messages received, or items read/written. */
  entries: number;
  /** SQS: requests as billed (attempts, plus one per extra 64 KiB chunk of message payload). DynamoDB: equals attempts. */
  billedRequests: number;
  /** ReceiveMessage calls that returned no message. */
  emptyReceives: number;
  /** DynamoDB read request units (ConsumedCapacity; on-demand RRU). */
  readUnits: number;
  /** DynamoDB write request units (ConsumedCapacity, plus the estimate for refused conditional writes). */
  writeUnits: number;
  /** Part of readUnits + writeUnits that was estimated, not reported by the service. */
  estimatedUnits: number;
}

export interface OpTotals {
  readonly sqsRequests: number;
  readonly sqsEmptyReceives: number;
  readonly dynamoReadUnits: number;
  readonly dynamoWriteUnits: number;
  readonly dynamoCalls: number;
  readonly estimatedUnits: number;
}

const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const CHUNK = 64 * 1024;

interface CapacityEntry {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

type Input = Record<string, unknown>;
type Output = Record<string, unknown> | undefined;

const bytes = (s: unknown) => (typeof s === 'string' ? Buffer.byteLength(s) : 0);
const chunks = (payload: number) => Math.max(1, Math.ceil(payload / CHUNK));

/** Items a DynamoDB write call touches (for the refused-write estimate and `entries`). */
function writeItems(operation: string, input: Input): number {
  if (operation === 'BatchWriteItem') {
    const req = (input.RequestItems ?? {}) as Record<string, unknown[]>;
    return Object.values(req).reduce((n, list) => n + list.length, 0);
  }
  if (operation === 'TransactWriteItems') return ((input.TransactItems ?? []) as unknown[]).length;
  return 1;
}

/** Names the origin of a call (e.g. from an AsyncLocalStorage set around each handler, or the queue URL). */
export type OriginOf = (service: string, operation: string, input: Record<string, unknown>) => string;

/**
 * Accumulates operation counts per (origin, service, operation); `middleware(service)` returns the
 * SDK middleware pair that feeds it.
 */
export class AwsOpsCounter {
  private readonly counts = new Map<string, OpCount>();
  constructor(private readonly originOf: OriginOf = () => '') {}

  private entry(origin: string, service: string, operation: string): OpCount {
    const key = `${origin}/${service}/${operation}`;
    let c = this.counts.get(key);
    if (c === undefined) {
      c = {
        origin,
        service,
        operation,
        calls: 0,
        attempts: 0,
        errors: 0,
        entries: 0,
        billedRequests: 0,
        emptyReceives: 0,
        readUnits: 0,
        writeUnits: 0,
        estimatedUnits: 0,
      };
      this.counts.set(key, c);
    }
    return c;
  }

  /** Forgets everything counted so far (start of a measurement window). */
  reset(): void {
    this.counts.clear();
  }

  /** Copies of the counts, sorted by origin, service, operation. */
  snapshot(): OpCount[] {
    const key = (c: OpCount) => `${c.origin}/${c.service}/${c.operation}`;
    return [...this.counts.values()].map((c) => ({ ...c })).sort((a, b) => key(a).localeCompare(key(b)));
  }

  /** Sums over the operations whose origin passes `include` (default all): SQS billed requests, DynamoDB units. */
  totals(include: (origin: string) => boolean = () => true): OpTotals {
    const all = [...this.counts.values()].filter((c) => include(c.origin));
    const sum = (f: (c: OpCount) => number, service?: string) =>
      all.filter((c) => service === undefined || c.service === service).reduce((s, c) => s + f(c), 0);
    return {
      sqsRequests: sum((c) => c.billedRequests, 'sqs'),
      sqsEmptyReceives: sum((c) => c.emptyReceives, 'sqs'),
      dynamoReadUnits: sum((c) => c.readUnits, 'dynamodb'),
      dynamoWriteUnits: sum((c) => c.writeUnits, 'dynamodb'),
      dynamoCalls: sum((c) => c.calls, 'dynamodb'),
      estimatedUnits: sum((c) => c.estimatedUnits, 'dynamodb'),
    };
  }

  /** Records one logical call (used by the middleware; public for other transports). */
  record(service: string, operation: string, input: Input, output: Output, error: unknown): void {
    const c = this.entry(this.originOf(service, operation, input), service, operation);
    c.calls++;
    if (error !== undefined) c.errors++;
    if (service === 'sqs') this.recordSqs(c, operation, input, output);
    else if (service === 'dynamodb') this.recordDynamo(c, operation, input, output, error);
  }

  /** Records one HTTP attempt (retries included). */
  attempt(service: string, operation: string, input: Input): void {
    const c = this.entry(this.originOf(service, operation, input), service, operation);
    c.attempts++;
    // A retried SQS attempt is billed like the first one; chunks beyond the first are added per call in recordSqs.
    c.billedRequests++;
  }

  private recordSqs(c: OpCount, operation: string, input: Input, output: Output): void {
    if (operation === 'SendMessageBatch' || operation === 'DeleteMessageBatch') {
      const entries = (input.Entries ?? []) as { MessageBody?: string }[];
      c.entries += entries.length;
      if (operation === 'SendMessageBatch') c.billedRequests += chunks(entries.reduce((s, e) => s + bytes(e.MessageBody), 0)) - 1;
    } else if (operation === 'SendMessage') {
      c.entries++;
      c.billedRequests += chunks(bytes(input.MessageBody)) - 1;
    } else if (operation === 'ReceiveMessage') {
      const messages = ((output?.Messages ?? []) as { Body?: string }[]) ?? [];
      c.entries += messages.length;
      if (messages.length === 0) c.emptyReceives++;
      else c.billedRequests += chunks(messages.reduce((s, m) => s + bytes(m.Body), 0)) - 1;
    }
  }

  private recordDynamo(c: OpCount, operation: string, input: Input, output: Output, error: unknown): void {
    const capacity = output?.ConsumedCapacity as CapacityEntry | CapacityEntry[] | undefined;
    const list = capacity === undefined ? [] : Array.isArray(capacity) ? capacity : [capacity];
    if (READS.has(operation)) {
      const items = output?.Items as unknown[] | undefined;
      c.entries += items ? items.length : output?.Item ? 1 : 0;
    } else if (WRITES.has(operation)) c.entries += writeItems(operation, input);
    if (list.length > 0) {
      for (const e of list) {
        if (e.ReadCapacityUnits !== undefined || e.WriteCapacityUnits !== undefined) {
          c.readUnits += e.ReadCapacityUnits ?? 0;
          c.writeUnits += e.WriteCapacityUnits ?? 0;
        } else if (READS.has(operation)) c.readUnits += e.CapacityUnits ?? 0;
        else c.writeUnits += e.CapacityUnits ?? 0;
      }
      return;
    }
    // A refused condition (ConditionalCheckFailed, TransactionCanceled) is billed but reports no capacity.
    const name = (error as { name?: string } | undefined)?.name;
    if (WRITES.has(operation) && (name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException')) {
      const units = writeItems(operation, input) * (operation === 'TransactWriteItems' ? 2 : 1);
      c.writeUnits += units;
      c.estimatedUnits += units;
    }
  }

  /**
   * The middlewares for one client: an initialize-step one (one per send: asks DynamoDB for
   * ConsumedCapacity, records the outcome) and a deserialize-step one (runs once per HTTP attempt).
   */
  middleware(service: string): Middlewares {
    const operationOf = (context: { commandName?: string }) => (context.commandName ?? 'Unknown').replace(/Command$/, '');
    return {
      call: (next, context) => async (args) => {
        const operation = operationOf(context);
        const input = { ...(args.input as Input) };
        if (service === 'dynamodb' && (READS.has(operation) || WRITES.has(operation)) && input.ReturnConsumedCapacity === undefined)
          input.ReturnConsumedCapacity = 'TOTAL';
        try {
          const result = await next({ ...args, input });
          this.record(service, operation, input, result.output as Output, undefined);
          return result;
        } catch (e) {
          this.record(service, operation, input, undefined, e);
          throw e;
        }
      },
      attempt: (next, context) => async (args) => {
        this.attempt(service, operationOf(context), args.input as Input);
        return next(args);
      },
    };
  }
}

// Minimal structural types of SDK v3 middleware (avoids a dependency on @smithy/types).
// biome-ignore lint/suspicious/noExplicitAny: SDK middleware signatures are generic over every command
type AnyArgs = { input: any; request?: unknown };
type Handler = (args: AnyArgs) => Promise<{ output: unknown; response?: unknown }>;
type Middleware = (next: Handler, context: { commandName?: string; clientName?: string }) => Handler;
interface Middlewares {
  readonly call: Middleware;
  readonly attempt: Middleware;
}
interface StackOwner {
  middlewareStack: { add(m: Middleware, o: { step: string; name: string; override?: boolean }): void };
}

/**
 * Attaches `counter`'s middleware to the DynamoDB and SQS clients `aws` hands out for each region.
 * The factory caches one client per (service, region), so clients already in use (a running
 * LocalCluster's) are instrumented too. Idempotent per client (named middlewares, override).
 */
export function instrumentClients(aws: ClientFactory, regions: readonly string[], counter: AwsOpsCounter): void {
  for (const region of regions) {
    const clients: [string, StackOwner][] = [
      ['dynamodb', aws.dynamo(region) as unknown as StackOwner],
      ['sqs', aws.sqs(region) as unknown as StackOwner],
    ];
    for (const [service, client] of clients) {
      const m = counter.middleware(service);
      client.middlewareStack.add(m.call, { step: 'initialize', name: 'afgBenchOpsCall', override: true });
      client.middlewareStack.add(m.attempt, { step: 'deserialize', name: 'afgBenchOpsAttempt', override: true });
    }
  }
}
