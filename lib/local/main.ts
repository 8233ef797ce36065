/**
 * `npm start`: runs the local multi-region cluster (LocalCluster) with a live terminal view and an
 * optional load generator, until Ctrl-C, SIGTERM or --duration. State persists in --data-dir
 * between runs; --fresh starts a new chain.
 *
 * Exit codes: 0 stopped normally; 1 start-up failed (e.g. Java missing, port in use), or an
 * embedded service died and could not be restarted (the cluster stops rather than run half-alive);
 * 2 bad usage (the message names the flag); 130 forced exit by a second Ctrl-C.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AfgError, ConfigError } from '../core/errors.js';
import type { Log } from '../handlers/telemetry.js';
import type { LocalCluster } from './cluster.js';
import { type DrillReport, DrillRunner } from './drill.js';
import { parseStartFlags, type StartOptions } from './flags.js';
import { devSenders, formatLoadSummary, fundedSenders, LoadGenerator, type LoadStats, loadSummaryJson } from './load.js';
import { type MachineFigures, startMachineMeter } from './proc.js';
import { ClusterView, formatUptime } from './view.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, forced: 130 } as const;

/** Where main writes; injectable for tests. */
export interface MainIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: MainIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/**
 * The topology a data folder was created with: reusing it with another one would mix two chains.
 * Followers are not part of it: one can join a kept chain at any start (it bootstraps from a snapshot).
 */
interface Topology {
  regions: readonly string[];
  validators: number;
  threshold: number;
  checkpointInterval: number;
  /** Funded genesis accounts beyond the dev accounts (absent in folders from before --accounts: 0). */
  accounts?: number;
}

const TOPOLOGY_FILE = 'topology.json';
const CONFIG_FILE = 'config.json';
/** A signal arriving this soon after the first is the same Ctrl-C relayed (tsx forwards it too), not a second one. */
const DUPLICATE_SIGNAL_MS = 1_000;
/** How long accepted transfers may still finalize after the load stops: longer for a planned stop. */
const DRAIN_MS = { duration: 15_000, signal: 3_000 } as const;
/** Where the load generator records senders whose transfers may still be in flight, for the next run. */
const LOAD_RECORD_FILE = 'load-senders.json';

/**
 * Runs the cluster until a stop is requested, then stops everything and prints a summary.
 * Returns the exit code; never calls process.exit except on a forced (second) Ctrl-C.
 */
export async function main(argv: readonly string[] = process.argv.slice(2), env = process.env, io: MainIo = processIo): Promise<number> {
  const parsed = parseStartFlags(argv, env);
  if (parsed.kind === 'help') {
    io.out(parsed.text);
    return EXIT.ok;
  }
  if (parsed.kind === 'error') {
    io.err(`error: ${parsed.message}\n(run \`npm start -- --help\` for usage)\n`);
    return EXIT.usage;
  }
  const saved = parsed.options.fresh ? undefined : await savedTopology(parsed.options.dataDir);
  // A kept chain keeps its genesis accounts when --accounts is not given.
  const o: StartOptions = { ...parsed.options, accounts: parsed.options.accounts ?? saved?.accounts ?? 0 };
  const mismatch = saved && topologyMismatch(saved, o);
  if (mismatch) {
    io.err(`error: --data-dir: ${o.dataDir} holds a cluster with ${mismatch}; pass --fresh to start over or choose another --data-dir\n`);
    return EXIT.usage;
  }

  const stop = stopRequests(io);
  try {
    return await run(o, io, stop, saved === undefined);
  } finally {
    stop.dispose();
  }
}

