/**
 * Soak runner for the deterministic simulation (docs/testing.md, "Seed policy").
 *
 *   npm run test:soak                                  # 5000 fresh seeds from a start derived from now and the commit
 *   npm run test:soak -- --from 100000 --seeds 20000 --jobs 2
 *   npm run test:soak -- --seed 1234                   # replay one seed: scenario, trace hash, violations
 *   npm run test:soak -- --seeds 50 --from 1 --planted no-watermark
 *   npm run test:soak -- --seeds 1000 --from 1 --trust split          # the trust scenarios (trust-scenarios.ts)
 *
 * Prints the range first (with the command that replays it), progress every 100 seeds, every failing
 * seed with its first violation, and a summary: seeds/s, deliveries/s, time, load average. Exits 1
 * when any seed failed, 2 on a bad flag. `--jobs N` splits the range over N child processes.
 * The simulation signs and verifies through a memoizing crypto (crypto-memo.ts).
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InputError } from '../core/errors.js';
import { memoStats } from './crypto-memo.js';
import { PLANTED_BUGS, type PlantedBug } from './planted.js';
import { currentCommit, freshStart, seedNumber, slice } from './seed-policy.js';
import { runScenario, type Scenario, sweepScenarioForSeed } from './simulation.js';
import { TRUST_SCENARIOS, type TrustScenario, trustScenarioForSeed } from './trust-scenarios.js';

/** Seeds of a run without --seeds. */
const DEFAULT_SEEDS = 5000;

/** What one process reports at its end (a child prints it as a `{"soak":...}` line for its parent). */
interface Summary {
  seeds: number;
  steps: number;
  violations: number;
  failing: number[];
  /** Seeds whose liveness needed the finality sync's timer (it sent something when the run went quiet). */
  synced: number[];
  hits: number;
  misses: number;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function parse() {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      from: { type: 'string' },
      seed: { type: 'string' },
      planted: { type: 'string' },
      trust: { type: 'string' },
      jobs: { type: 'string', default: '1' },
      child: { type: 'boolean', default: false },
    },
  });
  const planted = values.planted as PlantedBug | undefined;
  if (planted && !PLANTED_BUGS.includes(planted)) throw new InputError('planted', `expected one of ${PLANTED_BUGS.join(', ')}`);
  const trust = values.trust as TrustScenario | undefined;
  if (trust && !TRUST_SCENARIOS.includes(trust)) throw new InputError('trust', `expected one of ${TRUST_SCENARIOS.join(', ')}`);
  const jobs = seedNumber(values.jobs, 'jobs');
  if (jobs < 1 || jobs > 64) throw new InputError('jobs', 'expected an integer in [1, 64]');
  return {
    seed: values.seed === undefined ? undefined : seedNumber(values.seed, 'seed'),
    from: values.from === undefined ? undefined : seedNumber(values.from, 'from'),
    count: values.seeds === undefined ? DEFAULT_SEEDS : seedNumber(values.seeds, 'seeds'),
    planted,
    trust,
    jobs,
    child: values.child,
  };
}

/** What a run varies: a planted bug, and the trust scenarios instead of the general ones. */
type Overrides = { planted?: PlantedBug; trust?: TrustScenario };

const scenarioOf = (seed: number, { trust, ...overrides }: Overrides): Scenario =>
  trust ? trustScenarioForSeed(trust, seed, overrides) : sweepScenarioForSeed(seed, overrides);

async function replay(seed: number, overrides: Overrides): Promise<number> {
  const result = await runScenario(scenarioOf(seed, overrides));
  console.log(JSON.stringify(result.scenario, null, 2));
  console.log(`trace ${result.traceHash}  steps ${result.steps}  store calls ${result.storeCalls}  crashes ${result.crashes}`);
  console.log(
    `finalized ${result.finalized.join(',')}  evidence ${result.evidence}  masked evidence pairs ${result.maskedEvidence}  dead letters ${result.deadLetters}  finality syncs that sent ${result.finalitySyncsSent}`,
  );
  for (const v of result.violations) console.log(`VIOLATION step ${v.step} ${v.kind}: ${v.message}`);
  return result.violations.length ? 1 : 0;
}

