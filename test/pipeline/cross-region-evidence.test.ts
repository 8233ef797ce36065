/**
 * Split equivocation (issue 15, item 6): a member sends one vote to some regions and a conflicting
 * one to the others, so no region's finalizer ever holds both. Each region's audit of the heights
 * it finalizes compares its tally with its peers' and must turn the pair into evidence everywhere:
 * at once when both votes are recorded by the time the height is final, and at the audit horizon
 * when the conflicting vote arrives late. (Over real HTTP: test/api/votes-route.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { evidenceOf } from '../../lib/core/slashing.js';
import { expectEvidenceEverywhere, expectNoEvidence, REGIONS, runNoticesLast, splitCluster, submitTransfers } from '../helpers/split.js';

describe('split equivocation across regions', () => {
  for (const conflict of ['double', 'surround'] as const) {
    it(`a ${conflict} vote split 2/2 between regions is evidence in every region once its height is final`, async () => {
      const { cluster, sent } = await splitCluster(conflict, 11);
      expect(await runNoticesLast(cluster)).toBeGreaterThan(0);
      expect(sent).toHaveLength(2);
      expect(evidenceOf(sent[0]!, sent[1]!)?.kind).toBe(conflict);
      for (const region of REGIONS)
        expect((await cluster.node(region).query.finality()).finalized.height, region).toBeGreaterThanOrEqual(4);
      await expectEvidenceEverywhere(cluster, conflict);
    });

    it(`a ${conflict} vote that arrives after its height is final everywhere is found at the audit horizon`, async () => {
      const horizon = 8;
      const { cluster, sent, release } = await splitCluster(conflict, 5, { holdConflicting: true, auditHorizon: horizon });
      await cluster.run();
      const attacked = sent[1]!.target.height;
      const final = await Promise.all(REGIONS.map(async (r) => (await cluster.node(r).query.finality()).finalized.height));
      // Every region audited the attacked height already, and its horizon audit is still ahead.
      for (const f of final) expect(f).toBeGreaterThanOrEqual(attacked);
      expect(Math.max(...final)).toBeLessThan(attacked + horizon);
      await release();
      await cluster.run();
      await expectNoEvidence(cluster);
      // The chain moves on: each region's notice for the attacked height + horizon audits it again.
      // One at a time: the sequencer reads a few pool entries per block, and a nonce ahead waits.
      for (let nonce = 4n; nonce < 4n + BigInt(horizon) + 2n; nonce++) {
        submitTransfers(cluster, nonce, nonce + 1n);
        await cluster.run();
      }
      for (const region of REGIONS)
        expect((await cluster.node(region).query.finality()).finalized.height, region).toBeGreaterThanOrEqual(attacked + horizon);
      await expectEvidenceEverywhere(cluster, conflict);
    });
  }
});
