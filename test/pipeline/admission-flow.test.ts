/**
 * Admission and statuses through the whole pipeline (in-memory cluster of four regions, every
 * region's API on the home region's pool, as the local cluster and Lambda wire it): a transaction
 * posted to any region is pending, then included, then finalized, as every region's
 * GET /v1/transactions/{hash} says; a transaction that can no longer be included is evicted with
 * its reason, and the admitted transactions behind it with NONCE_GAP.
 */
import { describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../lib/api/app.js';
import { deal } from '../../lib/core/bls.js';
import { ascii, toHex } from '../../lib/core/bytes.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { type Registration, registryApplication, signRegistration } from '../../lib/core/registry.js';
import type { ApplicationDefinition } from '../../lib/core/state-machine.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const dealing = deal(4, 3);

/** One API per region, each admitting into and reading statuses from the home region's pool. */
function apis(cluster: MemoryCluster, application?: ApplicationDefinition): Api[] {
  const pool = cluster.node(REGIONS[0]!).stores.sequencer;
  return REGIONS.map((r) => {
    const node = cluster.node(r);
    return createApi({
      query: node.query,
      transport: cluster.transport,
      chain: node.chain,
      maxLagBlocks: 50,
      pool: { store: pool },
      ...(application ? { application } : {}),
    });
  });
}

const post = async (api: Api, json: unknown) =>
  api({ method: 'POST', path: '/v1/transactions', query: {}, headers: {}, body: JSON.stringify(json) });
const statuses = async (all: Api[], hash: string) =>
  Promise.all(
    all.map(async (api) =>
      JSON.parse((await api({ method: 'GET', path: `/v1/transactions/${hash}`, query: {}, headers: {}, body: undefined })).body),
    ),
  );

describe('admission through the pipeline', () => {
  it('a transaction posted to any region goes pending -> included -> finalized, as every region reports', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 11, dealing });
    const all = apis(cluster);
    const codec = cluster.application.codec(cluster.set.chainId);
    const tx = signTransfer(cluster.set.chainId, devSecretKey(1), { to: ed25519PublicKey(devSecretKey(2)), amount: 5n, nonce: 0n });
    const answer = await post(all[2]!, codec.toJson(tx));
    expect(answer.status).toBe(202);
    const hash = JSON.parse(answer.body).hash as string;
    const seen = REGIONS.map(() => new Set<string>());
    const observe = async () => {
      const now = await statuses(all, hash);
      for (const [i, s] of now.entries()) seen[i]!.add(s.status);
      return now;
    };
    for (const s of await observe()) expect(s).toEqual({ hash, status: 'pending' });
    while ((await cluster.step()) && !(await observe()).every((s) => s.status === 'finalized'));
    const final = await statuses(all, hash);
    for (const s of final) expect(s).toEqual({ hash, status: 'finalized', height: final[0].height });
    // Every region reported each status on the way (the sequencer includes before any region finalizes).
    for (const s of seen) expect([...s].sort()).toEqual(['finalized', 'included', 'pending']);
    expect(cluster.errors).toEqual([]);
  }, 60_000);

  it('evicts a transaction that can no longer be included, with its reason, and the admitted ones behind it', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 4, dealing, application: registryApplication });
    const all = apis(cluster, registryApplication);
    const codec = registryApplication.codec(cluster.set.chainId);
    const reg = (owner: number, key: string, nonce: bigint): Registration =>
      signRegistration(cluster.set.chainId, devSecretKey(owner), { key: ascii(key), value: ascii(`by ${owner}`), nonce });
    // Both claim "alpha" before either is final; owner 2 queues two more behind its claim.
    const first = reg(1, 'alpha', 0n);
    const rival = [reg(2, 'alpha', 0n), reg(2, 'beta', 1n), reg(2, 'gamma', 2n)];
    expect((await post(all[0]!, codec.toJson(first))).status).toBe(202);
    for (const r of rival) expect((await post(all[1]!, codec.toJson(r))).status).toBe(202);
    await cluster.run();
    const hash = (r: Registration) => toHex(codec.hash(r));
    for (const s of await statuses(all, hash(first))) expect(s.status).toBe('finalized');
    for (const s of await statuses(all, hash(rival[0]!)))
      expect(s).toEqual({
        hash: hash(rival[0]!),
        status: 'rejected',
        reason: 'KEY_TAKEN',
        message: expect.stringMatching(/already registered/),
      });
    for (const r of rival.slice(1))
      for (const s of await statuses(all, hash(r))) expect(s).toMatchObject({ status: 'rejected', reason: 'NONCE_GAP' });
    // The owner resubmits from the rejected nonce: admitted again, with no gap.
    expect((await post(all[3]!, codec.toJson(reg(2, 'delta', 0n)))).status).toBe(202);
    await cluster.run();
    const owner2 = await cluster.node(REGIONS[3]!).query.state(ascii('delta'));
    expect(owner2.owner).toBe(toHex(ed25519PublicKey(devSecretKey(2))));
  }, 60_000);
});
