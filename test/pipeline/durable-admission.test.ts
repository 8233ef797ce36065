/**
 * Durable admission (issue 16 item 3) over the whole in-memory pipeline: a transfer accepted as the
 * API accepts it is in the pool of the current view's sequencer region and in the next view's; once
 * its block is final, the next view's copy is settled (included at that height), so a sequencer that
 * takes over later neither proposes it again nor has stale work, and its status reads right there.
 */
import { describe, expect, it } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { BackupWriteError } from '../../lib/pipeline/admission.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const dealing = deal(4, 3);

describe('backup copies of accepted transfers', () => {
  it("are held by the next view's pool until their block is final, then settled there as included", async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 5, dealing, maxBlockTransactions: 3 });
    const txs = [0n, 1n, 2n, 3n].map((nonce) =>
      signTransfer(cluster.set.chainId, devSecretKey(2), { to: ed25519PublicKey(devSecretKey(3)), amount: 5n, nonce }),
    );
    for (const tx of txs) {
      const a = await cluster.accept(tx, 'ap-northeast-1');
      expect(a).toMatchObject({ kind: 'admitted', active: 'us-east-1', backup: 'eu-west-1' });
    }
    const backup = cluster.node('eu-west-1').stores.sequencer;
    const hashes = txs.map((tx) => cluster.node('us-east-1').chain.app.hash(tx));
    for (const h of hashes) expect(await backup.status(h)).toEqual({ status: 'pending' });
    await cluster.run();
    const payer = await cluster.node('eu-west-1').query.state(ed25519PublicKey(devSecretKey(2)));
    expect(payer.nonce).toBe('4');
    // Settled where the copies were, with the heights the active region's pool recorded.
    const active = cluster.node('us-east-1').stores.sequencer;
    for (const h of hashes) {
      const included = await active.status(h);
      expect(included).toMatchObject({ status: 'included' });
      expect(await backup.status(h)).toEqual(included);
    }
    expect(await backup.pending(100)).toEqual([]);
    // Regions that held no copy write no status for them.
    for (const r of ['ap-northeast-1', 'sa-east-1'])
      for (const h of hashes) expect(await cluster.node(r).stores.sequencer.status(h)).toBeUndefined();
  });

  it("go to the next region in view order when the next view's pool cannot be written, and none written is not accepted", async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 6, dealing });
    const transfer = (nonce: bigint) =>
      signTransfer(cluster.set.chainId, devSecretKey(4), { to: ed25519PublicKey(devSecretKey(3)), amount: 5n, nonce });
    const down = new Set(['eu-west-1']);
    for (const r of REGIONS) {
      const pool = cluster.node(r).stores.sequencer;
      const add = pool.addPending.bind(pool);
      pool.addPending = async (txs, options) => {
        if (down.has(r)) throw new Error(`${r}: unreachable (test)`);
        return add(txs, options);
      };
    }
    const first = transfer(0n);
    expect(await cluster.accept(first)).toMatchObject({ kind: 'admitted', active: 'us-east-1', backup: 'ap-northeast-1' });
    const hash = cluster.node('us-east-1').chain.app.hash(first);
    expect(await cluster.node('ap-northeast-1').stores.sequencer.status(hash)).toEqual({ status: 'pending' });
    for (const r of ['ap-northeast-1', 'sa-east-1']) down.add(r);
    const second = transfer(1n);
    const refused = await cluster.accept(second).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(BackupWriteError);
    expect((refused as BackupWriteError).meta).toEqual({
      regions: ['eu-west-1', 'ap-northeast-1', 'sa-east-1'],
      active: 'us-east-1',
      admitted: true,
    });
    // Sent again once a backup region is back: the same transaction, the pair completed.
    down.delete('sa-east-1');
    expect(await cluster.accept(second)).toMatchObject({ kind: 'known', backup: 'sa-east-1' });
    await cluster.run();
    expect((await cluster.node('sa-east-1').query.state(ed25519PublicKey(devSecretKey(4)))).nonce).toBe('2');
  });
});
