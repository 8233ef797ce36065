import { describe, expect, it } from 'vitest';
import { NO_FAULTS, runScenario, type Scenario, scenarioForSeed } from '../../lib/sim/simulation.js';

const quiet = (seed: number, extra: Partial<Scenario> = {}): Scenario => {
  const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(seed);
  return { ...base, faults: NO_FAULTS, checkpointInterval: 1, transactions: 1, ...extra };
};

describe('deterministic simulation', () => {
  it('replays a seed exactly: same trace hash, steps and store calls', async () => {
    for (const seed of [3, 14, 25, 68]) {
      const [a, b] = [await runScenario(scenarioForSeed(seed)), await runScenario(scenarioForSeed(seed))];
      expect(b.traceHash).toBe(a.traceHash);
      expect([b.steps, b.storeCalls, b.crashes, b.evidence]).toEqual([a.steps, a.storeCalls, a.crashes, a.evidence]);
    }
  });

  it('different seeds take different paths (the trace hash sees the schedule)', async () => {
    const hashes = new Set<string>();
    for (const seed of [1, 2, 3, 4]) hashes.add((await runScenario(quiet(seed))).traceHash);
    expect(hashes.size).toBe(4);
  });

  it('a fault-free run finalizes and applies everywhere with no violation', async () => {
    const r = await runScenario(quiet(5));
    expect(r.violations).toEqual([]);
    expect(r.finalized.every((h) => h >= 2)).toBe(true);
    expect(r.crashes).toBe(0);
  });

  it('heavy faults (every message duplicated, concurrent runs, crashes, outages) keep safety and liveness', async () => {
    const faults = { duplicate: 1, concurrent: 0.5, crash: 0.08, delay: 0.3, outage: 0.03, yields: 5 };
    for (const seed of [101, 102, 103]) {
      const r = await runScenario(quiet(seed, { faults, transactions: 2 }));
      expect(r.violations, `seed ${seed}`).toEqual([]);
      expect(r.crashes).toBeGreaterThan(0);
    }
  });

  it('a Byzantine member that equivocates (double, surround, Twins) and sends garbage is caught and never counted', async () => {
    const r = await runScenario(
      quiet(7, { byzantineMember: { member: 2, attacks: ['double', 'surround', 'twins', 'garbage'] }, transactions: 2 }),
    );
    expect(r.violations).toEqual([]);
    expect(r.evidence).toBeGreaterThan(0);
  });

  it('a Byzantine sequencer (alternative chains with an invalid transaction) never breaks safety', async () => {
    for (const mode of ['alt-chain', 'split', 'confuse'] as const) {
      const r = await runScenario(
        quiet(9, {
          sequencer: { mode, forkHeight: 1, invalid: 'overspend', altMembers: [1, 3] },
          byzantineMember: { member: 4, attacks: ['twins', 'double'] },
        }),
      );
      expect(r.violations, mode).toEqual([]);
    }
  });
});

describe('crash points', () => {
  it('a crash before or after any single store call or send never breaks an invariant', { timeout: 600_000 }, async () => {
    const base = quiet(11);
    const clean = await runScenario(base);
    expect(clean.violations).toEqual([]);
    // Every call of the fault-free run is a crash point; a stride keeps the default run short
    // (AFG_SIM_CRASH_STRIDE=1 sweeps all of them).
    const stride = Number(process.env.AFG_SIM_CRASH_STRIDE ?? 7);
    const failures: string[] = [];
    let runs = 0;
    for (let call = 1; call <= clean.storeCalls; call += stride)
      for (const after of [false, true]) {
        const r = await runScenario({ ...base, crashAt: { call, after } });
        runs++;
        expect(r.crashes).toBe(1);
        if (r.violations.length)
          failures.push(`call ${call} ${after ? 'after' : 'before'}: ${r.violations[0]!.kind} ${r.violations[0]!.message}`);
      }
    console.log(`crash points: ${runs} runs over ${clean.storeCalls} calls`);
    expect(failures).toEqual([]);
  });
});
