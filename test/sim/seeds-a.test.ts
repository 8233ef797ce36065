import { describe, it, vi } from 'vitest';
import { SEEDS_PER_FILE } from './memo.js';
import { sweep } from './sweep.js';

vi.mock('../../lib/core/bls.js', async (importOriginal) => (await import('./memo.js')).blsMemoFactory(importOriginal as never));

describe('deterministic simulation, seed sweep (first half)', () => {
  it(`holds every invariant for seeds 1..${SEEDS_PER_FILE}`, { timeout: 1_800_000 }, async () => {
    await sweep(1, SEEDS_PER_FILE);
  });
});
