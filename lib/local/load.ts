/**
 * Load generator for the local cluster (`npm start -- --load N`) and the benchmarks: offers signed
 * transfers over HTTP (POST /v1/transactions, round-robin over the region APIs) on a fixed
 * schedule, and measures each one from the moment its POST is sent to the moment it is readable
 * from finalized state in every live region.
 *
 * Schedule (open loop): transfer i is due at start + i / rate, whatever the cluster answers; the
 * count due so far is `offered`. A due transfer goes to the available sender that waited longest
 * and is sent at once, or is skipped when the generator itself cannot send it: `maxInFlight`
 * requests are open (IN_FLIGHT_CAP) or every sender has `maxInFlightPerSender` requests open
 * (NO_IDLE_SENDER). Skips mean the generator fell behind, not that the cluster refused anything;
 * they are counted by reason and reported loudly.
 *
 * Answers: 202 is accepted. Any error answer is a refusal counted by its error code (OVERLOADED,
 * UNAVAILABLE, STALE_NONCE, ...) and is never retried: the next due transfer is a new offer. No
 * answer within 10 s (or a network error) is `failed`: the outcome is unknown.
 *
 * Nonces: a sender's transfers take consecutive nonces. After a 5xx or 429 (nothing was queued)
 * or no answer, the nonce is free again and the sender's next transfer takes it before any new one:
 * a transfer is a pure function of (sender, nonce) (amount 1 to the next sender in the list,
 * deterministic ed25519), so a resend after a lost answer is the same transaction with the same
 * hash, which the pool holds once. Any other 4xx says the sender's state is not what we think (e.g.
 * STALE_NONCE): the sender is retired for the rest of the run. By default a sender has one request
 * open at a time, so a later nonce is never accepted while an earlier one is refused. With
 * `maxInFlightPerSender` > 1 that can happen: the later transfer waits in the pool until the freed
 * nonce is sent again by a later offer; one still waiting when the run ends counts as lost and,
 * apart, as `stranded` (lost because of the generator's own gap, not the cluster).
 *
 * Restart on a kept data folder: the chain is never idle (a trailing empty block stays unfinal), so
 * nothing waits for idleness; every sender starts at once. Each sender's next nonce is its nonce in
 * finalized state, unless the record (`recordPath`, kept by the previous run: senders whose
 * transfers may still be in flight and the nonce they reached) says the previous run went further:
 * then the sender continues above it, its new transfers queue behind the leftovers (the pool orders
 * each sender by nonce) and nothing is sent twice. If the leftovers are not all final within
 * `leftoverWaitMs` (one was lost: a gap would hold the new transfers forever), the sender's next offers
 * send the missing nonces again, as the same transactions; a copy still queued is held once, and a
 * refusal of such a resend (it became final meanwhile: STALE_NONCE) does not retire the sender.
 *
 * Finality, over the public API only: every region's GET /v1/finality says up to which height its
 * account answers read (its latest finalized checkpoint that it has applied); a live region's
 * finalized blocks (GET /v1/blocks/{h}) say where each transfer was included (by sender and nonce).
 * A transfer is final once every region that answered the last poll reads at or above its block.
 * Polling adds up to one poll interval to each latency.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { accountSecretKey, fundedAccounts } from '../core/accounts.js';
import { fromHex, toHex } from '../core/bytes.js';
import { DEV_ACCOUNT_COUNT, devSecretKey } from '../core/chain.js';
import { ed25519PublicKey } from '../core/ed25519.js';
import { InputError } from '../core/errors.js';
import { signTransfer } from '../core/ledger.js';
import { transactionToJson } from '../core/wire.js';
import type { MachineFigures } from './proc.js';
import { formatMs, type LatencySummary, summarize } from './stats.js';

type Fetch = typeof fetch;

/** A sender: its ed25519 secret key and, when known (e.g. 0 on a fresh chain), its next nonce. */
export interface SenderKey {
  readonly secretKey: Uint8Array;
  /** Its public key, when known (saves deriving it: many senders take seconds). */
  readonly publicKey?: Uint8Array;
  /** Next nonce in finalized state; read from the API when absent. */
  readonly nonce?: bigint;
}

/** The ten dev accounts of the local chain (the default senders). */
export function devSenders(): SenderKey[] {
  return Array.from({ length: DEV_ACCOUNT_COUNT }, (_, i) => ({ secretKey: devSecretKey(i) }));
}

