/**
 * Load generator against a fake region API (in-memory, behind an injected fetch) under vitest's
 * fake clock: the schedule and what was sent or skipped, nonces per sender, latency from the send,
 * refusals by code, the sustained rate, lost transfers, restart on a chain that is never idle.
 * Plus the summary line, the statistics helpers and the /proc reader.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { InputError } from '../../lib/core/errors.js';
import { devSenders, formatLoadSummary, LoadGenerator, type LoadOptions, loadSummaryJson } from '../../lib/local/load.js';
import { processCpuMs, startMachineMeter } from '../../lib/local/proc.js';
import { formatMs, percentile, RateMeter, summarize } from '../../lib/local/stats.js';

interface Tx {
  from: string;
  nonce: string;
}

type Refusal = { status: number; code: string; headers?: Record<string, string> };

/** A chain seen through the API: a mempool, sealed blocks, and per-region finalized/applied heights. */
class FakeApi {
  mempool: Tx[] = [];
  blocks: Tx[][] = [];
  /** Blocks above the finalized ones that exist but never finalize (the trailing empty block). */
  extraHead = 0;
  readonly heights = new Map<string, { finalized: number; applied: number }>();
  readonly nonces = new Map<string, bigint>();
  readonly posted: { url: string; tx: Tx; at: number }[] = [];
  readonly down = new Set<string>();
  refuse: ((tx: Tx) => Refusal | undefined) | undefined;
  /** How long a POST takes to answer (fake clock); Infinity: never. */
  postDelayMs = 0;

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
  withDelay(ms: number): this {
    this.postDelayMs = ms;
    return this;
  }
  /** Seals the mempool and makes it final in every region. */
  finalizeAll(): void {
    const h = this.seal();
    for (const u of this.urls) this.reach(u, h);
  }

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const base = `${url.protocol}//${url.host}`;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(body), { status, headers });
    if (this.down.has(base)) throw new TypeError('fetch failed: ECONNREFUSED');
    if (init?.method === 'POST') {
      const tx = JSON.parse(String(init.body)) as Tx;
      this.posted.push({ url: base, tx, at: Date.now() });
      if (this.postDelayMs === Number.POSITIVE_INFINITY) return new Promise<Response>(() => {});
      if (this.postDelayMs > 0) await new Promise((r) => setTimeout(r, this.postDelayMs));
      const refusal = this.refuse?.(tx);
      if (refusal) return json(refusal.status, { error: { code: refusal.code, message: 'refused' } }, refusal.headers);
      this.mempool.push(tx);
      return json(202, { hash: 'ab'.repeat(32) });
    }
    const h = this.heights.get(base)!;
    if (url.pathname === '/v1/validators') return json(200, { chainId: toHex(LOCAL_CHAIN_ID), checkpointInterval: 1 });
    if (url.pathname === '/v1/finality')
      return json(200, {
        head: { height: this.blocks.length + this.extraHead },
        finalized: { height: h.finalized },
        applied: { height: h.applied },
      });
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
const noncesOf = (api: FakeApi, i: number) => api.posted.filter((p) => p.tx.from === devHex(i)).map((p) => p.tx.nonce);

