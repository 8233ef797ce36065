/**
 * `npm start` as a real child process for drills: lib/local/main.ts under Node with tsx, in its own
 * process group (so a drill can SIGKILL the whole group, as a crash or `kill -9 -PGID` would), on
 * free ports and a data folder of the test's own. Gives its URLs, its output, its embedded services'
 * process ids (read from the process table), and its exit.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface NpmStart {
  readonly child: ChildProcess;
  readonly urls: string[];
  /** Everything it printed so far. */
  out(): string;
  err(): string;
  /** Resolves when it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Process ids of its DynamoDB Local (java) and SQS emulator (node sqs-server.mjs) children, when running. */
  servicePids(): { dynamodb?: number; sqs?: number };
  /** SIGKILL of the whole process group (main process; its services die when their stdin closes). */
  killGroup(): void;
}

/** Starts `npm start` on `dataDir` with `args` and waits for its "ready" line. Throws with its output when it exits first. */
export async function startNpm(dataDir: string, args: readonly string[] = [], timeoutMs = 150_000): Promise<NpmStart> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'lib/local/main.ts', '--data-dir', dataDir, '--port', '0', '--no-view', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const deadline = Date.now() + timeoutMs;
  let urls: string[] | undefined;
  while (urls === undefined) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`npm start exited (${child.exitCode}) before ready:\n${out}\n${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`npm start not ready within ${timeoutMs} ms:\n${out}\n${err}`);
    }
    const m = /^ready in [\d.]+ s:\n((?: {2}\S+ +http:\/\/\S+\n)+)/m.exec(out);
    if (m) urls = [...m[1]!.matchAll(/http:\/\/\S+/g)].map((x) => x[0]);
    else await sleep(100);
  }
  return {
    child,
    urls,
    out: () => out,
    err: () => err,
    exited,
    servicePids: () => servicePids(child.pid!),
    killGroup: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** The java and sqs-server.mjs children of `parent`. */
function servicePids(parent: number): { dynamodb?: number; sqs?: number } {
  const out: { dynamodb?: number; sqs?: number } = {};
  for (const line of execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m || Number(m[2]) !== parent) continue;
    if (/\bjava\b.*DynamoDbLocalLoopback/.test(m[3]!)) out.dynamodb = Number(m[1]);
    if (/sqs-server\.mjs/.test(m[3]!)) out.sqs = Number(m[1]);
  }
  return out;
}

/** Processes whose command line mentions `text` (e.g. a data folder): what a killed cluster may leave behind. */
export function processesMentioning(text: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(text) && !line.includes(' ps -eo'));
}