/**
 * The first `count` funded accounts (`npm start -- --accounts N`, lib/core/accounts.ts) as senders:
 * on a new chain none has sent anything (nonce 0, no reads), otherwise their nonces are read.
 */
export function fundedSenders(count: number, newChain: boolean): SenderKey[] {
  return fundedAccounts(count).map((a, i) => ({
    secretKey: accountSecretKey(i),
    publicKey: a.account,
    ...(newChain ? { nonce: 0n } : {}),
  }));
}

export interface LoadOptions {
  /** Region API base URLs (loopback only); blocks are read from the first one that answers. */
  readonly urls: readonly string[];
  /** Transfers offered per second (> 0). */
  readonly ratePerSecond: number;
  /** Who sends (distinct keys); each transfer pays 1 to the next sender in the list. Default: the ten dev accounts. */
  readonly senders?: readonly SenderKey[];
  /** Requests open at once, over all senders (default 256). */
  readonly maxInFlight?: number;
  /** Requests open at once per sender (default 1: a refusal can never leave a gap in a sender's nonces). */
  readonly maxInFlightPerSender?: number;
  /** How often finality is polled (default 200 ms). */
  readonly pollMs?: number;
  /** File recording senders whose transfers may still be in flight (read at create, written during the run and at stop). */
  readonly recordPath?: string;
  /** After a restart, how long the previous run's transfers may take to become final before their nonces are sent again (default 30 s). */
  readonly leftoverWaitMs?: number;
  /** One line per notable event (senders continuing a previous run, a sender retired, the first refusal of each code). */
  readonly onNote?: (message: string) => void;
  /** The generator fell behind its schedule (first time, then at most every 5 s). */
  readonly onWarning?: (message: string) => void;
  /** Injected for tests; default global fetch. */
  readonly fetch?: Fetch;
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
}

/** Why a due transfer was not sent. */
export type SkipReason = 'IN_FLIGHT_CAP' | 'NO_IDLE_SENDER';

export interface LoadStats {
  readonly ratePerSecond: number;
  /** The offer window so far (start to stop, or to now while running). */
  readonly offerSeconds: number;
  readonly maxInFlight: number;
  readonly maxInFlightPerSender: number;
  /** `continuing`: senders that started above transfers a previous run left in flight (still not all final). */
  readonly senders: { readonly total: number; readonly continuing: number; readonly retired: number };
  /** Transfers the schedule asked for: sent + skipped. */
  readonly offered: number;
  readonly sent: number;
  /** Due but not sent because the generator fell behind (by reason); 0 when it kept its schedule. */
  readonly skipped: number;
  readonly skippedBy: Readonly<Partial<Record<SkipReason, number>>>;
  /** How late sends left against their due time (event-loop delays), ms. */
  readonly sendLagMs: LatencySummary;
  /** Answered 202. */
  readonly accepted: number;
  /** Error answers by error code (HTTP_<status> when the body has none). */
  readonly refused: Readonly<Record<string, number>>;
  readonly refusedTotal: number;
  /** No answer (network error or 10 s timeout): outcome unknown. */
  readonly failed: number;
  /** Accepted and readable from finalized state in every live region. */
  readonly finalized: number;
  /** Accepted, not final yet. */
  readonly pending: number;
  /** After stop and its drain: accepted but still not final (0 before). */
  readonly lost: number;
  /** Of `lost`: waiting behind a nonce of the same sender that was refused and never sent again (only with maxInFlightPerSender > 1). */
  readonly stranded: number;
  /** POST sent -> readable from finalized state in every live region, over the finalized transfers. */
  readonly latencyMs: LatencySummary;
  /** Transfers that became final during the second half of the offer window, per second. */
  readonly sustainedFinalizedPerSecond: number;
  /** Seconds waited after the offer for accepted transfers (stop's drain). */
  readonly drainSeconds: number;
  /** Things that make the figures less than what the schedule asked for (skips); empty when none. */
  readonly warnings: readonly string[];
}

interface Sender {
  readonly index: number;
  readonly secretKey: Uint8Array;
  readonly publicKeyHex: string;
  readonly to: Uint8Array;
  /** The next nonce never sent. */
  nextNonce: bigint;
  /** Nonces below nextNonce whose request was refused or unanswered, taken again first (ascending). */
  free: bigint[];
  /** Requests open. */
  open: number;
  /** In the queue of senders that can take a transfer. */
  queued: boolean;
  /** Nonces below this may be in flight: answered 202, or sent without an answer. */
  inFlightUpTo: bigint;
  /** Nonces below this are known final. */
  finalUpTo: bigint;
  state: 'active' | 'retired';
  /** After a restart: the previous run's transfers [from, upTo) may still be in flight (cleared once final or resent). */
  leftovers?: { readonly from: bigint; readonly upTo: bigint };
  /** Nonces below this belong to a previous run: a 4xx for one (a resend) does not retire the sender. */
  readonly firstOwnNonce: bigint;
}

