/**
 * Small statistics for the terminal view and the load generator: latency percentiles and
 * per-second rates from monotonically growing counters. Times are passed in (milliseconds), so
 * these functions read no clock and are easy to test.
 */

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest value with at least p% of the values
 * at or below it. Returns NaN for an empty array. Throws RangeError for p outside 0..100.
 * @example percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`p: expected 0..100, got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** p50/p90/p99/max/mean of `values` (any order); all NaN with count 0 when empty. */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? Number.NaN : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    mean,
  };
}

/**
 * Rate of a growing counter over a sliding window: feed (time, total) samples, read per-second rate.
 * @example const m = new RateMeter(5000); m.sample(0, 0); m.sample(1000, 10); m.perSecond() // 10
 */
export class RateMeter {
  private readonly samples: { t: number; total: number }[] = [];
  constructor(private readonly windowMs = 5_000) {}

  /** Records the counter's `total` at time `t` (ms, non-decreasing). */
  sample(t: number, total: number): void {
    this.samples.push({ t, total });
    // Keep one sample at or before the window start so the rate covers the whole window.
    while (this.samples.length > 2 && this.samples[1]!.t <= t - this.windowMs) this.samples.shift();
  }

  /** Per-second rate between the oldest kept sample and the newest; 0 until two samples span some time. */
  perSecond(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t <= first.t) return 0;
    return ((last.total - first.total) * 1000) / (last.t - first.t);
  }
}

/** Formats milliseconds for humans: "850 ms", "2.41 s"; "-" for NaN. */
export function formatMs(ms: number): string {
  if (Number.isNaN(ms)) return '-';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
