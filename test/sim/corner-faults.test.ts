/**
 * Issue 19, item 3 (b, c): exactly f members silent under concurrent duplicate invocations and
 * reordering, alone and together, and crash points over a run with both. Safety holds and the probe
 * transfer is finalized and applied everywhere after faults stop.
 */
import { describe, expect, it } from 'vitest';
import { BOTH, CONCURRENT, corner, failuresOf, REORDERED, SILENT_PAIRS, sweepCrashes } from './corner.js';

const FAULTS = [
  ['concurrent', CONCURRENT],
  ['reordered', REORDERED],
  ['both', BOTH],
] as const;

describe('f members silent, concurrent duplicates and reordering', () => {
  for (const silent of [1, 2, 3, 4])
    it(`n = 4, member ${silent} silent: concurrency, reordering, both, and crash points under both`, { timeout: 900_000 }, async () => {
      const runs = [
        { seed: 21, K: 1 },
        { seed: 22, K: 2 },
      ].flatMap(({ seed, K }) =>
        FAULTS.map(([what, faults]) => ({
          what: `seed ${seed} K ${K} ${what}`,
          scenario: corner(seed, 4, [silent], { faults, transactions: 2, checkpointInterval: K }),
        })),
      );
      const crashed = await sweepCrashes(corner(31, 4, [silent], { faults: BOTH }), 6, silent);
      expect([...(await failuresOf(runs)), ...crashed.failures]).toEqual([]);
    });

  for (const silent of SILENT_PAIRS)
    it(`n = 7, members ${silent.join(' and ')} silent: concurrency, reordering and both`, { timeout: 900_000 }, async () => {
      const runs = FAULTS.map(([what, faults]) => ({
        what: `seed 41 ${what}`,
        scenario: corner(41, 7, silent, { faults, transactions: 2 }),
      }));
      expect(await failuresOf(runs)).toEqual([]);
    });
});
