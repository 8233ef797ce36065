/**
 * Shared harness of the end-to-end and cost benchmarks: starts a LocalCluster (real DynamoDB Local
 * and the fauxqs SQS emulator), instruments it, offers load through lib/local/load.ts and measures
 * one window:
 *   - what the load generator reports: offered, sent, skipped, accepted, refused by code, finalized,
 *     lost, finality latency (POST sent -> readable in every region) and the sustained finalized
 *     rate over the second half of the offer;
 *   - CPU, each process apart: this one (handlers, API servers, event sources, load generator, all
 *     in one event loop) with its event-loop utilisation, the DynamoDB Local JVM and the SQS
 *     emulator's Node process (both read from /proc/<pid>/stat);
 *   - per role: Lambda-style invocations, records and handler wall time (what Lambda bills);
 *   - AWS operations (bench/aws-ops.ts), attributed to the role whose handler made them, to the
 *     role's event source (receives and deletes, by queue), or to the API.
 *
 * The role attribution wraps each event source's handler (an AsyncLocalStorage scope around it).
 * SqsEventSource keeps its options private, so the wrap reaches into them; if that shape changes,
 * roles read 0 invocations and the ops fall back to the 'api' origin (the report would show it).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricName } from '../lib/handlers/telemetry.js';
import { LocalCluster } from '../lib/local/cluster.js';
import type { SqsBatchHandler } from '../lib/local/event-source.js';
import { devSenders, fundedSenders, LoadGenerator, type LoadStats, type SenderKey } from '../lib/local/load.js';
import { startMachineMeter } from '../lib/local/proc.js';
import { AwsOpsCounter, instrumentClients, type OpCount, type OpTotals } from './aws-ops.js';

export type Role = 'sequencer' | 'validator' | 'finalizer' | 'state-function';
export const ROLES: readonly Role[] = ['sequencer', 'validator', 'finalizer', 'state-function'];

/** Role of a queue by its name (afg-ingress, afg-proposals-m<i>, afg-votes, afg-finalized). */
export function roleOfQueue(name: string): Role | undefined {
  if (/-ingress$/.test(name)) return 'sequencer';
  if (/-proposals-m\d+$/.test(name)) return 'validator';
  if (/-votes$/.test(name)) return 'finalizer';
  if (/-finalized$/.test(name)) return 'state-function';
  return undefined;
}

export interface BenchClusterOptions {
  readonly regions: readonly string[];
  readonly validators: number;
  readonly checkpointInterval: number;
  readonly dataDir: string;
  readonly maxBlockTransactions?: number;
  /**
   * Funded genesis accounts beyond the ten dev accounts (`npm start -- --accounts N`, lib/core/accounts.ts);
   * the measured load spreads its transfers over them. Default 0: the dev accounts send.
   */
  readonly accounts?: number;
}

interface RoleCounters {
  invocations: number;
  records: number;
  busyMs: number;
  /** Sum of per-invocation durations rounded up to 1 ms, as Lambda bills them. */
  billedMs: number;
}

/** A started, instrumented cluster. */
export class BenchCluster {
  private readonly roles = new Map<Role, RoleCounters>();
  private readonly scope = new AsyncLocalStorage<Role>();
  readonly counter: AwsOpsCounter;
  wrappedSources = 0;
  /** Whether a run has sent from the funded accounts (their nonces are no longer all 0). */
  private fundedUsed = false;

  private constructor(
    readonly cluster: LocalCluster,
    readonly options: BenchClusterOptions,
  ) {
    for (const r of ROLES) this.roles.set(r, { invocations: 0, records: 0, busyMs: 0, billedMs: 0 });
    this.counter = new AwsOpsCounter((service, operation, input) => {
      const role = this.scope.getStore();
      if (role !== undefined) return role;
      const queue = typeof input.QueueUrl === 'string' ? input.QueueUrl.slice(input.QueueUrl.lastIndexOf('/') + 1) : '';
      const polled = service === 'sqs' && (operation === 'ReceiveMessage' || operation === 'DeleteMessageBatch');
      const queueRole = roleOfQueue(queue);
      if (polled && queueRole !== undefined) return `${queueRole}-source`;
      return 'api';
    });
  }

  /** Starts a fresh cluster (data in options.dataDir, deleted first) and instruments it. */
  static async start(options: BenchClusterOptions): Promise<BenchCluster> {
    const cluster = await LocalCluster.start({
      regions: options.regions,
      validators: options.validators,
      checkpointInterval: options.checkpointInterval,
      dataDir: options.dataDir,
      fresh: true,
      basePort: 0,
      ...(options.maxBlockTransactions === undefined ? {} : { maxBlockTransactions: options.maxBlockTransactions }),
      ...(options.accounts ? { accounts: options.accounts } : {}),
    });
    const bench = new BenchCluster(cluster, options);
    instrumentClients(cluster.aws, cluster.config.regions, bench.counter);
    for (const r of cluster.regions) for (const source of r.sources) bench.wrap(source);
    return bench;
  }

