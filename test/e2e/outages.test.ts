/**
 * Outage drills on `npm start` as a real child process, under a client load (test/helpers/
 * transfers.ts), with real SIGKILLs:
 *   1. DynamoDB Local, then the SQS emulator, killed: /v1/health turns 503 naming the dependency,
 *      POSTs are answered 503 (never 500), the supervisor brings the service back on the same port
 *      and data, finality resumes, and every accepted transfer is final exactly once in every region;
 *      a service that keeps dying stops the cluster with exit code 1 and the reason.
 *   2. The whole `npm start` process group SIGKILLed at random moments under load and restarted on
 *      the same data folder, AFG_DRILL_KILLS times (default 2): after each restart every accepted
 *      transfer is final exactly once in every region. The number of consecutive passing drills is
 *      printed.
 * Waits poll with bounded deadlines; nothing asserts on timing. Figures are printed for the report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NpmStart, processesMentioning, startNpm } from '../helpers/npm-start.js';
import { TransferLoad } from '../helpers/transfers.js';

const DRILL_KILLS = Number(process.env.AFG_DRILL_KILLS ?? 2);
const SETTLE_MS = 180_000;

/** Polls `check` every 250 ms until it returns a value; throws after `timeoutMs` with the last value or error seen. */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${String(last)})` : ''}`);
    await sleep(250);
  }
}

interface HealthSample {
  readonly url: string;
  readonly code: number;
  readonly status?: string;
  readonly failing: string[];
}

/** Polls every region's /v1/health every 100 ms until stop() (which returns every sample). */
function watchHealth(urls: readonly string[]) {
  const samples: HealthSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        urls.map(async (url) => {
          try {
            const res = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(5_000) });
            const body = (await res.json()) as { status?: string; failing?: string[] };
            samples.push({ url, code: res.status, ...(body.status ? { status: body.status } : {}), failing: body.failing ?? [] });
          } catch {
            samples.push({ url, code: 0, failing: [] });
          }
        }),
      );
      await sleep(100);
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

const healthCodes = async (urls: readonly string[]) =>
  Promise.all(urls.map((u) => fetch(`${u}/v1/health`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status)));

const finalizedHeights = async (urls: readonly string[]) =>
  Promise.all(
    urls.map(
      async (u) =>
        ((await (await fetch(`${u}/v1/finality`, { signal: AbortSignal.timeout(5_000) })).json()) as { finalized: { height: number } })
          .finalized.height,
    ),
  );

/** Stops the load and waits until every accepted transfer is final exactly once in every region. */
async function settle(load: TransferLoad, urls: readonly string[]): Promise<void> {
  await load.stop();
  await until(
    'every accepted transfer final exactly once in every region',
    async () => {
      const problem = await load.discrepancy(urls);
      if (problem !== undefined) throw new Error(problem);
      return true;
    },
    SETTLE_MS,
  );
}

async function gone(dir: string): Promise<void> {
  await until('no process left on the data folder', () => (processesMentioning(dir).length === 0 ? true : undefined), 30_000);
}

