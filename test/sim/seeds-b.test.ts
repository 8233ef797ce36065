import { describe, it } from 'vitest';
import { SEEDS_PER_FILE } from './seeds.js';
import { sweep } from './sweep.js';

describe('deterministic simulation, seed sweep (second half)', () => {
  it(`holds every invariant for seeds ${SEEDS_PER_FILE + 1}..${2 * SEEDS_PER_FILE}`, { timeout: 1_800_000 }, async () => {
    await sweep(SEEDS_PER_FILE + 1, SEEDS_PER_FILE);
  });
});
