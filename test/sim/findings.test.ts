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

  // Validator (lib/pipeline/validator.ts sign()): the watermark write and the fan-out of the vote to
  // every region are not atomic. Seed 11, one crash before store call/send #64 (member 1's vote
  // 0 -> 1 to ap-northeast-1): when the proposal is redelivered the member's region has already
  // justified 1, so it signs 1 -> 2 and never re-sends 0 -> 1. Member 4 skipped 0 -> 1 for the same
  // reason, so ap-northeast-1 holds 2 of 3 shares for 0 -> 1 forever, never justifies 1, and every
  // later certified link waits on it: that region never finalizes anything again.
  it('a crash in the middle of a vote fan-out does not stall a region for good (seed 11, crash before call 64)', async () => {
    const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(11);
    const r = await runScenario({
      ...base,
      faults: NO_FAULTS,
      checkpointInterval: 1,
      transactions: 1,
      crashAt: { call: 64, after: false },
    });
    expect(r.violations).toEqual([]);
  });

  // Finalizer (lib/pipeline/finalizer.ts justify(), since bab3d0f "finalizer sends notices only on
  // progress or a fresh vote"): when the run that completes a certificate crashes after the status
  // writes and before the notices, the redelivered vote is a duplicate and sends nothing; if no later
  // fresh vote comes (n - t = 1 and that member voted earlier or skipped the link), the home region
  // never sends the tick, the sequencer never builds the next checkpoint, and the last transfer is
  // never finalized. Seed 11, K = 1, one crash before call 484 (`send.ingress`, the tick for 3).
  it('a crash before the finalizer notices does not stall finality (seed 11, crash before call 484)', async () => {
    const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(11);
    const r = await runScenario({
      ...base,
      faults: NO_FAULTS,
      checkpointInterval: 1,
      transactions: 1,
      crashAt: { call: 484, after: false },
    });
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