interface Pending {
  readonly sender: Sender;
  readonly nonce: bigint;
  readonly sentAt: number;
  acceptedAt?: number;
  includedAt?: number;
}

/** What the record file holds: senders whose nonces below the given one may still be in flight. */
interface SenderRecord {
  chainId: string;
  inFlight: Record<string, string>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_IN_FLIGHT = 256;
const DEFAULT_LEFTOVER_WAIT_MS = 30_000;
const LEFTOVER_RECHECK_MS = 1_000;
const RECORD_EVERY_MS = 1_000;
const WARN_EVERY_MS = 5_000;
const NONCE_READ_CONCURRENCY = 16;

/**
 * Use `LoadGenerator.create` (reads the chain id and the senders' nonces), then start() and stop().
 * @example const load = await LoadGenerator.create({ urls: cluster.urls, ratePerSecond: 10 }); load.start(); ...; const s = await load.stop({ drainMs: 15_000 });
 */
export class LoadGenerator {
  private readonly fetch: Fetch;
  private readonly now: () => number;
  private readonly pollMs: number;
  private readonly maxInFlight: number;
  private readonly perSender: number;
  private readonly leftoverWaitMs: number;
  private readonly idle = new SenderQueue();
  private readonly pending = new Map<string, Pending>();
  private readonly latencies: number[] = [];
  private readonly lags: number[] = [];
  /** When each finalized transfer was seen final (ascending). */
  private readonly finalTimes: number[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly refused: Record<string, number> = {};
  private readonly skippedBy: Partial<Record<SkipReason, number>> = {};
  private counts = { offered: 0, sent: 0, accepted: 0, failed: 0, skipped: 0, finalized: 0 };
  private startedAt: number | undefined;
  private stoppedAt: number | undefined;
  private drainedMs: number | undefined;
  private sendTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private nextScan: number;
  private submitCursor = 0;
  private closed = false;
  private leftoverDeadline = 0;
  private lastLeftoverCheck = 0;
  private lastRecordWrite = 0;
  private lastWarning = { at: Number.NEGATIVE_INFINITY, skipped: 0 };
  private readonly noted = new Set<string>();
  private deadRegions = '';
  /** Lowest height readable from finalized state across live regions, from the last poll. */
  private minReadable = -1;

  private constructor(
    private readonly opts: LoadOptions,
    private readonly chainId: Uint8Array,
    private readonly checkpointInterval: number,
    private readonly senders: Sender[],
    finalizedHeight: number,
  ) {
    this.fetch = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    this.pollMs = opts.pollMs ?? 200;
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.perSender = opts.maxInFlightPerSender ?? 1;
    this.leftoverWaitMs = opts.leftoverWaitMs ?? DEFAULT_LEFTOVER_WAIT_MS;
    // From the first unfinal block: a resend identical to a transfer left by a crashed run may sit there.
    this.nextScan = finalizedHeight + 1;
    for (const s of senders) this.makeAvailable(s);
  }

  /**
   * Reads the chain id and checkpoint interval (GET /v1/validators), the finalized height
   * (GET /v1/finality), each sender's finalized nonce (GET /v1/accounts/{pk}, unless given) and the
   * record of a previous run; does not wait for the chain to be idle.
   * @throws InputError for a bad option (non-loopback URL, rate <= 0, maxInFlight < 1, no or repeated senders);
   *   Error when the API does not answer.
   */
  static async create(opts: LoadOptions): Promise<LoadGenerator> {
    if (opts.urls.length === 0) throw new InputError('urls', 'expected at least one region API URL');
    for (const u of opts.urls)
      if (!LOOPBACK.has(new URL(u).hostname))
        throw new InputError('urls', `${u} is not a loopback address (the load generator only targets the local cluster)`);
    if (!(opts.ratePerSecond > 0 && Number.isFinite(opts.ratePerSecond)))
      throw new InputError('ratePerSecond', 'expected a positive number');
    for (const field of ['maxInFlight', 'maxInFlightPerSender'] as const) {
      const v = opts[field];
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1)) throw new InputError(field, `expected an integer >= 1, got ${v}`);
    }
    const keys = opts.senders ?? devSenders();
    if (keys.length === 0) throw new InputError('senders', 'expected at least one sender key');
    const publicKeys = keys.map((k, i) => {
      if (!(k.secretKey instanceof Uint8Array) || k.secretKey.length !== 32)
        throw new InputError(`senders[${i}].secretKey`, 'expected 32 bytes');
      return toHex(k.publicKey ?? ed25519PublicKey(k.secretKey));
    });
    if (new Set(publicKeys).size !== publicKeys.length) throw new InputError('senders', 'a key is listed twice (nonces would collide)');

