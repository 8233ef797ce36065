/**
 * End to end over the real local cluster (embedded DynamoDB Local + SQS emulator, 4 regions, one
 * validator each, threshold 3), through the public HTTP API only, as a client would:
 *   1. a bad transaction is refused with 400 and a reason;
 *   2. transfers (two from one sender with consecutive nonces) finalize, and every region answers
 *      the same balances with certificates and proofs the client verifier accepts;
 *   3. every region reports the same finalized hashes and state roots at common heights;
 *   4. `npm start` (lib/local/main.ts, a child process) on the same data folder resumes where the
 *      cluster stopped: applied heights continue, balances are unchanged (nothing applied twice), a
 *      new transfer finalizes; SIGINT stops it cleanly with a summary and leaves no process behind.
 * Waits poll with bounded deadlines; nothing asserts on timing. Figures are printed for the report.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/cli/main.js';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import { DEV_GENESIS_BALANCE, devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { verifyAccountAnswer, verifyCertificate } from '../../lib/core/verifier.js';
import { transactionToJson } from '../../lib/core/wire.js';
import { LocalCluster } from '../../lib/local/cluster.js';
import { DEFAULT_REGIONS } from '../../lib/local/flags.js';

const FINALITY_DEADLINE_MS = 120_000;

/** Runs the afg CLI in this process, capturing its output. */
async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    fetch,
  });
  return { code, out, err };
}
const dev = (i: number) => ed25519PublicKey(devSecretKey(i));
const devHex = (i: number) => toHex(dev(i));

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field below
  body: any;
}

