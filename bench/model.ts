/**
 * A model of finality latency on AWS (npm run bench:model): the serial chain a transfer takes through
 * the pipeline, priced with published per-operation latencies, and the compute of each step measured
 * here. Writes bench/results/model.json with `predictedAwsP50Ms` and `predictedAwsP99Ms` for the
 * default 4-region topology (n = 4, t = 3, K = 1), and the chain it used.
 *
 *   npx tsx bench/model.ts [--samples 20000] [--transactions 10] [--cost bench/results/cost.json]
 *
 * The chain, from the moment the client sends its POST (client in the home region):
 *   API (HTTP API + warm Lambda) -> ingress queue -> sequencer (its DynamoDB calls, block execution)
 *   -> proposal to every region's validator inbox (cross-region transit + queue)
 *   -> validator (execute the block, watermark write, sign) -> vote to every region (transit + queue)
 *   -> finalizer, at the t-th vote to arrive (verify, slot write, certificate write, head write)
 *   -> justified notice to the region's validator (queue) -> second vote round, as above
 *   -> finalizer certifies the next link: the transfer's block is final -> finalized notice (queue)
 *   -> state function (head, applied and block reads, execution, node writes, applied write)
 *   -> readable; the latency is when the last region can serve it, plus one API read.
 * The sequencer proposes the finalizing block at once (lib/pipeline/sequencer.ts), so the second
 * round waits only for the first certificate. Each hop's latency is drawn from a log-normal fitted
 * to its published p50 and p99, independently per hop and region, over `samples` transfers; the
 * percentiles are of the end-to-end times. Compute is measured in this process and scaled to the
 * role's Lambda size (a function has one vCPU at 1,769 MB, proportionally less below).
 *
 * What the model leaves out: cold starts, queueing under load (the transfer meets an idle pipeline,
 * as at 20 transfers/s when rounds are not saturated), retries, and the client's own distance to
 * the farthest region when it polls there.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Command } from 'commander';
import { combine, deal, signShare } from '../lib/core/bls.js';
import { wasmBlsCrypto } from '../lib/core/bls-wasm.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../lib/core/chain.js';
import { ed25519PublicKey } from '../lib/core/ed25519.js';
import { signTransfer, TransferLedger } from '../lib/core/ledger.js';
import { MemoryNodeStore, SparseMerkleTree } from '../lib/core/smt.js';
import { mulberry32 } from '../lib/sim/memory-cluster.js';
import { ROLE_MEMORY_MB } from './cost.js';
import { reportBench } from './report.js';

/** Published latencies, milliseconds (p50, p99), with where each figure comes from. */
export const LATENCIES = {
  sqsToLambda: {
    p50: 16.2,
    p99: 105,
    source:
      'Bite-Sized Serverless, "Serverless Messaging: Latency Compared" (2022, eu-west-1): SQS standard queue, producer publish to consumer Lambda via event source mapping',
  },
  apiGatewayLambda: {
    p50: 15,
    p99: 60,
    source: 'assumption: HTTP API + warm Lambda overhead per request (AWS publishes no percentile; typical figures 10-20 ms)',
  },
  dynamoRead: {
    p50: 4,
    p99: 12,
    source:
      'AWS Database Blog, "Understanding Amazon DynamoDB latency": single-digit millisecond service-side; client-observed GetItem assumed 4 / 12 ms',
  },
  dynamoWrite: {
    p50: 7,
    p99: 20,
    source: 'as dynamoRead; conditional UpdateItem/PutItem assumed 7 / 20 ms client-observed',
  },
  /** Round trips between regions (ms, average ping); one-way transit is half. */
  interRegionRtt: {
    source:
      'average inter-region ping, "Latency Between AWS Global Regions" as tabulated at acomputerscientistlearnsaws.blogspot.com/2017/04/aws-regions.html (cloudping.co shows similar figures); p99 taken as 1.3 x average',
    table: {
      'us-east-1|eu-west-1': 80.5,
      'us-east-1|ap-northeast-1': 145.3,
      'us-east-1|sa-east-1': 119.5,
      'eu-west-1|ap-northeast-1': 212.4,
      'eu-west-1|sa-east-1': 191.3,
      'ap-northeast-1|sa-east-1': 256.8,
    } as Record<string, number>,
  },
} as const;

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const THRESHOLD = 3;
/** A Lambda function has one full vCPU at this memory size (AWS Lambda documentation). */
const FULL_VCPU_MB = 1769;

interface Dist {
  p50: number;
  p99: number;
}

