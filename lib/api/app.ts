/**
 * The HTTP API as one framework-free function: `(ApiRequest) => Promise<ApiResponse>`. The same
 * core serves node:http locally (node-server.ts) and API Gateway HTTP API v2 on Lambda (lambda.ts).
 * Routes and request validation come from the OpenAPI document (openapi.ts, validate.ts); answers
 * come from the QueryService, so every account answer carries a proof and its certificate.
 */
import { fromHex, toHex } from '../core/bytes.js';
import { txHash, txSigningBytes } from '../core/codec.js';
import { ed25519Verify } from '../core/ed25519.js';
import { AfgError, InputError } from '../core/errors.js';
import type { Transaction } from '../core/types.js';
import { transactionFromJson } from '../core/wire.js';
import type { ChainContext } from '../pipeline/context.js';
import type { Transport } from '../pipeline/ports.js';
import { NotFound, type QueryService } from '../pipeline/query.js';
import { ApiError } from './errors.js';
import { MAX_BODY_BYTES, openapiDocument } from './openapi.js';
import { compileOperations, type Operation } from './validate.js';

export interface ApiRequest {
  readonly method: string;
  /** Path without query string, e.g. `/v1/blocks/7`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string | undefined;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface ApiDeps {
  readonly query: QueryService;
  readonly transport: Transport;
  readonly chain: ChainContext;
  /** /v1/health answers 503 when the head is more than this many blocks ahead of finality. */
  readonly maxLagBlocks: number;
  /** Served at GET / when given (the dashboard page). */
  readonly dashboardHtml?: string;
  /**
   * Counters served at GET /v1/metrics (e.g. a CounterTelemetry's `totals` and `last` maps);
   * without it that route answers 404.
   */
  readonly metrics?: () => { totals: ReadonlyMap<string, number>; last: ReadonlyMap<string, number> };
  /**
   * Says why an error means a store or queue is unavailable (unreachable, timing out, throttled), or
   * undefined for any other error: dependencyFailure from lib/aws/errors.ts. Such errors answer 503
   * UNAVAILABLE with Retry-After on every route instead of 500, which stays for bugs. Without it
   * every unexpected error is a 500.
   */
  readonly dependencyFailure?: (e: unknown) => string | undefined;
  /** Retry-After (seconds) sent with every 503 (default 2). */
  readonly retryAfterSeconds?: number;
  /** Receives unexpected errors (500s) with the request line; default: one JSON line on stderr. */
  readonly log?: (entry: { level: 'error'; message: string; method: string; path: string; error: unknown }) => void;
}

export type Api = (req: ApiRequest) => Promise<ApiResponse>;

type Params = Record<string, unknown>;
type Handler = (params: Params, req: ApiRequest) => Promise<ApiResponse>;

const JSON_TYPE = 'application/json; charset=utf-8';
const CORS = { 'access-control-allow-origin': '*' };
const utf8 = new TextEncoder();

const json = (status: number, value: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  headers: { 'content-type': JSON_TYPE, ...headers },
  body: JSON.stringify(value),
});

/** The error answer `{ error: { code, message } }`. */
export const errorResponse = (e: ApiError, headers: Record<string, string> = {}): ApiResponse =>
  json(e.status, { error: { code: e.code, message: e.message } }, headers);

/**
 * Builds the API over `deps`. Never throws: refusals become 4xx answers, a failed transport or an
 * unavailable store (per `deps.dependencyFailure`) a 503 with Retry-After, anything unexpected a 500
 * whose body says only "internal error" (details go to `deps.log`).
 * @example const api = createApi({ query, transport, chain, maxLagBlocks: 16 }); await api({ method: 'GET', path: '/v1/health', query: {}, headers: {}, body: undefined })
 */