async function run(o: StartOptions, io: MainIo, stop: StopRequests, newChain: boolean): Promise<number> {
  const log = new NoteLog((line) => io.err(`${line}\n`));
  io.out(
    `starting ${o.regions.length} region(s) ${o.regions.join(', ')} (home ${o.regions[0]}), ${o.validators} validator(s), threshold ${o.threshold}, ` +
      `${o.followers.length > 0 ? `follower(s) ${o.followers.join(', ')}, ` : ''}` +
      `checkpoint interval ${o.checkpointInterval}${o.accounts ? `, ${o.accounts} funded accounts beyond the dev accounts` : ''}; ` +
      `data in ${o.dataDir}${o.fresh ? ' (fresh)' : ''}` +
      `${o.endpoint ? `; services at ${o.endpoint}` : '; starting DynamoDB Local and the SQS emulator'}\n`,
  );
  const startedAt = Date.now();
  // Loaded here, not at the top: usage errors and --help answer without loading the services.
  let modules: [typeof import('./cluster.js'), typeof import('./services.js')];
  try {
    modules = await Promise.all([import('./cluster.js'), import('./services.js')]);
  } catch (e) {
    // e.g. node:sqlite (used by the SQS emulator) is missing on Node < 22.5
    io.err(
      `error: could not load the cluster on Node ${process.versions.node} (npm start runs the pinned Node 22): ${(e as Error).message}\n`,
    );
    return EXIT.failed;
  }
  const [clusterModule, servicesModule] = modules;
  const starting = clusterModule.LocalCluster.start({
    regions: o.regions,
    followers: o.followers,
    validators: o.validators,
    threshold: o.threshold,
    checkpointInterval: o.checkpointInterval,
    dataDir: o.dataDir,
    fresh: o.fresh,
    basePort: o.port,
    ...(o.accounts ? { accounts: o.accounts } : {}),
    ...(o.pool ? { pool: o.pool } : {}),
    ...(o.viewTimeoutSeconds === undefined ? {} : { viewTimeoutSeconds: o.viewTimeoutSeconds }),
    ...(o.finalitySyncSeconds === undefined ? {} : { finalitySyncSeconds: o.finalitySyncSeconds }),
    ...(o.endpoint ? { endpoints: { dynamodb: o.endpoint, sqs: o.endpoint } } : {}),
    log,
    // Never rate-limited: an operator must see every exit and restart of a service.
    onServiceNote: (m) => log.notice(`[service] ${m}`),
  });
  stop.onFirst(() => io.err('stop requested: waiting for start-up to finish, then stopping (Ctrl-C again to force)\n'));
  let cluster: LocalCluster;
  try {
    cluster = await starting;
  } catch (e) {
    io.err(`error: ${e instanceof servicesModule.ServiceStartError ? e.message : startFailure(e, o)}\n`);
    return e instanceof ConfigError ? EXIT.usage : EXIT.failed;
  }
  const startupMs = Date.now() - startedAt;
  stop.onFirst(() => {});
  // A service the supervisor could not keep running stops the whole cluster.
  let serviceFailure: Error | undefined;
  void cluster.failure.then((e) => {
    serviceFailure = e;
    io.err(`error: ${e.message}\nstopping the cluster: it cannot make progress without this service\n`);
    stop.request('service-failed');
  });
  await writeFile(join(o.dataDir, TOPOLOGY_FILE), `${JSON.stringify(topologyOf(o), null, 2)}\n`).catch(() => {});
  // The cluster config, for tools that reach the tables directly (afg slashing-protection --config).
  await writeFile(join(o.dataDir, CONFIG_FILE), `${JSON.stringify(cluster.config, null, 2)}\n`).catch(() => {});
  io.out(
    `ready in ${(startupMs / 1000).toFixed(1)} s:\n${cluster.regions
      .map(
        (r) =>
          `  ${r.region.padEnd(16)} ${r.url}${r.follower ? '  (follower: no key share; follows the others, from a snapshot when it joins a running chain)' : ''}`,
      )
      .join('\n')}\n`,
  );
  io.out(`DynamoDB at ${cluster.aws.endpoints.dynamodb}, cluster config in ${join(o.dataDir, CONFIG_FILE)}\n`);

  let load: LoadGenerator | undefined;
  let view: ClusterView | undefined;
  let loadStats: LoadStats | undefined;
  let drill: DrillRunner | undefined;
  let drillReport: DrillReport | undefined;
  let machine: MachineFigures | undefined;
  let meter: ReturnType<typeof startMachineMeter> | undefined;
  let reason = 'signal';
  let stoppingErrors = 0;
  // Loud on stderr; above the live frame when the view redraws the terminal (stderr would tear it).
  const live = o.view && process.stdout.isTTY === true && (process.stdout.columns ?? 0) > 0;
  const warn = (m: string) => (view && live ? view.note(m) : io.err(`${m}\n`));
  try {
    if (!stop.requested && o.load > 0) {
      // With --accounts the load is spread over the funded accounts (each transfer from another one, round-robin).
      const senders = o.accounts ? fundedSenders(o.accounts, newChain) : devSenders();
      load = await LoadGenerator.create({
        urls: cluster.urls,
        ratePerSecond: o.load,
        senders,
        maxInFlight: o.maxInFlight,
        maxInFlightPerSender: o.maxInFlightPerSender,
        recordPath: join(o.dataDir, LOAD_RECORD_FILE),
        onNote: (m) => (view ? view.note(m) : io.err(`${m}\n`)),
        onWarning: warn,
      });
      meter = startMachineMeter(() => cluster.servicePids());
      load.start();
      io.out(
        `load: offering ${o.load} transfers/s (one every ${(1000 / o.load).toFixed(1)} ms) round-robin over the region APIs from ` +
          `${senders.length} senders (${o.accounts ? 'the funded accounts' : 'the dev accounts'}), at most ${o.maxInFlightPerSender} ` +
          `request(s) open per sender and ${o.maxInFlight} in all; ` +
          'a transfer that cannot be sent on time is skipped and reported\n',
      );
    }
    // Drill times count from here: the cluster is ready and the load (if any) has just started.
    if (!stop.requested && (o.load > 0 || o.drills.length > 0)) {
      drill = new DrillRunner(cluster, o.drills, (m) => (view ? view.note(m) : io.err(`${m}\n`)));
      drill.start();
    }
    const current = load;
    view = new ClusterView({
      regions: cluster.regions.map((r) => (r.follower ? { ...r, region: `${r.region} (f)` } : r)),
      services: () => cluster.serviceStatus(),
      ...(current ? { load: () => current.stats() } : {}),
      live,
    });
    log.sink = (line) => view!.note(line);
    if (!stop.requested) view.start();
    const timer = o.durationSeconds === undefined ? undefined : setTimeout(() => stop.request('duration'), o.durationSeconds * 1000);
    reason = await stop.wait();
    clearTimeout(timer);
    // While stopping, handlers fail as services go away (a terminal Ctrl-C also reaches DynamoDB Local): count, don't show.
    log.sink = () => {
      stoppingErrors++;
    };
    await view.stop();
    if (load) {
      const drainMs = reason === 'duration' ? DRAIN_MS.duration : reason === 'service-failed' ? 0 : DRAIN_MS.signal;
      if (load.stats().pending > 0) io.out(`load stopped; waiting up to ${drainMs / 1000} s for accepted transfers to finalize\n`);
      loadStats = await load.stop({ drainMs });
      machine = meter?.read();
    }
    drillReport = await drill?.stop();
  } catch (e) {
    io.err(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    reason = 'error';
  }
  const finalRows = await Promise.all(
    cluster.regions.map(async (r) => {
      try {
        const f = await r.runtime.query.finality();
        return `  ${r.region.padEnd(16)} head ${f.head.height}, finalized ${f.finalized.height}, applied ${f.applied.height}`;
      } catch {
        const last = view?.snapshot().rows.find((row) => row.region === r.region);
        return last
          ? `  ${r.region.padEnd(16)} head ${last.head}, finalized ${last.finalized}, applied ${last.applied} (last seen; services already stopping)`
          : `  ${r.region.padEnd(16)} unreadable`;
      }
    }),
  );
  io.out(`stopping (${reason})...\n`);
  const stopStarted = Date.now();
  await cluster.stop();
  const uptime = (Date.now() - startedAt) / 1000;
  io.out(
    [
      `stopped in ${((Date.now() - stopStarted) / 1000).toFixed(1)} s; up ${formatUptime(uptime)} (start-up ${(startupMs / 1000).toFixed(1)} s)`,
      ...finalRows,
      ...(log.suppressed > 0 ? [`  ${log.suppressed} log line(s) not shown (rate limit)`] : []),
      ...(stoppingErrors > 0
        ? [`  ${stoppingErrors} handler error(s) while stopping not shown (in-flight work is retried on the next start)`]
        : []),
      `state kept in ${o.dataDir} (\`npm start\` resumes, \`npm start -- --fresh\` starts over)`,
      ...(loadStats ? formatLoadSummary(loadStats, machine) : []),
      '',
    ].join('\n'),
  );
  if (loadStats) {
    for (const w of loadStats.warnings) io.err(`WARNING ${w}\n`);
    // The last line of stdout: the fixed interface scripts read (DESIGN.md section 7).
    const summary = loadSummaryJson(loadStats, machine);
    io.out(`${JSON.stringify(drillReport ? { load: { ...summary.load, ...drillSummaryJson(drillReport) } } : summary)}\n`);
  } else if (drillReport && o.drills.length > 0) io.out(`${JSON.stringify({ drill: drillSummaryJson(drillReport) })}\n`);
  if (serviceFailure) io.err(`error: stopped because ${serviceFailure.message.split('\n')[0]}\n`);
  return reason === 'error' || serviceFailure !== undefined ? EXIT.failed : EXIT.ok;
}

/**
 * The drill's part of the summary line: each region's finalized height, whether the regions up agree
 * on every checkpoint finalized in the run, and per kill the recovery figures (lib/local/drill.ts);
 * `recoverySeconds` at the top is the first kill's (null when finality did not resume).
 */
function drillSummaryJson(r: DrillReport): Record<string, unknown> {
  const firstKill = r.steps.find((s) => s.action === 'kill');
  return {
    finalizedByRegion: r.finalizedByRegion,
    finalizedAgree: r.finalizedAgree,
    agreementCheckedHeights: [r.agreementCheckedFrom, r.agreementCheckedUpTo],
    ...(r.disagreements.length > 0 ? { disagreements: r.disagreements } : {}),
    ...(firstKill ? { recoverySeconds: firstKill.recoverySeconds ?? null } : {}),
    ...(r.steps.length > 0 ? { drills: r.steps } : {}),
  };
}

/**
 * Drops Node's "SQLite is an experimental feature" warning (the SQS emulator persists queues with
 * node:sqlite); every other warning is printed as usual.
 */
function quietSqliteWarning(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name === 'ExperimentalWarning' && /SQLite/i.test(w.message)) return;
    for (const print of printers) print.call(process, w);
  });
}