    const f = opts.fetch ?? fetch;
    const base = opts.urls[0]!;
    const validators = (await getJson(f, `${base}/v1/validators`)) as { chainId: string; checkpointInterval: number };
    const finality = (await getJson(f, `${base}/v1/finality`)) as { finalized: { height: number } };
    const record = readRecord(opts.recordPath, validators.chainId, opts.onNote);
    const nonces = await mapLimited(keys, NONCE_READ_CONCURRENCY, async (k, i) => k.nonce ?? readNonce(f, base, publicKeys[i]!));
    const senders = keys.map((k, index): Sender => {
      const nonce = nonces[index]!;
      const recorded = record.get(publicKeys[index]!);
      const ahead = recorded !== undefined && recorded > nonce;
      const next = ahead ? recorded : nonce;
      return {
        index,
        secretKey: k.secretKey,
        publicKeyHex: publicKeys[index]!,
        to: fromHex(publicKeys[(index + 1) % keys.length]!, 32, 'to'),
        nextNonce: next,
        free: [],
        open: 0,
        queued: false,
        inFlightUpTo: next,
        finalUpTo: nonce,
        state: 'active',
        firstOwnNonce: next,
        ...(ahead ? { leftovers: { from: nonce, upTo: recorded } } : {}),
      };
    });
    const continuing = senders.filter((s) => s.leftovers);
    if (continuing.length > 0)
      opts.onNote?.(
        `load: ${continuing.length} of ${senders.length} sender(s) continue above transfers the previous run left in flight ` +
          `(${continuing
            .slice(0, 3)
            .map((s) => `sender ${s.index}: finalized nonce ${s.leftovers!.from}, next ${s.nextNonce}`)
            .join('; ')}${continuing.length > 3 ? '; ...' : ''})`,
      );
    return new LoadGenerator(
      opts,
      fromHex(validators.chainId, 32, 'chainId'),
      validators.checkpointInterval,
      senders,
      finality.finalized.height,
    );
  }

  /** Starts the schedule and the finality polling. */
  start(): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = this.now();
    this.leftoverDeadline = this.startedAt + this.leftoverWaitMs;
    const tick = Math.max(10, Math.min(100, Math.floor(1000 / this.opts.ratePerSecond)));
    this.sendDue();
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

  /** Counters, latency and rates so far (final after stop()). */
  stats(): LoadStats {
    const pending = this.acceptedPending();
    const start = this.startedAt ?? 0;
    const end = this.startedAt === undefined ? 0 : (this.stoppedAt ?? this.now());
    const offerMs = end - start;
    const mid = start + offerMs / 2;
    let inSecondHalf = 0;
    for (const t of this.finalTimes) if (t >= mid && t <= end) inSecondHalf++;
    const refusedTotal = Object.values(this.refused).reduce((a, b) => a + b, 0);
    return {
      ratePerSecond: this.opts.ratePerSecond,
      offerSeconds: offerMs / 1000,
      maxInFlight: this.maxInFlight,
      maxInFlightPerSender: this.perSender,
      senders: {
        total: this.senders.length,
        continuing: this.senders.filter((s) => s.leftovers).length,
        retired: this.senders.filter((s) => s.state === 'retired').length,
      },
      offered: this.counts.offered,
      sent: this.counts.sent,
      skipped: this.counts.skipped,
      skippedBy: { ...this.skippedBy },
      sendLagMs: summarize(this.lags),
      accepted: this.counts.accepted,
      refused: { ...this.refused },
      refusedTotal,
      failed: this.counts.failed,
      finalized: this.counts.finalized,
      pending,
      lost: this.drainedMs === undefined ? 0 : pending,
      stranded: this.drainedMs === undefined ? 0 : this.stranded(),
      latencyMs: summarize(this.latencies),
      sustainedFinalizedPerSecond: offerMs > 0 ? inSecondHalf / (offerMs / 2 / 1000) : 0,
      drainSeconds: (this.drainedMs ?? 0) / 1000,
      warnings: this.warnings(),
    };
  }

