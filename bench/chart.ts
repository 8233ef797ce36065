/**
 * A small hand-written SVG line-chart writer for the benchmark results, and (run directly:
 * `npx tsx bench/chart.ts`) the charts themselves, drawn from bench/results/*.json when present:
 *   - e2e.svg: finality latency p50/p99 vs offered load;
 *   - certification.svg: naive vs optimistic certification time vs n;
 *   - cost.svg: AWS operations per finalized checkpoint vs n.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logX?: boolean;
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
  /** Horizontal reference lines (e.g. a target), drawn dashed with their label. */
  readonly marks?: readonly { readonly y: number; readonly label: string }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(3)}`);

/** Tick values: powers of ten (and 2x, 5x when few) on a log axis, "nice" steps on a linear one. */
function ticks(min: number, max: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++)
      for (const m of Math.log10(max / min) < 2 ? [1, 2, 5] : [1]) {
        const v = m * 10 ** e;
        if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
      }
    return out;
  }
  const raw = (max - min) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/**
 * Renders a line chart as a standalone SVG document. Points with a non-finite or (on a log axis)
 * non-positive coordinate are skipped. Throws RangeError when no series has a drawable point.
 * @example lineChart({ title: 'Latency', xLabel: 'tx/s', yLabel: 'ms', series: [{ name: 'p50', points: [[10, 120], [100, 300]] }], logX: true })
 */
export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 400;
  const m = { left: 70, right: 150, top: 40, bottom: 50 };
  const ok = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0);
  const series = o.series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => ok(x, y)) }));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) throw new RangeError(`lineChart "${o.title}": no drawable points`);
  const ys = [...all.map((p) => p[1]), ...(o.marks ?? []).map((mk) => mk.y)];
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!o.logY) y0 = Math.min(0, y0);
  if (x0 === x1) [x0, x1] = o.logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = o.logY ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  if (o.logY) [y0, y1] = [10 ** Math.floor(Math.log10(y0)), 10 ** Math.ceil(Math.log10(y1))];
  else y1 *= 1.05;
  const sx = (x: number) => {
    const f = o.logX ? Math.log(x / x0) / Math.log(x1 / x0) : (x - x0) / (x1 - x0);
    return m.left + f * (W - m.left - m.right);
  };
  const sy = (y: number) => {
    const f = o.logY ? Math.log(y / y0) / Math.log(y1 / y0) : (y - y0) / (y1 - y0);
    return H - m.bottom - f * (H - m.top - m.bottom);
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.right / 2 + m.left / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  for (const t of ticks(y0, y1, !!o.logY)) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(x0, x1, !!o.logX)) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${H - m.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - m.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  for (const mk of o.marks ?? []) {
    const y = sy(mk.y).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${W - m.right - 4}" y="${+y - 4}" text-anchor="end" fill="#555">${esc(mk.label)}</text>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${color}"/>`);
    }
    const ly = m.top + 10 + i * 20;
    out.push(`<line x1="${W - m.right + 12}" x2="${W - m.right + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${W - m.right + 38}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const RESULTS = new URL('./results/', import.meta.url);

/** Writes bench/results/<name>.svg and returns its path. */
export function writeChart(name: string, svg: string): string {
  mkdirSync(RESULTS, { recursive: true });
  const path = new URL(`${name}.svg`, RESULTS);
  writeFileSync(path, svg);
  return fileURLToPath(path);
}

function readResult<T>(name: string): T | undefined {
  const path = new URL(`${name}.json`, RESULTS);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

/** Draws every chart whose results file exists; returns the paths written. */
export function writeAllCharts(): string[] {
  const written: string[] = [];
  const e2e = readResult<{ rows: { 'offered/s': number; 'p50 ms': number; 'p99 ms': number; 'finalized/s': number }[] }>('e2e');
  if (e2e && e2e.rows.length > 0)
    written.push(
      writeChart(
        'e2e',
        lineChart({
          title: 'Finality latency vs offered load (local cluster)',
          xLabel: 'offered transfers/s',
          yLabel: 'latency 202 -> final in every region (ms)',
          logX: true,
          logY: true,
          series: [
            { name: 'p50', points: e2e.rows.map((r) => [r['offered/s'], r['p50 ms']]) },
            { name: 'p99', points: e2e.rows.map((r) => [r['offered/s'], r['p99 ms']]) },
          ],
          marks: [
            { y: 500, label: 'p50 target 500 ms' },
            { y: 2000, label: 'p99 target 2 s' },
          ],
        }),
      ),
    );
  const crypto = readResult<{
    rows: { n: number; t: number; partials: number; tampered: number; 'naive ms': number; 'optimistic ms': number }[];
  }>('crypto');
  const cert = crypto?.rows.filter((r) => r.partials === r.t && r.tampered === 0) ?? [];
  if (cert.length > 0)
    written.push(
      writeChart(
        'certification',
        lineChart({
          title: 'Certification time vs validators (t = n - floor((n-1)/3))',
          xLabel: 'validators n',
          yLabel: 'wall ms per certificate',
          logX: true,
          logY: true,
          series: [
            { name: 'naive', points: cert.map((r) => [r.n, r['naive ms']]) },
            { name: 'optimistic', points: cert.map((r) => [r.n, r['optimistic ms']]) },
          ],
        }),
      ),
    );
  const cost = readResult<{
    rows: {
      regions: number;
      n: number;
      checkpoints: number;
      'SQS req/ckpt': number;
      'DDB WRU/ckpt': number;
      'DDB RRU/ckpt': number;
      'Lambda inv/ckpt': number;
    }[];
  }>('cost');
  // A run that finalized fewer than 3 checkpoints says nothing per checkpoint; leave it out.
  const usable = cost?.rows.filter((r) => r.checkpoints >= 3) ?? [];
  const byN = usable.filter((r) => r.regions === Math.max(...usable.map((x) => x.regions)));
  if (byN.length > 0)
    written.push(
      writeChart(
        'cost',
        lineChart({
          title: `AWS operations per finalized checkpoint vs n (${byN[0]!.regions} regions)`,
          xLabel: 'validators n',
          yLabel: 'operations per checkpoint',
          series: [
            { name: 'SQS requests', points: byN.map((r) => [r.n, r['SQS req/ckpt']]) },
            { name: 'DynamoDB WRU', points: byN.map((r) => [r.n, r['DDB WRU/ckpt']]) },
            { name: 'DynamoDB RRU', points: byN.map((r) => [r.n, r['DDB RRU/ckpt']]) },
            { name: 'Lambda invocations', points: byN.map((r) => [r.n, r['Lambda inv/ckpt']]) },
          ],
        }),
      ),
    );
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const paths = writeAllCharts();
  console.log(paths.length ? paths.map((p) => `wrote ${p}`).join('\n') : 'no results to chart (run npm run bench first)');
}
