/**
 * Seeded scenarios for the trust boundaries of issue 15: a member that splits its votes across
 * regions (the cross-region evidence audit must turn every split pair into evidence in every region
 * that audited the height after both votes were recorded), and a notice forger (forged "justified"
 * and "finalized" notices must stall nothing and plant nothing). Run by test/sim/trust.test.ts and
 * by the soak runner (`npm run test:soak -- --trust split|forger --seeds 1000`).
 */
import { type MemberAttack, SPLIT_ATTACKS } from './byzantine.js';
import { mulberry32 } from './memory-cluster.js';
import { type Scenario, scenarioForSeed } from './simulation.js';

export type TrustScenario = 'split' | 'forger';
export const TRUST_SCENARIOS: readonly TrustScenario[] = ['split', 'forger'];

/**
 * Audit horizon of the split scenarios: small, so the second audit of a height (the one that finds
 * votes recorded after the height became final) happens within a short run.
 */
export const SIM_AUDIT_HORIZON = 2;

/**
 * The seed's scenario (faults, interval, workload) without its Byzantine sequencer (liveness is then
 * promised) and with `kind`'s adversary in place of its Byzantine member.
 */
export function trustScenarioForSeed(kind: TrustScenario, seed: number, overrides: Partial<Scenario> = {}): Scenario {
  const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(seed);
  const r = mulberry32(seed ^ 0x51f15e);
  if (kind === 'split') {
    const attack: MemberAttack = SPLIT_ATTACKS[Math.floor(r() * SPLIT_ATTACKS.length)]!;
    return {
      ...base,
      byzantineMember: { member: 1 + Math.floor(r() * 4), attacks: [attack] },
      auditHorizon: SIM_AUDIT_HORIZON,
      ...overrides,
    };
  }
  const notices = r() < 0.6 ? (['justified', 'finalized'] as const) : r() < 0.5 ? (['justified'] as const) : (['finalized'] as const);
  return { ...base, forger: { notices }, ...overrides };
}