  /**
   * Ends the offer window (sending what is due up to now), waits for the requests in flight, then
   * keeps polling up to `drainMs` (default 0) for accepted transfers to become final. Writes the
   * record and returns the final stats, where `lost` counts the accepted transfers still not final.
   * Idempotent.
   */
  async stop(opts: { drainMs?: number } = {}): Promise<LoadStats> {
    if (this.stoppedAt !== undefined || this.startedAt === undefined) {
      await this.polling;
      return this.stats();
    }
    this.sendDue();
    clearInterval(this.sendTimer);
    this.stoppedAt = this.now();
    await Promise.allSettled([...this.inFlight]);
    const drainStart = this.now();
    const deadline = drainStart + (opts.drainMs ?? 0);
    while (this.acceptedPending() > 0 && this.now() < deadline) await sleep(this.pollMs);
    this.closed = true;
    clearTimeout(this.pollTimer);
    await this.polling;
    this.drainedMs = this.now() - drainStart;
    this.writeRecord();
    return this.stats();
  }

  private stranded(): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.acceptedAt !== undefined && p.sender.free.some((f) => f < p.nonce)) n++;
    return n;
  }

  private acceptedPending(): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.acceptedAt !== undefined) n++;
    return n;
  }

  private warnings(): string[] {
    const c = this.counts;
    if (c.skipped === 0) return [];
    const why = Object.entries(this.skippedBy)
      .map(([reason, n]) => `${n} ${reason === 'IN_FLIGHT_CAP' ? `with ${this.maxInFlight} requests open` : 'with no idle sender'}`)
      .join(', ');
    return [
      `the load generator fell behind its schedule: ${c.skipped} of ${c.offered} offered transfers were never sent (${why}); ` +
        `the cluster was offered ${c.sent}, not ${c.offered}` +
        (this.skippedBy.NO_IDLE_SENDER
          ? ` (each of the ${this.senders.length} senders has at most ${this.perSender} request(s) open: ` +
            'more senders or a lower rate keep the schedule)'
          : ''),
    ];
  }

  /** Sends (or skips) every transfer due by the schedule up to now. */
  private sendDue(): void {
    if (this.startedAt === undefined || this.stoppedAt !== undefined) return;
    const now = this.now();
    // Transfer i is due at start + i / rate; those due before now are offered.
    const due = Math.ceil(((now - this.startedAt) * this.opts.ratePerSecond) / 1000);
    while (this.counts.offered < due) {
      const dueAt = this.startedAt + (this.counts.offered * 1000) / this.opts.ratePerSecond;
      this.counts.offered++;
      const reason: SkipReason | undefined =
        this.inFlight.size >= this.maxInFlight ? 'IN_FLIGHT_CAP' : this.idle.size === 0 ? 'NO_IDLE_SENDER' : undefined;
      if (reason) {
        this.counts.skipped++;
        this.skippedBy[reason] = (this.skippedBy[reason] ?? 0) + 1;
        continue;
      }
      const sender = this.idle.shift()!;
      sender.queued = false;
      sender.open++;
      this.makeAvailable(sender);
      const p = this.submit(sender, dueAt).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    this.warnIfBehind(now);
  }

  private warnIfBehind(now: number): void {
    const skipped = this.counts.skipped;
    if (skipped === this.lastWarning.skipped || now - this.lastWarning.at < WARN_EVERY_MS) return;
    this.lastWarning = { at: now, skipped };
    this.opts.onWarning?.(`WARNING ${this.warnings()[0]}`);
  }

  private async submit(sender: Sender, dueAt: number): Promise<void> {
    const nonce = sender.free.shift() ?? sender.nextNonce++;
    const tx = signTransfer(this.chainId, sender.secretKey, { to: sender.to, amount: 1n, nonce });
    const key = `${sender.publicKeyHex}:${nonce}`;
    // Registered before sending, so a block scan can never see the transfer before we know it.
    const entry: Pending = { sender, nonce, sentAt: this.now() };
    this.pending.set(key, entry);
    this.counts.sent++;
    this.lags.push(entry.sentAt - dueAt);
    const url = this.opts.urls[this.submitCursor++ % this.opts.urls.length]!;
    let status: number;
    let text: string;
    try {
      const res = await this.fetch(`${url}/v1/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(transactionToJson(tx)),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      // Unknown outcome: the same nonce goes out again, as the same transaction (see the file comment).
      this.pending.delete(key);
      this.counts.failed++;
      sender.inFlightUpTo = max(sender.inFlightUpTo, nonce + 1n);
      this.noteOnce('failed', `load: a request got no answer (${errorText(e)}); counted as failed, the nonce is sent again`);
      this.answered(sender, nonce);
      return;
    }
    if (status === 202) {
      entry.acceptedAt = this.now();
      this.counts.accepted++;
      sender.inFlightUpTo = max(sender.inFlightUpTo, nonce + 1n);
      if (entry.includedAt !== undefined && entry.includedAt <= this.minReadable) this.finalize(key, entry, entry.acceptedAt);
      this.answered(sender);
      return;
    }
    this.pending.delete(key);
    const code = errorCode(text) ?? `HTTP_${status}`;
    this.refused[code] = (this.refused[code] ?? 0) + 1;
    this.noteOnce(`refused:${code}`, `load: first refusal with ${code} (HTTP ${status}): ${text.slice(0, 200)}`);
    if (status >= 500 || status === 429) {
      this.answered(sender, nonce); // nothing was queued: the nonce is free for this sender's next transfer
      return;
    }
    if (nonce < sender.firstOwnNonce) {
      this.answered(sender); // a resend of a previous run's transfer that became final meanwhile
      return;
    }
    if (sender.state === 'active')
      this.opts.onNote?.(`load: sender ${sender.index} retired (${code} for nonce ${nonce}: ${text.slice(0, 200)})`);
    sender.state = 'retired';
    this.answered(sender);
  }

  /** A request of `sender` ended; `freed` is a nonce to send again. */
  private answered(sender: Sender, freed?: bigint): void {
    sender.open--;
    if (freed !== undefined) {
      sender.free.push(freed);
      sender.free.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    this.makeAvailable(sender);
  }

  /** Queues an active sender with room for another request (once). */
  private makeAvailable(sender: Sender): void {
    if (sender.state !== 'active' || sender.queued || sender.open >= this.perSender) return;
    sender.queued = true;
    this.idle.push(sender);
  }

  /** One finality poll: every region's readable height, then inclusion from a live region's finalized blocks. */
  private async poll(): Promise<void> {
    const f = this.fetch;
    const K = this.checkpointInterval;
    const answers = await Promise.allSettled(this.opts.urls.map((u) => getJson(f, `${u}/v1/finality`)));
    const live: { url: string; finalized: number; readable: number }[] = [];
    const dead: string[] = [];
    answers.forEach((a, i) => {
      if (a.status === 'rejected') {
        dead.push(this.opts.urls[i]!);
        return;
      }
      const x = a.value as { finalized: { height: number }; applied: { height: number } };
      // Account answers read the latest finalized checkpoint the region has applied.
      const readable = Math.floor(Math.min(x.finalized.height, x.applied.height) / K) * K;
      live.push({ url: this.opts.urls[i]!, finalized: x.finalized.height, readable });
    });
    if (dead.join() !== this.deadRegions) {
      this.deadRegions = dead.join();
      this.opts.onNote?.(
        dead.length > 0
          ? `load: not answering, left out of "final in every live region": ${dead.join(', ')}`
          : 'load: every region answers again',
      );
    }
    if (live.length === 0) return;
    this.minReadable = Math.min(...live.map((x) => x.readable));
    const ref = live[0]!;
    if (this.pending.size === 0) this.nextScan = Math.max(this.nextScan, ref.finalized + 1);
    for (; this.nextScan <= ref.finalized && this.pending.size > 0; this.nextScan++) {
      const block = (await getJson(f, `${ref.url}/v1/blocks/${this.nextScan}`)) as {
        height: number;
        transactions: { from: string; nonce: string }[];
      };
      for (const tx of block.transactions) {
        const p = this.pending.get(`${tx.from}:${tx.nonce}`);
        if (p) p.includedAt = block.height;
      }
    }
    this.settle();
    await this.checkLeftovers(ref.url);
    if (this.now() - this.lastRecordWrite >= RECORD_EVERY_MS) this.writeRecord();
  }

  /** Moves accepted transfers that every live region can read from pending to the latency list. */
  private settle(): void {
    const t = this.now();
    for (const [key, p] of this.pending)
      if (p.acceptedAt !== undefined && p.includedAt !== undefined && p.includedAt <= this.minReadable) this.finalize(key, p, t);
  }

  private finalize(key: string, p: Pending, t: number): void {
    this.pending.delete(key);
    this.counts.finalized++;
    this.latencies.push(t - p.sentAt);
    this.finalTimes.push(t);
    p.sender.finalUpTo = max(p.sender.finalUpTo, p.nonce + 1n);
  }

  /**
   * After a restart: clears a sender's leftovers once final; past the deadline, queues the nonces
   * still missing to be sent again (the same transactions), so a lost one cannot hold the sender.
   */
  private async checkLeftovers(url: string): Promise<void> {
    const open = this.senders.filter((s) => s.leftovers && s.finalUpTo < s.leftovers.upTo);
    for (const s of this.senders) if (s.leftovers && s.finalUpTo >= s.leftovers.upTo) delete s.leftovers;
    if (open.length === 0 || this.now() - this.lastLeftoverCheck < LEFTOVER_RECHECK_MS) return;
    this.lastLeftoverCheck = this.now();
    const expired = this.now() >= this.leftoverDeadline;
    await mapLimited(open, NONCE_READ_CONCURRENCY, async (s) => {
      const nonce = await readNonce(this.fetch, url, s.publicKeyHex);
      const leftovers = s.leftovers;
      if (!leftovers) return;
      if (nonce >= leftovers.upTo) {
        delete s.leftovers;
        return;
      }
      if (!expired) return;
      const missing: bigint[] = [];
      for (let n = max(nonce, leftovers.from); n < leftovers.upTo; n++) missing.push(n);
      s.free = [...missing, ...s.free].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      delete s.leftovers;
      this.opts.onNote?.(
        `load: sender ${s.index}: the previous run's nonces ${missing[0]}..${missing.at(-1)} are not final after ` +
          `${this.leftoverWaitMs / 1000} s; its next offers send them again (the same transactions)`,
      );
    });
  }

  /** Writes which senders may still have transfers in flight (for the next run's start), atomically. */
  private writeRecord(): void {
    const path = this.opts.recordPath;
    if (path === undefined) return;
    this.lastRecordWrite = this.now();
    const inFlight: Record<string, string> = {};
    for (const s of this.senders) {
      if (s.inFlightUpTo > s.finalUpTo) inFlight[s.publicKeyHex] = s.inFlightUpTo.toString();
    }
    const record: SenderRecord = { chainId: toHex(this.chainId), inFlight };
    try {
      writeFileSync(`${path}.tmp`, `${JSON.stringify(record)}\n`);
      renameSync(`${path}.tmp`, path);
    } catch (e) {
      this.noteOnce('record', `load: could not write ${path}: ${errorText(e)}`);
    }
  }

  private noteOnce(key: string, message: string): void {
    if (this.noted.has(key)) return;
    this.noted.add(key);
    this.opts.onNote?.(message);
  }
}

