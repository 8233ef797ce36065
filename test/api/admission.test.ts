/**
 * Admission at ingress (issue 14): POST /v1/transactions admits into the transaction pool before its
 * 202, refuses with specific codes (a full pool fast, with 503 OVERLOADED and Retry-After, nothing
 * stored), and GET /v1/transactions/{hash} says what became of a transaction. Over the fixture's
 * finalized chain (finalized and applied at height 2: dev 0 has used nonces 0 and 1, dev 1 nonce 0) and the
 * in-memory pool; the DynamoDB pool answers the same (test/stores/contract.ts).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type Api, type ApiRequest, type ApiResponse, createApi, STALLED_NOTICE_EVERY } from '../../lib/api/app.js';
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

describe('admission follows the view, durable in two regions (issue 16)', () => {
  /** A pool whose writes of backup copies (addPending) throw while `failing`. */
  class FlakyPool extends MemoryPoolStore {
    failing = false;
    /** Admission itself fails (the whole region is unreachable). */
    down = false;
    override async addPending(txs: Parameters<MemoryPoolStore['addPending']>[0]): Promise<void> {
      if (this.failing) throw new Error('pool table unreachable (test)');
      return super.addPending(txs);
    }
    override async admit(...args: Parameters<MemoryPoolStore['admit']>): ReturnType<MemoryPoolStore['admit']> {
      if (this.down) throw new Error('pool table unreachable (test)');
      return super.admit(...args);
    }
  }
  let pools: Map<string, FlakyPool>;
  let routed: Api;
  beforeEach(() => {
    const query = new QueryService({
      chain: fx.chain,
      region: fx.region,
      blocks: fx.blocks,
      finality: fx.finality,
      applied: fx.applied,
      homeRegion: 'us-east-1',
    });
    // The fixture's member regions in view order: us-east-1 (home, view 0), eu-west-1 (view 1).
    pools = new Map([
      ['us-east-1', new FlakyPool()],
      ['eu-west-1', new FlakyPool()],
    ]);
    routed = createApi({
      query,
      transport: fx.transport,
      chain: fx.chain,
      maxLagBlocks: 8,
      pool: { store: pools.get('us-east-1')!, storeOf: (r) => pools.get(r)!, limits: LIMITS, retryAfterSeconds: 3 },
      retryAfterSeconds: 2,
      log: (e) => logged.push(e),
    });
  });
  const pendingIn = async (region: string) => (await pools.get(region)!.pending(10)).map((p) => toHex(p.hash));
  const id = (tx: Transaction) => toHex(fx.chain.app.hash(tx));

  it("answers 202 once the current view's pool and the next view's both hold it, and wakes the current one's ingress", async () => {
    const view = (await fx.finality.head()).view;
    const [active, backup] = view % 2 === 0 ? ['us-east-1', 'eu-west-1'] : ['eu-west-1', 'us-east-1'];
    const first = transfer(6, 10n, 0n);
    const sentBefore = fx.transport.sent.length;
    expectDocumented(await post(first, routed), 'postTransaction', 202);
    expect(await pendingIn(active!)).toEqual([id(first)]);
    expect(await pendingIn(backup!)).toEqual([id(first)]);
    const ticks = fx.transport.sent.slice(sentBefore).filter((s) => s.to.queue === 'ingress');
    expect(ticks.map((s) => (s.to as { region?: string }).region)).toEqual([active]);
  });

  it("after a view change, admits into the new view's region with the copy in the one after it", async () => {
    const first = transfer(6, 10n, 0n);
    expectDocumented(await post(first, routed), 'postTransaction', 202);
    const view = (await fx.finality.head()).view;
    await fx.finality.raiseHead({ view: { view: view + 1 } as ViewCertificate });
    const [active, backup] = (view + 1) % 2 === 0 ? ['us-east-1', 'eu-west-1'] : ['eu-west-1', 'us-east-1'];
    const sentBefore = fx.transport.sent.length;
    const second = transfer(7, 10n, 0n);
    expectDocumented(await post(second, routed), 'postTransaction', 202);
    // Both regions held the first one already (one was its backup); a resubmission of it changes nothing.
    expect((await pendingIn(active!)).sort()).toEqual([id(first), id(second)].sort());
    expect((await pendingIn(backup!)).sort()).toEqual([id(first), id(second)].sort());
    const ticks = fx.transport.sent.slice(sentBefore).filter((s) => s.to.queue === 'ingress');
    expect(ticks.map((s) => (s.to as { region?: string }).region)).toEqual([active]);
    expect(body(await statusOf(second, routed)).status).toBe('pending');
  });

  it('answers 503 when the copy cannot be written; the same transaction sent again gets 202 and the pair is complete', async () => {
    const view = (await fx.finality.head()).view;
    const [active, backup] = view % 2 === 0 ? ['us-east-1', 'eu-west-1'] : ['eu-west-1', 'us-east-1'];
    pools.get(backup!)!.failing = true;
    const tx = transfer(8, 10n, 0n);
    const r = await post(tx, routed);
    expectRefused(r, 503, 'UNAVAILABLE', new RegExp(`not yet stored in two regions.*${backup}`), '2');
    // Not promised either way: the active pool holds it (and its sequencer was told), the backup does not.
    expect(await pendingIn(active!)).toEqual([id(tx)]);
    expect(await pendingIn(backup!)).toEqual([]);
    expect(body(await statusOf(tx, routed)).status).toBe('pending');
    // Still failing: 503 again, nothing doubled.
    expect((await post(tx, routed)).status).toBe(503);
    pools.get(backup!)!.failing = false;
    const again = await post(tx, routed);
    expectDocumented(again, 'postTransaction', 202);
    expect(body(again).hash).toBe(id(tx));
    expect(await pendingIn(active!)).toEqual([id(tx)]);
    expect(await pendingIn(backup!)).toEqual([id(tx)]);
  });

  it("tells every member work is waiting when the active view's pool cannot be written, once per STALLED_NOTICE_EVERY failures", async () => {
    const view = (await fx.finality.head()).view;
    const active = view % 2 === 0 ? 'us-east-1' : 'eu-west-1';
    pools.get(active)!.down = true;
    const notices = () =>
      fx.transport.sent.filter((s) => s.to.queue === 'inbox' && s.messages.some((m) => m.kind === 'pending' && m.view === view));
    const before = notices().length;
    const refused = await post(transfer(6, 10n, 0n), routed);
    expect(refused.status).not.toBe(202);
    // One `pending` notice per member: each arms its view timer, so a lost active region gets replaced.
    const first = notices().slice(before);
    expect(first.map((s) => (s.to as { member: number }).member).sort()).toEqual(fx.chain.set.members.map((m) => m.index).sort());
    for (let i = 1; i < STALLED_NOTICE_EVERY; i++) await post(transfer(6, 10n, 0n), routed);
    expect(notices().length - before).toBe(fx.chain.set.members.length);
    await post(transfer(6, 10n, 0n), routed);
    expect(notices().length - before).toBe(2 * fx.chain.set.members.length);
  });

  it('a retry of a transaction included meanwhile gets 202 without a new copy', async () => {
    const view = (await fx.finality.head()).view;
    const [active, backup] = view % 2 === 0 ? ['us-east-1', 'eu-west-1'] : ['eu-west-1', 'us-east-1'];
    pools.get(backup!)!.failing = true;
    const tx = transfer(8, 10n, 1n);
    // Nonce 1 of dev 8 needs nonce 0 first (gap rule): admit it while the copy works.
    pools.get(backup!)!.failing = false;
    const zero = transfer(8, 10n, 0n);
    expectDocumented(await post(zero, routed), 'postTransaction', 202);
    pools.get(backup!)!.failing = true;
    expect((await post(tx, routed)).status).toBe(503);
    await pools.get(active!)!.removePending([
      { entry: pendingOf(fx.chain.app, zero), status: 'included', height: 3 },
      { entry: pendingOf(fx.chain.app, tx), status: 'included', height: 3 },
    ]);
    const again = await post(tx, routed);
    expectDocumented(again, 'postTransaction', 202);
    expect(await pendingIn(backup!)).toEqual([id(zero)]);
  });
});
