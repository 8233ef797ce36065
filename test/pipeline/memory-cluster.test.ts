import { describe, expect, it } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const dealing = deal(4, 3);

function transfer(cluster: MemoryCluster, from: number, to: number, amount: bigint, nonce: bigint) {
  return signTransfer(cluster.set.chainId, devSecretKey(from), { to: ed25519PublicKey(devSecretKey(to)), amount, nonce });
}

describe('pipeline over in-memory stores', () => {
  for (const K of [1, 3]) {
    it(`finalizes submitted transfers in every region (K=${K})`, async () => {
      const cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: K, seed: 7, dealing, maxBlockTransactions: 2 });
      for (let i = 0; i < 5; i++) cluster.submit(transfer(cluster, 0, 1, 10n, BigInt(i)));
      await cluster.run();
      const answers = await Promise.all(REGIONS.map((r) => cluster.node(r).query.finality()));
      for (const a of answers) {
        expect(a.finalized.height).toBeGreaterThanOrEqual(1);
        expect(a.finalized.height % K).toBe(0);
        expect(a.applied.height).toBe(a.finalized.height);
        expect(a.certificate).not.toBeNull();
      }
      // Every region agrees on the finalized hash and root at the lowest common finalized height.
      const roots = new Set(answers.map((a) => `${a.finalized.height}:${a.finalized.hash}:${a.finalized.stateRoot}`));
      expect(roots.size).toBe(1);
      for (const r of REGIONS) {
        const acct = await cluster.node(r).query.state(ed25519PublicKey(devSecretKey(1)));
        expect(acct.balance).toBe('1000000050');
        expect(acct.certificate?.source.height).toBe(acct.height);
        const payer = await cluster.node(r).query.state(ed25519PublicKey(devSecretKey(0)));
        expect(payer.nonce).toBe('5');
      }
    });
  }

  it('gives the same finalized state for any delivery order (seeds)', async () => {
    const results = new Set<string>();
    for (const seed of [1, 2, 3]) {
      const cluster = await MemoryCluster.create({ regions: REGIONS, seed, dealing, maxBlockTransactions: 100 });
      cluster.submit(transfer(cluster, 2, 3, 7n, 0n));
      await cluster.run();
      const a = await cluster.node('eu-west-1').query.state(ed25519PublicKey(devSecretKey(3)));
      results.add(`${a.balance}`);
      expect(a.balance).toBe('1000000007');
    }
    expect(results.size).toBe(1);
  });

  it('refuses a stale transaction at the sequencer and never applies it twice', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 3, dealing });
    const tx = transfer(cluster, 4, 5, 100n, 0n);
    cluster.submit(tx);
    cluster.submit(tx); // a redelivered or resubmitted copy
    await cluster.run();
    const a = await cluster.node('sa-east-1').query.state(ed25519PublicKey(devSecretKey(5)));
    expect(a.balance).toBe('1000000100');
    expect(toHex(ed25519PublicKey(devSecretKey(5)))).toBe(a.account);
  });
});