/** Runs seeds [from, from + count) in this process, printing failures and progress as they come. */
async function runRange(from: number, count: number, overrides: Overrides, prefix: string): Promise<Summary> {
  const summary: Summary = { seeds: 0, steps: 0, violations: 0, failing: [], synced: [], hits: 0, misses: 0 };
  const started = performance.now();
  for (let seed = from; seed < from + count; seed++) {
    const result = await runScenario(scenarioOf(seed, overrides));
    summary.seeds++;
    summary.steps += result.steps;
    summary.violations += result.violations.length;
    if (result.finalitySyncsSent > 0) summary.synced.push(seed);
    if (result.violations.length) {
      const v = result.violations[0]!;
      summary.failing.push(seed);
      console.log(`${prefix}seed ${seed}: ${result.violations.length} violation(s), first ${v.kind} at step ${v.step}: ${v.message}`);
    }
    if (summary.seeds % 100 === 0)
      console.log(
        `${prefix}${summary.seeds}/${count} seeds, ${(summary.seeds / ((performance.now() - started) / 1000)).toFixed(1)} seeds/s`,
      );
  }
  return { ...summary, hits: memoStats.hits, misses: memoStats.misses };
}

/** Runs one slice in a child process of this script; its lines are passed through with a prefix. */
function runChild(from: number, count: number, { planted, trust }: Overrides, job: number): Promise<Summary> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--child', '--from', `${from}`, '--seeds', `${count}`];
  if (planted) args.push('--planted', planted);
  if (trust) args.push('--trust', trust);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let summary: Summary | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('{"soak":')) summary = (JSON.parse(line) as { soak: Summary }).soak;
    else console.log(`[job ${job}] ${line}`);
  });
  return new Promise((resolve, reject) =>
    child.on('close', (code) =>
      summary
        ? resolve(summary)
        : reject(new Error(`soak job ${job} (seeds ${from}..${from + count - 1}) exited ${code} without a summary`)),
    ),
  );
}

async function main(): Promise<number> {
  const opts = parse();
  const overrides: Overrides = { ...(opts.planted ? { planted: opts.planted } : {}), ...(opts.trust ? { trust: opts.trust } : {}) };
  if (opts.seed !== undefined) return replay(opts.seed, overrides);
  if (opts.child) {
    const summary = await runRange(opts.from ?? 1, opts.count, overrides, '');
    console.log(JSON.stringify({ soak: summary }));
    return 0;
  }

  let origin = '--from';
  let from = opts.from;
  if (from === undefined) {
    const label = `${new Date().toISOString()}|${currentCommit()}`;
    from = freshStart(label);
    origin = `fresh, from ${label}`;
  }
  const { count } = opts;
  console.log(
    `soak: seeds ${from}..${from + count - 1} (${count} seeds, ${origin}) on ${opts.jobs} job(s), load average ${load()}\n` +
      `replay: npm run test:soak -- --from ${from} --seeds ${count}${opts.planted ? ` --planted ${opts.planted}` : ''}`,
  );
  const started = performance.now();
  const summaries =
    opts.jobs === 1
      ? [await runRange(from, count, overrides, '')]
      : await Promise.all(
          Array.from({ length: opts.jobs }, (_, i) => slice({ from, count }, i, opts.jobs))
            .filter((s) => s.count > 0)
            .map((s, i) => runChild(s.from, s.count, overrides, i + 1)),
        );
  const seconds = (performance.now() - started) / 1000;
  const total = summaries.reduce(
    (a, s) => ({
      seeds: a.seeds + s.seeds,
      steps: a.steps + s.steps,
      violations: a.violations + s.violations,
      failing: [...a.failing, ...s.failing],
      synced: [...a.synced, ...s.synced],
      hits: a.hits + s.hits,
      misses: a.misses + s.misses,
    }),
    { seeds: 0, steps: 0, violations: 0, failing: [], synced: [], hits: 0, misses: 0 } as Summary,
  );
  console.log(
    `seeds ${from}..${from + count - 1}: ${total.seeds} seeds in ${seconds.toFixed(1)} s (${(seconds / 60).toFixed(1)} min), ` +
      `${(total.seeds / seconds).toFixed(1)} seeds/s, ${(total.steps / seconds).toFixed(0)} deliveries/s, ` +
      `${total.violations} violation(s) in ${total.failing.length} seed(s); crypto cache ${total.hits} hits / ${total.misses} misses; ` +
      `load average ${load()}`,
  );
  if (total.synced.length)
    console.log(
      `seeds whose quiet run the finality sync moved on (no violation; liveness needed the timer): ${total.synced.length}: ` +
        `${total.synced
          .sort((a, b) => a - b)
          .slice(0, 50)
          .join(' ')}${total.synced.length > 50 ? ' ...' : ''}`,
    );
  if (total.failing.length) {
    total.failing.sort((a, b) => a - b);
    console.log(`failing seeds: ${total.failing.join(' ')} (replay one: npm run test:soak -- --seed <n>)`);
  }
  return total.failing.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof InputError ? `--${e.message}` : e);
    process.exit(e instanceof InputError ? 2 : 1);
  },
);
