/**
 * Load generator for the local cluster (`npm start -- --load N`): offers N transfers per second over
 * HTTP (POST /v1/transactions, round-robin over the region APIs) from the ten dev accounts, and
 * measures each transfer's finality latency: from its 202 answer to the moment it is readable from
 * finalized state in EVERY region.
 *
 * How "readable everywhere" is observed, over the public API only: the reference region's
 * finalized blocks (GET /v1/blocks/{h}) say at which height each transfer was included (matched by
 * sender and nonce); every region's GET /v1/finality says up to which height its account answers
 * read (the latest finalized checkpoint it has applied). A transfer is final everywhere once every
 * region reads at or above its block. Polling adds up to one poll interval to each latency.
 *
 * Nonces are tracked locally per account, starting from the finalized nonce read at start. A
 * refused or failed submission leaves a gap in that account's nonces (later ones would wait
 * forever), so that account is retired for the rest of the run; the counts show it.
 */
import { fromHex, toHex } from '../core/bytes.js';
import { DEV_ACCOUNT_COUNT, devSecretKey } from '../core/chain.js';
import { ed25519PublicKey } from '../core/ed25519.js';
import { InputError } from '../core/errors.js';
import { signTransfer } from '../core/ledger.js';
import { transactionToJson } from '../core/wire.js';
import { type LatencySummary, summarize } from './stats.js';

type Fetch = typeof fetch;

export interface LoadOptions {
  /** Region API base URLs; the first one's finalized blocks are scanned for inclusion. Loopback only. */
  readonly urls: readonly string[];
  /** Transfers offered per second (> 0). */
  readonly ratePerSecond: number;
  /** How often finality is polled (default 200 ms). */
  readonly pollMs?: number;
  /** Submissions in flight at once; beyond it a due transfer is skipped and counted (default 64). */
  readonly maxInFlight?: number;
  /**
   * Before reading nonces, wait up to this long (default 0) for the chain to be idle: head =
   * finalized = applied in every region for two polls in a row. After a restart, transfers left in
   * the pipeline by the previous run would otherwise take nonces this run believes free.
   */
  readonly idleWaitMs?: number;
  /** Receives one line per notable event (a refusal, a retired account). */
  readonly onNote?: (message: string) => void;
  /** Injected for tests; default global fetch. */
  readonly fetch?: Fetch;
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
}

export interface LoadStats {
  /** Transfers due by the offered rate so far (sent + skipped). */
  readonly offered: number;
  /** Answered 202. */
  readonly accepted: number;
  /** Answered 4xx (by error code). */
  readonly refused: number;
  readonly refusals: Readonly<Record<string, number>>;
  /** Network error or 5xx. */
  readonly failed: number;
  /** Not sent: too many submissions in flight, or every account retired. */
  readonly skipped: number;
  /** Accepted and readable from finalized state in every region. */
  readonly finalized: number;
  /** Accepted, not yet final everywhere. */
  readonly pending: number;
  /** Finality latency (ms) of the finalized transfers. */
  readonly latencyMs: LatencySummary;
  readonly elapsedSeconds: number;
}

interface Sender {
  readonly index: number;
  readonly secretKey: Uint8Array;
  readonly publicKeyHex: string;
  nextNonce: bigint;
  retired: boolean;
}

