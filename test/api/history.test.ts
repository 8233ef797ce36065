/**
 * History (issue 17, part 3): `GET /v1/accounts/{pk}?height=H` answers at finalized checkpoint H
 * with the certificate that finalized H, over real HTTP from a region of the in-memory pipeline;
 * the client verifier and `afg verify --height` check the answer is at H with the pinned group key.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import { responseChecker } from '../../lib/api/validate.js';
import type { CliIo } from '../../lib/cli/io.js';
import { run } from '../../lib/cli/main.js';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { verifyAccountAnswer } from '../../lib/core/verifier.js';
import type { FinalityStore } from '../../lib/pipeline/ports.js';
import { QueryService } from '../../lib/pipeline/query.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { DEV_PK, DEV_SK } from '../helpers/fixture.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const K = 2;
const TRANSFERS = 7;
const check = responseChecker();

let cluster: MemoryCluster;
let server: ApiServer;
let finalized: number;

beforeAll(async () => {
  // Transfers from dev account 0 to 1, one at a time, so the balance differs between checkpoints.
  cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: K, seed: 11, dealing: deal(4, 3), maxBlockTransactions: 1 });
  for (let i = 0; i < TRANSFERS; i++) {
    cluster.submit(signTransfer(cluster.set.chainId, DEV_SK[0]!, { to: DEV_PK[1]!, amount: 10n, nonce: BigInt(i) }));
    await cluster.run();
  }
  const node = cluster.node('eu-west-1');
  finalized = (await node.query.finality()).finalized.height;
  server = await startApiServer(createApi({ query: node.query, transport: cluster.transport, chain: node.chain, maxLagBlocks: 50 }), {
    port: 0,
  });
});
afterAll(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: await res.json() };
}

/** Account 1's balance at height H, counted from the finalized blocks 1..H (an independent path). */
async function expectedBalance(height: number): Promise<string> {
  let received = 0n;
  for (let h = 1; h <= height; h++) {
    const block = await cluster.node('eu-west-1').query.block(h);
    received += BigInt(block.transactions.length) * 10n;
  }
  return (1_000_000_000n + received).toString();
}

const opts = () => ({
  groupPublicKey: cluster.set.groupPublicKey,
  chainId: cluster.set.chainId,
  checkpointInterval: K,
  threshold: 3,
  account: DEV_PK[1]!,
});

