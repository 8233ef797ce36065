/**
 * API Gateway HTTP API (payload format 2.0) adapter for the API core. The Lambda handler in
 * functions/ builds the deps once per container and exports `lambdaHandler(api)`.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Api, ApiRequest } from './app.js';

export interface LambdaAdapterOptions {
  /** Strips a stage or mapping prefix from rawPath (e.g. `/prod`); the $default stage needs none. */
  readonly basePath?: string;
}

/** Converts an HTTP API v2 event to an ApiRequest (base64 bodies decoded, header names lower-cased). */
export function requestFromEvent(event: APIGatewayProxyEventV2, options: LambdaAdapterOptions = {}): ApiRequest {
  let path = event.rawPath || '/';
  const base = options.basePath?.replace(/\/+$/, '');
  if (base && (path === base || path.startsWith(`${base}/`))) path = path.slice(base.length) || '/';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v.split(',')[0]!;
  const body =
    event.body === undefined ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  return { method: event.requestContext.http.method, path, query, headers, body };
}

/**
 * Wraps the API as a Lambda handler for HTTP API v2 events.
 * @example export const handler = lambdaHandler(createApi(deps));
 */
export function lambdaHandler(api: Api, options: LambdaAdapterOptions = {}) {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const res = await api(requestFromEvent(event, options));
    return { statusCode: res.status, headers: res.headers, body: res.body, isBase64Encoded: false };
  };
}