export function createApi(deps: ApiDeps): Api {
  const { operations } = compileOperations();
  const openapiBody = JSON.stringify(openapiDocument);
  const log =
    deps.log ??
    ((entry) =>
      console.error(
        JSON.stringify({
          ...entry,
          error:
            entry.error instanceof Error
              ? { name: entry.error.name, message: entry.error.message, stack: entry.error.stack }
              : String(entry.error),
        }),
      ));
  const { chainId } = deps.chain.set;
  const retryAfter = String(deps.retryAfterSeconds ?? 2);

  const handlers: Record<string, Handler> = {
    getValidators: async () => json(200, deps.query.validators()),
    getFinality: async () => json(200, await deps.query.finality()),
    getCheckpoint: async (p) => json(200, await deps.query.checkpoint(p.height as number)),
    getBlock: async (p) => json(200, await deps.query.block(p.height as number)),
    getAccount: async (p) => json(200, await deps.query.account(fromHex(p.publicKeyHex, 32, 'publicKeyHex'))),
    getEvidence: async (p) => json(200, await deps.query.evidence(p.limit as number)),
    getHealth: async () => {
      const health = await deps.query.health({ maxLagBlocks: deps.maxLagBlocks });
      return health.status === 'ok' ? json(200, health) : json(503, health, { 'retry-after': retryAfter });
    },
    getMetrics: async () => {
      if (!deps.metrics)
        throw new ApiError(404, 'NOT_FOUND', 'this process collects no counters (on AWS read the afg namespace in CloudWatch)');
      const { totals, last } = deps.metrics();
      return json(200, { region: deps.query.region, scope: 'process', totals: Object.fromEntries(totals), last: Object.fromEntries(last) });
    },
    getOpenApi: async () => ({ status: 200, headers: { 'content-type': JSON_TYPE }, body: openapiBody }),
    postTransaction: async (_p, req) => json(202, { hash: await submit(parseBody(req.body, operationById('postTransaction'))) }),
  };

  for (const op of operations) if (!handlers[op.operationId]) throw new Error(`openapi: no handler for operation ${op.operationId}`);

  function operationById(id: string): Operation {
    return operations.find((o) => o.operationId === id)!;
  }

  /** Signature for this chain, then a nonce check against finalized state, then a durable send. */
  async function submit(body: unknown): Promise<string> {
    const tx: Transaction = transactionFromJson(body, '');
    if (!ed25519Verify(tx.signature, txSigningBytes(chainId, tx), tx.from))
      throw new ApiError(
        400,
        'BAD_SIGNATURE',
        'signature: signature does not verify for this chain (ed25519 by `from` over the AFG-TX-V1 signing bytes)',
      );
    const { checkpoint } = await deps.query.readableCheckpoint();
    const account = await deps.chain.ledger.account(checkpoint.stateRoot, tx.from);
    const next = account?.nonce ?? 0n;
    if (tx.nonce < next)
      throw new ApiError(
        400,
        'STALE_NONCE',
        `nonce: ${tx.nonce} is stale; the account's next nonce at finalized height ${checkpoint.height} is ${next}`,
      );
    try {
      await deps.transport.send({ queue: 'ingress' }, [{ kind: 'tx', tx }]);
    } catch (cause) {
      // Not accepted: the client may retry the same transaction (same hash); duplicates fail the nonce rule.
      throw new ApiError(503, 'UNAVAILABLE', 'the transaction could not be queued; retry later (resubmitting yields the same hash)', {
        cause,
      });
    }
    return toHex(txHash(chainId, tx));
  }

  return async (req) => {
    const method = req.method.toUpperCase();
    const cors = method === 'GET' ? CORS : {};
    try {
      if (req.path === '/' && deps.dashboardHtml !== undefined) {
        if (method !== 'GET') throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on /; use GET`);
        return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: deps.dashboardHtml };
      }
      const matches = operations.map((op) => ({ op, path: op.match(req.path) })).filter((m) => m.path !== undefined);
      if (matches.length === 0) throw new ApiError(404, 'NOT_FOUND', `no route ${req.path}`);
      const allow = [...new Set(matches.map((m) => m.op.method))];
      if (method === 'OPTIONS')
        return {
          status: 204,
          headers: {
            ...CORS,
            'access-control-allow-methods': [...allow, 'OPTIONS'].join(', '),
            'access-control-allow-headers': 'content-type',
          },
          body: '',
        };
      const found = matches.find((m) => m.op.method === method);
      if (!found)
        return errorResponse(new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${req.path}; use ${allow.join(', ')}`), {
          allow: allow.join(', '),
          ...cors,
        });
      const params = found.op.parameters(found.path!, req.query);
      const res = await handlers[found.op.operationId]!(params, req);
      return { ...res, headers: { ...res.headers, ...cors } };
    } catch (e) {
      const err = toApiError(e, req, log, deps.dependencyFailure);
      return errorResponse(err, err.status === 503 ? { ...cors, 'retry-after': retryAfter } : cors);
    }
  };
}

/** Size check, JSON parse and schema validation of a request body. */
function parseBody(body: string | undefined, op: Operation): unknown {
  if (body === undefined || body === '') throw new ApiError(400, 'INVALID_JSON', 'body: expected a JSON object');
  // UTF-8 bytes >= UTF-16 units, so a long string is refused before encoding it.
  if (body.length > MAX_BODY_BYTES || utf8.encode(body).length > MAX_BODY_BYTES)
    throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `body: larger than ${MAX_BODY_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ApiError(400, 'INVALID_JSON', 'body: not valid JSON');
  }
  op.body(value);
  return value;
}

function toApiError(
  e: unknown,
  req: ApiRequest,
  log: NonNullable<ApiDeps['log']>,
  dependencyFailure: ApiDeps['dependencyFailure'],
): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof InputError) return new ApiError(400, 'INVALID_INPUT', e.message, { cause: e });
  if (e instanceof NotFound) return new ApiError(404, 'NOT_FOUND', e.message, { cause: e });
  const problem = dependencyFailure?.(e);
  if (problem !== undefined)
    return new ApiError(503, 'UNAVAILABLE', `a store or queue of this region is unavailable (${problem}); retry later`, { cause: e });
  log({ level: 'error', message: 'unhandled error in API request', method: req.method, path: req.path, error: e });
  return new ApiError(500, 'INTERNAL', 'internal error', { cause: e instanceof AfgError ? e : undefined });
}