describe('embedded service outages under load (real processes, real SIGKILL)', () => {
  let dir: string;
  let npm: NpmStart;
  let load: TransferLoad;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'afg-outage-'));
    npm = await startNpm(dir, ['--fresh']);
    load = new TransferLoad(() => npm.urls);
    load.start();
    await until('the load to get going', () => (load.counts().accepted >= 5 ? true : undefined), 120_000);
  });

  afterAll(async () => {
    await load?.stop().catch(() => {});
    npm?.killGroup();
    await npm?.exited;
    if (dir) {
      await gone(dir).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const cases = [
    { service: 'dynamodb' as const, name: 'dynamodb-local', status: 'down', failing: /^dynamodb:/ },
    { service: 'sqs' as const, name: 'sqs-emulator', status: 'degraded', failing: /^sqs:/ },
  ];
  for (const c of cases)
    it(`${c.name} SIGKILLed under load: health 503 (${c.status}) naming it, POSTs never 500, back on its own, finality resumes`, async () => {
      const backNotes = () => npm.out().split(`${c.name}: back on`).length - 1;
      const notesBefore = backNotes();
      const heightsBefore = await finalizedHeights(npm.urls);
      const answersBefore = load.counts().answers;
      const watch = watchHealth(npm.urls);
      const pid = npm.servicePids()[c.service];
      expect(pid, 'service process id').toBeDefined();
      const killedAt = Date.now();
      process.kill(pid!, 'SIGKILL');
      // A submission right away meets the outage (DynamoDB's restart outlasts the SDK's retries; the SQS emulator's may not).
      const direct = await load.attempt(0);
      await until(`${c.name} back`, () => (backNotes() > notesBefore ? true : undefined), 60_000);
      const backAfterMs = Date.now() - killedAt;
      await until(
        'every region healthy again',
        async () => ((await healthCodes(npm.urls)).every((x) => x === 200) ? true : undefined),
        60_000,
      );
      const samples = await watch.stop();
      const during = samples.filter((s) => s.code === 503);
      expect(
        during.some((s) => s.status === c.status && s.failing.length > 0 && s.failing.every((f) => c.failing.test(f))),
        JSON.stringify(during.slice(0, 3)),
      ).toBe(true);
      const answers = load.counts().answers;
      const delta = (code: string) => (answers[code] ?? 0) - (answersBefore[code] ?? 0);
      console.info(
        `[outage] ${c.name}: back ${backAfterMs} ms after SIGKILL; ${during.length} health 503 samples; POST answers meanwhile ` +
          `202 x${delta('202')}, 503 x${delta('503')}, network x${delta('network')}; first POST after the kill ${direct ? 'accepted' : 'refused'}`,
      );
      for (const code of Object.keys(answers))
        expect(code === '202' || code === '503' || code === 'network', `POST answered ${code}`).toBe(true);
      if (c.service === 'dynamodb') expect(delta('503')).toBeGreaterThan(0);
      // Finality resumes: every region finalizes beyond where it was.
      const top = Math.max(...heightsBefore);
      await until(
        'finality to move on in every region',
        async () => ((await finalizedHeights(npm.urls)).every((h) => h > top + 1) ? true : undefined),
        SETTLE_MS,
      );
      // The status line (every few seconds) shows the restart.
      await until('the view to show the restart', () => (new RegExp(`${c.name} up, 1 restart`).test(npm.out()) ? true : undefined), 30_000);
    }, 300_000);

  it(
    'every accepted transfer is final exactly once in every region',
    async () => {
      await settle(load, npm.urls);
      console.info(`[outage] ${load.counts().accepted} accepted transfers final exactly once in all ${npm.urls.length} regions`);
      expect(load.counts().accepted).toBeGreaterThan(5);
    },
    SETTLE_MS + 30_000,
  );

  it('a service that keeps dying stops the cluster with exit code 1, saying which and why', async () => {
    const killed = new Set<number>();
    const exit = await until(
      'npm start to give up',
      async () => {
        if (npm.child.exitCode !== null || npm.child.signalCode !== null) return npm.exited;
        const pid = npm.servicePids().sqs;
        if (pid !== undefined && !killed.has(pid)) {
          killed.add(pid);
          process.kill(pid, 'SIGKILL');
        }
        return undefined;
      },
      120_000,
    );
    console.info(`[outage] the SQS emulator was killed ${killed.size} times before npm start gave up`);
    expect(exit.code).toBe(1);
    expect(npm.err()).toMatch(/sqs-emulator: exited unexpectedly and could not be kept running: 3 failed restarts in a row/);
    expect(npm.err()).toMatch(/stopping the cluster/);
    expect(npm.out()).toMatch(/^stopped in [\d.]+ s/m);
    await gone(dir);
  }, 180_000);
});

describe('whole-cluster SIGKILL drill', () => {
  let dir: string;
  let npm: NpmStart | undefined;

  afterAll(async () => {
    npm?.killGroup();
    await npm?.exited;
    if (dir) {
      await gone(dir).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    `SIGKILL of the whole npm start process group at random moments under load, ${DRILL_KILLS} time(s): after each restart on the same data folder every accepted transfer is final exactly once`,
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'afg-drill-'));
      let current = await startNpm(dir, ['--fresh']);
      npm = current;
      const load = new TransferLoad(() => current.urls);
      let passed = 0;
      for (let k = 1; k <= DRILL_KILLS; k++) {
        load.start();
        await until('the load to get going', () => (load.counts().accepted > 0 ? true : undefined), 120_000);
        const afterMs = Math.round(1_000 + Math.random() * 6_000);
        await sleep(afterMs);
        const acceptedAtKill = load.counts().accepted;
        current.killGroup();
        const exit = await current.exited;
        expect(exit.signal).toBe('SIGKILL');
        // Its services exit when their stdin closes; the next start must not race a dying DynamoDB Local.
        await gone(dir);
        current = await startNpm(dir);
        npm = current;
        // The load carries on against the restarted cluster (its uncertain transfers first), then settles.
        await until(
          'new transfers accepted after the restart',
          () => (load.counts().accepted >= acceptedAtKill + 5 ? true : undefined),
          120_000,
        );
        await settle(load, current.urls);
        passed++;
        console.info(
          `[drill] kill ${k}/${DRILL_KILLS}: ${afterMs} ms into the load, ${acceptedAtKill} accepted by then; after the restart ` +
            `${load.counts().accepted} accepted, all final exactly once in every region (${passed} consecutive drills passed)`,
        );
      }
      expect(passed).toBe(DRILL_KILLS);
      current.child.kill('SIGINT');
      expect((await current.exited).code).toBe(0);
      npm = undefined;
      await gone(dir);
    },
    120_000 + DRILL_KILLS * 300_000,
  );
});
