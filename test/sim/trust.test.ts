/**
 * Trust-boundary scenarios of the simulation (issue 15, items 4 and 6): a member that splits its
 * votes across regions must end up with verifiable evidence in every region (the evidence invariant:
 * audit-missed-evidence), and forged "justified" and "finalized" notices must stall nothing and plant
 * nothing (vote-from-unjustified, watermark-ahead, applied-not-final, liveness). Each invariant is
 * shown able to fail by a planted bug. Over many seeds: `npm run test:soak -- --trust split|forger`.
 */
import { describe, expect, it } from 'vitest';
import { voteSigningBytes } from '../../lib/core/codec.js';
import { evidenceOf } from '../../lib/core/slashing.js';
import type { MemberAttack } from '../../lib/sim/byzantine.js';
import type { ViolationKind } from '../../lib/sim/invariants.js';
import type { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { NO_FAULTS, runScenario, type Scenario, SIM_REGIONS, scenarioForSeed } from '../../lib/sim/simulation.js';
import { SIM_AUDIT_HORIZON, trustScenarioForSeed } from '../../lib/sim/trust-scenarios.js';

const FAULTS = { duplicate: 0.3, concurrent: 0.1, crash: 0.03, delay: 0.3, outage: 0.02, yields: 2 };

function quiet(seed: number, extra: Partial<Scenario> = {}): Scenario {
  const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(seed);
  return { ...base, faults: NO_FAULTS, checkpointInterval: 1, transactions: 2, ...extra };
}

const split = (seed: number, attack: MemberAttack, extra: Partial<Scenario> = {}): Scenario =>
  quiet(seed, { byzantineMember: { member: 1 + (seed % 4), attacks: [attack] }, auditHorizon: SIM_AUDIT_HORIZON, ...extra });

/** Every region holds evidence against `member`, and every piece of it is a slashable pair of its verified signatures. */
async function expectVerifiableEvidenceEverywhere(cluster: MemoryCluster, member: number): Promise<void> {
  const publicKey = cluster.set.members[member - 1]!.publicKey;
  for (const region of SIM_REGIONS) {
    const evidence = await cluster.node(region).raw.finality.listEvidence(1000);
    expect(
      evidence.some((e) => e.member === member),
      `evidence against member ${member} in ${region}`,
    ).toBe(true);
    for (const e of evidence) {
      expect(e.member).toBe(member);
      expect(evidenceOf(e.first, e.second)?.kind).toBe(e.kind);
      for (const v of [e.first, e.second])
        expect(cluster.crypto.verify(publicKey, voteSigningBytes(cluster.set.chainId, v), v.signature)).toBe(true);
    }
  }
}

describe('split equivocation in a 4-region cluster', () => {
  for (const attack of ['split-double', 'split-surround'] as const)
    for (const faults of ['quiet', 'faulty'] as const)
      it(`${attack}, ${faults}: verifiable evidence in every region, no violation`, { timeout: 300_000 }, async () => {
        const scenario = split(3, attack, faults === 'faulty' ? { faults: FAULTS } : {});
        let ends = 0;
        const r = await runScenario(scenario, {
          onEnd: async (cluster) => {
            await expectVerifiableEvidenceEverywhere(cluster, scenario.byzantineMember!.member);
            ends++;
          },
        });
        expect(r.violations).toEqual([]);
        expect(ends).toBe(1);
        expect(r.audit.required).toBeGreaterThan(0);
      });

  it('without the audit (planted: no region reads its peers) the evidence invariant fails', { timeout: 300_000 }, async () => {
    const r = await runScenario(split(1, 'split-double', { planted: 'no-audit' }));
    expect([...new Set(r.violations.map((v) => v.kind))]).toContain<ViolationKind>('audit-missed-evidence');
    expect((await runScenario(split(1, 'split-double'))).violations).toEqual([]);
  });

  it('seeded split scenarios (as the soak runs them) hold every invariant', { timeout: 600_000 }, async () => {
    let required = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const r = await runScenario(trustScenarioForSeed('split', seed));
      expect(r.violations, `seed ${seed}`).toEqual([]);
      required += r.audit.required;
    }
    expect(required).toBeGreaterThan(0);
  });
});

describe('forged notices', () => {
  for (const faults of ['quiet', 'faulty'] as const)
    it(`forged justified and finalized notices, ${faults}: nothing stalls, nothing is planted`, { timeout: 300_000 }, async () => {
      const r = await runScenario(
        quiet(2, { forger: { notices: ['justified', 'finalized'] }, ...(faults === 'faulty' ? { faults: FAULTS } : {}) }),
      );
      expect(r.violations).toEqual([]);
      expect(r.forgeries!.justified).toBeGreaterThan(0);
      expect(r.forgeries!.finalized).toBeGreaterThan(0);
      expect(r.finalized.length).toBeGreaterThan(0);
    });

  it('validators that believe notices (planted) are caught', { timeout: 300_000 }, async () => {
    const caught: ViolationKind[] = [];
    for (let seed = 1; seed <= 5 && caught.length === 0; seed++) {
      const r = await runScenario(quiet(seed, { forger: { notices: ['justified'] }, planted: 'trust-notices' }));
      caught.push(...new Set(r.violations.map((v) => v.kind)));
    }
    expect(
      caught.some((k) => ['vote-from-unjustified', 'watermark-ahead', 'liveness'].includes(k)),
      caught.join(', '),
    ).toBe(true);
  });

  it('seeded forger scenarios (as the soak runs them) hold every invariant', { timeout: 600_000 }, async () => {
    for (let seed = 1; seed <= 4; seed++)
      expect((await runScenario(trustScenarioForSeed('forger', seed))).violations, `seed ${seed}`).toEqual([]);
  });
});