  private wrap(source: unknown): void {
    const opts = (source as { opts?: { handler?: SqsBatchHandler; queueUrl?: string } }).opts;
    if (typeof opts?.handler !== 'function' || typeof opts.queueUrl !== 'string') return;
    const role = roleOfQueue(opts.queueUrl.slice(opts.queueUrl.lastIndexOf('/') + 1));
    if (role === undefined) return;
    const inner = opts.handler;
    const counters = this.roles.get(role)!;
    opts.handler = (event, context) =>
      this.scope.run(role, async () => {
        const t0 = performance.now();
        try {
          return await inner(event, context);
        } finally {
          const ms = performance.now() - t0;
          counters.invocations++;
          counters.records += event.Records.length;
          counters.busyMs += ms;
          counters.billedMs += Math.ceil(ms);
        }
      });
    this.wrappedSources++;
  }

  /** Funded genesis accounts beyond the dev accounts (0 when none). */
  get accounts(): number {
    return this.options.accounts ?? 0;
  }

  /**
   * Who sends in a measured run: the funded accounts when the cluster has them (lib/local/load.ts
   * fundedSenders, as `npm start -- --accounts N --load R` does), else the dev accounts. The first
   * run from the funded accounts knows their nonces (0 on the new chain); a later one reads them from
   * the API (one GET per account). Warm-ups should send from `devSenders()` to keep the funded ones fresh.
   */
  loadSenders(): SenderKey[] {
    if (this.accounts === 0) return devSenders();
    const senders = fundedSenders(this.accounts, !this.fundedUsed);
    this.fundedUsed = true;
    return senders;
  }

  /** Copy of the per-role counters. */
  roleCounters(): Record<Role, RoleCounters> {
    return Object.fromEntries(ROLES.map((r) => [r, { ...this.roles.get(r)! }])) as Record<Role, RoleCounters>;
  }

  /** Sum of a telemetry counter over regions (or the home region's only). */
  metric(name: MetricName, region?: string): number {
    return this.cluster.regions
      .filter((r) => region === undefined || r.region === region)
      .reduce((s, r) => s + (r.telemetry.totals.get(name) ?? 0), 0);
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
  }
}

export interface RunOptions {
  /** Offered transfers per second. */
  readonly rate: number;
  /** Seconds of offered load. */
  readonly seconds: number;
  /** Extra seconds after the offer stops for accepted transfers to finalize (default 10). */
  readonly drainSeconds?: number;
  /** Finality poll interval of the load generator, ms (default 100; each poll reads every region's /v1/finality). */
  readonly pollMs?: number;
  /** Requests open at once over all senders (default 256). */
  readonly maxInFlight?: number;
  /** Requests open at once per sender (default 1). */
  readonly maxInFlightPerSender?: number;
  /** Who sends (default: bench.loadSenders(), the funded accounts when the cluster has them, else the dev accounts). */
  readonly senders?: readonly SenderKey[];
}

export interface RoleRow {
  role: Role;
  invocations: number;
  records: number;
  busyMs: number;
  billedMs: number;
  meanMs: number;
  /** Handler wall time per second of window, summed over that role's event sources (can exceed 1 with concurrency). */
  busyShare: number;
}

export interface RunResult {
  rate: number;
  seconds: number;
  regions: number;
  validators: number;
  checkpointInterval: number;
  /** Funded genesis accounts beyond the ten dev accounts (the state holds accounts + 10 at genesis). */
  accounts: number;
  load: LoadStats;
  /** Transfers that became final everywhere during the second half of the offer, per second (load.sustainedFinalizedPerSecond). */
  finalizedPerSecond: number;
  /** 202 answers per second during the second half of the offer. */
  acceptedPerSecond: number;
  windowSeconds: number;
  /** CPU ms and cores (ms per ms of window) per process; null where a process could not be read (not Linux, restarted). */
  cpu: {
    nodeCores: number;
    nodeMs: number;
    eventLoopUtilization: number;
    dynamoLocalCores: number | null;
    dynamoLocalMs: number | null;
    sqsEmulatorCores: number | null;
    sqsEmulatorMs: number | null;
  };
  roles: RoleRow[];
  /** Checkpoints finalized in the home region during the window, and blocks/transactions sequenced. */
  checkpoints: number;
  blocks: number;
  transactions: number;
  certificates: number;
  certificationMsMean: number;
  ops: OpCount[];
  /** Ops of the pipeline (roles and their event sources) and of the API (ingress sends and the load generator's reads). */
  pipeline: OpTotals;
  api: OpTotals;
  loadAverage: { start: number[]; end: number[] };
}

