import { beforeAll, describe, expect, it } from 'vitest';
import { type Api, type ApiRequest, type ApiResponse, createApi, readOnlyApi } from '../../lib/api/app.js';
import { MAX_BODY_BYTES } from '../../lib/api/openapi.js';
import { responseChecker } from '../../lib/api/validate.js';
import { dependencyFailure } from '../../lib/aws/errors.js';
import { toHex } from '../../lib/core/bytes.js';
import { txHash } from '../../lib/core/codec.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { verifyAccountAnswer, verifyCertificate } from '../../lib/core/verifier.js';
import { transactionToJson } from '../../lib/core/wire.js';
import { buildFixture, DEV_PK, DEV_SK, type Fixture } from '../helpers/fixture.js';

const check = responseChecker();
let fx: Fixture;
let api: Api;
const logged: unknown[] = [];

beforeAll(async () => {
  fx = await buildFixture();
  api = createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, log: (e) => logged.push(e) });
});

const req = (method: string, path: string, body?: string, query: Record<string, string> = {}): ApiRequest => ({
  method,
  path,
  query,
  headers: {},
  body,
});
const get = (path: string, query: Record<string, string> = {}) => api(req('GET', path, undefined, query));
const post = (body: unknown) => api(req('POST', '/v1/transactions', typeof body === 'string' ? body : JSON.stringify(body)));
const body = (r: ApiResponse) => JSON.parse(r.body);

/** Asserts the status and that the body matches the documented schema for it. */
function expectDocumented(r: ApiResponse, operationId: string, status: number) {
  expect(r.status, r.body).toBe(status);
  expect(check(operationId, status, body(r))).toBeUndefined();
}

function expectError(r: ApiResponse, operationId: string, status: number, code: string, fragment: string | RegExp) {
  expectDocumented(r, operationId, status);
  const e = body(r).error;
  expect(e.code).toBe(code);
  expect(e.message).toMatch(fragment);
}

const opts = () => ({
  groupPublicKey: fx.dealing.groupPublicKey,
  chainId: fx.chain.set.chainId,
  checkpointInterval: fx.chain.set.checkpointInterval,
  threshold: 3,
});

