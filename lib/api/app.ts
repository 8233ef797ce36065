/**
 * The HTTP API as one framework-free function: `(ApiRequest) => Promise<ApiResponse>`. The same
 * core serves node:http locally (node-server.ts) and API Gateway HTTP API v2 on Lambda (lambda.ts).
 * Routes and request validation come from the OpenAPI document (openapi.ts, validate.ts); answers
 * come from the QueryService, so every account answer carries a proof and its certificate.
 */
import { fromHex, toHex } from '../core/bytes.js';
import { AfgError, InputError } from '../core/errors.js';
import { checkpointAtOrBelow } from '../core/ffg.js';
import { transferApplication } from '../core/ledger.js';
import type { ApplicationDefinition } from '../core/state-machine.js';
import { type Admission, admitTransaction, BackupWriteError } from '../pipeline/admission.js';
import type { ChainContext } from '../pipeline/context.js';
import { DEFAULT_POOL_LIMITS } from '../pipeline/pool.js';
import type { PoolLimits, PoolRefusal, PoolStatus, PoolStore, Transport } from '../pipeline/ports.js';
import { NotFound, NotHeld, type QueryService } from '../pipeline/query.js';
import { ApiError } from './errors.js';
import { MAX_BODY_BYTES, openapiDocumentFor } from './openapi.js';
import { type EventStream, FinalityStreams, type StreamOptions } from './stream.js';
import { compileOperations, type Operation } from './validate.js';

export interface ApiRequest {
  readonly method: string;
  /** Path without query string, e.g. `/v1/blocks/7`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string | undefined;
  /** Aborted when the client goes away; an event stream ends then. */
  readonly signal?: AbortSignal;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /**
   * A streamed body (GET /v1/finality/stream): `body` is then empty and the adapter writes these
   * chunks as they come. An adapter must iterate it to the end or call its iterator's `return()`,
   * which frees the stream's slot.
   */
  readonly stream?: EventStream;
}

export interface ApiDeps {
  /** The region's read model (a Region's `query`). */
  readonly query: QueryService;
  /** Where accepted transactions go (a Region's `transport`). */
  readonly transport: Transport;
  /** The chain: its application admits and identifies transactions (a Region's `chain`). */
  readonly chain: ChainContext;
  /** The application's definition: request schema and state route (default: transfers). */
  readonly application?: ApplicationDefinition;
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
   * GET /v1/finality/stream: served by this instance with these options (default), or answered
   * with a 307 redirect to `redirectTo` (an endpoint that really streams, such as the region's
   * Lambda function URL; API Gateway HTTP APIs buffer whole responses).
   */
  readonly stream?: StreamOptions | { readonly redirectTo: string };
  /**
   * Says why an error means a store or queue is unavailable (unreachable, timing out, throttled), or
   * undefined for any other error: dependencyFailure from lib/aws/errors.ts. Such errors answer 503
   * UNAVAILABLE with Retry-After on every route instead of 500, which stays for bugs. Without it
   * every unexpected error is a 500.
   */
  readonly dependencyFailure?: (e: unknown) => string | undefined;
  /** Retry-After (seconds) sent with every 503 (default 2). */
  readonly retryAfterSeconds?: number;
  /**
   * The transaction pool (the home region's, whichever region this API serves): POST
   * /v1/transactions admits into it before answering 202 and then wakes the sequencer;
   * GET /v1/transactions/{hash} reads statuses from it. Without it, POST only checks the
   * application's rules and sends the transaction to the ingress queue, and every status is
   * `unknown` (tools and tests that run no pool).
   */
  readonly pool?: {
    readonly store: PoolStore;
    /**
     * Each member region's pool. With it, a transaction is admitted into (and its status read from)
     * the pool of the region whose sequencer proposes in the current view (views: docs/protocol.md),
     * and that region's ingress is woken; `store` is then the home region's, used when the query
     * service cannot name the active region.
     */
    readonly storeOf?: (region: string) => PoolStore;
    /** Admission limits (default DEFAULT_POOL_LIMITS). */
    readonly limits?: PoolLimits;
    /** Retry-After (seconds) of 503 OVERLOADED and 429 answers (default 1). */
    readonly retryAfterSeconds?: number;
    /**
     * Admissions this API runs at once (default DEFAULT_MAX_ADMISSIONS); one more is answered 503
     * OVERLOADED at once, before any read, instead of queuing behind the others (a flood then costs
     * nothing but the refusal, and the store calls the roles need are not queued behind it).
     */
    readonly maxConcurrentAdmissions?: number;
  };
  /** Receives unexpected errors (500s) with the request line; default: one JSON line on stderr. */
  readonly log?: (entry: { level: 'error'; message: string; method: string; path: string; error: unknown }) => void;
}

