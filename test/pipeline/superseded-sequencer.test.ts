/**
 * A sequencer whose view was superseded hands its unfinal work to the active one (found by the seed
 * sweep, seed 560464609: see test/sim/findings.test.ts). The home region, still in view 0, includes a
 * transfer in a block; view 1 is certified before any member votes on it, so the block is never
 * final; once the home region enters view 1 its sequencer must hand the transfer to view 1's region,
 * or the transfer, marked included in the home pool, waits for good.
 */
import { describe, expect, it } from 'vitest';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { type ViewChange, viewSigningBytes, viewStateSigningBytes } from '../../lib/core/views.js';
import type { QueueMessage } from '../../lib/pipeline/messages.js';
import type { Destination } from '../../lib/pipeline/ports.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { simDealing } from '../../lib/sim/simulation.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];

/**
 * A four-region cluster (K = 1) whose transport never sends what `drop` names, and whose member
 * `silent` (if any) stores and votes on nothing.
 */
function clusterDropping(seed: number, drop: (to: Destination, m: QueueMessage) => boolean, silent?: number): Promise<MemoryCluster> {
  return MemoryCluster.create({
    regions: REGIONS,
    checkpointInterval: 1,
    seed,
    dealing: simDealing(),
    hooks: {
      ...(silent === undefined
        ? {}
        : {
            region: {
              inbox: (ctx) => (ctx.member === silent ? Promise.resolve({ kind: 'waiting', reason: 'silent' } as const) : ctx.honest()),
            },
          }),
      wrapTransport: (t) => ({
        send: (to, messages, options) =>
          t.send(
            to,
            messages.filter((m) => !drop(to, m)),
            options,
          ),
      }),
    },
  });
}

/** Member `member`'s view change to `view` (default 1), stating genesis as its justified checkpoint and no signed target. */
function viewChange(cluster: MemoryCluster, member: number, view = 1): ViewChange {
  const { set, crypto } = cluster;
  const secretKey = cluster.dealing.shares[member - 1]!.secretKey;
  const state = { justified: cluster.node(REGIONS[0]!).chain.genesis, lastTarget: 0 };
  return {
    era: set.era,
    view,
    member,
    signature: crypto.signShare(secretKey, viewSigningBytes(set.chainId, set.era, view)),
    state,
    stateSignature: crypto.signShare(secretKey, viewStateSigningBytes(set.chainId, set.era, view, state)),
  };
}

/** Members 2, 3 and 4 ask every region's finalizer for `view` (t of them: the view is certified). */
function sendViewChanges(cluster: MemoryCluster, view: number): void {
  for (const region of REGIONS)
    for (const member of [2, 3, 4])
      cluster.pending.push({
        queue: `votes:${region}`,
        body: cluster.encode({ kind: 'view-change', change: viewChange(cluster, member, view) }),
        receives: 0,
      });
}