describe('GET routes', () => {
  it('/v1/validators answers the set, with CORS', async () => {
    const r = await get('/v1/validators');
    expectDocumented(r, 'getValidators', 200);
    expect(r.headers['access-control-allow-origin']).toBe('*');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const v = body(r);
    expect(v).toMatchObject({
      chainId: toHex(fx.chain.set.chainId),
      n: 4,
      threshold: 3,
      checkpointInterval: 2,
      groupPublicKey: toHex(fx.dealing.groupPublicKey),
    });
    expect(v.members.map((m: { index: number }) => m.index)).toEqual([1, 2, 3, 4]);
  });

  it('/v1/finality answers heights and a certificate that verifies', async () => {
    const r = await get('/v1/finality');
    expectDocumented(r, 'getFinality', 200);
    const f = body(r);
    expect(f).toMatchObject({
      region: 'eu-west-1',
      head: { height: 5 },
      justified: { height: 4 },
      finalized: { height: 2 },
      applied: { height: 2 },
    });
    expect(f.certificate.source).toEqual(f.finalized);
    expect(verifyCertificate(f.certificate, opts()).ok).toBe(true);
  });

  it('/v1/checkpoints/{height}: finalized, justified, genesis, and 404s', async () => {
    const fin = await get('/v1/checkpoints/2');
    expectDocumented(fin, 'getCheckpoint', 200);
    expect(body(fin)).toMatchObject({ height: 2, status: 'finalized', hash: toHex(fx.hashes.get(2)!) });
    expect(body(fin).certificate.source.height).toBe(2);
    const just = await get('/v1/checkpoints/4');
    expectDocumented(just, 'getCheckpoint', 200);
    expect(body(just)).toMatchObject({ height: 4, status: 'justified' });
    const genesis = await get('/v1/checkpoints/0');
    expectDocumented(genesis, 'getCheckpoint', 200);
    expect(body(genesis)).toMatchObject({ height: 0, status: 'finalized' });
    expect(body(genesis).certificate).toBeUndefined();
    expectError(await get('/v1/checkpoints/3'), 'getCheckpoint', 404, 'NOT_FOUND', /not a checkpoint/);
    expectError(await get('/v1/checkpoints/6'), 'getCheckpoint', 404, 'NOT_FOUND', /no block/);
  });

  it('/v1/checkpoints/{height}: a height that is not a non-negative integer is 400 naming it', async () => {
    for (const bad of ['-1', 'x', '01', '1.5', '9007199254740993', '%zz']) {
      expectError(await get(`/v1/checkpoints/${bad}`), 'getCheckpoint', 400, 'INVALID_INPUT', /^height: /);
    }
  });

  it('/v1/blocks/{height}: finalized and above-finality blocks; 404 beyond the tip', async () => {
    const b1 = await get('/v1/blocks/1');
    expectDocumented(b1, 'getBlock', 200);
    expect(body(b1)).toMatchObject({ height: 1, finalized: true, hash: toHex(fx.hashes.get(1)!) });
    expect(body(b1).transactions).toHaveLength(1);
    const b5 = await get('/v1/blocks/5');
    expectDocumented(b5, 'getBlock', 200);
    expect(body(b5)).toMatchObject({ height: 5, finalized: false });
    expectError(await get('/v1/blocks/6'), 'getBlock', 404, 'NOT_FOUND', /no block at height 6/);
    expectError(await get('/v1/blocks/abc'), 'getBlock', 400, 'INVALID_INPUT', /^height: must be integer/);
  });

  it('/v1/accounts/{key}: a known account, verifiable', async () => {
    const r = await get(`/v1/accounts/${toHex(DEV_PK[1]!)}`);
    expectDocumented(r, 'getAccount', 200);
    const a = body(r);
    // Finalized at height 2: dev1 got 250 in block 1, sent 100 in block 2.
    expect(a).toMatchObject({ balance: String(1_000_000_000n + 250n - 100n), nonce: '1', height: 2 });
    const v = verifyAccountAnswer(a, { ...opts(), account: DEV_PK[1]! });
    expect(v.ok).toBe(true);
  });

  it('/v1/accounts/{key}: an unknown account is 200 with balance 0 and an absence proof', async () => {
    const r = await get(`/v1/accounts/${'ab'.repeat(32)}`);
    expectDocumented(r, 'getAccount', 200);
    expect(body(r)).toMatchObject({ balance: '0', nonce: '0', height: 2 });
    expect(verifyAccountAnswer(body(r), { ...opts(), account: new Uint8Array(32).fill(0xab) }).ok).toBe(true);
  });

  it('/v1/accounts/{key}: malformed keys are 400 naming the parameter', async () => {
    for (const bad of ['ab', 'AB'.repeat(32), `0x${'ab'.repeat(31)}`, 'zz'.repeat(32)]) {
      expectError(
        await get(`/v1/accounts/${bad}`),
        'getAccount',
        400,
        'INVALID_INPUT',
        /^publicKeyHex: expected ed25519 public key: 32 bytes/,
      );
    }
  });

  it('/v1/evidence lists evidence; limit is validated', async () => {
    const r = await get('/v1/evidence');
    expectDocumented(r, 'getEvidence', 200);
    expect(body(r)).toMatchObject({ count: 1, evidence: [{ kind: 'double', member: 4 }] });
    expectError(await get('/v1/evidence', { limit: '0' }), 'getEvidence', 400, 'INVALID_INPUT', /^limit: must be >= 1/);
    expectError(await get('/v1/evidence', { limit: 'many' }), 'getEvidence', 400, 'INVALID_INPUT', /^limit: must be integer/);
    expect(body(await get('/v1/evidence', { limit: '1' })).count).toBe(1);
  });

  it('/v1/health: 200 when in sync, 503 when the lag exceeds maxLagBlocks', async () => {
    const ok = await get('/v1/health');
    expectDocumented(ok, 'getHealth', 200);
    expect(body(ok)).toMatchObject({ status: 'ok', head: 5, finalized: 2, applied: 2, lag: { blocks: 3 }, evidence: 1 });
    const strict = createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 2 });
    const stalled = await strict(req('GET', '/v1/health'));
    expectDocumented(stalled, 'getHealth', 503);
    expect(body(stalled)).toMatchObject({ status: 'degraded', failing: ['finality-lag'] });
  });

  it('/v1/openapi.json serves the document', async () => {
    const r = await get('/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(body(r).openapi).toBe('3.1.0');
    expect(Object.keys(body(r).paths)).toContain('/v1/accounts/{publicKeyHex}');
  });
});

