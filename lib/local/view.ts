/**
 * Live terminal view of the local cluster: per region head, justified, finalized and applied
 * heights, finality lag, votes/s and evidence, plus offered vs finalized transfers/s under load,
 * and the embedded services' state and restarts.
 * State is read in-process through each region's QueryService (no HTTP); votes/s comes from the
 * region's telemetry counter VotesAccepted.
 *
 * On a TTY the frame is redrawn in place (log-update) about twice a second; otherwise (CI, a pipe,
 * --no-view) one plain line per region is printed every few seconds, so logs stay readable.
 */
import { createLogUpdate } from 'log-update';
import type { CounterTelemetry } from '../handlers/telemetry.js';
import type { QueryService } from '../pipeline/query.js';
import type { LoadStats } from './load.js';
import type { ServiceStatus } from './services.js';
import { RateMeter } from './stats.js';

/** What the view needs of a cluster region (LocalRegion satisfies it). */
export interface ViewRegion {
  readonly region: string;
  readonly url: string;
  readonly runtime: { readonly query: Pick<QueryService, 'finality' | 'evidence'> };
  readonly telemetry: Pick<CounterTelemetry, 'totals'>;
}

export interface RegionRow {
  readonly region: string;
  readonly head: number;
  readonly justified: number;
  readonly finalized: number;
  readonly applied: number;
  readonly votesPerSecond: number;
  /** Evidence items stored in the region (a floor when `evidenceCapped`). */
  readonly evidence: number;
  readonly evidenceCapped?: boolean;
  /** Set when the region could not be read this time; the numbers are the last known ones. */
  readonly error?: string;
}

export interface LoadRow {
  readonly offeredPerSecond: number;
  readonly finalizedPerSecond: number;
  readonly stats: LoadStats;
}

export interface ViewSnapshot {
  readonly uptimeSeconds: number;
  readonly rows: readonly RegionRow[];
  readonly load?: LoadRow;
  /** The embedded services (absent with --endpoint). */
  readonly services?: readonly Pick<ServiceStatus, 'name' | 'up' | 'restarts'>[];
}

/** `dynamodb-local up, 1 restart` / `sqs-emulator RESTARTING, 0 restarts`. */
const serviceText = (s: Pick<ServiceStatus, 'name' | 'up' | 'restarts'>) =>
  `${s.name} ${s.up ? 'up' : 'RESTARTING'}, ${s.restarts} restart${s.restarts === 1 ? '' : 's'}`;

const EVIDENCE_LIMIT = 1000;
const EVIDENCE_EVERY_MS = 2_000;

