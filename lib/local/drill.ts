/**
 * Runs the failure drills of `npm start` (--kill-region / --revive-region) against a running
 * LocalCluster and measures what they did:
 *
 * - at each kill, the survivors' finalized heights and the highest head (proposed block) of any
 *   region; then, polling every survivor's finality in process every POLL_MS, the seconds from the
 *   kill until a survivor first finalizes beyond its height at the kill (`firstAdvanceSeconds`:
 *   may be work the old view had already proposed), until a survivor first finalizes a checkpoint
 *   above the highest head at the kill (`recoverySeconds`: a block proposed after the kill, so the
 *   new view's sequencer is working), and until every survivor has (`allSurvivorsSeconds`);
 * - at the end, each region's finalized height (null for a region down or unreadable) and whether
 *   the regions up agree on every checkpoint finalized during the run (their finalized hashes
 *   compared height by height, from the lowest finalized height at start up to the lowest
 *   finalized height among them at the end, at most the last MAX_COMPARED; done once, at the end).
 *
 * Times are seconds since `start()`, which main.ts calls when the cluster is ready (the moment the
 * load starts). Polling granularity bounds the figures' precision (POLL_MS).
 */
import type { DrillEvent } from './flags.js';

/** What the drill needs of the cluster (LocalCluster in production). */
export interface DrillCluster {
  readonly regions: readonly {
    readonly region: string;
    readonly follower: boolean;
    readonly runtime: {
      readonly query: {
        finality(): Promise<{ head: { height: number }; finalized: { height: number; hash: string } }>;
        checkpoint(height: number): Promise<{ hash: string; status: string }>;
      };
    };
  }[];
  readonly config: { readonly checkpointInterval: number };
  readonly downRegions: readonly string[];
  kill(region: string): Promise<void>;
  revive(region: string): Promise<void>;
}

export interface DrillStepReport {
  readonly action: DrillEvent['action'];
  readonly region: string;
  readonly atSeconds: number;
  /** Kill only: seconds from the kill until a survivor finalized beyond its own height at the kill. */
  firstAdvanceSeconds?: number | null;
  /** Kill only: seconds from the kill until a survivor finalized above the highest head of any region at the kill. */
  recoverySeconds?: number | null;
  /** Kill only: seconds from the kill until every survivor finalized above that head. */
  allSurvivorsSeconds?: number | null;
  /** Kill only: the highest head (block height) of any region at the kill. */
  headAtKill?: number;
  error?: string;
}

export interface DrillReport {
  /** Each region's finalized height at the end; null when it is down or did not answer. */
  readonly finalizedByRegion: Record<string, number | null>;
  /** Do the regions up at the end agree on every finalized checkpoint up to `agreementCheckedUpTo`? */
  readonly finalizedAgree: boolean;
  /** The checkpoint heights compared: those finalized during this run (from the lowest finalized height at start), at most MAX_COMPARED. */
  readonly agreementCheckedFrom: number;
  readonly agreementCheckedUpTo: number;
  /** Heights where two regions finalized different hashes (empty when they agree). */
  readonly disagreements: readonly number[];
  readonly steps: readonly DrillStepReport[];
}

const POLL_MS = 100;
/** At most this many checkpoints are compared at the end (the most recent ones of the run). */
export const MAX_COMPARED = 2_000;

interface Watch {
  readonly report: DrillStepReport;
  readonly killedAtMs: number;
  readonly survivors: Map<string, number>;
  readonly headAtKill: number;
  readonly recovered: Set<string>;
}

export class DrillRunner {
  private startedAt = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly steps: DrillStepReport[] = [];
  private readonly watches: Watch[] = [];
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private running: Promise<void> = Promise.resolve();
  /** The lowest finalized height of the regions at start: agreement is checked from there (this run's work). */
  private fromHeight: Promise<number> = Promise.resolve(0);

