/**
 * Bugs the simulation found in lib/pipeline, kept as regression tests now that they are fixed
 * (they were marked `it.fails` while present). Details: docs/testing.md.
 */
import { describe, expect, it } from 'vitest';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import type { Link } from '../../lib/core/types.js';
import { handleVote } from '../../lib/pipeline/finalizer.js';
import { MemoryFinalityStore } from '../../lib/pipeline/memory.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { NO_FAULTS, runScenario, scenarioForSeed, simDealing } from '../../lib/sim/simulation.js';
import { buildFixture, RecordingTransport, voteOn } from '../helpers/fixture.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];

describe('bugs found by the simulation (fixed)', () => {
  // Sequencer (lib/pipeline/sequencer.ts): with K > 1, a block built from the pool below the next
  // checkpoint is never followed by blocks up to that checkpoint unless a later tick arrives, and
  // ticks only come from justifications (tickTo > 0). A lone transaction is never finalized.
  it('K=2: a single transfer is finalized and applied in every region', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: 2, seed: 1, dealing: simDealing() });
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(0), { to: ed25519PublicKey(devSecretKey(1)), amount: 1n, nonce: 0n }));
    await cluster.run();
    for (const region of REGIONS) expect((await cluster.node(region).query.finality()).applied.height).toBeGreaterThanOrEqual(2);
  });

  // Finalizer (lib/pipeline/finalizer.ts + the VoteLog/TallyStore contracts): the vote log and the
  // tally keep the FIRST vote per (member, link) without checking its signature. A forged copy that
  // arrives first makes the real vote a 'duplicate' that is never tallied; certify() then drops the
  // forged partial, and the link can stay one share short for good in that region.
  it('a forged copy of an honest vote delivered first does not stop certification', async () => {
    const f = await buildFixture({ checkpointInterval: 1 });
    const store = new MemoryFinalityStore(f.chain.genesis);
    const deps = { chain: f.chain, region: f.region, homeRegion: f.region, store, transport: new RecordingTransport() };
    const link: Link = { era: 0n, source: f.checkpoints.get(0)!, target: f.checkpoints.get(1)! };
    const real = (m: number) => voteOn(f.dealing, f.chain.set.chainId, link, m);
    // Member 4 is Byzantine: silent on this link, it forges member 1's vote with its own (valid-looking) signature.
    await handleVote(deps, { ...real(1), signature: real(4).signature });
    for (const m of [1, 2, 3]) await handleVote(deps, real(m));
    const [record] = await store.checkpointsAt(1);
    expect(record?.status).toBeDefined(); // justified by members 1, 2, 3
  });

  // Same root cause: a forged copy recorded first hides the member's real vote from equivocation detection.
  it('an equivocation is evidence even when a forged copy of one of its votes arrived first', async () => {
    const f = await buildFixture({ checkpointInterval: 1 });
    const store = new MemoryFinalityStore(f.chain.genesis);
    const deps = { chain: f.chain, region: f.region, homeRegion: f.region, store, transport: new RecordingTransport() };
    const link: Link = { era: 0n, source: f.checkpoints.get(0)!, target: f.checkpoints.get(1)! };
    const other: Link = { ...link, target: { ...link.target, hash: new Uint8Array(32).fill(7) } };
    const first = voteOn(f.dealing, f.chain.set.chainId, link, 4);
    await handleVote(deps, { ...first, signature: voteOn(f.dealing, f.chain.set.chainId, link, 3).signature }); // forged copy
    await handleVote(deps, first);
    await handleVote(deps, voteOn(f.dealing, f.chain.set.chainId, other, 4)); // double vote, both validly signed
    expect(await store.listEvidence(10)).toHaveLength(1);
  });

  // Crashes at single points of the fault-free seed 11 run (K = 1, one transfer) that used to stall
  // a region for good. #64: a send in member 1's vote fan-out for 0 -> 1 (ap-northeast-1 never got
  // it, and by the redelivery the member had moved on to 1 -> 2); #750: the same in member 2's fan-out
  // for 3 -> 4. Fixed by re-sending the last signed vote on redelivery and by carrying the source's
  // justification in every vote. #484: the finalizer's tick after certifying, lost because the
  // redelivered vote was a duplicate and sent no notices; fixed by re-notifying on redelivery.
  const crashes: [number, string][] = [
    [64, 'a send in the middle of a vote fan-out'],
    [484, 'the finalizer notices after a certificate'],
    [750, 'a later vote fan-out, after the chain moved on'],
  ];
  for (const [call, what] of crashes)
    it(`a crash before ${what} does not stall finality (seed 11, crash before call ${call})`, async () => {
      const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(11);
      const r = await runScenario({ ...base, faults: NO_FAULTS, checkpointInterval: 1, transactions: 1, crashAt: { call, after: false } });
      expect(r.crashes).toBe(1);
      expect(r.violations).toEqual([]);
    });

  // Controls: without the forged copy both behaviours are right, so the tests above fail for the stated reason only.
  it('control: the same votes without a forged copy certify and produce evidence', async () => {
    const f = await buildFixture({ checkpointInterval: 1 });
    const store = new MemoryFinalityStore(f.chain.genesis);
    const deps = { chain: f.chain, region: f.region, homeRegion: f.region, store, transport: new RecordingTransport() };
    const link: Link = { era: 0n, source: f.checkpoints.get(0)!, target: f.checkpoints.get(1)! };
    const other: Link = { ...link, target: { ...link.target, hash: new Uint8Array(32).fill(7) } };
    for (const m of [1, 2, 3]) await handleVote(deps, voteOn(f.dealing, f.chain.set.chainId, link, m));
    expect((await store.checkpointsAt(1))[0]?.status).toBe('justified');
    await handleVote(deps, voteOn(f.dealing, f.chain.set.chainId, link, 4));
    await handleVote(deps, voteOn(f.dealing, f.chain.set.chainId, other, 4));
    expect(await store.listEvidence(10)).toHaveLength(1);
  });
});