interface Pending {
  readonly sentAt: number;
  acceptedAt?: number;
  includedAt?: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const REQUEST_TIMEOUT_MS = 10_000;
const IDLE_POLL_MS = 1_000;

/**
 * Use `LoadGenerator.create` (reads the chain id and the senders' nonces), then start() and stop().
 * @example const load = await LoadGenerator.create({ urls: cluster.urls, ratePerSecond: 10 }); load.start(); ...; const s = await load.stop();
 */
export class LoadGenerator {
  private readonly fetch: Fetch;
  private readonly now: () => number;
  private readonly pollMs: number;
  private readonly maxInFlight: number;
  private readonly pending = new Map<string, Pending>();
  private readonly latencies: number[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly refusals: Record<string, number> = {};
  private counts = { offered: 0, accepted: 0, refused: 0, failed: 0, skipped: 0, finalized: 0 };
  private startedAt = 0;
  private stoppedAt: number | undefined;
  private sendTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private nextScan: number;
  private submitCursor = 0;
  private running = false;
  private closed = false;
  /** Lowest height readable from finalized state across regions, from the last poll. */
  private minReadable = -1;

  private constructor(
    private readonly opts: LoadOptions,
    private readonly chainId: Uint8Array,
    private readonly checkpointInterval: number,
    private readonly senders: Sender[],
    startHeight: number,
  ) {
    this.fetch = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    this.pollMs = opts.pollMs ?? 200;
    this.maxInFlight = opts.maxInFlight ?? 64;
    this.nextScan = startHeight + 1;
  }

  /**
   * Reads the chain id and checkpoint interval (GET /v1/validators), the head (GET /v1/finality)
   * and each dev account's finalized nonce from the first URL.
   * @throws InputError for a bad option (non-loopback URL, rate <= 0); Error when the API does not answer.
   */
  static async create(opts: LoadOptions): Promise<LoadGenerator> {
    if (opts.urls.length === 0) throw new InputError('urls', 'expected at least one region API URL');
    for (const u of opts.urls)
      if (!LOOPBACK.has(new URL(u).hostname))
        throw new InputError('urls', `${u} is not a loopback address (the load generator only targets the local cluster)`);
    if (!(opts.ratePerSecond > 0 && Number.isFinite(opts.ratePerSecond)))
      throw new InputError('ratePerSecond', 'expected a positive number');
    const f = opts.fetch ?? fetch;
    const base = opts.urls[0]!;
    if ((opts.idleWaitMs ?? 0) > 0 && !(await waitIdle(f, opts.urls, opts.idleWaitMs!, opts.now ?? Date.now)))
      opts.onNote?.(`load: the chain was still busy after ${opts.idleWaitMs} ms; starting anyway (some early transfers may be refused)`);
    const validators = (await getJson(f, `${base}/v1/validators`)) as { chainId: string; checkpointInterval: number };
    const finality = (await getJson(f, `${base}/v1/finality`)) as { head: { height: number } };
    const senders = await Promise.all(
      Array.from({ length: DEV_ACCOUNT_COUNT }, async (_, index): Promise<Sender> => {
        const secretKey = devSecretKey(index);
        const publicKeyHex = toHex(ed25519PublicKey(secretKey));
        const account = (await getJson(f, `${base}/v1/accounts/${publicKeyHex}`)) as { nonce: string };
        return { index, secretKey, publicKeyHex, nextNonce: BigInt(account.nonce), retired: false };
      }),
    );
    return new LoadGenerator(
      opts,
      fromHex(validators.chainId, 32, 'chainId'),
      validators.checkpointInterval,
      senders,
      finality.head.height,
    );
  }

  /** Starts offering transfers and polling finality. */
  start(): void {
    if (this.running || this.stoppedAt !== undefined) return;
    this.running = true;
    this.startedAt = this.now();
    const tick = Math.max(10, Math.min(100, Math.floor(1000 / this.opts.ratePerSecond)));
    this.sendTimer = setInterval(() => this.sendDue(), tick);
    const poll = () => {
      this.polling = this.poll()
        .catch((e) => this.opts.onNote?.(`load: finality poll failed: ${errorText(e)}`))
        .finally(() => {
          if (!this.closed) this.pollTimer = setTimeout(poll, this.pollMs);
        });
    };
    this.pollTimer = setTimeout(poll, this.pollMs);
  }

  /** Counters and latency summary so far. */
  stats(): LoadStats {
    let pending = 0;
    for (const p of this.pending.values()) if (p.acceptedAt !== undefined) pending++;
    const end = this.stoppedAt ?? this.now();
    return {
      ...this.counts,
      refusals: { ...this.refusals },
      pending,
      latencyMs: summarize(this.latencies),
      elapsedSeconds: this.startedAt === 0 ? 0 : (end - this.startedAt) / 1000,
    };
  }

  /**
   * Stops offering, waits for submissions in flight, then keeps polling up to `drainMs` (default 0)
   * for accepted transfers to become final everywhere. Returns the final stats. Idempotent.
   */
  async stop(opts: { drainMs?: number } = {}): Promise<LoadStats> {
    if (this.stoppedAt !== undefined) return this.stats();
    this.running = false;
    clearInterval(this.sendTimer);
    this.stoppedAt = this.now();
    await Promise.allSettled([...this.inFlight]);
    const deadline = this.now() + (opts.drainMs ?? 0);
    while (this.stats().pending > 0 && this.now() < deadline) await sleep(this.pollMs);
    this.closed = true;
    clearTimeout(this.pollTimer);
    await this.polling;
    return this.stats();
  }

  /** Sends the transfers due by the offered rate since start. */
  private sendDue(): void {
    const due = Math.floor(((this.now() - this.startedAt) * this.opts.ratePerSecond) / 1000) - this.counts.offered;
    for (let i = 0; i < Math.min(due, 1000); i++) {
      const sender = this.pickSender();
      this.counts.offered++;
      if (!sender || this.inFlight.size >= this.maxInFlight) {
        this.counts.skipped++;
        continue;
      }
      const p = this.submit(sender).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  private pickSender(): Sender | undefined {
    for (let i = 0; i < this.senders.length; i++) {
      const s = this.senders[(this.counts.offered + i) % this.senders.length]!;
      if (!s.retired) return s;
    }
    return undefined;
  }

  private async submit(sender: Sender): Promise<void> {
    const nonce = sender.nextNonce++;
    const to = this.senders[(sender.index + 1) % this.senders.length]!;
    const tx = signTransfer(this.chainId, sender.secretKey, { to: fromHex(to.publicKeyHex, 32, 'to'), amount: 1n, nonce });
    const key = `${sender.publicKeyHex}:${nonce}`;
    // Registered before sending, so a block scan can never see the transfer before we know it.
    const entry: Pending = { sentAt: this.now() };
    this.pending.set(key, entry);
    const url = this.opts.urls[this.submitCursor++ % this.opts.urls.length]!;
    try {
      const res = await this.fetch(`${url}/v1/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(transactionToJson(tx)),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status === 202) {
        entry.acceptedAt = this.now();
        this.counts.accepted++;
        this.settle();
        return;
      }
      this.pending.delete(key);
      const code = errorCode(text) ?? `HTTP_${res.status}`;
      if (res.status >= 400 && res.status < 500) {
        this.counts.refused++;
        this.refusals[code] = (this.refusals[code] ?? 0) + 1;
      } else this.counts.failed++;
      this.retire(sender, `${code} for nonce ${nonce}: ${text.slice(0, 200)}`);
    } catch (e) {
      this.pending.delete(key);
      this.counts.failed++;
      this.retire(sender, `request failed for nonce ${nonce}: ${errorText(e)}`);
    }
  }

  private retire(sender: Sender, why: string): void {
    if (sender.retired) return;
    sender.retired = true;
    this.opts.onNote?.(`load: dev account ${sender.index} retired (${why})`);
  }

  /** One finality poll: every region's readable height, then inclusion from the reference region's finalized blocks. */
  private async poll(): Promise<void> {
    const f = this.fetch;
    const K = this.checkpointInterval;
    const finality = (await Promise.all(this.opts.urls.map((u) => getJson(f, `${u}/v1/finality`)))) as {
      finalized: { height: number };
      applied: { height: number };
    }[];
    // Account answers read the latest finalized checkpoint the region has applied.
    const readable = finality.map((x) => Math.floor(Math.min(x.finalized.height, x.applied.height) / K) * K);
    this.minReadable = Math.min(...readable);
    const refFinalized = finality[0]!.finalized.height;
    if (this.pending.size === 0) this.nextScan = Math.max(this.nextScan, refFinalized + 1);
    for (; this.nextScan <= refFinalized && this.pending.size > 0; this.nextScan++) {
      const block = (await getJson(f, `${this.opts.urls[0]}/v1/blocks/${this.nextScan}`)) as {
        height: number;
        transactions: { from: string; nonce: string }[];
      };
      for (const tx of block.transactions) {
        const p = this.pending.get(`${tx.from}:${tx.nonce}`);
        if (p) p.includedAt = block.height;
      }
    }
    this.settle();
  }

  /** Moves accepted transfers that every region can read from pending to the latency list. */
  private settle(): void {
    const t = this.now();
    for (const [key, p] of this.pending) {
      if (p.acceptedAt === undefined || p.includedAt === undefined || p.includedAt > this.minReadable) continue;
      this.pending.delete(key);
      this.counts.finalized++;
      this.latencies.push(t - p.acceptedAt);
    }
  }
}

/** The load summary as printed on exit. */
export function formatLoadSummary(s: LoadStats): string[] {
  const l = s.latencyMs;
  const ms = (v: number) => (Number.isNaN(v) ? '-' : `${Math.round(v)} ms`);
  const refusals = Object.entries(s.refusals)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `load: ${s.offered} offered in ${s.elapsedSeconds.toFixed(1)} s, ${s.accepted} accepted, ${s.finalized} final in every region, ` +
      `${s.pending} still pending, ${s.refused} refused${refusals ? ` (${refusals})` : ''}, ${s.failed} failed, ${s.skipped} skipped`,
    `finality latency (202 -> readable in every region): p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, max ${ms(l.max)} over ${l.count}`,
  ];
}

/** Polls every region's finality until head = finalized = applied everywhere twice in a row; false at the deadline. */
async function waitIdle(f: Fetch, urls: readonly string[], timeoutMs: number, now: () => number): Promise<boolean> {
  const deadline = now() + timeoutMs;
  let previous = '';
  for (;;) {
    const all = (await Promise.all(urls.map((u) => getJson(f, `${u}/v1/finality`)))) as {
      head: { height: number };
      finalized: { height: number };
      applied: { height: number };
    }[];
    const idle = all.every((x) => x.head.height === x.finalized.height && x.finalized.height === x.applied.height);
    const key = all.map((x) => x.head.height).join(',');
    if (idle && key === previous) return true;
    previous = idle ? key : '';
    if (now() >= deadline) return false;
    await sleep(IDLE_POLL_MS);
  }
}

async function getJson(f: Fetch, url: string): Promise<unknown> {
  const res = await f(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

function errorCode(body: string): string | undefined {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