/**
 * Offers `rate` transfers/s for `seconds`, drains, and returns the window's measurements. Counters
 * (ops, roles, telemetry) are read as differences over the window, so several runs can share a cluster.
 */
export async function runLoad(bench: BenchCluster, o: RunOptions): Promise<RunResult> {
  const { cluster } = bench;
  const home = cluster.config.homeRegion;
  const load = await LoadGenerator.create({
    urls: cluster.urls,
    ratePerSecond: o.rate,
    pollMs: o.pollMs ?? 100,
    maxInFlight: o.maxInFlight ?? 256,
    ...(o.maxInFlightPerSender ? { maxInFlightPerSender: o.maxInFlightPerSender } : {}),
    senders: o.senders ?? bench.loadSenders(),
    onWarning: (m) => console.error(`bench: ${m}`),
  });
  const rolesBefore = bench.roleCounters();
  const telemetryBefore = {
    fin: bench.metric('Finalized', home),
    blocks: bench.metric('BlocksProposed'),
    txs: bench.metric('TransactionsSequenced'),
    certs: bench.metric('Certificates'),
    certMs: bench.metric('CertificationMs'),
  };
  bench.counter.reset();
  const elu0: EventLoopUtilization = performance.eventLoopUtilization();
  const machine = startMachineMeter(() => cluster.servicePids());
  const t0 = performance.now();
  load.start();
  // Sample the accepted count at mid-offer and at the end of the offer (the generator computes the finalized rate itself).
  await sleep((o.seconds * 1000) / 2);
  const mid = { t: performance.now(), s: load.stats() };
  await sleep((o.seconds * 1000) / 2);
  const end = { t: performance.now(), s: load.stats() };
  const stats = await load.stop({ drainMs: (o.drainSeconds ?? 10) * 1000 });
  const wallMs = performance.now() - t0;
  const figures = machine.read();
  const ms = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
  const cpuMs = figures.cpuSeconds.clusterProcess * 1000;
  const ddbMs = ms(figures.cpuSeconds.dynamodbLocal);
  const sqsMs = ms(figures.cpuSeconds.sqsEmulator);
  const elu = performance.eventLoopUtilization(elu0);
  const rolesAfter = bench.roleCounters();
  const windowSeconds = wallMs / 1000;
  const roles = ROLES.map((role): RoleRow => {
    const a = rolesAfter[role];
    const b = rolesBefore[role];
    const invocations = a.invocations - b.invocations;
    const busyMs = a.busyMs - b.busyMs;
    return {
      role,
      invocations,
      records: a.records - b.records,
      busyMs,
      billedMs: a.billedMs - b.billedMs,
      meanMs: invocations === 0 ? 0 : busyMs / invocations,
      busyShare: busyMs / wallMs,
    };
  });
  const certs = bench.metric('Certificates') - telemetryBefore.certs;
  const half = (end.t - mid.t) / 1000;
  return {
    rate: o.rate,
    seconds: o.seconds,
    regions: cluster.config.regions.length,
    validators: cluster.config.members.length,
    checkpointInterval: cluster.config.checkpointInterval,
    accounts: bench.accounts,
    load: stats,
    finalizedPerSecond: stats.sustainedFinalizedPerSecond,
    acceptedPerSecond: (end.s.accepted - mid.s.accepted) / half,
    windowSeconds,
    cpu: {
      nodeMs: cpuMs,
      nodeCores: cpuMs / wallMs,
      eventLoopUtilization: elu.utilization,
      dynamoLocalMs: ddbMs,
      dynamoLocalCores: ddbMs === null ? null : ddbMs / wallMs,
      sqsEmulatorMs: sqsMs,
      sqsEmulatorCores: sqsMs === null ? null : sqsMs / wallMs,
    },
    roles,
    checkpoints: bench.metric('Finalized', home) - telemetryBefore.fin,
    blocks: bench.metric('BlocksProposed') - telemetryBefore.blocks,
    transactions: bench.metric('TransactionsSequenced') - telemetryBefore.txs,
    certificates: certs,
    certificationMsMean: certs === 0 ? 0 : (bench.metric('CertificationMs') - telemetryBefore.certMs) / certs,
    ops: bench.counter.snapshot(),
    pipeline: bench.counter.totals((origin) => origin !== 'api'),
    api: bench.counter.totals((origin) => origin === 'api'),
    loadAverage: { start: [...figures.loadAverage.start], end: [...figures.loadAverage.end] },
  };
}
