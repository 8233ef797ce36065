import { describe, expect, it } from 'vitest';
import type { ViolationKind } from '../../lib/sim/invariants.js';
import type { PlantedBug } from '../../lib/sim/planted.js';
import { runScenario, type Scenario, scenarioForSeed } from '../../lib/sim/simulation.js';

/** The harness must catch each planted bug within K seeds, and the same scenarios without the bug must pass. */
const K = 10;

const cases: { bug: PlantedBug; expect: ViolationKind[]; scenario: (seed: number) => Scenario }[] = [
  // A finalizer that certifies at t-1 stores certificates with too few signers (which never verify), or,
  // where combining fails, stalls (the pacemaker keeps poking it, so bounded runs are enough to see it).
  {
    bug: 'threshold-minus-one',
    expect: ['bad-certificate', 'unexpected-error', 'liveness'],
    scenario: (seed) => plain(seed, { maxSteps: 600, livenessSteps: 400 }),
  },
  // A repeated vote counted again reaches "t" with a phantom signer: the stored certificate names it.
  {
    bug: 'no-dedup',
    expect: ['bad-certificate', 'unexpected-error'],
    scenario: (seed) => plain(seed, { faults: { ...none, duplicate: 1 } }),
  },
  {
    bug: 'apply-twice',
    expect: ['apply-order'],
    scenario: (seed) => plain(seed, { faults: { ...none, concurrent: 1, yields: 2 }, transactions: 2 }),
  },
  {
    bug: 'no-watermark',
    expect: ['evidence-against-honest'],
    // A Byzantine sequencer that shows both chains and forges "justified" notices tempts honest validators to double vote.
    scenario: (seed) => plain(seed, { sequencer: { mode: 'confuse', forkHeight: 1, invalid: 'bad-signature', altMembers: [] } }),
  },
];

const none = { duplicate: 0, concurrent: 0, crash: 0, delay: 0, outage: 0, yields: 0 };

function plain(seed: number, extra: Partial<Scenario> = {}): Scenario {
  const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(seed);
  return { ...base, faults: none, checkpointInterval: 1, transactions: 1, ...extra };
}

describe('planted bugs are caught', () => {
  for (const c of cases) {
    it(`${c.bug}: a violation within ${K} seeds, none without the bug`, { timeout: 300_000 }, async () => {
      let caught: { seed: number; kinds: ViolationKind[] } | undefined;
      for (let seed = 1; seed <= K && !caught; seed++) {
        const r = await runScenario({ ...c.scenario(seed), planted: c.bug });
        if (r.violations.length) caught = { seed, kinds: [...new Set(r.violations.map((v) => v.kind))] };
      }
      expect(caught, `${c.bug} not caught in ${K} seeds`).toBeDefined();
      expect(
        caught!.kinds.some((k) => c.expect.includes(k)),
        `caught as ${caught!.kinds.join(', ')}`,
      ).toBe(true);
      const control = await runScenario(c.scenario(caught!.seed));
      expect(control.violations).toEqual([]);
    });
  }
});