  constructor(
    private readonly cluster: DrillCluster,
    private readonly events: readonly DrillEvent[],
    private readonly note: (message: string) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** Schedules the drill's steps relative to now. */
  start(): void {
    this.startedAt = this.now();
    this.fromHeight = Promise.all(
      this.cluster.regions.map((r) =>
        r.runtime.query.finality().then(
          (f) => f.finalized.height,
          () => 0,
        ),
      ),
    ).then((hs) => Math.min(...hs));
    for (const e of this.events)
      this.timers.push(
        setTimeout(() => {
          this.running = this.running.then(() => this.runStep(e));
        }, e.atSeconds * 1000),
      );
    if (this.events.some((e) => e.action === 'kill')) this.poller = setInterval(() => void this.observe(), POLL_MS);
  }

  /** Cancels the steps not yet due, waits for a step under way, and reports. */
  async stop(): Promise<DrillReport> {
    for (const t of this.timers) clearTimeout(t);
    clearInterval(this.poller);
    await this.running;
    await this.observe();
    return { ...(await this.agreement()), steps: this.steps };
  }

  private seconds(ms: number): number {
    return Math.round(ms) / 1000;
  }

  /** Runs one drill step now (start() schedules them; public for tests). */
  async runStep(e: DrillEvent): Promise<void> {
    const report: DrillStepReport = { action: e.action, region: e.region, atSeconds: this.seconds(this.now() - this.startedAt) };
    this.steps.push(report);
    try {
      if (e.action === 'revive') {
        await this.cluster.revive(e.region);
        this.note(`drill: ${e.region} revived at ${report.atSeconds} s`);
        return;
      }
      const survivors = this.cluster.regions.filter(
        (r) => !r.follower && r.region !== e.region && !this.cluster.downRegions.includes(r.region),
      );
      const all = await Promise.allSettled(this.cluster.regions.map((r) => r.runtime.query.finality()));
      const killedAtMs = this.now();
      await this.cluster.kill(e.region);
      const headAtKill = Math.max(0, ...all.map((a) => (a.status === 'fulfilled' ? a.value.head.height : 0)));
      const heights = new Map<string, number>();
      for (const r of survivors) {
        const a = all[this.cluster.regions.indexOf(r)]!;
        heights.set(r.region, a.status === 'fulfilled' ? a.value.finalized.height : 0);
      }
      Object.assign(report, { firstAdvanceSeconds: null, recoverySeconds: null, allSurvivorsSeconds: null, headAtKill });
      this.watches.push({ report, killedAtMs, survivors: heights, headAtKill, recovered: new Set() });
      this.note(
        `drill: ${e.region} killed at ${report.atSeconds} s (highest head ${headAtKill}); watching ${[...heights.keys()].join(', ')}`,
      );
    } catch (err) {
      report.error = err instanceof Error ? err.message : String(err);
      this.note(`drill: ${e.action} ${e.region} failed: ${report.error}`);
    }
  }

  /** One look at every watched survivor's finality (skipped while the previous look is under way; public for tests). */
  async observe(): Promise<void> {
    const open = this.watches.filter((w) => w.report.allSurvivorsSeconds === null);
    if (this.polling || open.length === 0) return;
    this.polling = true;
    try {
      const names = new Set(open.flatMap((w) => [...w.survivors.keys()]));
      const seen = new Map<string, number>();
      await Promise.all(
        this.cluster.regions
          .filter((r) => names.has(r.region) && !this.cluster.downRegions.includes(r.region))
          .map(async (r) => {
            try {
              seen.set(r.region, (await r.runtime.query.finality()).finalized.height);
            } catch {
              // unreadable this time: look again at the next poll
            }
          }),
      );
      const at = this.now();
      for (const w of open) {
        const after = this.seconds(at - w.killedAtMs);
        for (const [region, height] of seen) {
          const before = w.survivors.get(region);
          if (before === undefined) continue;
          if (height > before && w.report.firstAdvanceSeconds === null) w.report.firstAdvanceSeconds = after;
          if (height > w.headAtKill) {
            if (w.report.recoverySeconds === null) w.report.recoverySeconds = after;
            w.recovered.add(region);
          }
        }
        if (w.recovered.size === w.survivors.size) w.report.allSurvivorsSeconds = after;
      }
    } finally {
      this.polling = false;
    }
  }

  /** Each region's finalized height, and the finalized hashes of the regions up compared height by height. */
  private async agreement(): Promise<Omit<DrillReport, 'steps'>> {
    const finalizedByRegion: Record<string, number | null> = {};
    const up = this.cluster.regions.filter((r) => !this.cluster.downRegions.includes(r.region));
    for (const r of this.cluster.regions) finalizedByRegion[r.region] = null;
    await Promise.all(
      up.map(async (r) => {
        try {
          finalizedByRegion[r.region] = (await r.runtime.query.finality()).finalized.height;
        } catch {
          // null: did not answer
        }
      }),
    );
    const answering = up.filter((r) => finalizedByRegion[r.region] !== null);
    const upTo = answering.length === 0 ? 0 : Math.min(...answering.map((r) => finalizedByRegion[r.region]!));
    const K = this.cluster.config.checkpointInterval;
    const disagreements: number[] = [];
    // Bounded work at the end of a long run: the most recent MAX_COMPARED checkpoints (the range is reported).
    const from = Math.max(K, Math.ceil((await this.fromHeight) / K) * K, (Math.floor(upTo / K) - MAX_COMPARED + 1) * K);
    for (let h = from; h <= upTo; h += K) {
      const hashes = await Promise.all(
        answering.map((r) =>
          r.runtime.query.checkpoint(h).then(
            (c) => (c.status === 'finalized' ? c.hash : undefined),
            () => undefined, // not held here (a region started from a snapshot): nothing to compare
          ),
        ),
      );
      if (new Set(hashes.filter((x) => x !== undefined)).size > 1) disagreements.push(h);
    }
    return {
      finalizedByRegion,
      finalizedAgree: disagreements.length === 0,
      agreementCheckedFrom: from,
      agreementCheckedUpTo: upTo,
      disagreements,
    };
  }
}