describe('GET /v1/accounts/{pk}?height=H', () => {
  it('answers at every finalized checkpoint with the certificate that finalized it, verified at H with the pinned key', async () => {
    expect(finalized).toBeGreaterThanOrEqual(3 * K);
    const balances = new Set<string>();
    for (let h = K; h <= finalized; h += K) {
      const { status, body } = await get(`/v1/accounts/${toHex(DEV_PK[1]!)}?height=${h}`);
      expect(status).toBe(200);
      expect(check('getAccount', 200, body)).toBeUndefined();
      expect(body.height).toBe(h);
      expect(body.certificate.source.height).toBe(h);
      expect(body.certificate.target.height).toBe(h + K);
      expect(body.balance).toBe(await expectedBalance(h));
      balances.add(body.balance);
      const verdict = verifyAccountAnswer(body, { ...opts(), height: h });
      expect(verdict.ok ? [] : verdict.failures).toEqual([]);
      // The same answer is refused when another height was asked for.
      const elsewhere = verifyAccountAnswer(body, { ...opts(), height: h + K });
      expect(elsewhere.ok).toBe(false);
      if (!elsewhere.ok) expect(elsewhere.failures.map((f) => f.check)).toEqual(['answer.height']);
    }
    expect(balances.size).toBeGreaterThan(1);
    // Without ?height the latest readable checkpoint answers, as before.
    const latest = await get(`/v1/accounts/${toHex(DEV_PK[1]!)}`);
    expect(latest.body.height).toBe(finalized);
  });

  it('answers genesis (height 0) with no certificate, since nothing finalizes genesis', async () => {
    const { status, body } = await get(`/v1/accounts/${toHex(DEV_PK[1]!)}?height=0`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ height: 0, balance: '1000000000', certificate: null });
  });

  it('answers 404 with a clear message for a height that is not a finalized checkpoint', async () => {
    const pk = toHex(DEV_PK[1]!);
    const cases: [number, RegExp][] = [
      [K + 1, /height 3 is not a finalized checkpoint: checkpoints are multiples of 2/],
      [finalized + K, new RegExp(`not a finalized checkpoint in this region yet: its state is readable up to height ${finalized}`)],
      [1_000_000, /not a finalized checkpoint in this region yet/],
    ];
    for (const [height, message] of cases) {
      const { status, body } = await get(`/v1/accounts/${pk}?height=${height}`);
      expect(status, `height ${height}`).toBe(404);
      expect(body.error.code).toBe('NOT_FOUND');
      expect(body.error.message).toMatch(message);
      expect(check('getAccount', 404, body)).toBeUndefined();
    }
    for (const bad of ['-2', 'x', '1.5', '']) {
      const { status, body } = await get(`/v1/accounts/${pk}?height=${bad}`);
      expect(status, `height ${JSON.stringify(bad)}`).toBe(400);
      expect(body.error.message).toMatch(/^height/);
    }
  });

  it('answers 404 for a finalized height this region holds no record of', async () => {
    const node = cluster.node('eu-west-1');
    // A region whose history starts later (a follower bootstrapped from a snapshot) has no record at K.
    const finality: FinalityStore = Object.create(node.raw.finality, {
      tallies: {
        value: async (heights: number[]) => node.raw.finality.tallies(heights.filter((h) => h !== K && h !== 2 * K)),
      },
    });
    const query = new QueryService({ chain: node.chain, region: 'x', blocks: node.raw.blocks, finality, applied: node.raw.applied });
    await expect(query.state(DEV_PK[1]!, { height: K })).rejects.toThrow(/checkpoint 2 is not recorded as finalized in this region/);
    expect((await query.state(DEV_PK[1]!, { height: 2 * K })).height).toBe(2 * K);
  });
});

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (t: string) => {
      io.stdout += t;
    },
    err: (t: string) => {
      io.stderr += t;
    },
    fetch: (...a: Parameters<typeof fetch>) => fetch(...a),
  };
  return io;
}

async function cli(...argv: string[]) {
  const io = capture();
  const code = await run(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('afg verify --height', () => {
  it('verifies the account at each requested finalized height against the pinned group key', async () => {
    const key = toHex(cluster.set.groupPublicKey);
    for (const h of [K, 2 * K, finalized]) {
      const r = await cli('verify', server.url, '1', '--height', String(h), '--group-key', key);
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.out).toContain(`finalized height ${h} (as requested)`);
      expect(r.out).toContain(`balance ${await expectedBalance(h)}`);
      expect(r.out).toContain(`certificate ${h} -> ${h + K}`);
    }
  });

  it('fails (exit 1) on a height that is not finalized, and on a server that ignores the height', async () => {
    const key = toHex(cluster.set.groupPublicKey);
    const unfinalized = await cli('verify', server.url, '1', '--height', String(finalized + K), '--group-key', key);
    expect(unfinalized.code).toBe(1);
    expect(unfinalized.err).toMatch(/404 NOT_FOUND: height \d+ is not a finalized checkpoint in this region yet/);

    // A server that drops the query string answers the latest state: valid, but not at the height asked.
    const ignoring = createServer(async (req, res) => {
      const upstream = await fetch(`${server.url}${(req.url ?? '/').split('?')[0]}`);
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(await upstream.text());
    });
    await new Promise<void>((resolve) => ignoring.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(ignoring.address() as AddressInfo).port}`;
      const r = await cli('verify', url, '1', '--height', String(K), '--group-key', key);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(
        new RegExp(`\\[answer\\.height\\] the answer is read at height ${finalized}, not at the requested height ${K}`),
      );
    } finally {
      await new Promise((resolve) => ignoring.close(resolve));
    }
  });

  it('refuses --height with --max-age (exit 2)', async () => {
    const r = await cli('verify', server.url, '1', '--height', String(K), '--witness', server.url, '--max-age', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--max-age: does not combine with --height/);
  });
});
