/**
 * Sequencer failover (issue 16): the home region, whose sequencer proposes in view 0, is lost for
 * good in the middle of the run. The members left time out by their local view timers, certify view
 * 1 (and further views if need be), the next region's sequencer restarts from the highest justified
 * checkpoint the view certificate shows, takes the superseded blocks' transactions back, and the
 * chain finalizes again in every live region. Every safety invariant of the simulation still holds.
 */
import { describe, expect, it } from 'vitest';
import { NO_FAULTS, runScenario, type Scenario, SIM_REGIONS, scenarioForSeed } from '../../lib/sim/simulation.js';

/** A lost region loses its member too: with n = 4 and t = 3 no other member may be faulty. */
function homeLost(seed: number, atStep: number, faults: boolean): Scenario {
  const { byzantineMember: _m, sequencer: _s, ...rest } = scenarioForSeed(seed);
  return { ...rest, ...(faults ? {} : { faults: NO_FAULTS }), lostRegion: { region: SIM_REGIONS[0], atStep } };
}

async function expectFailover(scenarios: Scenario[]): Promise<void> {
  for (const s of scenarios) {
    const r = await runScenario(s);
    expect(r.violations, `seed ${s.seed}`).toEqual([]);
    const live = r.views.slice(1);
    expect(
      live.every((v) => v >= 1),
      `seed ${s.seed}: views ${r.views}`,
    ).toBe(true);
  }
}

describe('the sequencer fails over to another region (views)', () => {
  it('home region lost early, no other faults: view 1 takes over and the probe is final everywhere else', {
    timeout: 300_000,
  }, async () => {
    await expectFailover([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => homeLost(seed, 30 + (seed % 5) * 10, false)));
  });

  it('transfers accepted (both pools hold them) just before the home region is lost are finalized in view 1', {
    timeout: 300_000,
  }, async () => {
    for (const [seed, atStep] of [
      [31, 0],
      [32, 1],
      [33, 3],
      [34, 0],
    ] as const) {
      const r = await runScenario(homeLost(seed, atStep, false));
      expect(r.accepted, `seed ${seed}`).toBe(r.scenario.transactions * 2);
      expect(r.violations, `seed ${seed}`).toEqual([]);
      expect(
        r.views.slice(1).every((v) => v >= 1),
        `seed ${seed}: views ${r.views}`,
      ).toBe(true);
    }
  });

  it('home region lost during crashes, duplicates, delays and outages', { timeout: 600_000 }, async () => {
    await expectFailover([11, 12, 13, 14, 15, 16, 17, 18, 19, 20].map((seed) => homeLost(seed, 60, true)));
  });
});
