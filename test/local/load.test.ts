/**
 * Load generator against a fake region API (in-memory, behind an injected fetch) under vitest's
 * fake clock: nonces per account, inclusion by sender and nonce, "final everywhere" only once every
 * region reads the block, refusals retiring an account. Plus the statistics helpers.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { InputError } from '../../lib/core/errors.js';
import { formatLoadSummary, LoadGenerator } from '../../lib/local/load.js';
import { formatMs, percentile, RateMeter, summarize } from '../../lib/local/stats.js';

interface Tx {
  from: string;
  nonce: string;
}

/** A chain seen through the API: a mempool, sealed blocks, and per-region finalized/applied heights. */
class FakeApi {
  mempool: Tx[] = [];
  blocks: Tx[][] = [];
  readonly heights = new Map<string, { finalized: number; applied: number }>();
  readonly nonces = new Map<string, bigint>();
  readonly posted: { url: string; tx: Tx }[] = [];
  refuse: ((tx: Tx) => { status: number; code: string } | undefined) | undefined;

  constructor(readonly urls: string[]) {
    for (const u of urls) this.heights.set(u, { finalized: 0, applied: 0 });
  }
  seal(): number {
    this.blocks.push(this.mempool);
    this.mempool = [];
    return this.blocks.length;
  }
  reach(url: string, finalized: number, applied = finalized): void {
    this.heights.set(url, { finalized, applied });
  }

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const base = `${url.protocol}//${url.host}`;
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });
    if (init?.method === 'POST') {
      const tx = JSON.parse(String(init.body)) as Tx;
      this.posted.push({ url: base, tx });
      const refusal = this.refuse?.(tx);
      if (refusal) return json(refusal.status, { error: { code: refusal.code, message: 'refused' } });
      this.mempool.push(tx);
      return json(202, { hash: 'ab'.repeat(32) });
    }
    const h = this.heights.get(base)!;
    if (url.pathname === '/v1/validators') return json(200, { chainId: toHex(LOCAL_CHAIN_ID), checkpointInterval: 1 });
    if (url.pathname === '/v1/finality')
      return json(200, { head: { height: this.blocks.length }, finalized: { height: h.finalized }, applied: { height: h.applied } });
    const account = /^\/v1\/accounts\/([0-9a-f]{64})$/.exec(url.pathname);
    if (account) return json(200, { nonce: String(this.nonces.get(account[1]!) ?? 0n) });
    const block = /^\/v1\/blocks\/(\d+)$/.exec(url.pathname);
    if (block) {
      const height = Number(block[1]);
      const txs = this.blocks[height - 1];
      return txs ? json(200, { height, transactions: txs }) : json(404, { error: { code: 'NOT_FOUND', message: 'no block' } });
    }
    return json(404, { error: { code: 'NOT_FOUND', message: url.pathname } });
  };
}

const URLS = ['http://127.0.0.1:3000', 'http://127.0.0.1:3001'];
const devHex = (i: number) => toHex(ed25519PublicKey(devSecretKey(i)));