const pad = (v: string | number, w: number) => String(v).padStart(w);
const rate = (v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(1));
const ms = (v: number) => (Number.isNaN(v) ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${Math.round(v)}ms`);

/** The multi-line frame shown on a TTY. Pure: same snapshot, same text. */
export function renderFrame(s: ViewSnapshot): string {
  const w = Math.max(6, ...s.rows.map((r) => r.region.length));
  const lines = [
    `afg local cluster - up ${formatUptime(s.uptimeSeconds)} - Ctrl-C to stop`,
    '',
    `${'region'.padEnd(w)}  ${pad('head', 7)} ${pad('justif', 7)} ${pad('final', 7)} ${pad('applied', 7)} ${pad('lag', 5)} ${pad('votes/s', 7)} ${pad('evidence', 8)}`,
  ];
  for (const r of s.rows) {
    const evidence = `${r.evidence}${r.evidenceCapped ? '+' : ''}`;
    lines.push(
      `${r.region.padEnd(w)}  ${pad(r.head, 7)} ${pad(r.justified, 7)} ${pad(r.finalized, 7)} ${pad(r.applied, 7)} ${pad(r.head - r.finalized, 5)} ` +
        `${pad(rate(r.votesPerSecond), 7)} ${pad(evidence, 8)}${r.error ? `  (unreadable: ${r.error})` : ''}`,
    );
  }
  if (s.services?.length) lines.push('', `services: ${s.services.map(serviceText).join('; ')}`);
  if (s.load) {
    const { stats: st } = s.load;
    lines.push(
      '',
      `load: offered ${rate(s.load.offeredPerSecond)}/s, finalized ${rate(s.load.finalizedPerSecond)}/s; ` +
        `${st.accepted} accepted, ${st.finalized} final everywhere, ${st.pending} pending, ${st.refusedTotal + st.failed} refused/failed` +
        `${st.skipped > 0 ? `, ${st.skipped} SKIPPED (generator behind schedule)` : ''}`,
      `finality latency: p50 ${ms(st.latencyMs.p50)}  p90 ${ms(st.latencyMs.p90)}  p99 ${ms(st.latencyMs.p99)}  max ${ms(st.latencyMs.max)}`,
    );
  }
  return lines.join('\n');
}

/** The plain status line printed when stdout is not a TTY. */
export function renderPlain(s: ViewSnapshot): string {
  const regions = s.rows
    .map(
      (r) =>
        `${r.region} h=${r.head} j=${r.justified} f=${r.finalized} a=${r.applied} votes/s=${rate(r.votesPerSecond)} ev=${r.evidence}${r.error ? ' (unreadable)' : ''}`,
    )
    .join(' | ');
  const load = s.load
    ? ` | load offered=${rate(s.load.offeredPerSecond)}/s finalized=${rate(s.load.finalizedPerSecond)}/s p50=${ms(s.load.stats.latencyMs.p50)} p99=${ms(s.load.stats.latencyMs.p99)}`
    : '';
  const services = s.services?.length ? ` | ${s.services.map(serviceText).join('; ')}` : '';
  return `[${formatUptime(s.uptimeSeconds)}] ${regions}${load}${services}`;
}

export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export interface ClusterViewOptions {
  readonly regions: readonly ViewRegion[];
  /** Load generator stats, read on each refresh. */
  readonly load?: () => LoadStats;
  /** The embedded services' state and restarts, read on each refresh. */
  readonly services?: () => readonly Pick<ServiceStatus, 'name' | 'up' | 'restarts'>[];
  /** Redraw in place (default: stdout is a TTY). */
  readonly live?: boolean;
  readonly out?: NodeJS.WriteStream;
  /** Refresh period (default 500 ms). */
  readonly refreshMs?: number;
  /** Plain mode: one line every this often (default 5 s). */
  readonly plainEveryMs?: number;
}

/**
 * Polls the regions and draws. start() begins, note() shows a message without breaking the frame,
 * stop() stops drawing (waiting for a refresh in progress) and leaves the last frame on screen.
 */
export class ClusterView {
  private readonly live: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly draw: ReturnType<typeof createLogUpdate> | undefined;
  private readonly votes: RateMeter[];
  private readonly offered = new RateMeter();
  private readonly finalized = new RateMeter();
  private readonly evidence: { count: number; capped: boolean; at: number }[];
  private rows: RegionRow[];
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private startedAt = Date.now();
  private lastPlain = 0;

  constructor(private readonly opts: ClusterViewOptions) {
    this.out = opts.out ?? process.stdout;
    // A pseudo-terminal without a size (columns 0) would wrap the frame one character per line.
    this.live = opts.live ?? (this.out.isTTY === true && (this.out.columns ?? 0) > 0);
    this.draw = this.live ? createLogUpdate(this.out) : undefined;
    this.votes = opts.regions.map(() => new RateMeter());
    this.evidence = opts.regions.map(() => ({ count: 0, capped: false, at: 0 }));
    this.rows = opts.regions.map((r) => ({
      region: r.region,
      head: 0,
      justified: 0,
      finalized: 0,
      applied: 0,
      votesPerSecond: 0,
      evidence: 0,
    }));
  }

  start(): void {
    this.startedAt = Date.now();
    const period = this.opts.refreshMs ?? 500;
    this.timer = setInterval(() => {
      // A slow read (loaded machine) skips a beat instead of piling up.
      if (this.refreshing) return;
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = undefined;
      });
    }, period);
  }

  /** Shows `message` above the live frame (TTY) or as its own line. */
  note(message: string): void {
    if (this.draw) this.draw.persist(message);
    else this.out.write(`${message}\n`);
  }

  /** The latest snapshot (also used for the exit summary). */
  snapshot(): ViewSnapshot {
    const now = Date.now();
    const stats = this.opts.load?.();
    const services = this.opts.services?.();
    return {
      uptimeSeconds: (now - this.startedAt) / 1000,
      rows: this.rows,
      ...(services ? { services } : {}),
      ...(stats ? { load: { offeredPerSecond: this.offered.perSecond(), finalizedPerSecond: this.finalized.perSecond(), stats } } : {}),
    };
  }

  /** Reads every region once (in parallel) and redraws. Never throws: an unreadable region is marked. */
  async refresh(): Promise<void> {
    const now = Date.now();
    this.rows = await Promise.all(this.opts.regions.map((r, i) => this.readRegion(r, i, now)));
    const stats = this.opts.load?.();
    if (stats) {
      this.offered.sample(now, stats.offered);
      this.finalized.sample(now, stats.finalized);
    }
    const snap = this.snapshot();
    if (this.draw) this.draw(renderFrame(snap));
    else if (now - this.lastPlain >= (this.opts.plainEveryMs ?? 5_000)) {
      this.lastPlain = now;
      this.out.write(`${renderPlain(snap)}\n`);
    }
  }

  private async readRegion(r: ViewRegion, i: number, now: number): Promise<RegionRow> {
    this.votes[i]!.sample(now, r.telemetry.totals.get('VotesAccepted') ?? 0);
    const votesPerSecond = this.votes[i]!.perSecond();
    try {
      const ev = this.evidence[i]!;
      const [f] = await Promise.all([
        r.runtime.query.finality(),
        now - ev.at >= EVIDENCE_EVERY_MS
          ? r.runtime.query.evidence(EVIDENCE_LIMIT).then((e) => {
              this.evidence[i] = { count: e.count, capped: e.count >= EVIDENCE_LIMIT, at: now };
            })
          : undefined,
      ]);
      const e = this.evidence[i]!;
      return {
        region: r.region,
        head: f.head.height,
        justified: f.justified.height,
        finalized: f.finalized.height,
        applied: f.applied.height,
        votesPerSecond,
        evidence: e.count,
        ...(e.capped ? { evidenceCapped: true } : {}),
      };
    } catch (err) {
      return { ...this.rows[i]!, votesPerSecond, error: err instanceof Error ? err.message.slice(0, 80) : String(err) };
    }
  }

  /** Stops refreshing; the last frame stays on screen. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    this.draw?.done();
  }
}
