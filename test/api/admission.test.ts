/**
 * Admission at ingress (issue 14): POST /v1/transactions admits into the transaction pool before its
 * 202, refuses with specific codes (a full pool fast, with 503 OVERLOADED and Retry-After, nothing
 * stored), and GET /v1/transactions/{hash} says what became of a transaction. Over the fixture's
 * finalized chain (finalized and applied at height 2: dev 0 has used nonces 0 and 1, dev 1 nonce 0) and the
 * in-memory pool; the DynamoDB pool answers the same (test/stores/contract.ts).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type Api, type ApiRequest, type ApiResponse, createApi } from '../../lib/api/app.js';
import { responseChecker } from '../../lib/api/validate.js';
import { toHex } from '../../lib/core/bytes.js';
import { signTransfer } from '../../lib/core/ledger.js';
import type { Transaction } from '../../lib/core/types.js';
import type { ViewCertificate } from '../../lib/core/views.js';
import { transactionToJson } from '../../lib/core/wire.js';
import { MemoryPoolStore } from '../../lib/pipeline/memory.js';
import { DEFAULT_POOL_LANES, laneOf, pendingOf } from '../../lib/pipeline/pool.js';
import type { PoolLimits } from '../../lib/pipeline/ports.js';
import { QueryService } from '../../lib/pipeline/query.js';
import { buildFixture, DEV_PK, DEV_SK, type Fixture } from '../helpers/fixture.js';

const check = responseChecker();
const fx: Fixture = await buildFixture();
const LIMITS: PoolLimits = { capacity: 64, perSender: 3, nonceWindow: 5 };

let pool: MemoryPoolStore;
let api: Api;
let logged: { message: string }[];

function apiWith(limits: PoolLimits = LIMITS): Api {
  return createApi({
    query: fx.query,
    transport: fx.transport,
    chain: fx.chain,
    maxLagBlocks: 8,
    pool: { store: pool, limits, retryAfterSeconds: 3 },
    log: (e) => logged.push(e),
  });
}

beforeEach(() => {
  pool = new MemoryPoolStore();
  logged = [];
  fx.transport.fail = false;
  api = apiWith();
});

const req = (method: string, path: string, body?: string): ApiRequest => ({ method, path, query: {}, headers: {}, body });
const transfer = (from: number, amount: bigint, nonce: bigint, to = 9): Transaction =>
  signTransfer(fx.chain.set.chainId, DEV_SK[from]!, { to: DEV_PK[to]!, amount, nonce });
const post = (tx: Transaction, on: Api = api) => on(req('POST', '/v1/transactions', JSON.stringify(transactionToJson(tx))));
const statusOf = (tx: Transaction | string, on: Api = api) =>
  on(req('GET', `/v1/transactions/${typeof tx === 'string' ? tx : toHex(fx.chain.app.hash(tx))}`));
const body = (r: ApiResponse) => JSON.parse(r.body);

function expectDocumented(r: ApiResponse, operationId: string, status: number) {
  expect(r.status, r.body).toBe(status);
  expect(check(operationId, status, body(r))).toBeUndefined();
}
function expectRefused(r: ApiResponse, status: number, code: string, fragment: RegExp, retryAfter?: string) {
  expectDocumented(r, 'postTransaction', status);
  expect(body(r).error.code).toBe(code);
  expect(body(r).error.message).toMatch(fragment);
  expect(r.headers['retry-after']).toBe(retryAfter);
}
const wakeUps = () => fx.transport.sent.filter((s) => s.to.queue === 'ingress' && s.messages.some((m) => m.kind === 'tick')).length;

describe('POST /v1/transactions with a pool', () => {
  it('admits before the 202, wakes the sequencer once, and answers a resubmission with the same hash', async () => {
    const tx = transfer(5, 10n, 0n);
    const before = wakeUps();
    const r = await post(tx);
    expectDocumented(r, 'postTransaction', 202);
    expect(body(r).hash).toBe(toHex(fx.chain.app.hash(tx)));
    expect(await pool.status(fx.chain.app.hash(tx))).toEqual({ status: 'pending' });
    expect(wakeUps()).toBe(before + 1);
    const sent = fx.transport.sent.at(-1)!;
    expect(sent.messages).toEqual([{ kind: 'tick', height: 0 }]); // a wake-up, not the transaction: the pool holds it
    const again = await post(tx);
    expect(again.status).toBe(202);
    expect(body(again).hash).toBe(body(r).hash);
    expect(wakeUps()).toBe(before + 1);
  });

  it('answers 503 OVERLOADED with Retry-After when the pool is full, and stores nothing', async () => {
    const tight = apiWith({ ...LIMITS, capacity: DEFAULT_POOL_LANES }); // one pending transaction per lane
    // Two senders on one lane: the second finds it full.
    const lane = (i: number) => laneOf(DEV_PK[i]!, DEFAULT_POOL_LANES);
    const [a, b] = [2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) =>
      [2, 3, 4, 5, 6, 7, 8, 9].filter((j) => j > i && lane(j) === lane(i)).map((j) => [i, j]),
    )[0]!;
    expectDocumented(await post(transfer(a!, 1n, 0n), tight), 'postTransaction', 202);
    const refused = transfer(b!, 1n, 0n);
    const sends = fx.transport.sent.length;
    expectRefused(await post(refused, tight), 503, 'OVERLOADED', /pool is full/, '3');
    expect(fx.transport.sent.length).toBe(sends); // the sequencer is not touched: no wake-up, no transaction queued
    expect(body(await statusOf(refused, tight)).status).toBe('unknown');
  });

  it('answers 503 OVERLOADED at once when as many admissions as it runs at once are in progress, reading nothing', async () => {
    // Admissions that hang in the store until released: the API must not queue more behind them.
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let admits = 0;
    const slow = Object.assign(Object.create(pool), {
      admit: async (...args: Parameters<MemoryPoolStore['admit']>) => {
        admits++;
        await held;
        return pool.admit(...args);
      },
    }) as MemoryPoolStore;
    let stateReads = 0;
    const query = new Proxy(fx.query, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          stateReads++;
          return value.apply(target, args);
        };
      },
    });
    const busy = createApi({
      query,
      transport: fx.transport,
      chain: fx.chain,
      maxLagBlocks: 8,
      pool: { store: slow, limits: LIMITS, retryAfterSeconds: 3, maxConcurrentAdmissions: 2 },
    });
    const first = [post(transfer(2, 1n, 0n), busy), post(transfer(3, 1n, 0n), busy)];
    while (admits < 2) await new Promise((r) => setImmediate(r));
    const reads = stateReads;
    const sends = fx.transport.sent.length;
    expectRefused(await post(transfer(4, 1n, 0n), busy), 503, 'OVERLOADED', /2 admissions are in progress/, '3');
    expect(admits).toBe(2);
    expect(fx.transport.sent.length).toBe(sends);
    expect(stateReads).toBe(reads);
    release();
    for (const r of await Promise.all(first)) expectDocumented(r, 'postTransaction', 202);
    // Room again once they are done.
    expectDocumented(await post(transfer(4, 1n, 0n), busy), 'postTransaction', 202);
  });

  it('refuses nonces the pool cannot hold, each with its code', async () => {
    // dev 0's next nonce at finalized height 2 is 2.
    expectRefused(await post(transfer(0, 1n, 1n)), 400, 'STALE_NONCE', /nonce: 1 is stale/);
    expectRefused(await post(transfer(0, 1n, 7n)), 429, 'NONCE_TOO_FAR', /nonce: 7 is 5 or more above the sender's next nonce 2/, '3');
    expectRefused(await post(transfer(0, 1n, 3n)), 429, 'NONCE_GAP', /nonce 2 of this sender is not pending/, '3');
    const held = transfer(0, 1n, 2n);
    expectDocumented(await post(held), 'postTransaction', 202);
    expectRefused(await post(transfer(0, 2n, 2n)), 409, 'NONCE_TAKEN', new RegExp(toHex(fx.chain.app.hash(held))));
    expectDocumented(await post(transfer(0, 1n, 3n)), 'postTransaction', 202); // no gap any more
  });

  it('caps the pending transactions of one sender', async () => {
    for (const n of [0n, 1n, 2n]) expectDocumented(await post(transfer(6, 1n, n)), 'postTransaction', 202);
    expectRefused(await post(transfer(6, 1n, 3n)), 429, 'SENDER_LIMIT', /3 transactions pending/, '3');
  });

  it('refuses an amount the balance minus the pending spends does not cover', async () => {
    const balance = 1_000_000_000n;
    expectDocumented(await post(transfer(7, balance - 10n, 0n)), 'postTransaction', 202);
    expectRefused(await post(transfer(7, 11n, 1n)), 400, 'INSUFFICIENT_BALANCE', /balance 1000000000 .* minus 999999990 spent/);
    expectDocumented(await post(transfer(7, 10n, 1n)), 'postTransaction', 202);
  });

  it('still answers 202 when the wake-up cannot be sent (the transaction is durable), and logs it', async () => {
    fx.transport.fail = true;
    const tx = transfer(8, 1n, 0n);
    expectDocumented(await post(tx), 'postTransaction', 202);
    expect(await pool.status(fx.chain.app.hash(tx))).toEqual({ status: 'pending' });
    expect(logged.map((e) => e.message)).toEqual([expect.stringMatching(/wake-up failed/)]);
  });
});

describe('GET /v1/transactions/{hash}', () => {
  it('answers pending, included, finalized (at or below the readable finalized checkpoint), rejected, unknown', async () => {
    const [t1, t2, t3] = [transfer(2, 1n, 0n), transfer(3, 1n, 0n), transfer(4, 1n, 0n)];
    for (const t of [t1, t2, t3]) await post(t);
    const expectStatus = async (tx: Transaction | string, expected: Record<string, unknown>) => {
      const r = await statusOf(tx);
      expectDocumented(r, 'getTransaction', 200);
      expect(body(r)).toEqual(expected);
    };
    const hash = (t: Transaction) => toHex(fx.chain.app.hash(t));
    await expectStatus(t1, { hash: hash(t1), status: 'pending' });
    await pool.removePending([
      { entry: pendingOf(fx.chain.app, t1), status: 'included', height: 2 }, // the fixture's readable finalized height
      { entry: pendingOf(fx.chain.app, t2), status: 'included', height: 3 },
      { entry: pendingOf(fx.chain.app, t3), status: 'rejected', reason: 'INSUFFICIENT_BALANCE', message: 'balance 0 < amount 1' },
    ]);
    await expectStatus(t1, { hash: hash(t1), status: 'finalized', height: 2 });
    await expectStatus(t2, { hash: hash(t2), status: 'included', height: 3 });
    await expectStatus(t3, { hash: hash(t3), status: 'rejected', reason: 'INSUFFICIENT_BALANCE', message: 'balance 0 < amount 1' });
    const nobody = 'ab'.repeat(32);
    await expectStatus(nobody, { hash: nobody, status: 'unknown' });
  });

  it('refuses a malformed hash, and answers unknown where no pool is wired', async () => {
    expectDocumented(await api(req('GET', '/v1/transactions/xyz')), 'getTransaction', 400);
    const bare = createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 });
    const tx = transfer(4, 1n, 0n);
    expect(body(await statusOf(tx, bare)).status).toBe('unknown');
  });
});

describe('admission follows the view (issue 16)', () => {
  it("admits into the pool of the current view's sequencer region and wakes that region's ingress", async () => {
    const query = new QueryService({
      chain: fx.chain,
      region: fx.region,
      blocks: fx.blocks,
      finality: fx.finality,
      applied: fx.applied,
      homeRegion: 'us-east-1',
    });
    const pools = new Map([
      ['us-east-1', new MemoryPoolStore()],
      ['eu-west-1', new MemoryPoolStore()],
    ]);
    const routed = createApi({
      query,
      transport: fx.transport,
      chain: fx.chain,
      maxLagBlocks: 8,
      pool: { store: pools.get('us-east-1')!, storeOf: (r) => pools.get(r)!, limits: LIMITS },
      log: (e) => logged.push(e),
    });
    const first = transfer(6, 10n, 0n);
    expectDocumented(await post(first, routed), 'postTransaction', 202);
    expect(await pools.get('us-east-1')!.pending(10)).toHaveLength(1);
    // View 1 certified in this region: the member regions in view order are us-east-1 (home), eu-west-1.
    await fx.finality.raiseHead({ view: { view: 1 } as ViewCertificate });
    const sentBefore = fx.transport.sent.length;
    const second = transfer(7, 10n, 0n);
    expectDocumented(await post(second, routed), 'postTransaction', 202);
    expect((await pools.get('eu-west-1')!.pending(10)).map((p) => toHex(p.hash))).toEqual([toHex(fx.chain.app.hash(second))]);
    expect(await pools.get('us-east-1')!.pending(10)).toHaveLength(1);
    const ticks = fx.transport.sent.slice(sentBefore).filter((s) => s.to.queue === 'ingress');
    expect(ticks.map((s) => (s.to as { region?: string }).region)).toEqual(['eu-west-1']);
    expect(body(await statusOf(second, routed)).status).toBe('pending');
  });
});
