/**
 * A follower joins a running chain on the real local cluster (embedded DynamoDB Local + SQS
 * emulator, ports picked freely): the chain runs first without it; restarted on the same data
 * folder with `followers`, the new region bootstraps from a snapshot of the others (no block
 * below the snapshot is fetched), follows their finality, and answers what they answer, verified
 * with the group key alone. Waits poll with bounded deadlines; nothing asserts on timing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { verifyAccountAnswer } from '../../lib/core/verifier.js';
import { transactionToJson } from '../../lib/core/wire.js';
import type { FollowerEvent } from '../../lib/handlers/follower.js';
import { LocalCluster } from '../../lib/local/cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1'];
const FOLLOWER = 'eu-central-1';
const DEADLINE_MS = 90_000;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
type Json = any;

async function http(url: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, {
    ...(body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const dev = (i: number) => ed25519PublicKey(devSecretKey(i));
const transfer = (from: number, to: number, amount: bigint, nonce: bigint) =>
  transactionToJson(signTransfer(LOCAL_CHAIN_ID, devSecretKey(from), { to: dev(to), amount, nonce }));
const withoutSigners = (a: Json) => ({
  ...a,
  certificate: a.certificate && { ...a.certificate, signers: undefined, signature: undefined },
});

describe('a follower joins a running local cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'afg-follower-'));
  let cluster: LocalCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bootstraps from a snapshot, follows, and serves the same verified answers', async () => {
    const options = { regions: REGIONS, validators: 3, checkpointInterval: 1, dataDir: dir, basePort: 0 };
    cluster = await LocalCluster.start({ ...options, fresh: true });
    for (let nonce = 0n; nonce < 3n; nonce++)
      expect((await http(`${cluster.urls[0]}/v1/transactions`, transfer(0, 1, 10n, nonce))).status).toBe(202);
    const before = await until('three transfers final', async () => {
      const a = await http(`${cluster!.urls[1]}/v1/accounts/${toHex(dev(0))}`);
      return a.body?.nonce === '3' ? a.body.height : undefined;
    });
    await cluster.stop();

    const events: FollowerEvent[] = [];
    cluster = await LocalCluster.start({ ...options, followers: [FOLLOWER], onFollowerEvent: (_r, e) => events.push(e) });
    const follower = cluster.regions.find((r) => r.region === FOLLOWER)!;
    expect(follower.follower).toBe(true);
    expect(follower.runtime.members).toEqual([]);
    const snapshot = await until('the snapshot', async () => events.find((e) => e.kind === 'snapshot'));
    if (snapshot.kind !== 'snapshot' || snapshot.result.kind !== 'bootstrapped')
      throw new Error(`no bootstrap: ${JSON.stringify(snapshot)}`);
    const start = snapshot.result.checkpoint.height;
    expect(start).toBeGreaterThanOrEqual(before);
    expect(snapshot.result.problems).toEqual([]);

    // The chain moves on; the follower applies it too.
    expect((await http(`${follower.url}/v1/transactions`, transfer(2, 3, 5n, 0n))).status).toBe(202);
    const source = cluster.urls[1]!;
    const height = await until('the new transfer final in a validator region and in the follower', async () => {
      const [mine, theirs] = await Promise.all([
        http(`${follower.url}/v1/accounts/${toHex(dev(3))}`),
        http(`${source}/v1/accounts/${toHex(dev(3))}`),
      ]);
      return mine.body?.balance === theirs.body?.balance && theirs.body?.balance === '1000000005' ? mine.body.height : undefined;
    });
    expect(height).toBeGreaterThan(start);

    // Same answers at every height it holds, verified with the pinned group key and the height asked.
    const dealt = JSON.parse(readFileSync(join(dir, 'keys', 'cluster.json'), 'utf8')) as { groupPublicKey: string };
    const opts = { groupPublicKey: fromHex(dealt.groupPublicKey, 96, 'key'), chainId: LOCAL_CHAIN_ID, checkpointInterval: 1, threshold: 3 };
    for (const h of [start, height]) {
      for (const i of [0, 1, 3]) {
        const path = `/v1/accounts/${toHex(dev(i))}?height=${h}`;
        const [mine, theirs] = await Promise.all([http(`${follower.url}${path}`), http(`${source}${path}`)]);
        expect(mine.status).toBe(200);
        expect(withoutSigners(mine.body)).toEqual(withoutSigners(theirs.body));
        const v = verifyAccountAnswer(mine.body, { ...opts, account: dev(i), height: h });
        expect(v.ok ? [] : v.failures).toEqual([]);
      }
    }
    // No replay: below the snapshot the follower holds neither blocks nor history.
    expect((await http(`${follower.url}/v1/blocks/1`)).status).toBe(404);
    expect((await http(`${follower.url}/v1/accounts/${toHex(dev(0))}?height=1`)).status).toBe(404);
    expect((await http(`${follower.url}/v1/finality/stream?from=0`)).status).toBe(404);
  }, 240_000);
});
