/**
 * Cost benchmark (npm run bench:cost): AWS operations per finalized checkpoint and per transfer,
 * counted by the SDK clients of a real local run (bench/aws-ops.ts), and what they would cost on
 * AWS at list prices; measured at several validator counts and region counts.
 *
 *   npx tsx bench/cost.ts [--configs 4x4,4x7,4x10,2x4] [--rate 20] [--seconds 15] [--drain 30]
 *                         [--checkpoint-interval 1] [--accounts 0] [--data-dir $TMPDIR/afg-bench-cost]
 *
 * `--accounts N`: each cluster starts with N funded accounts beyond the ten dev accounts and the
 * measured window spreads its transfers over them (see bench/e2e.ts), so the state tree, and the
 * tree nodes each block writes, have a realistic size.
 *
 * A config `RxN` is R regions and N validators (round-robin over the regions). Each config gets a
 * fresh cluster and one window of `rate` transfers/s for `seconds`, drained until the accepted
 * transfers are final everywhere. Counted per window:
 *   - SQS requests as billed (a batch of up to 10 entries is one request; each further 64 KiB of
 *     payload one more), without the empty receives of idle pollers: on AWS those come from
 *     Lambda's pollers at a fixed rate per queue whatever the load, so they are reported apart;
 *   - DynamoDB read and write request units (ConsumedCapacity reported by DynamoDB Local; refused
 *     conditional writes estimated at 1 unit per item, as they are billed but report nothing);
 *   - Lambda invocations (handler batches) and GB-seconds (sum of handler durations rounded up to
 *     1 ms, times the role's configured memory in cdk/region-stack.ts ROLE_SETTINGS).
 * Pipeline operations only: the load generator's read polls (GET /v1/finality, /v1/blocks) are
 * counted under 'api' and excluded; what each POST costs is included per transfer: its ingress
 * SendMessage and its admission writes into the pool (the API's only DynamoDB writes). The
 * admission's reads (the sender's state, the pool) cannot be told apart from the generator's polls
 * and stay excluded with them (read units are a fifth of the write price).
 *
 * Caveat on GB-seconds: handler durations here are wall times inside one shared, busy event loop
 * against emulators on a shared machine, so they overstate what a dedicated Lambda would take.
 */
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devSenders } from '../lib/local/load.js';
import type { OpCount } from './aws-ops.js';
import { BenchCluster, type Role, type RunResult, runLoad } from './cluster-run.js';
import { accountCount, parseFlags, positive, regionNames } from './e2e.js';
import { reportBench } from './report.js';

/**
 * us-east-1 list prices, AWS price list as of 2024-11 (DynamoDB on-demand after the November 2024
 * price cut). Free tiers ignored.
 */
export const PRICES = {
  source: 'AWS price list, us-east-1, as of 2024-11 (free tiers ignored)',
  sqsPerMillionRequests: 0.4, // standard queue
  dynamoPerMillionWrite: 0.625, // on-demand write request units
  dynamoPerMillionRead: 0.125, // on-demand read request units
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecondArm: 0.0000133334,
  lambdaPerGbSecondX86: 0.0000166667,
} as const;

/** Lambda memory per role (MB), as configured in cdk/region-stack.ts ROLE_SETTINGS (arm64). */
export const ROLE_MEMORY_MB: Readonly<Record<Role, number>> = { sequencer: 512, validator: 1024, finalizer: 1024, 'state-function': 512 };

/** Dollars for a count of operations. */
export function dollars(
  o: { sqsRequests: number; writeUnits: number; readUnits: number; invocations: number; gbSeconds: number },
  arch: 'arm64' | 'x86' = 'arm64',
): number {
  const perGbS = arch === 'arm64' ? PRICES.lambdaPerGbSecondArm : PRICES.lambdaPerGbSecondX86;
  return (
    (o.sqsRequests * PRICES.sqsPerMillionRequests +
      o.writeUnits * PRICES.dynamoPerMillionWrite +
      o.readUnits * PRICES.dynamoPerMillionRead +
      o.invocations * PRICES.lambdaPerMillionRequests) /
      1e6 +
    o.gbSeconds * perGbS
  );
}