/** Log-normal sampler matching p50 and p99. */
function sampler(random: () => number) {
  const normal = () => {
    const u = Math.max(random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  return (d: Dist): number => {
    if (d.p50 <= 0) return 0;
    const sigma = Math.max(0, Math.log(d.p99 / d.p50) / 2.326);
    return d.p50 * Math.exp(sigma * normal());
  };
}

function rtt(a: string, b: string): number {
  if (a === b) return 0;
  const t = LATENCIES.interRegionRtt.table;
  return t[`${a}|${b}`] ?? t[`${b}|${a}`] ?? 150;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** Milliseconds per call of `fn`, median of `runs` after a warm-up. */
async function timeMs(fn: () => unknown | Promise<unknown>, runs = 15): Promise<number> {
  await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return median(out);
}

/** The compute of each step, measured in this process. */
async function measureCompute(transactions: number) {
  const dealing = deal(4, 3);
  const wasm = await wasmBlsCrypto();
  const message = new Uint8Array(195).fill(1);
  const signature = signShare(dealing.shares[0]!.secretKey, message);
  let fresh = 0;
  const partials = [1, 2, 3].map((index) => ({ index, signature: signShare(dealing.shares[index - 1]!.secretKey, message) }));
  const ledger = new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(new MemoryNodeStore()) });
  const root = await ledger.genesis();
  // Transfers from the dev accounts 0-4 to 5-9, nonces in order per sender.
  const txs = Array.from({ length: transactions }, (_, i) =>
    signTransfer(LOCAL_CHAIN_ID, devSecretKey(i % 5), {
      to: ed25519PublicKey(devSecretKey(5 + (i % 5))),
      amount: 1n,
      nonce: BigInt(Math.floor(i / 5)),
    }),
  );
  return {
    verifyPartialMs: await timeMs(() => wasm.verify(dealing.shares[0]!.publicKey, message, signature)),
    signFreshMs: await timeMs(() => signShare(dealing.shares[0]!.secretKey, new Uint8Array(195).fill(++fresh % 250))),
    combineMs: await timeMs(() => combine(partials, 3)),
    // The same block each time from the same root: the executed block's transfers all apply.
    executeBlockMs: await timeMs(() => ledger.execute(root, txs)),
  };
}

/** Calls per invocation of each role in the last local cost run (bench/results/cost.json, 4x4 row). */
function measuredCalls(path: string): { source: string; perInvocation: Record<string, { dynamo: number; sends: number }> } | undefined {
  try {
    const cost = JSON.parse(readFileSync(path, 'utf8'));
    const run = cost.runs.find((r: { regions: number; validators: number }) => r.regions === 4 && r.validators === 4);
    if (!run) return undefined;
    const perInvocation: Record<string, { dynamo: number; sends: number }> = {};
    for (const role of run.roles as { role: string; invocations: number; records: number }[]) {
      const ops = (run.ops as { origin: string; service: string; operation: string; calls: number }[]).filter(
        (o) => o.origin === role.role,
      );
      const dynamo = ops.filter((o) => o.service === 'dynamodb').reduce((n, o) => n + o.calls, 0);
      const sends = ops.filter((o) => o.service === 'sqs').reduce((n, o) => n + o.calls, 0);
      perInvocation[role.role] = { dynamo: dynamo / role.records, sends: sends / role.records };
    }
    return { source: `${path} (${cost.date}), per record handled`, perInvocation };
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const cli = new Command()
    .option('--samples <n>', 'simulated transfers', (v) => Number.parseInt(v, 10), 20_000)
    .option('--transactions <n>', 'transfers in the block', (v) => Number.parseInt(v, 10), 10)
    .option('--cost <file>', 'local cost run to read calls per role from', 'bench/results/cost.json')
    .parse(process.argv);
  const opts = cli.opts<{ samples: number; transactions: number; cost: string }>();
  if (!Number.isInteger(opts.samples) || opts.samples < 100) throw new Error('--samples: expected an integer >= 100');
  if (!Number.isInteger(opts.transactions) || opts.transactions < 1) throw new Error('--transactions: expected an integer >= 1');
  const loadStart = loadavg();
  const compute = await measureCompute(opts.transactions);
  const measured = measuredCalls(opts.cost);
  const cpu = (role: keyof typeof ROLE_MEMORY_MB) => Math.max(1, FULL_VCPU_MB / ROLE_MEMORY_MB[role]);

  // Serial calls on the critical path of each step (read from the code, checked against the local run's averages).
  const chainCalls = {
    sequencer: { reads: 3, writes: 3, note: 'head, finality head and pool reads; pool, block and head writes' },
    validator: { reads: 0, writes: 1, note: 'the watermark write (the block comes in the proposal; parent state in memory)' },
    finalizerCertifying: { reads: 0, writes: 3, note: "the t-th vote's slot write, the certificate, the head" },
    stateFunction: { reads: 3, writes: 2, note: 'head, applied and block reads; node batch and applied writes' },
  };

  const random = mulberry32(0x0de1);
  const draw = sampler(random);
  const hop = () => draw(LATENCIES.sqsToLambda);
  const read = () => draw(LATENCIES.dynamoRead);
  const write = () => draw(LATENCIES.dynamoWrite);
  const transit = (a: string, b: string) => {
    const oneWay = rtt(a, b) / 2;
    return oneWay === 0 ? 0 : draw({ p50: oneWay, p99: oneWay * 1.3 });
  };
  const calls = (c: { reads: number; writes: number }) => {
    let t = 0;
    for (let i = 0; i < c.reads; i++) t += read();
    for (let i = 0; i < c.writes; i++) t += write();
    return t;
  };
  const home = REGIONS[0]!;
  const steps: Record<string, number[]> = {};
  const mark = (name: string, t: number) => {
    steps[name] ??= [];
    steps[name]!.push(t);
  };
  const totals: number[] = [];

  /** A vote round: validators start at `start[r]`, each region's finalizer certifies at the t-th arrival. */
  const round = (start: Record<string, number>): Record<string, number> => {
    const votesSent = Object.fromEntries(
      REGIONS.map((r) => [r, start[r]! + calls(chainCalls.validator) + compute.signFreshMs * cpu('validator')]),
    );
    return Object.fromEntries(
      REGIONS.map((q) => {
        const arrivals = REGIONS.map((r) => votesSent[r]! + transit(r, q) + hop() + compute.verifyPartialMs * cpu('finalizer')).sort(
          (a, b) => a - b,
        );
        return [q, arrivals[THRESHOLD - 1]! + calls(chainCalls.finalizerCertifying) + compute.combineMs * cpu('finalizer')];
      }),
    );
  };

  for (let i = 0; i < opts.samples; i++) {
    const atIngress = draw(LATENCIES.apiGatewayLambda) + hop();
    const proposed = atIngress + calls(chainCalls.sequencer) + compute.executeBlockMs * cpu('sequencer');
    mark('1 sequencer proposes (home)', proposed);
    const atValidator = Object.fromEntries(
      REGIONS.map((r) => [r, proposed + transit(home, r) + hop() + compute.executeBlockMs * cpu('validator')]),
    );
    mark('2 last validator has executed the block', Math.max(...Object.values(atValidator)));
    const justified = round(atValidator);
    mark('3 block justified in the last region', Math.max(...Object.values(justified)));
    // Second round: each region's validator hears its own finalizer's notice (the next block is already there).
    const notified = Object.fromEntries(REGIONS.map((r) => [r, justified[r]! + hop() + compute.verifyPartialMs * cpu('validator')]));
    const finalized = round(notified);
    for (const q of REGIONS) finalized[q] = Math.max(finalized[q]!, justified[q]!);
    mark('4 block finalized in the last region', Math.max(...Object.values(finalized)));
    const readable = REGIONS.map(
      (q) => finalized[q]! + hop() + calls(chainCalls.stateFunction) + compute.executeBlockMs * cpu('state-function'),
    );
    mark('5 state readable in the last region', Math.max(...readable));
    const total = Math.max(...readable) + draw(LATENCIES.apiGatewayLambda) + read();
    totals.push(total);
  }

  const chain = Object.entries(steps).map(([step, ts]) => ({ step, p50Ms: median(ts), p99Ms: percentile(ts, 99) }));
  const predictedAwsP50Ms = median(totals);
  const predictedAwsP99Ms = percentile(totals, 99);
  reportBench('model', chain, {
    description:
      'Predicted AWS latency from POST sent to readable in every region, 4 regions (us-east-1 home, eu-west-1, ap-northeast-1, sa-east-1), n = 4, t = 3, K = 1, idle pipeline. Rows: when each step completes (p50/p99 over the samples).',
    predictedAwsP50Ms,
    predictedAwsP99Ms,
    target: { what: 'predicted AWS p50 <= 1000 ms for 4 regions', met: predictedAwsP50Ms <= 1000 },
    samples: opts.samples,
    transactionsPerBlock: opts.transactions,
    latencies: LATENCIES,
    computeMs: compute,
    lambdaCpuScale: { note: `compute x max(1, ${FULL_VCPU_MB} MB / role memory)`, roleMemoryMb: ROLE_MEMORY_MB },
    chainCalls,
    measuredCallsPerRecord: measured ?? 'no local cost run found',
    loadAverage: { start: loadStart, end: loadavg() },
  });
}

await main();