describe('routing errors', () => {
  it('unknown route is 404, wrong method 405 with allow', async () => {
    const nf = await get('/v1/nope');
    expect(nf.status).toBe(404);
    expect(body(nf).error.code).toBe('NOT_FOUND');
    expect((await get('/')).status).toBe(404); // no dashboard configured
    expect((await get('/v1/validators/')).status).toBe(404);
    const wrong = await api(req('DELETE', '/v1/validators'));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET');
    expect(body(wrong).error.code).toBe('METHOD_NOT_ALLOWED');
    const getTx = await get('/v1/transactions');
    expect(getTx.status).toBe(405);
    expect(getTx.headers.allow).toBe('POST');
  });

  it('OPTIONS answers a CORS preflight', async () => {
    const r = await api(req('OPTIONS', '/v1/transactions'));
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
  });

  it('GET / serves the dashboard when given', async () => {
    const withPage = createApi({
      query: fx.query,
      transport: fx.transport,
      chain: fx.chain,
      maxLagBlocks: 8,
      dashboardHtml: '<h1>afg</h1>',
    });
    const r = await withPage(req('GET', '/'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body).toBe('<h1>afg</h1>');
  });

  it('an internal error is 500 without details, and is logged', async () => {
    const broken = {
      ...fx.query,
      validators: () => {
        throw new Error('secret stack detail');
      },
    } as unknown as typeof fx.query;
    const seen: unknown[] = [];
    const bad = createApi({ query: broken, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, log: (e) => seen.push(e) });
    const r = await bad(req('GET', '/v1/validators'));
    expect(r.status).toBe(500);
    expect(body(r)).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(r.body).not.toMatch(/secret|stack|at /);
    expect(seen).toHaveLength(1);
  });

  it('an unreachable or throttled store is 503 UNAVAILABLE with Retry-After on every route; other errors stay 500', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' });
    for (const [failure, problem] of [
      [refused, 'unreachable'],
      [throttled, 'throttled'],
    ] as const) {
      const fail = async () => {
        throw failure;
      };
      const down = {
        ...fx.query,
        finality: fail,
        checkpoint: fail,
        block: fail,
        state: fail,
        evidence: fail,
        health: fail,
        readableCheckpoint: fail,
      };
      const seen: unknown[] = [];
      const api = createApi({
        query: down as unknown as typeof fx.query,
        transport: fx.transport,
        chain: fx.chain,
        maxLagBlocks: 8,
        dependencyFailure,
        log: (e) => seen.push(e),
      });
      const routes: [string, string, string][] = [
        ['getFinality', 'GET', '/v1/finality'],
        ['getCheckpoint', 'GET', '/v1/checkpoints/2'],
        ['getBlock', 'GET', '/v1/blocks/1'],
        ['getAccount', 'GET', `/v1/accounts/${'ab'.repeat(32)}`],
        ['getEvidence', 'GET', '/v1/evidence'],
        ['getHealth', 'GET', '/v1/health'],
      ];
      for (const [op, method, path] of routes) {
        const r = await api(req(method, path));
        expectError(r, op, 503, 'UNAVAILABLE', new RegExp(`unavailable \\(${problem}\\); retry later`));
        expect(r.headers['retry-after'], path).toBe('2');
      }
      const post = await api(
        req(
          'POST',
          '/v1/transactions',
          JSON.stringify(transactionToJson(signTransfer(fx.chain.set.chainId, DEV_SK[1]!, { to: DEV_PK[2]!, amount: 1n, nonce: 0n }))),
        ),
      );
      expectError(post, 'postTransaction', 503, 'UNAVAILABLE', new RegExp(problem));
      expect(post.headers['retry-after']).toBe('2');
      expect(seen).toEqual([]); // not a bug: nothing logged as an internal error
    }
    // Without the classifier (or for an error it does not recognise) the same failure is a 500.
    const plain = createApi({
      query: {
        ...fx.query,
        finality: async () => {
          throw refused;
        },
      } as unknown as typeof fx.query,
      transport: fx.transport,
      chain: fx.chain,
      maxLagBlocks: 8,
      log: () => {},
    });
    expect((await plain(req('GET', '/v1/finality'))).status).toBe(500);
    const bug = createApi({
      query: {
        ...fx.query,
        finality: async () => {
          throw new TypeError('x is undefined');
        },
      } as unknown as typeof fx.query,
      transport: fx.transport,
      chain: fx.chain,
      maxLagBlocks: 8,
      dependencyFailure,
      log: () => {},
    });
    expect((await bug(req('GET', '/v1/finality'))).status).toBe(500);
  });
});