/** One line for a start-up failure other than ServiceStartError (whose message names the fix), never a stack. */
function startFailure(e: unknown, o: StartOptions): string {
  const code = (e as { code?: unknown }).code;
  if (code === 'EADDRINUSE')
    return `--port: a port in ${o.port}..${o.port + o.regions.length + o.followers.length - 1} is in use (pass --port or PORT, or 0 for free ports)`;
  if (e instanceof AfgError) return e.message;
  if (o.endpoint && (code === 'ECONNREFUSED' || (e as Error)?.name === 'TimeoutError'))
    return `--endpoint: ${o.endpoint} does not answer (is LocalStack running?): ${(e as Error).message}`;
  return `start-up failed: ${e instanceof Error ? e.message : String(e)}`;
}

function topologyOf(o: StartOptions): Topology {
  return {
    regions: o.regions,
    validators: o.validators,
    threshold: o.threshold,
    checkpointInterval: o.checkpointInterval,
    accounts: o.accounts ?? 0,
  };
}

/** The topology recorded in a data folder, or undefined when there is none (a new chain). */
async function savedTopology(dataDir: string): Promise<Topology | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, TOPOLOGY_FILE), 'utf8')) as Topology;
  } catch {
    return undefined;
  }
}

/** Describes how the data folder's recorded topology differs from the flags, or undefined when they agree. */
function topologyMismatch(saved: Topology, o: StartOptions): string | undefined {
  const want = topologyOf(o);
  const diffs: string[] = [];
  if (saved.regions?.join(',') !== want.regions.join(',')) diffs.push(`--regions ${saved.regions?.join(',')}`);
  if (saved.validators !== want.validators) diffs.push(`--validators ${saved.validators}`);
  if (saved.threshold !== want.threshold) diffs.push(`--threshold ${saved.threshold}`);
  if (saved.checkpointInterval !== want.checkpointInterval) diffs.push(`--checkpoint-interval ${saved.checkpointInterval}`);
  if ((saved.accounts ?? 0) !== want.accounts) diffs.push(`--accounts ${saved.accounts ?? 0}`);
  return diffs.length > 0 ? diffs.join(' ') : undefined;
}

