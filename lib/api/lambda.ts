/**
 * Lambda adapters for the API core: API Gateway (a REST API's Lambda proxy integration, payload
 * format 1.0, as deployed by cdk/constructs/http-endpoint.ts; or an HTTP API, format 2.0), which
 * buffers whole responses, and a function URL with response streaming (format 2.0), which serves the
 * finality event stream. The Lambda handlers in functions/ build the deps once per container.
 */
import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Api, ApiRequest } from './app.js';

export interface LambdaAdapterOptions {
  /** Strips a stage or mapping prefix from rawPath (e.g. `/prod`); the $default stage needs none. */
  readonly basePath?: string;
}

/** An API Gateway proxy event: REST API (payload format 1.0) or HTTP API / function URL (2.0). */
export type ProxyEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;

const isV1 = (event: ProxyEvent): event is APIGatewayProxyEvent => 'httpMethod' in event;

/**
 * Converts a proxy event to an ApiRequest (base64 bodies decoded, header names lower-cased, the first
 * value of a repeated query parameter). A REST API's event path is already without the stage.
 */
export function requestFromEvent(event: ProxyEvent, options: LambdaAdapterOptions = {}): ApiRequest {
  let path = (isV1(event) ? event.path : event.rawPath) || '/';
  const base = options.basePath?.replace(/\/+$/, '');
  if (base && (path === base || path.startsWith(`${base}/`))) path = path.slice(base.length) || '/';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v.split(',')[0]!;
  // A REST API sends null for an absent body, headers or query (an HTTP API leaves them out).
  const raw = event.body ?? undefined;
  const body = raw === undefined ? undefined : event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const method = isV1(event) ? event.httpMethod : event.requestContext.http.method;
  return { method, path, query, headers, body };
}

/**
 * Wraps the API as a Lambda handler for API Gateway proxy events (REST or HTTP API); the result has
 * the shape both accept (statusCode, headers, body, isBase64Encoded).
 * @example export const handler = lambdaHandler(createApi(deps));
 */
export function lambdaHandler(api: Api, options: LambdaAdapterOptions = {}) {
  return async (event: ProxyEvent): Promise<APIGatewayProxyStructuredResultV2> => {
    const res = await api(requestFromEvent(event, options));
    if (res.stream) {
      // API Gateway would buffer the stream until the integration times out: refuse it instead.
      // (createApi with `stream: { redirectTo }` answers the route with a redirect and never gets here.)
      await res.stream[Symbol.asyncIterator]().return?.();
      const error = { error: { code: 'UNAVAILABLE', message: 'this endpoint buffers responses and cannot serve an event stream' } };
      return { statusCode: 503, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(error) };
    }
    return { statusCode: res.status, headers: res.headers, body: res.body, isBase64Encoded: false };
  };
}

/** The part of Lambda's Node.js runtime global `awslambda` that a streaming handler uses. */
export interface ResponseStreamRuntime {
  readonly HttpResponseStream: { from(stream: Writable, prelude: { statusCode: number; headers: Record<string, string> }): Writable };
}

export interface StreamingAdapterOptions extends LambdaAdapterOptions {
  /**
   * An event stream ends this long before the invocation would time out (default 5000 ms), so the
   * invocation ends cleanly and the client reconnects with Last-Event-ID. Lambda keeps running
   * (and billing) a streaming invocation whose client left, so the function timeout bounds that.
   */
  readonly marginMs?: number;
  /** Default: the `awslambda` global of Lambda's Node.js runtime. */
  readonly runtime?: ResponseStreamRuntime;
}

function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/**
 * Wraps the API as a response-streaming Lambda handler for a function URL with InvokeMode
 * RESPONSE_STREAM (function URL events have the HTTP API v2 shape). Plain answers are written at
 * once; an event stream is written chunk by chunk until `marginMs` before the invocation's
 * deadline. Wrap the result with `awslambda.streamifyResponse`.
 * @example export const handler = awslambda.streamifyResponse(streamingLambdaHandler(createApi(deps)));
 */
export function streamingLambdaHandler(api: Api, options: StreamingAdapterOptions = {}) {
  const margin = options.marginMs ?? 5000;
  return async (
    event: APIGatewayProxyEventV2,
    responseStream: Writable,
    context: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<void> => {
    const runtime = options.runtime ?? (globalThis as { awslambda?: ResponseStreamRuntime }).awslambda;
    if (!runtime) throw new Error('streamingLambdaHandler: no awslambda global (not in the Lambda Node.js runtime); pass options.runtime');
    const deadline = AbortSignal.timeout(Math.max(100, context.getRemainingTimeInMillis() - margin));
    const gone = new AbortController();
    const res = await api({ ...requestFromEvent(event, options), signal: AbortSignal.any([deadline, gone.signal]) });
    const out = runtime.HttpResponseStream.from(responseStream, { statusCode: res.status, headers: res.headers });
    out.on('error', () => gone.abort());
    out.on('close', () => gone.abort());
    // A function URL waits forever on a response that never wrote a byte: always write once.
    out.write(res.body);
    if (res.stream) {
      const iterator = res.stream[Symbol.asyncIterator]();
      try {
        while (!gone.signal.aborted && !deadline.aborted) {
          const step = await iterator.next();
          if (step.done) break;
          if (!out.write(step.value)) await drained(out);
        }
      } finally {
        await iterator.return?.();
      }
    }
    if (!out.writableEnded) await new Promise<void>((resolve) => out.end(resolve));
  };
}