describe('a superseded sequencer', () => {
  it('hands a transfer it included in a block of the old view to the active sequencer, which makes it final', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: 1, seed: 5, dealing: simDealing() });
    const tx = signTransfer(cluster.set.chainId, devSecretKey(2), { to: ed25519PublicKey(devSecretKey(3)), amount: 7n, nonce: 0n });
    cluster.submit(tx);
    // The home sequencer (view 0) takes the transfer into block 1.
    expect(await cluster.deliver(cluster.pending.shift()!)).toBe(true);
    const head = await cluster.node('us-east-1').raw.sequencer.head();
    expect(head?.height).toBeGreaterThanOrEqual(1);
    // Its proposals never reach a validator: view 1 was certified first (the members refuse view 0 from then on).
    cluster.pending.splice(0, cluster.pending.length, ...cluster.pending.filter((e) => !e.queue.startsWith('inbox:')));
    sendViewChanges(cluster, 1);
    await cluster.run(5_000);
    for (const region of REGIONS) {
      const node = cluster.node(region);
      expect((await node.raw.finality.head()).view, region).toBe(1);
      const account = await node.query.state(ed25519PublicKey(devSecretKey(2)));
      expect(account.nonce, `${region}: the transfer is final and applied`).toBe('1');
    }
    // Once the work is final, handing over costs nothing: a repeated notice forwards nothing and wakes no one.
    expect(cluster.pending).toEqual([]);
    const certificate = (await cluster.node('us-east-1').raw.finality.head()).viewCertificate!;
    expect(await cluster.deliver({ queue: 'ingress:us-east-1', body: cluster.encode({ kind: 'view', certificate }), receives: 0 })).toBe(
      true,
    );
    expect(cluster.pending.map((e) => e.queue)).toEqual([]);
  });

  // Found by the sweep with Byzantine sequencers (seed 5044, test/sim/findings.test.ts): views come round
  // to a region again. Its pool still marked the transfer included in the block it proposed in its older
  // view; the new view restarts below that block, and nobody else holds the transfer to hand it over.
  it('proposes again, when a view comes round to its region, a transfer its pool marked included in a superseded block', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: 1, seed: 6, dealing: simDealing() });
    const tx = signTransfer(cluster.set.chainId, devSecretKey(2), { to: ed25519PublicKey(devSecretKey(3)), amount: 7n, nonce: 0n });
    cluster.submit(tx);
    expect(await cluster.deliver(cluster.pending.shift()!)).toBe(true);
    const pool = cluster.node('us-east-1').raw.sequencer;
    const hash = cluster.node('us-east-1').chain.app.hash(tx);
    expect(await pool.status(hash)).toEqual({ status: 'included', height: 1 });
    // Nobody votes on block 1; view 4 (the home region's again, REGIONS has four) is certified from genesis.
    cluster.pending.splice(0, cluster.pending.length, ...cluster.pending.filter((e) => !e.queue.startsWith('inbox:')));
    sendViewChanges(cluster, 4);
    await cluster.run(5_000);
    for (const region of REGIONS) {
      const node = cluster.node(region);
      expect((await node.raw.finality.head()).view, region).toBe(4);
      const account = await node.query.state(ed25519PublicKey(devSecretKey(2)));
      expect(account.nonce, `${region}: the transfer is final and applied`).toBe('1');
    }
  });

  // Found with seed 180 (test/sim/findings.test.ts): the member of eu-west-1 was silent, so no proposal
  // was stored there. View 1's sequencer (eu-west-1) restarts on the justified checkpoint the view
  // certificate shows and must rebuild that block's state: it could not (NotReadyError until the
  // transfers handed to it were dead-lettered) and only a further view change helped.
  it("rebuilds a new view's head state from the blocks of another region when its own region stored none", async () => {
    // Member 2 (eu-west-1) is down: it stores and votes on nothing. View 0's sequencer stops after
    // block 1: its later proposals never leave, so view 1 takes over.
    const cluster = await clusterDropping(7, (_to, m) => m.kind === 'proposal' && (m.view ?? 0) === 0 && m.height > 1, 2);
    const to = ed25519PublicKey(devSecretKey(3));
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(2), { to, amount: 7n, nonce: 0n }));
    expect(await cluster.deliver(cluster.pending.shift()!)).toBe(true); // block 1
    // This one goes into block 2, which never leaves the home region: the home sequencer hands it to view
    // 1's, which must execute it on block 1's state, a block eu-west-1 neither stored nor executed.
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(4), { to, amount: 7n, nonce: 0n }));
    await cluster.run(20_000);
    for (const region of REGIONS) {
      const node = cluster.node(region);
      expect((await node.raw.finality.head()).view, `${region}: view 1 finalized, no further view was needed`).toBe(1);
      for (const sender of [2, 4])
        expect(
          (await node.query.state(ed25519PublicKey(devSecretKey(sender)))).nonce,
          `${region}: sender ${sender}'s transfer is final`,
        ).toBe('1');
    }
    expect(cluster.deadLetters).toEqual([]);
  });
});

// Found by the soak (seed 903939012): a new view's sequencer restarted above a block with transactions
// that its own region had not finalized, and proposed only the empty floor block. Its region could not
// certify the floor link (a Byzantine member's equivocation took a slot there), so no tick came, and it
// kept no pacemaker, which starts only with blocks that carry transactions: nobody proposed the block
// whose votes would have brought that region the certificate, while the other regions' members, all
// final, never joined the view change the lagging one asked for.
describe('a new view whose sequencer proposes only its empty floor', () => {
  /**
   * View 0's sequencer stops after block 1 (the transfer), so view 1 (eu-west-1) takes over above it,
   * and eu-west-1 never counts a vote on the floor link (its slots were taken). With `unstored`, no
   * proposal of view 0 reaches eu-west-1 either: its region holds none of the old view's blocks.
   */
  async function floorOnly(seed: number, unstored: boolean) {
    const cluster = await clusterDropping(
      seed,
      (to, m) =>
        (m.kind === 'proposal' && (m.view ?? 0) === 0 && (m.height > 1 || (unstored && to.region === 'eu-west-1'))) ||
        (to.queue === 'votes' && to.region === 'eu-west-1' && m.kind === 'vote' && m.vote.target.height === 2),
    );
    const sender = devSecretKey(2);
    cluster.submit(signTransfer(cluster.set.chainId, sender, { to: ed25519PublicKey(devSecretKey(3)), amount: 7n, nonce: 0n }));
    await cluster.run(20_000);
    for (const region of REGIONS) {
      const node = cluster.node(region);
      expect((await node.raw.finality.head()).view, `${region}: view 1 finalized the transfer, no further view was needed`).toBe(1);
      expect((await node.query.state(ed25519PublicKey(sender))).nonce, `${region}: the transfer is final and applied`).toBe('1');
    }
    expect(cluster.deadLetters).toEqual([]);
  }

  it('keeps a pacemaker while the blocks below carry unfinal transactions, so its own lagging region catches up', async () => {
    await floorOnly(11, false);
  });

  // Seed 861520141: the new view's region had stored none of the old view's blocks (its member is the
  // Byzantine one), so the sequencer found no work below its floor and kept no pacemaker.
  it("finds that work in another region's blocks when its own region stored none of them", async () => {
    await floorOnly(11, true);
  });
});

