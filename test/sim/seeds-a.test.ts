import { describe, it } from 'vitest';
import { SEEDS_PER_FILE } from './seeds.js';
import { sweep } from './sweep.js';

describe('deterministic simulation, seed sweep (first half)', () => {
  it(`holds every invariant for seeds 1..${SEEDS_PER_FILE}`, { timeout: 1_800_000 }, async () => {
    await sweep(1, SEEDS_PER_FILE);
  });
});
