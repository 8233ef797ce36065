import { describe, it } from 'vitest';
import { sweepPart } from './seeds.js';

describe('deterministic simulation, seed sweep (first half)', () => {
  it('holds every invariant for the fixed seeds and this run’s fresh range (first halves)', { timeout: 1_800_000 }, async () => {
    await sweepPart(0, 'test/sim/seeds-a.test.ts');
  });
});
