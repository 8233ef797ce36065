/**
 * Shared output for `npm run bench*` scripts: prints the result as JSON, then the rows as a text
 * table (plus one table per array-of-objects value in `extra`), and writes
 * bench/results/<name>.json. Rows are plain objects; numbers are shown with at most 3 decimals in
 * the table and kept unrounded in the JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

const RESULTS_DIR = new URL('./results/', import.meta.url);

type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(value >= 100 ? 1 : 3);
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Renders rows as an aligned text table; columns are the union of keys in first-seen order. */
export function formatTable(rows: Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const body = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...body.map((line) => line[i]!.length)));
  const numeric = columns.map((c) => rows.every((r) => r[c] === undefined || typeof r[c] === 'number'));
  const line = (cells: string[]) => cells.map((s, i) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function isRowArray(value: unknown): value is Row[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
}

/**
 * Prints and saves one benchmark result. `rows` is the main table; `extra` is merged into the
 * JSON (arrays of objects in it are printed as further tables, titled by their key).
 * Returns the path written.
 * @example reportBench('crypto', [{ op: 'verify', ms: 2.1 }], { operations: [...] });
 */
export function reportBench(name: string, rows: Row[], extra: object = {}): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`reportBench: name must be a plain file stem, got ${JSON.stringify(name)}`);
  const result = {
    name,
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpuCount: cpus().length,
    rows,
    ...extra,
  };
  const json = JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
  console.log(json);
  console.log(`\n== ${name} ==\n${formatTable(rows)}`);
  for (const [key, value] of Object.entries(extra)) if (isRowArray(value)) console.log(`\n-- ${key} --\n${formatTable(value)}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = new URL(`${name}.json`, RESULTS_DIR);
  writeFileSync(path, `${json}\n`);
  console.log(`\nwrote ${path.pathname}`);
  return path.pathname;
}