// Seed 861520141 again: view 6's sequencer learned its view from another region's finalizer (a `view`
// notice on its ingress) before its own region certified it. It restarted and armed its pacemaker, but
// when the tick came back the region's head still said view 5: the tick went down the hand-over path and
// the pacemaker chain ended. The sequencer now records the view it acts in.
describe("a new view's sequencer told of its view by another region", () => {
  it('records the view in its region, so its pacemaker ticks are handled in that view', async () => {
    const outcomes: { queue: string; result: unknown }[] = [];
    const cluster = await MemoryCluster.create({
      regions: REGIONS,
      checkpointInterval: 1,
      seed: 12,
      dealing: simDealing(),
      hooks: { onDelivered: (o) => outcomes.push(o) },
    });
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(2), { to: ed25519PublicKey(devSecretKey(3)), amount: 7n, nonce: 0n }));
    expect(await cluster.deliver(cluster.pending.shift()!)).toBe(true); // block 1, never voted on
    cluster.pending.splice(0, cluster.pending.length);
    // Only us-east-1's finalizer certifies view 1; it tells view 1's sequencer (eu-west-1).
    for (const member of [2, 3, 4])
      expect(
        await cluster.deliver({
          queue: 'votes:us-east-1',
          body: cluster.encode({ kind: 'view-change', change: viewChange(cluster, member) }),
          receives: 0,
        }),
      ).toBe(true);
    const notice = cluster.pending.find((e) => e.queue === 'ingress:eu-west-1' && e.body.includes('"kind":"view"'))!;
    const handOver = cluster.pending.find((e) => e.queue === 'ingress:us-east-1' && e.body.includes('"kind":"view"'))!;
    expect(notice && handOver).toBeDefined();
    cluster.pending.splice(0, cluster.pending.length);
    expect(await cluster.deliver(notice)).toBe(true);
    expect((await cluster.node('eu-west-1').raw.finality.head()).view).toBe(1);
    // The superseded home sequencer hands the transfer over; view 1's sequencer proposes it (a batch with
    // no notice in it: it acts in the recorded view) and keeps a pacemaker, whose tick is handled in view 1.
    expect(await cluster.deliver(handOver)).toBe(true);
    const handed = cluster.pending.find((e) => e.queue === 'ingress:eu-west-1' && e.body.includes('"kind":"tx"'))!;
    cluster.pending.splice(0, cluster.pending.length);
    expect(await cluster.deliver(handed)).toBe(true);
    expect(outcomes.at(-1)!.queue).toBe('ingress:eu-west-1');
    expect(outcomes.at(-1)!.result).not.toHaveProperty('forwardedTo');
    expect(outcomes.at(-1)!.result).toMatchObject({ blocks: [expect.objectContaining({ transactions: 1 })] });
    const tick = cluster.pending.find((e) => e.queue === 'ingress:eu-west-1' && e.body.includes('"pacemaker"'));
    expect(tick).toBeDefined();
    expect(await cluster.deliver(tick!)).toBe(true);
    expect(outcomes.at(-1)!.queue).toBe('ingress:eu-west-1');
    expect(outcomes.at(-1)!.result).not.toHaveProperty('forwardedTo');
  });
});

// Seed 567128643: member 1 (us-east-1) was silent and us-east-1's finalizer never certified view 1, so
// its sequencer went on in view 0 and took the probe into a block of view 0. Every member refused that
// proposal before executing it, so no view timer watched the probe and it waited for good.
describe('a region that missed the view change', () => {
  it('is told of the view by the members that refuse its proposals, and hands its transfers over', async () => {
    // Member 1 is silent; us-east-1's finalizer hears of no view change and no view certificate.
    const cluster = await clusterDropping(
      13,
      (to, m) => to.queue === 'votes' && to.region === 'us-east-1' && (m.kind === 'view-change' || m.kind === 'view'),
      1,
    );
    sendViewChanges(cluster, 1);
    cluster.pending.splice(0, cluster.pending.length, ...cluster.pending.filter((e) => e.queue !== 'votes:us-east-1'));
    await cluster.run(5_000);
    expect((await cluster.node('eu-west-1').raw.finality.head()).view).toBe(1);
    expect((await cluster.node('us-east-1').raw.finality.head()).view).toBe(0);
    // A transfer reaches the home region's ingress, which still believes it is view 0's sequencer.
    const sender = devSecretKey(2);
    cluster.submit(signTransfer(cluster.set.chainId, sender, { to: ed25519PublicKey(devSecretKey(3)), amount: 7n, nonce: 0n }));
    await cluster.run(20_000);
    for (const region of REGIONS)
      expect((await cluster.node(region).query.state(ed25519PublicKey(sender))).nonce, `${region}: the transfer is final and applied`).toBe(
        '1',
      );
  });
});