describe('POST /v1/transactions', () => {
  const tx = (from: number, to: number, amount: bigint, nonce: bigint, chainId = fx.chain.set.chainId) =>
    transactionToJson(signTransfer(chainId, DEV_SK[from]!, { to: DEV_PK[to]!, amount, nonce }));

  it('accepts a valid transaction: 202 with its hash, after sending it to ingress', async () => {
    const before = fx.transport.sent.length;
    const json = tx(5, 6, 10n, 0n);
    const r = await post(json);
    expectDocumented(r, 'postTransaction', 202);
    const signed = signTransfer(fx.chain.set.chainId, DEV_SK[5]!, { to: DEV_PK[6]!, amount: 10n, nonce: 0n });
    expect(body(r).hash).toBe(toHex(txHash(fx.chain.set.chainId, signed)));
    const sent = fx.transport.sent.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.to).toEqual({ queue: 'ingress' });
    expect(sent[0]!.messages[0]!.kind).toBe('tx');
    // A future nonce is fine (the sender may have transactions in flight).
    expectDocumented(await post(tx(5, 6, 10n, 7n)), 'postTransaction', 202);
  });

  it('readOnlyApi refuses it with 405 naming where to post, sends nothing, and passes every other request through', async () => {
    const readOnly = readOnlyApi(api, 'the region API (ApiUrl)');
    const before = fx.transport.sent.length;
    for (const path of ['/v1/transactions', '/v1/transactions/']) {
      const r = await readOnly(req('POST', path, JSON.stringify(tx(5, 6, 1n, 0n))));
      expect(r.status).toBe(405);
      expect(body(r).error).toEqual({
        code: 'METHOD_NOT_ALLOWED',
        message: 'this endpoint is read-only: POST /v1/transactions to the region API (ApiUrl)',
      });
    }
    expect(fx.transport.sent.length).toBe(before);
    expect((await readOnly(req('GET', '/v1/finality'))).status).toBe(200);
    expect((await readOnly(req('post', '/v1/state/nodes', JSON.stringify({ roots: [] })))).status).not.toBe(405);
  });

  it('refuses a signature for another chain', async () => {
    const r = await post(tx(5, 6, 10n, 0n, new Uint8Array(32).fill(1)));
    expectError(r, 'postTransaction', 400, 'BAD_SIGNATURE', /signature does not verify for this chain/);
  });

  it('refuses a tampered field (the signature no longer matches)', async () => {
    const r = await post({ ...tx(5, 6, 10n, 0n), amount: '11' });
    expectError(r, 'postTransaction', 400, 'BAD_SIGNATURE', /signature does not verify/);
  });

  it('refuses a stale nonce against finalized state', async () => {
    // dev 0 sent nonces 0 and 1 in finalized blocks 1 and 2: its next nonce is 2.
    expectError(
      await post(tx(0, 6, 1n, 1n)),
      'postTransaction',
      400,
      'STALE_NONCE',
      /nonce: 1 is stale.*next nonce at finalized height 2 is 2/,
    );
    expectDocumented(await post(tx(0, 6, 1n, 2n)), 'postTransaction', 202);
  });

  it('field errors name the field', async () => {
    const good = tx(5, 6, 10n, 0n);
    const cases: [unknown, RegExp][] = [
      [{ ...good, from: 'xyz' }, /^from: expected ed25519 public key: 32 bytes/],
      [{ ...good, to: good.to.slice(2) }, /^to: expected/],
      [{ ...good, signature: `${good.signature}00` }, /^signature: expected ed25519 signature: 64 bytes/],
      [{ ...good, amount: 10 }, /^amount: must be string/],
      [{ ...good, amount: '-1' }, /^amount: expected unsigned 64-bit integer/],
      [{ ...good, nonce: '01' }, /^nonce: expected unsigned 64-bit integer/],
      [{ ...good, amount: '18446744073709551616' }, /^amount: exceeds u64 maximum/],
      [{ ...good, memo: 'hi' }, /^memo: unknown field/],
      [{ from: good.from, to: good.to, amount: good.amount, signature: good.signature }, /^nonce: missing/],
      [[good], /^body: must be object/],
    ];
    for (const [value, message] of cases) expectError(await post(value), 'postTransaction', 400, 'INVALID_INPUT', message);
  });

  it('u64 maximum itself passes validation (then fails on the signature, not the range)', async () => {
    const r = await post({ ...tx(5, 6, 10n, 0n), amount: '18446744073709551615' });
    expect(body(r).error.code).toBe('BAD_SIGNATURE');
  });

  it('invalid JSON, empty body and oversized bodies', async () => {
    expectError(await post('{"from":'), 'postTransaction', 400, 'INVALID_JSON', /not valid JSON/);
    expectError(await api(req('POST', '/v1/transactions', undefined)), 'postTransaction', 400, 'INVALID_JSON', /expected a JSON object/);
    expectError(
      await post(`{"pad":"${'x'.repeat(MAX_BODY_BYTES)}"}`),
      'postTransaction',
      413,
      'PAYLOAD_TOO_LARGE',
      /larger than 16384 bytes/,
    );
    // Multi-byte characters count as bytes, not UTF-16 units.
    expectError(await post(`{"pad":"${'é'.repeat(MAX_BODY_BYTES / 2)}"}`), 'postTransaction', 413, 'PAYLOAD_TOO_LARGE', /larger/);
  });

  it('a transport failure is 503 and nothing is claimed; the retry gets the same hash', async () => {
    const json = tx(7, 8, 3n, 0n);
    fx.transport.fail = true;
    try {
      expectError(await post(json), 'postTransaction', 503, 'UNAVAILABLE', /retry/);
    } finally {
      fx.transport.fail = false;
    }
    const first = await post(json);
    const again = await post(json);
    expect(first.status).toBe(202);
    expect(body(again).hash).toBe(body(first).hash);
  });
});