export type Api = (req: ApiRequest) => Promise<ApiResponse>;

type Params = Record<string, unknown>;
type Handler = (params: Params, req: ApiRequest) => Promise<ApiResponse>;

const JSON_TYPE = 'application/json; charset=utf-8';

/** Failed admissions on the active pool per `pending` notice to the members (see notifyStalledView). */
export const STALLED_NOTICE_EVERY = 64;

/** no-transform and X-Accel-Buffering keep proxies from buffering or compressing the event stream. */
const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};
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

/** Admissions one API instance runs at once by default (a Lambda instance serves one request at a time anyway). */
export const DEFAULT_MAX_ADMISSIONS = 16;

/**
 * Builds the API over `deps`. Never throws: refusals become 4xx answers (429 with Retry-After), a full
 * pool a 503 OVERLOADED, a failed transport or an unavailable store (per `deps.dependencyFailure`) a
 * 503 UNAVAILABLE, both with Retry-After, anything unexpected a 500
 * whose body says only "internal error" (details go to `deps.log`).
 * @example const api = createApi({ query, transport, chain, maxLagBlocks: 16 }); await api({ method: 'GET', path: '/v1/health', query: {}, headers: {}, body: undefined })
 */
export function createApi(deps: ApiDeps): Api {
  const { query, transport, chain } = deps;
  const application = deps.application ?? (transferApplication as ApplicationDefinition);
  const document = openapiDocumentFor(application);
  const { operations } = compileOperations(document);
  const openapiBody = JSON.stringify(document);
  const stateRoute = application.stateRoute;
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
  const redirectStream = deps.stream && 'redirectTo' in deps.stream ? new URL(deps.stream.redirectTo) : undefined;
  const streamOptions = deps.stream && !('redirectTo' in deps.stream) ? deps.stream : {};
  // Built up front so a bad option fails createApi, not the first stream.
  const streams = redirectStream
    ? undefined
    : new FinalityStreams(deps.query, deps.chain.set.checkpointInterval, streamOptions, (error) =>
        log({
          level: 'error',
          message: 'finality stream: store read failed (retried at the next poll)',
          method: 'GET',
          path: '/v1/finality/stream',
          error,
        }),
      );
  const retryAfter = String(deps.retryAfterSeconds ?? 2);
  const pool = deps.pool;
  const poolLimits = pool?.limits ?? DEFAULT_POOL_LIMITS;
  const poolRetryAfter = String(pool?.retryAfterSeconds ?? 1);
  const maxAdmissions = pool?.maxConcurrentAdmissions ?? DEFAULT_MAX_ADMISSIONS;
  if (!Number.isSafeInteger(maxAdmissions) || maxAdmissions < 1)
    throw new RangeError(`pool.maxConcurrentAdmissions: expected a positive integer, got ${maxAdmissions}`);
  let admitting = 0;

  const handlers: Record<string, Handler> = {
    getValidators: async () => json(200, query.validators()),
    getFinality: async () => json(200, await query.finality()),
    getCheckpoint: async (p) => json(200, await query.checkpoint(p.height as number)),
    getCheckpointVotes: async (p) => json(200, await query.votesAt(p.height as number)),
    getBlock: async (p) => json(200, await query.block(p.height as number)),
    [stateRoute.operationId]: async (p) =>
      json(
        200,
        await query.state(
          fromHex(p[stateRoute.parameter.name], undefined, stateRoute.parameter.name),
          p.height === undefined ? {} : { height: p.height as number },
        ),
      ),
    getStateNodes: async (p) => json(200, await query.stateNodes([fromHex(p.hash, 32, 'hash')], p.limit as number)),
    postStateNodes: async (_p, req) => {
      const body = parseBody(req.body, operationById('postStateNodes')) as { roots: string[]; limit?: number };
      return json(
        200,
        await query.stateNodes(
          body.roots.map((r, i) => fromHex(r, 32, `roots[${i}]`)),
          body.limit,
        ),
      );
    },
    getEvidence: async (p) => json(200, await query.evidence(p.limit as number)),
    getHealth: async () => {
      const health = await query.health({ maxLagBlocks: deps.maxLagBlocks });
      return health.status === 'ok' ? json(200, health) : json(503, health, { 'retry-after': retryAfter });
    },
    getMetrics: async () => {
      if (!deps.metrics)
        throw new ApiError(404, 'NOT_FOUND', 'this process collects no counters (on AWS read the afg namespace in CloudWatch)');
      const { totals, last } = deps.metrics();
      return json(200, { region: query.region, scope: 'process', totals: Object.fromEntries(totals), last: Object.fromEntries(last) });
    },
    getFinalityStream: async (p, req) => {
      // Last-Event-ID (sent by a reconnecting EventSource) wins over ?from, which the same URL still carries.
      const after = (p['Last-Event-ID'] ?? p.from) as number | undefined;
      if (redirectStream) {
        const location = new URL('v1/finality/stream', redirectStream.href.endsWith('/') ? redirectStream : `${redirectStream.href}/`);
        if (after !== undefined) location.searchParams.set('from', String(after));
        return { status: 307, headers: { location: location.href, 'cache-control': 'no-store' }, body: '' };
      }
      if (after !== undefined) await refuseUnheld(after);
      const stream = streams!.tryOpen(after === undefined ? {} : { after }, req.signal ?? new AbortController().signal);
      if (!stream) {
        const { maxStreams, retryAfterSeconds } = streams!.options;
        return errorResponse(
          new ApiError(
            503,
            'UNAVAILABLE',
            `stream: ${maxStreams} finality streams are open in this region, the most it serves; retry later`,
          ),
          { 'retry-after': String(retryAfterSeconds) },
        );
      }
      return { status: 200, headers: { ...EVENT_STREAM_HEADERS }, body: '', stream };
    },
    getOpenApi: async () => ({ status: 200, headers: { 'content-type': JSON_TYPE }, body: openapiBody }),
    postTransaction: async (_p, req) => {
      const body = parseBody(req.body, operationById('postTransaction'));
      if (!pool) return json(202, { hash: await submit(body) });
      if (admitting >= maxAdmissions)
        throw new ApiError(
          503,
          'OVERLOADED',
          `${admitting} admissions are in progress here, the most this API runs at once; retry after Retry-After seconds`,
        );
      admitting++;
      try {
        return json(202, { hash: await submit(body) });
      } finally {
        admitting--;
      }
    },
    getTransaction: async (p) => json(200, await transactionStatus(fromHex(p.hash, 32, 'hash'))),
  };

  for (const op of operations) if (!handlers[op.operationId]) throw new Error(`openapi: no handler for operation ${op.operationId}`);

  /** A resume point whose next checkpoint this region does not hold (its history starts later) is refused with 404, not streamed with a gap. */
  async function refuseUnheld(after: number): Promise<void> {
    const K = chain.set.checkpointInterval;
    const first = checkpointAtOrBelow(after, K) + K;
    try {
      await query.checkpoint(first);
    } catch (e) {
      if (e instanceof NotHeld) throw new ApiError(404, 'NOT_FOUND', `stream: ${e.message}`);
      // Not reached yet (or a read failure): the stream waits for it as usual.
    }
  }

  function operationById(id: string): Operation {
    return operations.find((o) => o.operationId === id)!;
  }

  /**
   * The application's admission against the readable finalized state, then the pool's (a durable,
   * all-or-nothing write) and a wake-up for the sequencer; without a pool, a durable send of the
   * transaction to the ingress queue.
   */
  async function submit(body: unknown): Promise<string> {
    const tx = chain.app.fromJson(body, '');
    if (pool) {
      let admission: Admission;
      try {
        admission = await admitTransaction(
          { chain, query, store: pool.store, limits: poolLimits, ...(pool.storeOf ? { storeOf: pool.storeOf } : {}) },
          tx,
        );
      } catch (cause) {
        if (!(cause instanceof BackupWriteError)) {
          // The active view's pool could not be written: its region may be lost (the 503 follows).
          if (pool.storeOf) await notifyStalledView();
          throw cause;
        }
        // The active pool holds it (it may be included all the same): its sequencer hears of it as usual.
        if (cause.meta.admitted) await wake(cause.meta.active);
        // Held by the active pool only: not accepted. Sending the same transaction again is idempotent.
        throw new ApiError(
          503,
          'UNAVAILABLE',
          `the transaction is not yet stored in two regions (${cause.message}); retry the same transaction (it keeps its hash)`,
          { cause },
        );
      }
      if (admission.kind === 'invalid') throw new ApiError(400, admission.code, admission.message);
      if (admission.kind === 'refused') throw poolRefusal(admission.refusal, admission.sequence, admission.height);
      if (admission.kind === 'admitted') await wake(admission.active);
      return toHex(admission.hash);
    }
    const { checkpoint } = await query.readableCheckpoint();
    const verdict = await chain.app.admit({ root: checkpoint.stateRoot, height: checkpoint.height }, tx);
    if (!verdict.ok) throw new ApiError(400, verdict.code, verdict.message);
    const hash = toHex(chain.app.hash(tx));
    try {
      await transport.send({ queue: 'ingress' }, [{ kind: 'tx', tx }]);
    } catch (cause) {
      // Not accepted: the client may retry the same transaction (same hash); duplicates fail the nonce rule.
      throw new ApiError(503, 'UNAVAILABLE', 'the transaction could not be queued; retry later (resubmitting yields the same hash)', {
        cause,
      });
    }
    return hash;
  }

  /**
   * The status of a transaction in the pool of the current view's sequencer region (the home
   * region's without `storeOf`), or when that pool does not know it, in the next view's region's
   * pool, which holds the backup copy of what was accepted in the view before.
   */
  async function poolStatus(hash: Uint8Array): Promise<PoolStatus | undefined> {
    const regions = pool?.storeOf ? await query.poolRegions() : undefined;
    if (!regions || !pool?.storeOf) return pool!.store.status(hash);
    const known = await pool.storeOf(regions.active).status(hash);
    return known ?? (regions.backups[0] ? pool.storeOf(regions.backups[0]).status(hash) : undefined);
  }

  /** Admissions that failed on the active pool since this process started (see notifyStalledView). */
  let failedAdmissions = 0;

  /**
   * Tells every member that work is waiting in the current view (a `pending` notice: each arms its
   * view timer, and asks for the next view if finality does not move): when the active region is lost,
   * every POST is refused, nothing gets proposed, and nothing else would start the view change. Once
   * per STALLED_NOTICE_EVERY failed admissions per process, so a flood of refused POSTs costs a
   * bounded number of sends; best effort (a member's region may be the one lost).
   */
  async function notifyStalledView(): Promise<void> {
    if (failedAdmissions++ % STALLED_NOTICE_EVERY !== 0) return;
    const regions = await query.poolRegions().catch(() => undefined);
    if (!regions) return;
    await Promise.allSettled(
      chain.set.members.map((m) =>
        transport.send({ queue: 'inbox', region: m.region, member: m.index }, [{ kind: 'pending', view: regions.view }]),
      ),
    );
  }

  /** Tells the sequencer the pool has work (a tick at height 0 justifies nothing). The transaction is durable already: a lost wake-up only delays it to the next one. */
  async function wake(region: string | undefined): Promise<void> {
    try {
      await transport.send({ queue: 'ingress', ...(region ? { region } : {}) }, [{ kind: 'tick', height: 0 }]);
    } catch (error) {
      log({
        level: 'error',
        message: 'admitted, but the sequencer wake-up failed (it waits for the next one)',
        method: 'POST',
        path: '/v1/transactions',
        error,
      });
    }
  }

  /** The pool's refusal as the API's error: 503 OVERLOADED and 429s carry Retry-After (attached by the router). */
  function poolRefusal(r: PoolRefusal, sequence: bigint, height: number): ApiError {
    switch (r.kind) {
      case 'full':
        return new ApiError(503, 'OVERLOADED', `the transaction pool is full (${r.capacity} pending); retry after Retry-After seconds`);
      case 'too-far':
        return new ApiError(
          429,
          'NONCE_TOO_FAR',
          `nonce: ${sequence} is ${r.window} or more above the sender's next nonce ${r.next} at finalized height ${height}; retry once earlier ones are final`,
        );
      case 'gap':
        return new ApiError(
          429,
          'NONCE_GAP',
          `nonce: ${sequence} would leave a gap: nonce ${r.missing} of this sender is not pending; send it first`,
        );
      case 'sender-full':
        return new ApiError(
          429,
          'SENDER_LIMIT',
          `this sender has ${r.pending} transactions pending, the most the pool holds per sender; retry later`,
        );
      case 'taken':
        return new ApiError(
          409,
          'NONCE_TAKEN',
          `nonce: ${sequence} is held by another pending transaction of this sender (${toHex(r.holder)})`,
        );
      case 'over-budget':
        return new ApiError(
          400,
          'INSUFFICIENT_BALANCE',
          `amount: not covered: balance ${r.budget} at finalized height ${height} minus ${r.committed} spent by the sender's pending transactions`,
        );
    }
  }

  /** GET /v1/transactions/{hash}: the pool's status, `finalized` once its block is readable finalized state here. */
  async function transactionStatus(hash: Uint8Array) {
    const id = toHex(hash);
    const known = pool ? await poolStatus(hash) : undefined;
    if (!known) return { hash: id, status: 'unknown' as const };
    if (known.status === 'pending') return { hash: id, status: 'pending' as const };
    if (known.status === 'rejected') return { hash: id, status: 'rejected' as const, reason: known.reason, message: known.message };
    const { checkpoint } = await query.readableCheckpoint();
    return { hash: id, status: known.height <= checkpoint.height ? ('finalized' as const) : ('included' as const), height: known.height };
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
            'access-control-allow-headers': 'content-type, last-event-id',
          },
          body: '',
        };
      const found = matches.find((m) => m.op.method === method);
      if (!found)
        return errorResponse(new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${req.path}; use ${allow.join(', ')}`), {
          allow: allow.join(', '),
          ...cors,
        });
      const params = found.op.parameters(found.path!, req.query, req.headers);
      const res = await handlers[found.op.operationId]!(params, req);
      return { ...res, headers: { ...res.headers, ...cors } };
    } catch (e) {
      const err = toApiError(e, req, log, deps.dependencyFailure);
      const wait = err.code === 'OVERLOADED' || err.status === 429 ? poolRetryAfter : err.status === 503 ? retryAfter : undefined;
      return errorResponse(err, wait === undefined ? cors : { ...cors, 'retry-after': wait });
    }
  };
}

/**
 * The API without its one write: `POST /v1/transactions` answers 405 METHOD_NOT_ALLOWED (naming where
 * to post instead) and never reaches `api`; every other request, POST /v1/state/nodes included (a
 * read), is `api`'s. For an instance that may not send to the ingress queue: the stream function on
 * AWS, whose function URL would otherwise be a way around the rate limits in front of the API.
 * @param postTo where transactions go instead, for the message (e.g. "the region API (ApiUrl)")
 * @example readOnlyApi(createApi(deps), 'the region API (ApiUrl)')
 */
export function readOnlyApi(api: Api, postTo: string): Api {
  return async (req) => {
    if (req.method.toUpperCase() !== 'POST' || req.path.replace(/\/+$/, '') !== '/v1/transactions') return api(req);
    return errorResponse(new ApiError(405, 'METHOD_NOT_ALLOWED', `this endpoint is read-only: POST /v1/transactions to ${postTo}`), {
      allow: 'OPTIONS',
    });
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
