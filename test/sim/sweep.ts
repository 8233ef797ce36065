import { expect } from 'vitest';
import { runScenario, sweepScenarioForSeed } from '../../lib/sim/simulation.js';

/**
 * Runs every seed of `ranges` (each [from, from + count)) and fails listing every failing seed with
 * its first violation (replay one with `npm run test:soak -- --seed <n>`).
 */
export async function sweep(ranges: readonly { from: number; count: number }[]): Promise<{ seedsPerSecond: number; steps: number }> {
  const failures: string[] = [];
  let steps = 0;
  let seeds = 0;
  const started = performance.now();
  for (const { from, count } of ranges)
    for (let seed = from; seed < from + count; seed++) {
      const result = await runScenario(sweepScenarioForSeed(seed));
      steps += result.steps;
      seeds++;
      const v = result.violations[0];
      if (v) failures.push(`seed ${seed}: ${result.violations.length} violation(s), first ${v.kind} at step ${v.step}: ${v.message}`);
    }
  const seconds = (performance.now() - started) / 1000;
  const seedsPerSecond = seeds / seconds;
  console.log(`${seeds} seeds in ${seconds.toFixed(0)} s: ${seedsPerSecond.toFixed(2)} seeds/s, ${steps} deliveries`);
  expect(failures, `failing seeds (replay: npm run test:soak -- --seed <n>)\n${failures.join('\n')}`).toEqual([]);
  return { seedsPerSecond, steps };
}