describe('LoadGenerator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** stop() while the fake clock runs (requests in flight and the drain wait on it). */
  async function stopped(load: LoadGenerator, drainMs = 0) {
    const stopping = load.stop({ drainMs });
    await vi.advanceTimersByTimeAsync(drainMs + 1_000);
    return stopping;
  }

  async function started(api: FakeApi, opts: Partial<LoadOptions> = {}) {
    const load = await LoadGenerator.create({ urls: URLS, ratePerSecond: 10, pollMs: 100, fetch: api.fetch as typeof fetch, ...opts });
    load.start();
    return load;
  }

  it('offers the schedule round-robin over regions and senders, with consecutive nonces from the finalized ones', async () => {
    const api = new FakeApi(URLS);
    api.nonces.set(devHex(0), 5n);
    const load = await started(api);
    await vi.advanceTimersByTimeAsync(2_000);
    const s = load.stats();
    expect(s).toMatchObject({ offered: 20, sent: 20, skipped: 0, accepted: 20, refusedTotal: 0 });
    expect(api.posted.filter((p) => p.url === URLS[0]).length).toBe(10);
    expect(api.posted.filter((p) => p.url === URLS[1]).length).toBe(10);
    expect(noncesOf(api, 0)).toEqual(['5', '6']);
    expect(noncesOf(api, 1)).toEqual(['0', '1']);
    await load.stop();
  });

  it('measures latency from the moment the POST is sent, and counts a transfer final only once every region reads it', async () => {
    const api = new FakeApi(URLS);
    api.postDelayMs = 400; // each 202 arrives 400 ms after its POST
    const load = await started(api, { ratePerSecond: 1 });
    await vi.advanceTimersByTimeAsync(1_000); // the first transfer went out at t = 0+, accepted at ~400 ms
    expect(load.stats().accepted).toBe(1);
    const sentAt = api.posted[0]!.at;
    const h = api.seal();
    api.reach(URLS[0]!, h);
    api.reach(URLS[1]!, h, h - 1); // finalized but not applied there yet: not readable
    await vi.advanceTimersByTimeAsync(500);
    expect(load.stats().finalized).toBe(0);

    api.reach(URLS[1]!, h);
    const readableAt = Date.now();
    await vi.advanceTimersByTimeAsync(200);
    const s = load.stats();
    expect(s.finalized).toBe(1);
    // From the send (not from the 202, which came 400 ms later) to the poll that saw it, <= one poll after readableAt.
    expect(s.latencyMs.max).toBeGreaterThanOrEqual(readableAt - sentAt);
    expect(s.latencyMs.max).toBeLessThanOrEqual(readableAt - sentAt + 100);
    await stopped(load);
  });

  it('counts refusals by code; a 503 frees the nonce for the sender’s next transfer and is never retried', async () => {
    const api = new FakeApi(URLS);
    let overloaded = 2;
    api.refuse = (tx) =>
      tx.from === devHex(0) && overloaded-- > 0 ? { status: 503, code: 'OVERLOADED', headers: { 'retry-after': '1' } } : undefined;
    const load = await started(api, { senders: devSenders().slice(0, 1) });
    await vi.advanceTimersByTimeAsync(1_000);
    const s = await load.stop();
    // Every offer went out exactly once: the refused ones were not resent inside the measurement.
    expect(api.posted.length).toBe(s.offered);
    expect(s).toMatchObject({ offered: 10, sent: 10, accepted: 8, refused: { OVERLOADED: 2 }, refusedTotal: 2, skipped: 0 });
    expect(noncesOf(api, 0)).toEqual(['0', '0', '0', '1', '2', '3', '4', '5', '6', '7']);
    expect(s.senders.retired).toBe(0);
  });

  it('with several requests per sender, a refused nonce is taken by the sender’s next offer; a gap left at the end counts as stranded', async () => {
    const api = new FakeApi(URLS);
    api.postDelayMs = 250; // answers after 2.5 offers: up to 3 requests of the one sender are open
    let overloaded = 1;
    api.refuse = (tx) => (tx.nonce === '1' && overloaded-- > 0 ? { status: 503, code: 'OVERLOADED' } : undefined);
    const load = await started(api, { senders: devSenders().slice(0, 1), maxInFlightPerSender: 3 });
    await vi.advanceTimersByTimeAsync(800);
    // Nonce 1 was refused while 2 and 3 were open; the next offer took 1 again before any new nonce.
    expect(noncesOf(api, 0)).toEqual(['0', '1', '2', '3', '1', '4', '5', '6']);
    expect(load.stats()).toMatchObject({ skipped: 0, refused: { OVERLOADED: 1 } });
    await stopped(load);

    const gap = new FakeApi(URLS);
    gap.postDelayMs = 250;
    gap.refuse = (tx) => (tx.nonce === '2' ? { status: 503, code: 'OVERLOADED' } : undefined);
    const stuck = await started(gap, { senders: devSenders().slice(0, 1), maxInFlightPerSender: 3, ratePerSecond: 10 });
    await vi.advanceTimersByTimeAsync(400); // nonces 0..3 sent, 2 refused, never sent again before the stop
    const s = await stopped(stuck);
    expect(noncesOf(gap, 0)).toEqual(['0', '1', '2', '3']);
    expect(s).toMatchObject({ accepted: 3, lost: 3, stranded: 1 });
  });

  it('retires a sender refused with a 4xx (its state is not what the generator thinks) and keeps offering from the others', async () => {
    const api = new FakeApi(URLS);
    api.refuse = (tx) => (tx.from === devHex(3) ? { status: 400, code: 'STALE_NONCE' } : undefined);
    const notes: string[] = [];
    const load = await started(api, { onNote: (m) => notes.push(m) });
    await vi.advanceTimersByTimeAsync(3_000);
    const s = await load.stop();
    expect(s.refused).toEqual({ STALE_NONCE: 1 });
    expect(noncesOf(api, 3)).toEqual(['0']);
    expect(s.accepted).toBe(s.offered - 1);
    expect(s.senders.retired).toBe(1);
    expect(notes.join('\n')).toMatch(/sender 3 retired \(STALE_NONCE for nonce 0/);
  });

  it('sends again the nonce of a request that got no answer, as the same transaction', async () => {
    const api = new FakeApi(URLS);
    let fail = true;
    const flaky = (async (input: string | URL | Request, init?: RequestInit) => {
      if (init?.method === 'POST' && fail) {
        fail = false;
        api.posted.push({ url: '', tx: JSON.parse(String(init.body)) as Tx, at: Date.now() });
        throw new TypeError('fetch failed: socket hang up');
      }
      return api.fetch(input, init);
    }) as typeof fetch;
    const load = await started(api, { senders: devSenders().slice(0, 1), fetch: flaky });
    await vi.advanceTimersByTimeAsync(300);
    const s = await load.stop();
    expect(s).toMatchObject({ sent: 3, failed: 1, accepted: 2 });
    expect(noncesOf(api, 0)).toEqual(['0', '0', '1']);
    expect(api.posted[0]!.tx).toEqual(api.posted[1]!.tx); // same signature: same hash
  });

  it('reports skipped transfers, by reason and loudly, when the generator falls behind its schedule', async () => {
    const api = new FakeApi(URLS);
    api.postDelayMs = Number.POSITIVE_INFINITY; // no answer: every sender stays busy
    const warnings: string[] = [];
    const load = await started(api, { senders: devSenders().slice(0, 2), onWarning: (m) => warnings.push(m) });
    await vi.advanceTimersByTimeAsync(1_000);
    const s = load.stats();
    expect(s).toMatchObject({ offered: 10, sent: 2, skipped: 8, skippedBy: { NO_IDLE_SENDER: 8 } });
    expect(warnings[0]).toMatch(/^WARNING the load generator fell behind its schedule: \d+ of \d+ offered transfers were never sent/);
    expect(s.warnings[0]).toMatch(/8 of 10 offered transfers were never sent \(8 with no idle sender\); the cluster was offered 2, not 10/);

    const capped = await started(new FakeApi(URLS).withDelay(Number.POSITIVE_INFINITY), { maxInFlight: 3 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(capped.stats()).toMatchObject({ offered: 10, sent: 3, skipped: 7, skippedBy: { IN_FLIGHT_CAP: 7 } });
  });

  it('reports no skips and no warning when it keeps its schedule', async () => {
    const api = new FakeApi(URLS);
    api.postDelayMs = 50;
    const warnings: string[] = [];
    const load = await started(api, { ratePerSecond: 50, onWarning: (m) => warnings.push(m) });
    await vi.advanceTimersByTimeAsync(2_000);
    const s = await stopped(load);
    expect(s).toMatchObject({ offered: 100, sent: 100, skipped: 0, warnings: [] });
    expect(warnings).toEqual([]);
  });

  it('computes the sustained rate from transfers that became final in the second half of the offer window', async () => {
    const api = new FakeApi(URLS);
    const load = await started(api, { ratePerSecond: 10 });
    await vi.advanceTimersByTimeAsync(1_000);
    api.finalizeAll(); // 10 final at ~1.1 s: first half, not counted
    await vi.advanceTimersByTimeAsync(1_500);
    api.finalizeAll(); // 15 final at ~2.6 s
    await vi.advanceTimersByTimeAsync(1_000);
    api.finalizeAll(); // 10 final at ~3.6 s
    await vi.advanceTimersByTimeAsync(500); // offer window: 0..4 s, second half 2..4 s
    const stopping = load.stop({ drainMs: 1_000 });
    api.finalizeAll(); // the last 5 become final during the drain: not counted either
    await vi.advanceTimersByTimeAsync(1_000);
    const s = await stopping;
    expect(s).toMatchObject({ offered: 40, finalized: 40, lost: 0 });
    expect(s.offerSeconds).toBe(4);
    expect(s.sustainedFinalizedPerSecond).toBe(25 / 2);
  });

  it('counts accepted transfers that are not final after the drain as lost', async () => {
    const api = new FakeApi(URLS);
    const load = await started(api);
    await vi.advanceTimersByTimeAsync(1_000);
    api.finalizeAll();
    await vi.advanceTimersByTimeAsync(500); // 5 more accepted, never included
    expect(load.stats().lost).toBe(0); // not before the drain
    const s = await stopped(load, 1_000);
    expect(s).toMatchObject({ accepted: 15, finalized: 10, lost: 5, drainSeconds: 1 });
    expect(loadSummaryJson(s).load.lost).toBe(5);
  });

  it('counts a transfer final in every live region: a region that stops answering is left out, with a note', async () => {
    const api = new FakeApi(URLS);
    const notes: string[] = [];
    const load = await started(api, { onNote: (m) => notes.push(m) });
    await vi.advanceTimersByTimeAsync(1_000);
    api.seal();
    api.reach(URLS[0]!, 1);
    api.down.add(URLS[1]!);
    await vi.advanceTimersByTimeAsync(300);
    expect(load.stats().finalized).toBeGreaterThanOrEqual(10);
    expect(notes.join('\n')).toMatch(/not answering, left out of "final in every live region": http:\/\/127\.0\.0\.1:3001/);
    await load.stop();
  });

  describe('restart on a kept data folder', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'afg-load-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('starts at once on a chain that is never idle (a trailing block stays unfinal)', async () => {
      const api = new FakeApi(URLS);
      api.finalizeAll();
      api.extraHead = 1; // head 2, finalized 1, forever
      api.nonces.set(devHex(0), 1n);
      const load = await started(api, { recordPath: join(dir, 'record.json') });
      await vi.advanceTimersByTimeAsync(200);
      expect(api.posted.map((p) => [p.tx.from, p.tx.nonce])).toEqual([
        [devHex(0), '1'],
        [devHex(1), '0'],
      ]);
      await load.stop();
    });

    it('continues a sender at once above the transfers the previous run left in flight, sending none twice', async () => {
      const recordPath = join(dir, 'record.json');
      writeFileSync(recordPath, JSON.stringify({ chainId: toHex(LOCAL_CHAIN_ID), inFlight: { [devHex(0)]: '7' } }));
      const api = new FakeApi(URLS);
      api.nonces.set(devHex(0), 5n); // nonces 5 and 6 of the previous run are not final yet
      const notes: string[] = [];
      const load = await started(api, { recordPath, onNote: (m) => notes.push(m) });
      expect(notes.join('\n')).toMatch(
        /1 of 10 sender\(s\) continue above transfers the previous run left in flight \(sender 0: finalized nonce 5, next 7\)/,
      );
      await vi.advanceTimersByTimeAsync(2_000);
      expect(noncesOf(api, 0)).toEqual(['7', '8']);
      expect(noncesOf(api, 1)).toEqual(['0', '1']);
      expect(load.stats().senders.continuing).toBe(1);

      api.nonces.set(devHex(0), 7n); // the leftovers became final
      await vi.advanceTimersByTimeAsync(1_500);
      expect(load.stats().senders.continuing).toBe(0);
      await load.stop();
      expect(noncesOf(api, 0)).not.toContain('5');
    });

    it('sends the previous run’s missing nonces again when they are not final within leftoverWaitMs (a lost one would hold the sender)', async () => {
      const recordPath = join(dir, 'record.json');
      writeFileSync(recordPath, JSON.stringify({ chainId: toHex(LOCAL_CHAIN_ID), inFlight: { [devHex(2)]: '3' } }));
      const api = new FakeApi(URLS);
      // The previous run's nonce 1 became final meanwhile: its resend is stale, which must not retire the sender.
      api.refuse = (tx) => (tx.nonce === '1' ? { status: 400, code: 'STALE_NONCE' } : undefined);
      const notes: string[] = [];
      const load = await started(api, {
        senders: devSenders().slice(2, 3),
        recordPath,
        leftoverWaitMs: 2_000,
        onNote: (m) => notes.push(m),
      });
      await vi.advanceTimersByTimeAsync(1_500);
      expect(noncesOf(api, 2)).toEqual(['3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16', '17']);
      await vi.advanceTimersByTimeAsync(1_500);
      const seq = noncesOf(api, 2);
      const at = seq.indexOf('0');
      expect(seq.slice(at, at + 4)).toEqual(['0', '1', '2', String(Number(seq[at - 1]) + 1)]);
      expect(notes.join('\n')).toMatch(
        /sender 0: the previous run's nonces 0\.\.2 are not final after 2 s; its next offers send them again/,
      );
      const s = await load.stop();
      expect(s.refused).toEqual({ STALE_NONCE: 1 });
      expect(s.senders.retired).toBe(0);
    });

    it('records the senders a run leaves in flight, and the next run continues those above them', async () => {
      const recordPath = join(dir, 'record.json');
      const api = new FakeApi(URLS);
      const first = await started(api, { recordPath });
      await vi.advanceTimersByTimeAsync(1_000);
      api.finalizeAll(); // senders 0..9 sent nonce 0, final
      await vi.advanceTimersByTimeAsync(300); // senders 0..2 send nonce 1, accepted, never final
      const s = await first.stop();
      expect(s.lost).toBe(3);
      const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { inFlight: Record<string, string> };
      expect(record.inFlight).toEqual({ [devHex(0)]: '2', [devHex(1)]: '2', [devHex(2)]: '2' });

      for (let i = 0; i < 10; i++) api.nonces.set(devHex(i), 1n);
      api.posted.length = 0;
      const second = await started(api, { recordPath });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(second.stats().senders.continuing).toBe(3);
      expect(new Set(api.posted.map((p) => p.tx.from)).size).toBe(10); // every sender started at once
      expect(noncesOf(api, 0)).toEqual(['2']);
      expect(noncesOf(api, 3)).toEqual(['1']);
      await second.stop();
      const again = JSON.parse(readFileSync(recordPath, 'utf8')) as { inFlight: Record<string, string> };
      expect(again.inFlight).toMatchObject({ [devHex(0)]: '3', [devHex(3)]: '2' });
    });
  });

  it('refuses non-loopback URLs, a non-positive rate, a zero in-flight cap and a repeated sender', async () => {
    const api = new FakeApi(URLS);
    const f = api.fetch as typeof fetch;
    await expect(LoadGenerator.create({ urls: ['http://10.0.0.1:3000'], ratePerSecond: 1, fetch: f })).rejects.toThrow(InputError);
    await expect(LoadGenerator.create({ urls: URLS, ratePerSecond: 0, fetch: f })).rejects.toThrow(/ratePerSecond/);
    await expect(LoadGenerator.create({ urls: URLS, ratePerSecond: 1, maxInFlight: 0, fetch: f })).rejects.toThrow(/maxInFlight/);
    const twice = [devSenders()[0]!, devSenders()[0]!];
    await expect(LoadGenerator.create({ urls: URLS, ratePerSecond: 1, senders: twice, fetch: f })).rejects.toThrow(
      /senders: a key is listed twice/,
    );
    await expect(LoadGenerator.create({ urls: URLS, ratePerSecond: 1, fetch: f })).resolves.toBeInstanceOf(LoadGenerator);
  });
});