interface StopRequests {
  readonly requested: boolean;
  /** Resolves with the reason of the first request ('SIGINT', 'SIGTERM', 'duration'). */
  wait(): Promise<string>;
  request(reason: string): void;
  /** Runs `f` on the first request if it comes before wait() is called. */
  onFirst(f: () => void): void;
  dispose(): void;
}

/**
 * SIGINT/SIGTERM handling: the first signal requests a clean stop, a second one (after
 * DUPLICATE_SIGNAL_MS) forces exit; java dies with us either way (see services.ts).
 */
function stopRequests(io: MainIo): StopRequests {
  let reason: string | undefined;
  let firstAt = 0;
  let waiting = false;
  let early: (() => void) | undefined;
  let resolve!: (r: string) => void;
  const done = new Promise<string>((r) => {
    resolve = r;
  });
  const request = (r: string) => {
    if (reason !== undefined) return;
    reason = r;
    firstAt = Date.now();
    if (!waiting) early?.();
    resolve(r);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (reason === undefined) {
      io.err(`\n${signal}: stopping cleanly (Ctrl-C again to force)\n`);
      request(signal);
      return;
    }
    if (Date.now() - firstAt < DUPLICATE_SIGNAL_MS) return;
    io.err(`${signal} again: forced exit\n`);
    process.exit(EXIT.forced);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get requested() {
      return reason !== undefined;
    },
    wait: () => {
      waiting = true;
      return done;
    },
    request,
    onFirst: (f) => {
      early = f;
    },
    dispose: () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
}

/**
 * The handlers' log, shown as notes: warnings and errors always, info lines too, at most
 * MAX_PER_SECOND lines a second (the rest are counted) so a flood cannot drown the view.
 */
class NoteLog implements Log {
  static readonly MAX_PER_SECOND = 5;
  suppressed = 0;
  private second = 0;
  private inSecond = 0;
  constructor(public sink: (line: string) => void) {}
  info(message: string, ...extra: Record<string, unknown>[]): void {
    this.write('info', message, extra);
  }
  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.write('warn', message, extra);
  }
  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.write('error', message, extra);
  }
  debug(): void {}
  /** A line that is always shown (not counted against the rate limit). */
  notice(line: string): void {
    this.sink(line.slice(0, 400));
  }
  private write(level: string, message: string, extra: Record<string, unknown>[]): void {
    const s = Math.floor(Date.now() / 1000);
    if (s !== this.second) {
      this.second = s;
      this.inSecond = 0;
    }
    if (++this.inSecond > NoteLog.MAX_PER_SECOND) {
      this.suppressed++;
      return;
    }
    const detail =
      extra.length > 0 ? ` ${JSON.stringify(Object.assign({}, ...extra), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}` : '';
    this.sink(`[${level}] ${message}${detail}`.slice(0, 400));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  quietSqliteWarning();
  const code = await main();
  process.exitCode = code;
  // Everything is stopped; do not let a lingering keep-alive socket hold the process open.
  setTimeout(() => process.exit(code), 2_000).unref();
}