/**
 * The load summary as a short human table (printed before the JSON line).
 * @example formatLoadSummary(stats, machine).join('\n')
 */
export function formatLoadSummary(s: LoadStats, machine?: MachineFigures): string[] {
  const l = s.latencyMs;
  const codes = Object.entries(s.refused)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const skipped = Object.entries(s.skippedBy)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const row = (label: string, value: number | string, detail = '') =>
    `  ${label.padEnd(10)} ${String(value).padStart(8)}  ${detail}`.trimEnd();
  const lines = [
    `load: ${s.ratePerSecond} transfers/s for ${s.offerSeconds.toFixed(1)} s from ${s.senders.total} sender(s), at most ` +
      `${Math.min(s.maxInFlight, s.senders.total * s.maxInFlightPerSender)} request(s) in flight (${s.maxInFlightPerSender} per sender), ` +
      `then ${s.drainSeconds.toFixed(1)} s of drain`,
    row('offered', s.offered, 'what the schedule asked for'),
    row('sent', s.sent, s.skipped > 0 ? `${s.skipped} SKIPPED: the generator fell behind (${skipped})` : 'skipped 0'),
    row('accepted', s.accepted, '202'),
    row('refused', s.refusedTotal, codes),
    ...(s.failed > 0 ? [row('failed', s.failed, 'no answer within 10 s')] : []),
    row('finalized', s.finalized, `sustained ${s.sustainedFinalizedPerSecond.toFixed(1)}/s over the second half of the offer`),
    row(
      'lost',
      s.lost,
      `accepted, not final after the drain${s.stranded > 0 ? `; ${s.stranded} stranded behind a refused nonce never sent again` : ''}`,
    ),
    row(
      'latency',
      formatMs(l.p50),
      `p50; p90 ${formatMs(l.p90)}, p99 ${formatMs(l.p99)}, max ${formatMs(l.max)} (POST sent -> readable in every live region)`,
    ),
  ];
  if (machine) {
    const c = machine.cpuSeconds;
    const cpu = (v: number | null) => (v === null ? '-' : v.toFixed(1));
    lines.push(
      `  machine    load average ${machine.loadAverage.start[0]?.toFixed(2)} -> ${machine.loadAverage.end[0]?.toFixed(2)} on ${machine.cores} cores; ` +
        `CPU s: cluster process ${cpu(c.clusterProcess)}, DynamoDB Local ${cpu(c.dynamodbLocal)}, SQS emulator ${cpu(c.sqsEmulator)}`,
    );
  }
  return lines;
}

