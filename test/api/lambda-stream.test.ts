/**
 * The Lambda adapters and the finality stream: the response-streaming handler (function URL,
 * InvokeMode RESPONSE_STREAM) writes the prelude, then events as they come, and ends the stream
 * before the invocation's deadline; the buffering API Gateway handler refuses a stream rather
 * than hold it. Lambda's `awslambda.HttpResponseStream` is stood in for by a PassThrough.
 */
import { PassThrough, type Writable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { lambdaHandler, type ResponseStreamRuntime, streamingLambdaHandler } from '../../lib/api/lambda.js';
import { buildFixture, type Fixture } from '../helpers/fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});

const event = (rawPath: string, headers: Record<string, string> = {}): APIGatewayProxyEventV2 =>
  ({
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers,
    isBase64Encoded: false,
    requestContext: { http: { method: 'GET', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 't' } },
  }) as unknown as APIGatewayProxyEventV2;

/** A stand-in for the runtime: records the prelude and everything written. */
function fakeRuntime() {
  const seen = { prelude: undefined as unknown, text: '', ended: false };
  const runtime: ResponseStreamRuntime = {
    HttpResponseStream: {
      from: (stream: Writable, prelude) => {
        seen.prelude = prelude;
        return stream;
      },
    },
  };
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => {
    seen.text += c.toString('utf8');
  });
  stream.on('finish', () => {
    seen.ended = true;
  });
  return { runtime, stream, seen };
}

const api = () =>
  createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, stream: { pollMs: 20, keepAliveMs: 100 } });

describe('streamingLambdaHandler (function URL, RESPONSE_STREAM)', () => {
  it('writes the event-stream prelude and the events, then ends the stream marginMs before the deadline', async () => {
    const { runtime, stream, seen } = fakeRuntime();
    const handler = streamingLambdaHandler(api(), { runtime, marginMs: 1000 });
    await handler(event('/v1/finality/stream', { 'Last-Event-ID': '0' }), stream, { getRemainingTimeInMillis: () => 1400 });
    expect(seen.prelude).toMatchObject({ statusCode: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
    expect(seen.text).toMatch(/^retry: 1000\n/);
    expect(seen.text).toContain('id: 2\nevent: finalized\ndata: {"height":2,');
    expect(seen.text).toContain(': keep-alive');
    expect(seen.ended).toBe(true);
  });

  it('answers plain routes at once, with a body', async () => {
    const { runtime, stream, seen } = fakeRuntime();
    await streamingLambdaHandler(api(), { runtime })(event('/v1/validators'), stream, { getRemainingTimeInMillis: () => 60_000 });
    expect(seen.prelude).toMatchObject({ statusCode: 200 });
    expect(JSON.parse(seen.text).n).toBe(4);
    expect(seen.ended).toBe(true);
  });

  it('says what is missing outside the Lambda runtime', async () => {
    await expect(
      streamingLambdaHandler(api())(event('/v1/validators'), new PassThrough(), { getRemainingTimeInMillis: () => 1000 }),
    ).rejects.toThrow(/no awslambda global/);
  });
});

describe('lambdaHandler (API Gateway, buffered)', () => {
  it('refuses to buffer an event stream (503) and frees its slot; with redirectTo it redirects', async () => {
    const served = createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, stream: { maxStreams: 1 } });
    for (let i = 0; i < 2; i++) {
      const res = await lambdaHandler(served)(event('/v1/finality/stream'));
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body!).error.message).toMatch(/buffers responses/); // not "streams are open": the slot was freed
    }
    const redirecting = createApi({
      query: fx.query,
      transport: fx.transport,
      chain: fx.chain,
      maxLagBlocks: 8,
      stream: { redirectTo: 'https://x.lambda-url.us-east-1.on.aws' },
    });
    const res = await lambdaHandler(redirecting)(event('/v1/finality/stream'));
    expect(res.statusCode).toBe(307);
    expect(res.headers?.location).toBe('https://x.lambda-url.us-east-1.on.aws/v1/finality/stream');
  });
});
