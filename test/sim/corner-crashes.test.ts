/**
 * Issue 19, item 3 (a): exactly f members silent, and one crash before or after a store call or
 * send (test/sim/corner.ts says which calls). Safety holds and the probe transfer is finalized and
 * applied everywhere after the crash.
 */
import { describe, expect, it } from 'vitest';
import { corner, SILENT_PAIRS, sweepCrashes } from './corner.js';

describe('f members silent, a crash at a store call or send', () => {
  for (const silent of [1, 2, 3, 4])
    it(`n = 4, member ${silent} silent: each sampled crash point keeps safety and liveness`, { timeout: 900_000 }, async () => {
      const { failures } = await sweepCrashes(corner(11, 4, [silent]), 20, silent);
      expect(failures).toEqual([]);
    });

  for (const silent of SILENT_PAIRS)
    it(`n = 7, members ${silent.join(' and ')} silent: each sampled crash point keeps safety and liveness`, {
      timeout: 900_000,
    }, async () => {
      const { failures } = await sweepCrashes(corner(51, 7, silent), 8, silent[0]!);
      expect(failures).toEqual([]);
    });
});
