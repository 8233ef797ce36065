/**
 * Bad input at the HTTP boundary (createApi over the fixture, and over a live in-memory cluster):
 * every malformed request gets a clear 4xx naming the field, nothing is a 500, the API keeps serving,
 * and a valid transaction submitted in the middle of the garbage is finalized.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Api, type ApiRequest, createApi } from '../../lib/api/app.js';
import { MAX_BODY_BYTES } from '../../lib/api/openapi.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { transactionToJson } from '../../lib/core/wire.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { simDealing } from '../../lib/sim/simulation.js';
import { buildFixture, DEV_PK, DEV_SK, type Fixture } from '../helpers/fixture.js';

let fx: Fixture;
let api: Api;
const logged: unknown[] = [];

beforeAll(async () => {
  fx = await buildFixture();
  api = createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, log: (e) => logged.push(e) });
});

const req = (method: string, path: string, body?: string): ApiRequest => ({ method, path, query: {}, headers: {}, body });
const post = (a: Api, body: string) => a(req('POST', '/v1/transactions', body));
const validTx = (nonce: bigint) => transactionToJson(signTransfer(fx.chain.set.chainId, DEV_SK[5]!, { to: DEV_PK[6]!, amount: 3n, nonce }));

/** A refusal: 4xx, the documented error shape, a non-empty message. */
function expectRefusal(status: number, body: string): { code: string; message: string } {
  expect(status, body).toBeGreaterThanOrEqual(400);
  expect(status, body).toBeLessThan(500);
  const e = JSON.parse(body).error;
  expect(typeof e.code).toBe('string');
  expect(e.message.length).toBeGreaterThan(0);
  return e;
}

describe('POST /v1/transactions under bad input', () => {
  it('names the field for each malformed transaction', async () => {
    const good = validTx(0n);
    const cases: [string, unknown, RegExp][] = [
      ['short from', { ...good, from: good.from.slice(2) }, /from/],
      ['non-hex to', { ...good, to: 'zz'.repeat(32) }, /to/],
      ['signature 63 bytes', { ...good, signature: good.signature.slice(2) }, /signature/],
      ['amount not decimal', { ...good, amount: '1e3' }, /amount/],
      ['amount above u64', { ...good, amount: '18446744073709551616' }, /amount/],
      ['negative nonce', { ...good, nonce: '-1' }, /nonce/],
      ['missing field', { from: good.from, to: good.to, amount: good.amount, nonce: good.nonce }, /signature/],
      ['extra field', { ...good, fee: '1' }, /fee|additional/],
      ['wrong chain signature', { ...good, amount: '4' }, /signature/],
    ];
    for (const [name, value, field] of cases) {
      const r = await post(api, JSON.stringify(value));
      const e = expectRefusal(r.status, r.body);
      expect(e.message, name).toMatch(field);
    }
  });

  it('refuses malformed JSON, non-objects and huge payloads with 400/413', async () => {
    for (const body of ['{', '', 'null', '[]', '"x"', '{"from":'])
      expect(expectRefusal((await post(api, body)).status, (await post(api, body)).body).code).toMatch(/INVALID/);
    const huge = await post(api, JSON.stringify({ ...validTx(0n), pad: 'x'.repeat(MAX_BODY_BYTES) }));
    expect(huge.status).toBe(413);
  });

  it('property: any body or path gives a 2xx/4xx answer (never a 500), and the API keeps serving', async () => {
    const field = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 140 }),
      fc.integer(),
      fc.constant(null),
      fc.jsonValue(),
    );
    const txLike = fc.record({ from: field, to: field, amount: field, nonce: field, signature: field }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
          txLike.map((v) => JSON.stringify(v)),
        ),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
        fc.oneof(
          fc.constantFrom('/v1/transactions', '/v1/blocks/1', '/v1/checkpoints/2', '/v1/finality'),
          fc.string({ maxLength: 40 }).map((s) => `/v1/${s}`),
        ),
        async (body, method, path) => {
          const r = await api(req(method, path, body));
          expect(r.status, `${method} ${path} ${body}`).toBeLessThan(500);
          if (r.status >= 400) expectRefusal(r.status, r.body);
        },
      ),
      { numRuns: 300 },
    );
    expect(logged).toEqual([]); // nothing reached the 500 path
    expect((await api(req('GET', '/v1/finality'))).status).toBe(200);
    expect((await post(api, JSON.stringify(validTx(0n)))).status).toBe(202);
  });

  it('refuses bad account keys and heights on GET routes by name', async () => {
    for (const [path, field] of [
      ['/v1/accounts/abc', /publicKeyHex/],
      ['/v1/blocks/-1', /height/],
      ['/v1/blocks/1.5', /height/],
      ['/v1/checkpoints/99999999999999999999', /height/],
    ] as const) {
      const r = await api(req('GET', path));
      expect(expectRefusal(r.status, r.body).message, path).toMatch(field);
    }
  });
});

describe('nothing accepted is lost', () => {
  it('a valid transfer submitted between garbage requests is finalized in every region', { timeout: 120_000 }, async () => {
    const regions = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
    const cluster = await MemoryCluster.create({ regions, seed: 42, dealing: simDealing() });
    const home = cluster.node(regions[0]!);
    const live = createApi({ query: home.query, transport: cluster.transport, chain: home.chain, maxLagBlocks: 8, log: () => {} });
    const tx = signTransfer(cluster.set.chainId, DEV_SK[5]!, { to: DEV_PK[6]!, amount: 3n, nonce: 0n });
    const bodies = fc.sample(fc.string({ maxLength: 200 }), { seed: 7, numRuns: 50 });
    let accepted = '';
    for (const [i, body] of bodies.entries()) {
      if (i === 25) {
        const r = await post(live, JSON.stringify(transactionToJson(tx)));
        expect(r.status).toBe(202);
        accepted = JSON.parse(r.body).hash;
      }
      expect((await post(live, body)).status).toBeLessThan(500);
    }
    expect(accepted).toMatch(/^[0-9a-f]{64}$/);
    expect(cluster.pending.length).toBe(1); // only the valid transaction reached the ingress queue
    await cluster.run();
    for (const region of regions) {
      const account = await cluster.node(region).query.state(DEV_PK[6]!);
      expect(account.balance, region).toBe('1000000003');
    }
  });
});