describe('load summary', () => {
  it('the JSON line holds every field of the fixed interface, and the table says what was skipped', async () => {
    vi.useFakeTimers();
    try {
      const api = new FakeApi(URLS);
      api.refuse = (tx) => (tx.nonce === '1' ? { status: 503, code: 'OVERLOADED' } : undefined);
      const load = await LoadGenerator.create({ urls: URLS, ratePerSecond: 10, pollMs: 100, fetch: api.fetch as typeof fetch });
      load.start();
      await vi.advanceTimersByTimeAsync(2_000);
      api.finalizeAll();
      const stopping = load.stop({ drainMs: 500 });
      await vi.advanceTimersByTimeAsync(1_000);
      const s = await stopping;
      const machine = {
        loadAverage: { start: [0.5, 0.4, 0.3], end: [1.5, 0.6, 0.4] },
        cpuSeconds: { clusterProcess: 3.21, dynamodbLocal: 1.5, sqsEmulator: null },
        cores: 2,
      };
      const line = JSON.stringify(loadSummaryJson(s, machine));
      const { load: j } = JSON.parse(line) as { load: Record<string, unknown> };
      for (const field of ['offered', 'accepted', 'refused', 'skipped', 'finalized', 'lost', 'latencyMs', 'sustainedFinalizedPerSecond'])
        expect(j).toHaveProperty(field);
      expect(j).toMatchObject({ offered: 20, sent: 20, skipped: 0, accepted: 10, refused: { OVERLOADED: 10 }, finalized: 10, lost: 0 });
      expect(Object.keys(j.latencyMs as object)).toEqual(expect.arrayContaining(['p50', 'p90', 'p99', 'max']));
      expect(j.cpuSeconds).toEqual({ clusterProcess: 3.21, dynamodbLocal: 1.5, sqsEmulator: null });
      const table = formatLoadSummary(s, machine).join('\n');
      expect(table).toMatch(/refused\s+10\s+OVERLOADED 10/);
      expect(table).toMatch(/sent\s+20\s+skipped 0/);
      expect(table).toMatch(/SQS emulator -/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('latencies are whole milliseconds, null when nothing finalized', () => {
    const empty = summarize([]);
    expect(loadSummaryJson({ latencyMs: empty, sendLagMs: empty } as never).load.latencyMs).toEqual({
      p50: null,
      p90: null,
      p99: null,
      max: null,
      mean: null,
      count: 0,
    });
  });
});

describe('machine figures', () => {
  it('reads utime + stime from /proc/<pid>/stat, whatever the command name holds', () => {
    const stat = '4242 (java (dynamo) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 30 0 0 20 0 40 0 1 1 1';
    expect(processCpuMs(4242, () => stat)).toBe(2_800);
    expect(
      processCpuMs(1, () => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });

  it('reports each service apart, and null for one that was restarted (new pid) or is absent', () => {
    const cpu = new Map([
      [10, 1_000],
      [20, 500],
    ]);
    let self = 100;
    let pids: { dynamodbLocal?: number; sqsEmulator?: number } = { dynamodbLocal: 10, sqsEmulator: 20 };
    const meter = startMachineMeter(() => pids, {
      loadavg: () => [1, 1, 1],
      selfCpuMs: () => self,
      processCpuMs: (pid) => cpu.get(pid),
      cores: 2,
    });
    cpu.set(10, 4_000);
    cpu.set(20, 1_500);
    self = 2_100;
    expect(meter.read().cpuSeconds).toEqual({ clusterProcess: 2, dynamodbLocal: 3, sqsEmulator: 1 });
    pids = { dynamodbLocal: 11 };
    expect(meter.read().cpuSeconds).toEqual({ clusterProcess: 2, dynamodbLocal: null, sqsEmulator: null });
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
