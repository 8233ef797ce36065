/**
 * `npm run bench`: runs the benchmark parts one after another, each in its own child process (so
 * one part's heap, JIT state and embedded services never skew the next), then draws the charts and
 * prints a summary of the headline figures with the targets.
 *
 *   npm run bench [-- --only e2e,cost] [--skip state] [--state-max 100000] [--quick]
 *
 * Parts, in order: crypto (BLS costs, naive vs optimistic certification), certificate (sizes; reads
 * crypto.json), state (state commitment up to --state-max accounts, default 1e5; 1e6 takes minutes),
 * e2e (local cluster latency/throughput), cost (AWS operations per checkpoint), model (predicted AWS
 * latency from the pipeline's serial chain and published per-operation latencies), stream (finality stream
 * delivery lag after finality), follower (snapshot bootstrap time and bytes at 1e4 and 1e5 accounts).
 * --quick shortens e2e and cost (10 s windows, loads 10 and 100/s, configs 4x4 and 4x7).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeAllCharts } from './chart.js';
import { formatTable } from './report.js';

export const PARTS = ['crypto', 'certificate', 'state', 'e2e', 'cost', 'model', 'stream', 'follower'] as const;
export type Part = (typeof PARTS)[number];

export interface AllOptions {
  readonly parts: Part[];
  readonly stateMax: number;
  readonly quick: boolean;
}

/** Parses the runner's flags. Throws Error naming the flag for an unknown flag or part. */
export function parseAllFlags(argv: readonly string[]): AllOptions {
  let parts: Part[] = [...PARTS];
  let stateMax = 1e5;
  let quick = false;
  const list = (value: string | undefined, flag: string): Part[] => {
    const items = (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const p of items)
      if (!(PARTS as readonly string[]).includes(p)) throw new Error(`${flag}: unknown part "${p}" (parts: ${PARTS.join(', ')})`);
    if (items.length === 0) throw new Error(`${flag}: expected a comma-separated list of parts (${PARTS.join(', ')})`);
    return items as Part[];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') parts = list(argv[++i], '--only');
    else if (a === '--skip') {
      const skip = new Set(list(argv[++i], '--skip'));
      parts = parts.filter((p) => !skip.has(p));
    } else if (a === '--state-max') {
      stateMax = Number(argv[++i]);
      if (!(stateMax >= 1000)) throw new Error('--state-max: expected a number >= 1000');
    } else if (a === '--quick') quick = true;
    else throw new Error(`unknown flag ${a} (known: --only, --skip, --state-max, --quick)`);
  }
  return { parts: PARTS.filter((p) => parts.includes(p)), stateMax, quick };
}

function commandFor(part: Part, o: AllOptions): string[] {
  const script = fileURLToPath(new URL(`./${part}.ts`, import.meta.url));
  if (part === 'state') return [script, String(o.stateMax)];
  if (part === 'e2e' && o.quick) return [script, '--rates', '10,100', '--seconds', '10', '--drain', '15'];
  if (part === 'cost' && o.quick) return [script, '--configs', '4x4,4x7', '--seconds', '10', '--drain', '20'];
  return [script];
}

function readResult(name: string): unknown {
  const path = new URL(`./results/${name}.json`, import.meta.url);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

type Num = number | undefined;
interface Results {
  target?: { ratio: Num; met: boolean };
  targets?: { target: string; measured: Num; met: boolean | null }[];
  rows: Record<string, Num>[];
}

/** One line of headline figures per part, from its results file. */
function headline(part: Part): string {
  const r = readResult(part) as Results | undefined;
  if (!r) return 'no results file';
  const n = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '-');
  switch (part) {
    case 'crypto':
      return `optimistic vs naive at n=64: ${n(r.target?.ratio)}x (target >= 10x: ${r.target?.met ? 'met' : 'missed'})`;
    case 'certificate': {
      const row = r.rows.find((x) => x.n === 64);
      return row ? `n=64: ${row['threshold B']} B vs ${row['individual B']} B binary (${n(row['binary ratio'])}x)` : '-';
    }
    case 'state': {
      const last = r.rows.at(-1);
      return last
        ? `${last.accounts} accounts: block of 100 transfers ${n(last.blockExecCpuMs)} CPU ms, ${n(last.writtenPerBlock, 0)} nodes written`
        : '-';
    }
    case 'e2e':
      return (r.targets ?? [])
        .map((t) => `${t.target}: ${n(t.measured, 0)} (${t.met === null ? 'n/a' : t.met ? 'met' : 'missed'})`)
        .join('; ');
    case 'cost':
      return r.rows
        .map(
          (x) =>
            `${x.regions}x${x.n}: ${n(x.callsPerCheckpoint)} calls (target <= 100), ${n(x['SQS req/ckpt'])} SQS, ${n(x['DDB WRU/ckpt'])} WRU, ${n(x['DDB RRU/ckpt'])} RRU per ckpt, $${n(x['$/1M tx'], 2)}/1M tx`,
        )
        .join('; ');
    case 'model': {
      const m = r as unknown as { predictedAwsP50Ms?: number; predictedAwsP99Ms?: number };
      return `predicted AWS p50 ${n(m.predictedAwsP50Ms, 0)} ms, p99 ${n(m.predictedAwsP99Ms, 0)} ms (target p50 <= 1000 ms: ${(m.predictedAwsP50Ms ?? Infinity) <= 1000 ? 'met' : 'missed'})`;
    }
    case 'stream':
      return r.rows
        .map((x) => `poll ${x['poll ms']} ms x ${x.clients} client(s): lag p50 ${n(x['p50 ms'])} ms, p99 ${n(x['p99 ms'])} ms`)
        .join('; ');
    case 'follower':
      return r.rows.map((x) => `${x.accounts} accounts, ${x.blocks} blocks: ${n(x['bootstrap s'])} s, ${n(x['HTTP MB'])} MB`).join('; ');
  }
}

async function main(): Promise<void> {
  const o = parseAllFlags(process.argv.slice(2));
  const summary: Record<string, unknown>[] = [];
  for (const part of o.parts) {
    const args = commandFor(part, o);
    console.error(
      `\n### bench ${part}: tsx ${args.map((a) => a.replace(/.*\/bench\//, 'bench/')).join(' ')} (load average ${loadavg()[0]!.toFixed(1)})`,
    );
    const t0 = performance.now();
    // tsx from our own node_modules, on the Node that runs us (npm scripts put Node 22 first on PATH).
    const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { stdio: 'inherit', env: process.env });
    summary.push({
      part,
      status: r.status === 0 ? 'ok' : `failed (${r.status ?? r.signal})`,
      seconds: (performance.now() - t0) / 1000,
      headline: headline(part),
    });
  }
  const charts = writeAllCharts();
  console.log(`\n== bench summary ==\n${formatTable(summary)}`);
  for (const c of charts) console.log(`chart: ${c}`);
  if (summary.some((s) => s.status !== 'ok')) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