const round = (v: number, digits = 0) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
const latencyJson = (l: LatencySummary) => ({
  p50: round(l.p50),
  p90: round(l.p90),
  p99: round(l.p99),
  max: round(l.max),
  mean: round(l.mean),
  count: l.count,
});

/**
 * The one-line JSON summary `{"load":{...}}` (the fixed interface of DESIGN.md section 7): the
 * schedule, offered/sent/skipped, accepted, refused by code, finalized, lost, latency from the send,
 * the sustained finalized rate, and the machine figures when measured. Latencies are whole ms
 * (null when nothing finalized).
 */
export function loadSummaryJson(s: LoadStats, machine?: MachineFigures): { load: Record<string, unknown> } {
  return {
    load: {
      ratePerSecond: s.ratePerSecond,
      offerSeconds: round(s.offerSeconds, 3),
      drainSeconds: round(s.drainSeconds, 3),
      maxInFlight: s.maxInFlight,
      maxInFlightPerSender: s.maxInFlightPerSender,
      senders: s.senders,
      offered: s.offered,
      sent: s.sent,
      skipped: s.skipped,
      skippedBy: s.skippedBy,
      accepted: s.accepted,
      refused: s.refused,
      refusedTotal: s.refusedTotal,
      failed: s.failed,
      finalized: s.finalized,
      lost: s.lost,
      stranded: s.stranded,
      latencyMs: latencyJson(s.latencyMs),
      sustainedFinalizedPerSecond: round(s.sustainedFinalizedPerSecond, 2),
      sendLagMs: latencyJson(s.sendLagMs),
      warnings: s.warnings,
      ...(machine
        ? {
            loadAverage: machine.loadAverage,
            cores: machine.cores,
            cpuSeconds: {
              clusterProcess: round(machine.cpuSeconds.clusterProcess, 2),
              dynamodbLocal: machine.cpuSeconds.dynamodbLocal === null ? null : round(machine.cpuSeconds.dynamodbLocal, 2),
              sqsEmulator: machine.cpuSeconds.sqsEmulator === null ? null : round(machine.cpuSeconds.sqsEmulator, 2),
            },
          }
        : {}),
    },
  };
}

