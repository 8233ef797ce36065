/**
 * The dashboard's pure parts, kept out of the DOM script so they are tested in node: which region
 * APIs to poll, the rolling series behind the charts, rates between two polls, and the columns a
 * chart is drawn from. No DOM, no fetch, no clock: times are passed in.
 */

/** One point of a series: `t` in milliseconds (any monotonic origin), `v` the value. */
export interface Sample {
  readonly t: number;
  readonly v: number;
}

/** What the server inlines into the page (JSON in a non-executed script element). */
export interface DashboardConfig {
  /** API base URLs of the regions to show (no trailing slash); empty = this page's own API only. */
  readonly peers: string[];
  /** Poll period in milliseconds. */
  readonly pollMs: number;
  /** Group public key (hex) pinned by whoever built the page; when absent the page takes it from /v1/validators. */
  readonly groupPublicKey?: string;
  /** Samples kept per series (the chart's width in polls). */
  readonly window: number;
}

/**
 * Normalizes one API base URL: http(s) only, no query or fragment, no trailing slash.
 * Returns undefined for anything else (a page must not be pointed at javascript: or file: URLs).
 */
export function normalizeApiUrl(raw: string, base?: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim(), base);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password) return undefined;
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/**
 * The region APIs the page polls: `?regions=url1,url2` when present (invalid entries dropped),
 * else the inlined peers, else the page's own API (`self`, e.g. location.origin + path).
 * Duplicates are removed, order kept.
 * @example regionUrls('?regions=http://a:1,http://b:2', [], 'http://a:1') // ['http://a:1', 'http://b:2']
 */
export function regionUrls(search: string, peers: readonly string[], self: string): string[] {
  const param = new URLSearchParams(search).get('regions');
  const listed = param !== null ? param.split(',') : peers;
  const urls = listed.map((u) => normalizeApiUrl(u, self)).filter((u): u is string => u !== undefined);
  const unique = [...new Set(urls)];
  return unique.length > 0 ? unique : [normalizeApiUrl(self) ?? self];
}

/** Appends a sample, keeping at most `max` (oldest dropped). Returns a new array. */
export function pushSample(series: readonly Sample[], sample: Sample, max: number): Sample[] {
  const out = [...series, sample];
  return out.length > max ? out.slice(out.length - max) : out;
}

/**
 * Rate per second of a growing counter between two readings, or undefined when it cannot be
 * told (no earlier reading, no time elapsed, or the counter went down: a restarted process).
 */
export function ratePerSecond(prev: Sample | undefined, cur: Sample): number | undefined {
  if (!prev) return undefined;
  const dt = cur.t - prev.t;
  if (dt <= 0 || cur.v < prev.v) return undefined;
  return ((cur.v - prev.v) * 1000) / dt;
}

/**
 * Lines up several series on one x axis for a chart library that wants aligned columns (uPlot):
 * the sorted union of every sample time, and per series its value at each of those times, or
 * null where it has none (a region that missed a poll shows a gap, not a made-up value).
 * @example alignSeries({ a: [{ t: 1, v: 5 }], b: [{ t: 2, v: 7 }] }) // { xs: [1, 2], ys: [[5, null], [null, 7]] }
 */
export function alignSeries(series: Readonly<Record<string, readonly Sample[]>>): { xs: number[]; ys: (number | null)[][] } {
  const xs = [...new Set(Object.values(series).flatMap((samples) => samples.map((s) => s.t)))].sort((a, b) => a - b);
  const ys = Object.values(series).map((samples) => {
    const at = new Map(samples.map((s) => [s.t, s.v]));
    return xs.map((t) => at.get(t) ?? null);
  });
  return { xs, ys };
}

/** Shortens a hex string for display: first and last `n` characters. */
export function shortHex(hex: string, n = 8): string {
  return hex.length <= 2 * n + 1 ? hex : `${hex.slice(0, n)}…${hex.slice(-n)}`;
}