async function http(url: string, init?: { method: 'POST'; body: unknown }): Promise<Answer> {
  const res = await fetch(url, {
    ...(init ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const transfer = (from: number, to: number, amount: bigint, nonce: bigint, chainId = LOCAL_CHAIN_ID) =>
  transactionToJson(signTransfer(chainId, devSecretKey(from), { to: dev(to), amount, nonce }));

/** Polls `check` every 250 ms until it returns a value; throws after `timeoutMs`, showing the last value seen. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = FINALITY_DEADLINE_MS): Promise<T> {
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
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(250);
  }
}

/** Each region's account answers for dev accounts 0..4, once every one matches `balances` (and nonce 0 and 3 as given). */
async function accountsEverywhere(urls: readonly string[], want: { balances: bigint[]; nonces: Record<number, bigint> }) {
  return until(`balances ${want.balances.join(',')} in every region`, async () => {
    const answers = await Promise.all(urls.map((u) => Promise.all(want.balances.map((_, i) => http(`${u}/v1/accounts/${devHex(i)}`)))));
    for (const region of answers)
      for (const [i, a] of region.entries()) {
        if (a.status !== 200 || BigInt(a.body.balance) !== want.balances[i]) return undefined;
        if (want.nonces[i] !== undefined && BigInt(a.body.nonce) !== want.nonces[i]) return undefined;
      }
    return answers.map((region) => region.map((a) => a.body));
  });
}

const G = DEV_GENESIS_BALANCE;

describe('local cluster end to end', () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let urls: string[] = [];
  let groupPublicKey: Uint8Array;
  let threshold: number;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'afg-e2e-'));
    const t0 = Date.now();
    cluster = await LocalCluster.start({
      regions: DEFAULT_REGIONS,
      validators: 4,
      checkpointInterval: 1,
      dataDir: dir,
      fresh: true,
      basePort: 0,
    });
    console.info(`[e2e] cluster start-up: ${Date.now() - t0} ms`);
    urls = cluster.urls;
  });

  afterAll(async () => {
    await cluster?.stop();
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves one validator set in every region, matching the dealt keys', async () => {
    const sets = await Promise.all(urls.map((u) => http(`${u}/v1/validators`)));
    const dealt = JSON.parse(readFileSync(join(dir, 'keys', 'cluster.json'), 'utf8')) as { groupPublicKey: string };
    for (const s of sets) {
      expect(s.status).toBe(200);
      expect(s.body).toMatchObject({
        chainId: toHex(LOCAL_CHAIN_ID),
        n: 4,
        threshold: 3,
        checkpointInterval: 1,
        groupPublicKey: dealt.groupPublicKey,
      });
      expect(s.body.members.map((m: { region: string }) => m.region)).toEqual([...DEFAULT_REGIONS]);
    }
    groupPublicKey = fromHex(dealt.groupPublicKey, 96, 'groupPublicKey');
    threshold = sets[0]!.body.threshold;
  });

  it('refuses a bad transaction with 400 and a reason', async () => {
    const otherChain = await http(`${urls[0]}/v1/transactions`, {
      method: 'POST',
      body: transfer(0, 1, 5n, 0n, new Uint8Array(32).fill(7)),
    });
    expect(otherChain.status).toBe(400);
    expect(otherChain.body.error).toMatchObject({ code: 'BAD_SIGNATURE' });
    expect(otherChain.body.error.message).toMatch(/signature/);

    const { signature: _, ...unsigned } = transfer(0, 1, 5n, 0n);
    const missing = await http(`${urls[1]}/v1/transactions`, { method: 'POST', body: unsigned });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/signature/);

    const badAmount = await http(`${urls[2]}/v1/transactions`, { method: 'POST', body: { ...transfer(0, 1, 5n, 0n), amount: '-5' } });
    expect(badAmount.status).toBe(400);
    expect(badAmount.body.error.message).toMatch(/amount/);
  });

  it('finalizes transfers submitted to different regions; every region answers verified balances', async () => {
    const t0 = Date.now();
    const sent = [
      await http(`${urls[0]}/v1/transactions`, { method: 'POST', body: transfer(0, 1, 100n, 0n) }),
      await http(`${urls[1]}/v1/transactions`, { method: 'POST', body: transfer(0, 2, 50n, 1n) }), // same sender, next nonce
      await http(`${urls[2]}/v1/transactions`, { method: 'POST', body: transfer(3, 4, 7n, 0n) }),
    ];
    for (const s of sent) {
      expect(s.status).toBe(202);
      expect(s.body.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    const balances = [G - 150n, G + 100n, G + 50n, G - 7n, G + 7n];
    const answers = await accountsEverywhere(urls, { balances, nonces: { 0: 2n, 3: 1n } });
    console.info(`[e2e] first transfers final and readable in all ${urls.length} regions: ${Date.now() - t0} ms after submission`);

    const opts = { groupPublicKey, chainId: LOCAL_CHAIN_ID, checkpointInterval: 1, threshold };
    for (const region of answers)
      for (const [i, a] of region.entries()) {
        const v = verifyAccountAnswer(a, { ...opts, account: dev(i) });
        expect(v.ok, v.ok ? '' : JSON.stringify(v.failures)).toBe(true);
        if (v.ok) expect(v.balance).toBe(balances[i]);
      }
    // The same answer with a changed balance is caught by the proof check.
    const forged = verifyAccountAnswer({ ...answers[0]![1], balance: (G + 1_000_000n).toString() }, { ...opts, account: dev(1) });
    expect(forged.ok).toBe(false);
    if (!forged.ok) expect(forged.failures.map((f) => f.check)).toContain('proof');

    // The first transfer is final now: sending it again is refused as stale.
    const again = await http(`${urls[3]}/v1/transactions`, { method: 'POST', body: transfer(0, 1, 100n, 0n) });
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ code: 'STALE_NONCE' });
  }, 150_000);

  it('all regions report the same finalized hashes and state roots at common heights', async () => {
    const finality = await Promise.all(urls.map((u) => http(`${u}/v1/finality`)));
    const common = Math.min(...finality.map((f) => f.body.finalized.height as number));
    expect(common).toBeGreaterThanOrEqual(1);
    const opts = { groupPublicKey, chainId: LOCAL_CHAIN_ID, checkpointInterval: 1, threshold };
    for (let h = 1; h <= common; h++) {
      const cps = await Promise.all(urls.map((u) => http(`${u}/v1/checkpoints/${h}`)));
      for (const cp of cps) {
        expect(cp.status).toBe(200);
        expect(cp.body).toMatchObject({ height: h, status: 'finalized', hash: cps[0]!.body.hash, stateRoot: cps[0]!.body.stateRoot });
        const v = verifyCertificate(cp.body.certificate, opts);
        expect(v.ok, v.ok ? '' : JSON.stringify(v.failures)).toBe(true);
        if (v.ok) expect(toHex(v.certificate.source.stateRoot)).toBe(cp.body.stateRoot);
      }
    }
    for (const u of urls) {
      const health = await http(`${u}/v1/health`);
      expect(health.status).toBe(200);
      expect(health.body.evidence).toBe(0);
    }
  });

  it('npm start resumes from the data folder without applying anything twice, then stops cleanly on SIGINT', async () => {
    const before = await Promise.all(urls.map((u) => http(`${u}/v1/finality`)));
    const balancesBefore = [G - 150n, G + 100n, G + 50n, G - 7n, G + 7n];
    await cluster!.stop();
    cluster = undefined;

    const t0 = Date.now();
    child = spawn(process.execPath, ['--import', 'tsx', 'lib/local/main.ts', '--data-dir', dir, '--port', '0', '--no-view'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const restarted = await until(
      'the ready line of npm start',
      async () => {
        if (child!.exitCode !== null) throw new Error(`npm start exited ${child!.exitCode}: ${err}`);
        const m = /^ready in [\d.]+ s:\n((?: {2}\S+ +http:\/\/\S+\n){4})/m.exec(out);
        return m ? [...m[1]!.matchAll(/http:\/\/\S+/g)].map((x) => x[0]) : undefined;
      },
      120_000,
    );
    console.info(`[e2e] npm start on the existing data folder: ready after ${Date.now() - t0} ms (process start included)`);

    // The printed DynamoDB endpoint and the written config reach a member's slashing protection.
    const services = /^DynamoDB at (http:\/\/\S+), cluster config in (\S+)$/m.exec(out);
    expect(services, out).not.toBeNull();
    const exported = await runCli([
      'slashing-protection',
      'export',
      '--member',
      '1',
      '--config',
      services![2]!,
      '--endpoint',
      services![1]!,
    ]);
    expect(exported.code, exported.err).toBe(0);
    const [attestation] = JSON.parse(exported.out).data[0].signed_attestations;
    expect(Number(attestation.target_epoch)).toBeGreaterThan(0);
    expect(attestation.signing_root).toMatch(/^0x[0-9a-f]{64}$/);

    // Resumed: applied heights did not go back, balances are exactly as before the restart.
    const after = await Promise.all(restarted.map((u) => http(`${u}/v1/finality`)));
    for (const [i, f] of after.entries()) expect(f.body.applied.height).toBeGreaterThanOrEqual(before[i]!.body.applied.height);
    await accountsEverywhere(restarted, { balances: balancesBefore, nonces: { 0: 2n, 3: 1n } });

    // And it keeps going: one more transfer finalizes everywhere, applied exactly once.
    const sent = await http(`${restarted[0]}/v1/transactions`, { method: 'POST', body: transfer(0, 1, 1n, 2n) });
    expect(sent.status).toBe(202);
    await accountsEverywhere(restarted, { balances: [G - 151n, G + 101n, G + 50n, G - 7n, G + 7n], nonces: { 0: 3n } });
    const last = await Promise.all(restarted.map((u) => http(`${u}/v1/finality`)));
    for (const [i, f] of last.entries()) expect(f.body.applied.height).toBeGreaterThan(before[i]!.body.applied.height);

    child.kill('SIGINT');
    const code = await until(
      'npm start to exit after SIGINT',
      async () => (child!.exitCode !== null ? child!.exitCode : undefined),
      60_000,
    );
    await exited;
    expect(code, err).toBe(0);
    expect(out).toMatch(/stopping \(SIGINT\)/);
    expect(out).toMatch(/^stopped in [\d.]+ s/m);
    expect(out).toMatch(/us-east-1 +head \d+, finalized \d+, applied \d+/);
    // No DynamoDB Local (nor its watchdog) is left running on this data folder.
    const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(dir));
    expect(left).toEqual([]);
  }, 360_000);
});