/** FIFO of senders that can take a transfer: the one waiting longest goes next (round-robin while all keep up). */
class SenderQueue {
  private items: Sender[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(s: Sender): void {
    this.items.push(s);
  }
  shift(): Sender | undefined {
    if (this.head >= this.items.length) return undefined;
    const s = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return s;
  }
}

/** The previous run's record: sender -> nonce its transfers may have reached; empty when absent or for another chain. */
function readRecord(path: string | undefined, chainIdHex: string, onNote?: (m: string) => void): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (path === undefined) return out;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return out; // first run on this data folder
  }
  try {
    const record = JSON.parse(text) as SenderRecord;
    if (record.chainId !== chainIdHex) return out;
    for (const [pk, nonce] of Object.entries(record.inFlight ?? {})) out.set(pk, BigInt(nonce));
  } catch (e) {
    onNote?.(`load: ignoring ${path} (${errorText(e)}); senders start from their finalized nonces`);
    out.clear();
  }
  return out;
}

async function readNonce(f: Fetch, base: string, publicKeyHex: string): Promise<bigint> {
  const account = (await getJson(f, `${base}/v1/accounts/${publicKeyHex}`)) as { nonce: string };
  return BigInt(account.nonce);
}

async function mapLimited<T, R>(items: readonly T[], limit: number, f: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
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

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