/** DynamoDB operations that write (the API makes writes only to admit a POST into the pool). */
const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/**
 * Pipeline totals of one run: ops not made by the API, plus the API's per-POST ops (ingress sends,
 * admission writes), minus idle pollers' empty receives.
 */
export function pipelineCost(r: RunResult) {
  const admission = r.ops.filter((c: OpCount) => c.origin === 'api' && c.service === 'dynamodb' && WRITE_OPERATIONS.has(c.operation));
  const pipeline = [...r.ops.filter((c: OpCount) => c.origin !== 'api'), ...admission];
  const ingress = r.ops.filter((c: OpCount) => c.origin === 'api' && c.service === 'sqs');
  const sum = (list: OpCount[], f: (c: OpCount) => number) => list.reduce((s, c) => s + f(c), 0);
  const invocations = r.roles.reduce((s, x) => s + x.invocations, 0);
  const gbSeconds = r.roles.reduce((s, x) => s + (x.billedMs / 1000) * (ROLE_MEMORY_MB[x.role] / 1024), 0);
  return {
    sqsRequests:
      sum(pipeline, (c) => (c.service === 'sqs' ? c.billedRequests - c.emptyReceives : 0)) + sum(ingress, (c) => c.billedRequests),
    emptyReceives: sum(pipeline, (c) => c.emptyReceives),
    writeUnits: sum(pipeline, (c) => c.writeUnits),
    readUnits: sum(pipeline, (c) => c.readUnits),
    estimatedUnits: sum(pipeline, (c) => c.estimatedUnits),
    /** Write units of the state function's node writes (BatchWriteItem): the state tree, one item per node. */
    treeWriteUnits: sum(pipeline, (c) =>
      c.origin === 'state-function' && c.service === 'dynamodb' && c.operation === 'BatchWriteItem' ? c.writeUnits : 0,
    ),
    /** DynamoDB requests of the pipeline (each BatchWriteItem or TransactWriteItems counts once). */
    dynamoCalls: sum(pipeline, (c) => (c.service === 'dynamodb' ? c.calls : 0)),
    invocations,
    gbSeconds,
  };
}

