/**
 * The dashboard's pure parts, kept out of the DOM script so they are tested in node: which region
 * APIs to poll, the rolling series behind the charts, rates between two polls, and the SVG
 * geometry of a chart. No DOM, no fetch, no clock: times are passed in.
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

/** A "nice" upper bound for a y axis: 1, 2 or 5 times a power of ten, at least `v` (and at least 1). */
export function niceMax(v: number): number {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export interface ChartBox {
  readonly width: number;
  readonly height: number;
  /** Inner margin: left for the y labels, the others small. */
  readonly pad: { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number };
}

export interface ChartLine {
  readonly name: string;
  /** SVG polyline `points` attribute ("x,y x,y ..."), empty when the series is empty. */
  readonly points: string;
  readonly last: number | undefined;
  /** Where the newest shown sample is drawn (a dot, so a one-sample series is visible). */
  readonly end: { x: number; y: number } | undefined;
}

export interface ChartGeometry {
  readonly yMax: number;
  readonly lines: ChartLine[];
}

/**
 * Lays several series out in one box: a shared time axis (the latest `spanMs` up to the newest
 * sample of any series) and a shared y axis from 0 to a nice maximum. Coordinates are rounded to
 * 0.1 px so the markup stays short.
 */
export function chartGeometry(series: Readonly<Record<string, readonly Sample[]>>, box: ChartBox, spanMs: number): ChartGeometry {
  const all = Object.values(series).flat();
  const tMax = all.reduce((m, s) => Math.max(m, s.t), Number.NEGATIVE_INFINITY);
  const tMin = tMax - spanMs;
  const yMax = niceMax(all.reduce((m, s) => Math.max(m, s.v), 0));
  const w = box.width - box.pad.left - box.pad.right;
  const h = box.height - box.pad.top - box.pad.bottom;
  const r = (n: number) => Math.round(n * 10) / 10;
  const x = (t: number) => r(box.pad.left + (spanMs > 0 ? ((t - tMin) / spanMs) * w : w));
  const y = (v: number) => r(box.pad.top + h - (Math.max(0, v) / yMax) * h);
  const lines = Object.entries(series).map(([name, samples]) => {
    const shown = samples.filter((s) => s.t >= tMin);
    const end = shown.at(-1);
    return {
      name,
      points: shown.map((s) => `${x(s.t)},${y(s.v)}`).join(' '),
      last: samples.at(-1)?.v,
      end: end && { x: x(end.t), y: y(end.v) },
    };
  });
  return { yMax, lines };
}

/** Shortens a hex string for display: first and last `n` characters. */
export function shortHex(hex: string, n = 8): string {
  return hex.length <= 2 * n + 1 ? hex : `${hex.slice(0, n)}…${hex.slice(-n)}`;
}
