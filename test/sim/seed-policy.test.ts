import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIXED_SEEDS, FRESH_BASE, FRESH_SPAN, freshStart, slice, sweepPlan } from '../../lib/sim/seed-policy.js';

const day = new Date('2026-12-01T10:00:00Z');
const commit = 'bf5a1b5b2c3d4e5f60718293a4b5c6d7e8f90123';

describe('seed policy', () => {
  it('the fresh range follows the UTC date and the commit, and replays for the same pair', () => {
    const plan = sweepPlan({}, day, commit);
    expect(plan.fixed).toEqual(FIXED_SEEDS);
    expect(plan.fresh.count).toBe(900);
    expect(plan.origin).toBe('date 2026-12-01, commit bf5a1b5b2c3d');
    expect(sweepPlan({}, new Date('2026-12-01T23:59:59Z'), commit).fresh.from).toBe(plan.fresh.from);
    expect(sweepPlan({}, new Date('2026-12-02T00:00:00Z'), commit).fresh.from).not.toBe(plan.fresh.from);
    expect(sweepPlan({}, day, `${commit.slice(0, -1)}4`).fresh.from).not.toBe(plan.fresh.from);
  });

  it('fresh starts stay in their band, far above the fixed seeds', () => {
    fc.assert(
      fc.property(fc.string(), (label) => {
        const from = freshStart(label);
        expect(from).toBeGreaterThanOrEqual(FRESH_BASE);
        expect(from).toBeLessThan(FRESH_BASE + FRESH_SPAN);
        expect(from).toBe(freshStart(label));
      }),
    );
  });

  it('AFG_SIM_FROM, AFG_SIM_SEEDS and AFG_SIM_FIXED pin the plan; anything but an integer is refused by name', () => {
    expect(sweepPlan({ AFG_SIM_FROM: '123456', AFG_SIM_SEEDS: '40', AFG_SIM_FIXED: '0' }, day, commit)).toEqual({
      fixed: { from: 1, count: 0 },
      fresh: { from: 123456, count: 40 },
      origin: 'AFG_SIM_FROM',
    });
    expect(() => sweepPlan({ AFG_SIM_FROM: 'tomorrow' }, day, commit)).toThrow(/AFG_SIM_FROM/);
    expect(() => sweepPlan({ AFG_SIM_SEEDS: '-1' }, day, commit)).toThrow(/AFG_SIM_SEEDS/);
    expect(() => sweepPlan({ AFG_SIM_FIXED: '1.5' }, day, commit)).toThrow(/AFG_SIM_FIXED/);
  });

  it('the parts of a range are contiguous, disjoint and cover it', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(5_000), fc.integer({ min: 1, max: 8 }), (from, count, parts) => {
        const slices = Array.from({ length: parts }, (_, i) => slice({ from, count }, i, parts));
        let next = from;
        for (const s of slices) {
          expect(s.from).toBe(next);
          next += s.count;
        }
        expect(next).toBe(from + count);
        expect(Math.max(...slices.map((s) => s.count)) - Math.min(...slices.map((s) => s.count))).toBeLessThanOrEqual(1);
      }),
    );
  });
});