describe('LoadGenerator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function started(api: FakeApi, rate = 10) {
    const load = await LoadGenerator.create({ urls: URLS, ratePerSecond: rate, pollMs: 100, fetch: api.fetch as typeof fetch });
    load.start();
    return load;
  }

  it('offers the rate round-robin over regions and accounts, with consecutive nonces from the finalized ones', async () => {
    const api = new FakeApi(URLS);
    api.nonces.set(devHex(0), 5n);
    const load = await started(api);
    await vi.advanceTimersByTimeAsync(2_000);
    const s = load.stats();
    expect(s.offered).toBe(20);
    expect(s.accepted).toBe(20);
    expect(api.posted.filter((p) => p.url === URLS[0]).length).toBe(10);
    expect(api.posted.filter((p) => p.url === URLS[1]).length).toBe(10);
    const fromZero = api.posted.filter((p) => p.tx.from === devHex(0)).map((p) => p.tx.nonce);
    expect(fromZero).toEqual(['5', '6']);
    const fromOne = api.posted.filter((p) => p.tx.from === devHex(1)).map((p) => p.tx.nonce);
    expect(fromOne).toEqual(['0', '1']);
    await load.stop();
  });

  it('counts a transfer final only once every region reads its block, with its latency from the 202', async () => {
    const api = new FakeApi(URLS);
    const load = await started(api);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(load.stats().accepted).toBe(10);
    const h = api.seal();
    api.reach(URLS[0]!, h);
    api.reach(URLS[1]!, h, h - 1); // finalized but not applied yet: not readable there
    await vi.advanceTimersByTimeAsync(500);
    expect(load.stats().finalized).toBe(0);
    expect(load.stats().pending).toBe(15);

    api.reach(URLS[1]!, h);
    await vi.advanceTimersByTimeAsync(200);
    const s = load.stats();
    expect(s.finalized).toBe(10); // the 5 sent after the seal are in no block yet
    expect(s.pending).toBe(s.accepted - 10);
    expect(s.latencyMs.count).toBe(10);
    // Sent during the first second, seen final 1.5-1.7 s after start.
    expect(s.latencyMs.max).toBeGreaterThanOrEqual(500);
    expect(s.latencyMs.max).toBeLessThanOrEqual(1_700);
    const final = await load.stop();
    expect(final.pending).toBe(final.accepted - final.finalized);
    expect(formatLoadSummary(final).join('\n')).toMatch(/10 final in every region.*\n.*p50 \d+ ms.*over 10/);
  });

  it('retires an account whose transfer is refused, and keeps offering from the others', async () => {
    const api = new FakeApi(URLS);
    api.refuse = (tx) => (tx.from === devHex(3) ? { status: 400, code: 'STALE_NONCE' } : undefined);
    const notes: string[] = [];
    const load = await LoadGenerator.create({
      urls: URLS,
      ratePerSecond: 10,
      pollMs: 100,
      fetch: api.fetch as typeof fetch,
      onNote: (m) => notes.push(m),
    });
    load.start();
    await vi.advanceTimersByTimeAsync(3_000);
    const s = await load.stop();
    expect(s.refused).toBe(1);
    expect(s.refusals).toEqual({ STALE_NONCE: 1 });
    expect(api.posted.filter((p) => p.tx.from === devHex(3)).length).toBe(1);
    expect(s.accepted).toBe(s.offered - 1);
    expect(notes.join('\n')).toMatch(/dev account 3 retired \(STALE_NONCE for nonce 0/);
  });

  it('waits for the chain to be idle before reading nonces (a restart may leave transfers in the pipeline)', async () => {
    const api = new FakeApi(URLS);
    api.mempool.push({ from: devHex(0), nonce: '0' });
    api.seal(); // head 1, nothing final yet
    api.nonces.set(devHex(0), 0n);
    let ready = false;
    const creating = LoadGenerator.create({ urls: URLS, ratePerSecond: 1, idleWaitMs: 60_000, fetch: api.fetch as typeof fetch }).then(
      (l) => {
        ready = true;
        return l;
      },
    );
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ready).toBe(false);
    for (const u of URLS) api.reach(u, 1);
    api.nonces.set(devHex(0), 1n); // the leftover transfer took nonce 0
    await vi.advanceTimersByTimeAsync(3_000);
    expect(ready).toBe(true);
    const load = await creating;
    load.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.posted.map((p) => [p.tx.from, p.tx.nonce])).toEqual([[devHex(0), '1']]);
    await load.stop();
  });

  it('refuses non-loopback URLs and a non-positive rate', async () => {
    const api = new FakeApi(URLS);
    await expect(
      LoadGenerator.create({ urls: ['http://10.0.0.1:3000'], ratePerSecond: 1, fetch: api.fetch as typeof fetch }),
    ).rejects.toThrow(InputError);
    await expect(LoadGenerator.create({ urls: URLS, ratePerSecond: 0, fetch: api.fetch as typeof fetch })).rejects.toThrow(/ratePerSecond/);
    await expect(LoadGenerator.create({ urls: URLS, ratePerSecond: 1, fetch: api.fetch as typeof fetch })).resolves.toBeInstanceOf(
      LoadGenerator,
    );
  });
});

describe('stats', () => {
  it('percentile is nearest-rank', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 75)).toBe(3);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
    expect(percentile([7], 0)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('percentiles are ordered values of the sample', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e6 }), { minLength: 1 }), (values) => {
        const s = summarize(values);
        expect(s.count).toBe(values.length);
        expect(values).toContain(s.p50);
        expect(s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max).toBe(true);
        expect(s.max).toBe(Math.max(...values));
      }),
    );
  });

  it('summarize of nothing is NaN with count 0', () => {
    expect(summarize([])).toMatchObject({ count: 0, p50: Number.NaN, max: Number.NaN });
  });

  it('RateMeter gives the rate over its window', () => {
    const m = new RateMeter(2_000);
    expect(m.perSecond()).toBe(0);
    m.sample(0, 0);
    m.sample(1_000, 10);
    expect(m.perSecond()).toBe(10);
    m.sample(2_000, 30);
    m.sample(3_000, 60);
    // window keeps samples from t=1000 on: (60 - 10) / 2 s
    expect(m.perSecond()).toBe(25);
  });

  it('formatMs', () => {
    expect(formatMs(850.4)).toBe('850 ms');
    expect(formatMs(2412)).toBe('2.41 s');
    expect(formatMs(Number.NaN)).toBe('-');
  });
});