/** Ops per checkpoint by role (origin with its event source merged), for the breakdown table. */
function byRole(r: RunResult, checkpoints: number) {
  const roles = new Map<string, { sqs: number; ddb: number; wru: number; rru: number }>();
  for (const c of r.ops) {
    const role = c.origin.replace(/-source$/, '');
    const e = roles.get(role) ?? { sqs: 0, ddb: 0, wru: 0, rru: 0 };
    if (c.service === 'sqs') e.sqs += c.billedRequests - c.emptyReceives;
    else e.ddb += c.calls;
    e.wru += c.writeUnits;
    e.rru += c.readUnits;
    roles.set(role, e);
  }
  return [...roles].map(([role, e]) => ({
    regions: r.regions,
    n: r.validators,
    role: role === 'api' ? 'api (ingress sends, admission writes; reads are mostly the load generator polling)' : role,
    'DDB calls/ckpt': e.ddb / checkpoints,
    'SQS req/ckpt': e.sqs / checkpoints,
    'DDB WRU/ckpt': e.wru / checkpoints,
    'DDB RRU/ckpt': e.rru / checkpoints,
    invocations: r.roles.find((x) => x.role === role)?.invocations ?? 0,
  }));
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2), {
    configs: '4x4,4x7,4x10,2x4',
    rate: '20',
    seconds: '15',
    drain: '30',
    'checkpoint-interval': '1',
    accounts: '0',
    'data-dir': join(tmpdir(), 'afg-bench-cost'),
  });
  const configs = f.configs!.split(',').map((c) => {
    const m = /^(\d+)x(\d+)$/.exec(c.trim());
    if (!m) throw new Error(`--configs: expected RxN items like 4x7 (regions x validators), got ${JSON.stringify(c)}`);
    return { regions: regionNames(Number(m[1])), validators: positive(m[2]!, 'configs') };
  });
  const rate = positive(f.rate!, 'rate');
  const seconds = positive(f.seconds!, 'seconds');
  const drain = positive(f.drain!, 'drain');
  const checkpointInterval = positive(f['checkpoint-interval']!, 'checkpoint-interval');
  const accounts = accountCount(f.accounts!);
  const started = performance.now();
  const loadAtStart = loadavg();
  const rows: Record<string, unknown>[] = [];
  const breakdown: Record<string, unknown>[] = [];
  const runs: unknown[] = [];
  for (const c of configs) {
    console.error(
      `cost: ${c.regions.length} regions, ${c.validators} validators, ${accounts} funded accounts: ${rate}/s for ${seconds} s, load average ${loadavg()[0]!.toFixed(1)}`,
    );
    const bench = await BenchCluster.start({
      regions: c.regions,
      validators: c.validators,
      checkpointInterval,
      accounts,
      dataDir: join(f['data-dir']!, `${c.regions.length}x${c.validators}`),
    });
    let r: RunResult;
    try {
      await runLoad(bench, { rate: 5, seconds: 2, drainSeconds: 20, senders: devSenders() }); // warm-up, not counted
      r = await runLoad(bench, { rate, seconds, drainSeconds: drain });
    } finally {
      await bench.stop();
    }
    const checkpoints = Math.max(1, r.checkpoints);
    const transfers = Math.max(1, r.load.finalized);
    const p = pipelineCost(r);
    const usd = dollars(p);
    rows.push({
      regions: r.regions,
      n: r.validators,
      t: bench.cluster.config.threshold,
      accounts: r.accounts,
      checkpoints: r.checkpoints,
      transfers: r.load.finalized,
      pending: r.load.pending,
      // The issue-13 bar: DynamoDB requests + SQS requests (sends, receives that returned messages, deletes) per checkpoint.
      callsPerCheckpoint: (p.dynamoCalls + p.sqsRequests) / checkpoints,
      'SQS req/ckpt': p.sqsRequests / checkpoints,
      'DDB WRU/ckpt': p.writeUnits / checkpoints,
      'DDB RRU/ckpt': p.readUnits / checkpoints,
      'Lambda inv/ckpt': p.invocations / checkpoints,
      'GB-s/ckpt': p.gbSeconds / checkpoints,
      '$/1M ckpt': (usd / checkpoints) * 1e6,
      '$/1M tx': (usd / transfers) * 1e6,
      '$/1M tx x86': (dollars(p, 'x86') / transfers) * 1e6,
      // Requests and units only (no Lambda duration): independent of the machine's speed and load.
      '$/1M tx counted': (dollars({ ...p, gbSeconds: 0 }) / transfers) * 1e6,
      'DDB WRU/tx': p.writeUnits / transfers,
      'tree WRU/tx': p.treeWriteUnits / transfers,
      'tx/ckpt': transfers / checkpoints,
      'empty receives/s': p.emptyReceives / r.windowSeconds,
      'estimated units %': (100 * p.estimatedUnits) / Math.max(1, p.writeUnits + p.readUnits),
      // Fewer than 3 finalized checkpoints in the window: the per-checkpoint figures are not meaningful.
      valid: r.checkpoints >= 3,
      load1: r.loadAverage.end[0],
    });
    breakdown.push(...byRole(r, checkpoints));
    runs.push({ ...r, cost: p, dollars: usd });
  }
  reportBench('cost', rows, {
    description:
      'AWS operations per finalized checkpoint (home region count) and per finalized transfer, counted by the SDK clients ' +
      "of a local run; pipeline only (roles + their event sources + the ingress send of each POST); idle pollers' empty " +
      'receives excluded (fixed cost per queue on AWS). $ at us-east-1 list prices, Lambda arm64 unless noted. GB-s from ' +
      'local handler wall times (overstated on a busy shared machine).',
    prices: PRICES,
    roleMemoryMb: ROLE_MEMORY_MB,
    setup: { rate, seconds, drainSeconds: drain, checkpointInterval, accounts },
    breakdown,
    runs,
    loadAverage: { start: loadAtStart, end: loadavg() },
    totalSeconds: (performance.now() - started) / 1000,
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
