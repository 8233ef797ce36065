import { request } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { lambdaHandler, requestFromEvent } from '../../lib/api/lambda.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import { toHex } from '../../lib/core/bytes.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { verifyAccountAnswer } from '../../lib/core/verifier.js';
import { transactionToJson } from '../../lib/core/wire.js';
import { buildFixture, DEV_PK, DEV_SK, type Fixture } from '../helpers/fixture.js';

let fx: Fixture;
let server: ApiServer;

beforeAll(async () => {
  fx = await buildFixture();
  server = await startApiServer(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }), { port: 0 });
});
afterAll(async () => {
  await server.close();
});

/** Raw request with an explicit content-length, to test the limit without sending the body. */
function rawPost(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const r = request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    r.on('error', reject);
    r.write(body);
    // Do not end: a well-behaved server answers 413 from the header alone.
  });
}

describe('node:http server (real HTTP)', () => {
  it('listens on 127.0.0.1 and serves a verifiable account answer with CORS', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/v1/accounts/${toHex(DEV_PK[2]!)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const answer = await res.json();
    const v = verifyAccountAnswer(answer, {
      groupPublicKey: fx.dealing.groupPublicKey,
      chainId: fx.chain.set.chainId,
      checkpointInterval: 2,
      account: DEV_PK[2]!,
    });
    expect(v.ok).toBe(true);
  });

  it('passes query strings through', async () => {
    const res = await fetch(`${server.url}/v1/evidence?limit=0`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/^limit:/);
  });

  it('accepts a POSTed transaction (202) and refuses malformed JSON (400)', async () => {
    const tx = transactionToJson(signTransfer(fx.chain.set.chainId, DEV_SK[9]!, { to: DEV_PK[8]!, amount: 1n, nonce: 0n }));
    const ok = await fetch(`${server.url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(tx),
    });
    expect(ok.status).toBe(202);
    expect((await ok.json()).hash).toMatch(/^[0-9a-f]{64}$/);
    const bad = await fetch(`${server.url}/v1/transactions`, { method: 'POST', body: '{' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('INVALID_JSON');
  });

  it('answers 413 from a too-large content-length before reading the body', async () => {
    const r = await rawPost(
      '/v1/transactions',
      { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) },
      '{"a":',
    );
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 413 to a streamed (chunked) body once it passes the limit', async () => {
    const r = await rawPost('/v1/transactions', { 'transfer-encoding': 'chunked' }, 'x'.repeat(20 * 1024));
    expect(r.status).toBe(413);
  });

  it('unknown routes are 404 over HTTP too', async () => {
    const res = await fetch(`${server.url}/nothing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route /nothing' } });
  });
});

describe('API Gateway v2 adapter', () => {
  const event = (over: Partial<APIGatewayProxyEventV2> & { method?: string }): APIGatewayProxyEventV2 =>
    ({
      version: '2.0',
      routeKey: '$default',
      rawPath: over.rawPath ?? '/v1/validators',
      rawQueryString: '',
      headers: over.headers ?? {},
      queryStringParameters: over.queryStringParameters,
      body: over.body,
      isBase64Encoded: over.isBase64Encoded ?? false,
      requestContext: {
        http: { method: over.method ?? 'GET', path: over.rawPath ?? '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 't' },
      },
    }) as unknown as APIGatewayProxyEventV2;

  it('maps method, path, query, headers and base64 bodies', () => {
    const r = requestFromEvent(
      event({
        method: 'POST',
        rawPath: '/prod/v1/transactions',
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from('{"a":1}').toString('base64'),
        isBase64Encoded: true,
        queryStringParameters: { limit: '5,6' },
      }),
      { basePath: '/prod' },
    );
    expect(r).toEqual({
      method: 'POST',
      path: '/v1/transactions',
      query: { limit: '5' },
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
  });

  it('answers through the router', async () => {
    const handler = lambdaHandler(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }));
    const ok = await handler(event({ rawPath: '/v1/validators' }));
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body!).n).toBe(4);
    const nf = await handler(event({ rawPath: '/v1/blocks/99' }));
    expect(nf.statusCode).toBe(404);
  });
});

describe('API Gateway REST API (v1) adapter', () => {
  // The shape a REST API's Lambda proxy integration sends (payload format 1.0): the path without the
  // stage, null for an absent body, headers or query.
  const event = (over: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent =>
    ({
      resource: '/{proxy+}',
      path: '/v1/validators',
      httpMethod: 'GET',
      headers: null,
      multiValueHeaders: null,
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
      requestContext: { stage: 'api', path: `/api${over.path ?? '/v1/validators'}`, httpMethod: over.httpMethod ?? 'GET' },
      ...over,
    }) as unknown as APIGatewayProxyEvent;

  it('maps method, path (already without the stage), query, headers and bodies, and tolerates nulls', () => {
    expect(requestFromEvent(event({}))).toEqual({ method: 'GET', path: '/v1/validators', query: {}, headers: {}, body: undefined });
    expect(
      requestFromEvent(
        event({
          httpMethod: 'POST',
          path: '/v1/transactions',
          headers: { 'Content-Type': 'application/json' },
          queryStringParameters: { limit: '5' },
          body: Buffer.from('{"a":1}').toString('base64'),
          isBase64Encoded: true,
        }),
      ),
    ).toEqual({
      method: 'POST',
      path: '/v1/transactions',
      query: { limit: '5' },
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(requestFromEvent(event({ path: '/' })).path).toBe('/');
  });

  it('answers through the router, a POST included', async () => {
    const handler = lambdaHandler(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }));
    const ok = await handler(event({ path: '/v1/validators' }));
    expect(ok).toMatchObject({ statusCode: 200, isBase64Encoded: false });
    expect(JSON.parse(ok.body!).n).toBe(4);
    expect((await handler(event({ path: '/v1/blocks/99' }))).statusCode).toBe(404);
    const bad = await handler(event({ httpMethod: 'POST', path: '/v1/transactions', body: '{"from":"zz"}' }));
    expect(bad.statusCode).toBe(400);
  });
});
