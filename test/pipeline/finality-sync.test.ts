/**
 * Finality sync (lib/pipeline/finality-sync.ts): a member region that missed every vote while it was
 * cut off, on a chain that then went idle, catches up from its peers' finalized heads with no new
 * traffic. The region-loss drill's revived home region stayed behind for minutes without it (no vote
 * ever came to carry the certificates it missed).
 */
import { describe, expect, it } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { syncFinality } from '../../lib/pipeline/finality-sync.js';
import { handleCertified } from '../../lib/pipeline/finalizer.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const LOST = 'sa-east-1';

/** Three transfers finalized by members 1-3 while sa-east-1 (member 4) is cut off; then it is reachable again and the chain idle. */
async function clusterAfterOutage() {
  const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 7, dealing: deal(4, 3), maxBlockTransactions: 1 });
  cluster.unreachable.add(LOST);
  for (let i = 0; i < 3; i++)
    cluster.submit(
      signTransfer(cluster.set.chainId, devSecretKey(0), { to: ed25519PublicKey(devSecretKey(2)), amount: 10n, nonce: BigInt(i) }),
    );
  await cluster.run();
  cluster.unreachable.delete(LOST);
  await cluster.run();
  return cluster;
}

const finalizedIn = async (cluster: MemoryCluster, region: string) => (await cluster.node(region).stores.finality.head()).finalized;
const appliedIn = async (cluster: MemoryCluster, region: string) => (await cluster.node(region).stores.applied.applied())!;

describe('finality sync: a region back from an outage on an idle chain', () => {
  it('stays behind with no traffic, and catches up from one sync: finality, blocks and state', async () => {
    const cluster = await clusterAfterOutage();
    const home = await finalizedIn(cluster, 'us-east-1');
    expect(home.height).toBeGreaterThanOrEqual(3);
    // The outage's shape: every vote was lost on the way, and nothing on an idle chain brings them back.
    expect(cluster.pending).toHaveLength(0);
    expect((await finalizedIn(cluster, LOST)).height).toBe(0);

    const sync = cluster.node(LOST).runtime.finalitySync();
    expect(sync).toBeDefined();
    const result = await syncFinality(sync!);
    expect(result).toMatchObject({ kind: 'behind', finalized: 0, height: home.height });
    await cluster.run();

    const caughtUp = await finalizedIn(cluster, LOST);
    expect(caughtUp.height).toBe(home.height);
    expect(toHex(caughtUp.hash)).toBe(toHex(home.hash));
    const [applied, reference] = [await appliedIn(cluster, LOST), await appliedIn(cluster, 'us-east-1')];
    expect(applied.height).toBe(reference.height);
    expect(toHex(applied.stateRoot)).toBe(toHex(reference.stateRoot));

    // Current now: the next sync sends nothing.
    expect(await syncFinality(sync!)).toMatchObject({ kind: 'current', finalized: home.height });
    expect(cluster.pending).toHaveLength(0);
    // A region that is current costs the finalizer one head read: the certificate is known.
    const again = await handleCertified(cluster.node(LOST).runtime.finalizer(), result.kind === 'behind' ? result.certificate : undefined!);
    expect(again).toEqual({ kind: 'known', finalized: home.height });
  });

  it('ignores a peer whose answer does not verify, and the finalizer refuses a forged certificate', async () => {
    const cluster = await clusterAfterOutage();
    const sync = cluster.node(LOST).runtime.finalitySync()!;
    const honest = sync.peers[0]!;
    const answer = (await honest.finality()) as { certificate: { signature: string } };
    // A lying peer: a valid-looking answer whose group signature is another certificate's bytes flipped.
    const sig = answer.certificate.signature;
    const forged = {
      ...answer,
      certificate: { ...answer.certificate, signature: `${sig.slice(0, -2)}${sig.endsWith('00') ? '01' : '00'}` },
    };
    const liar = { name: 'liar', finality: async () => forged };
    const lone = await syncFinality({ ...sync, peers: [liar] });
    expect(lone.kind).toBe('current');
    expect(lone.problems).toEqual([expect.objectContaining({ peer: 'liar', lied: true })]);
    expect(cluster.pending).toHaveLength(0);

    // The finalizer checks again: a certificate whose signature does not verify changes nothing.
    const good = (await syncFinality({ ...sync, peers: [honest] })) as { certificate: import('../../lib/core/types.js').Certificate };
    cluster.pending.length = 0;
    const bad = { ...good.certificate, signature: new Uint8Array(good.certificate.signature).map((b, i) => (i === 5 ? b ^ 1 : b)) };
    const refused = await handleCertified(cluster.node(LOST).runtime.finalizer(), bad);
    expect(refused).toMatchObject({ kind: 'refused', reason: 'BAD_CERTIFICATE' });
    expect((await finalizedIn(cluster, LOST)).height).toBe(0);
  });
});
