import { describe, it } from 'vitest';
import { sweepPart } from './seeds.js';

describe('deterministic simulation, seed sweep (second half)', () => {
  it('holds every invariant for the fixed seeds and this run’s fresh range (second halves)', { timeout: 1_800_000 }, async () => {
    await sweepPart(1, 'test/sim/seeds-b.test.ts');
  });
});
