import { expect } from 'vitest';
import { runScenario, scenarioForSeed } from '../../lib/sim/simulation.js';

/**
 * Runs seeds [from, from + count) and fails listing every failing seed with its first violation
 * (replay one with `npm run test:soak -- --seed <n>`).
 */
export async function sweep(from: number, count: number): Promise<{ seedsPerSecond: number; steps: number }> {
  const failures: string[] = [];
  let steps = 0;
  const started = performance.now();
  for (let seed = from; seed < from + count; seed++) {
    const result = await runScenario(scenarioForSeed(seed));
    steps += result.steps;
    const v = result.violations[0];
    if (v) failures.push(`seed ${seed}: ${result.violations.length} violation(s), first ${v.kind} at step ${v.step}: ${v.message}`);
  }
  const seedsPerSecond = count / ((performance.now() - started) / 1000);
  console.log(`simulation seeds ${from}..${from + count - 1}: ${seedsPerSecond.toFixed(2)} seeds/s, ${steps} deliveries`);
  expect(failures, `failing seeds (replay: npm run test:soak -- --seed <n>)\n${failures.join('\n')}`).toEqual([]);
  return { seedsPerSecond, steps };
}
