/**
 * Soak runner: `npm run test:soak -- --seeds 5000 [--from 1] [--planted no-watermark] [--trust split|forger]`,
 * or replay one seed with `--seed 1234` (prints its scenario, trace hash and violations). Prints
 * seeds/s, the number of violations and every failing seed; exits 1 when any seed failed.
 * `--trust` runs the trust scenarios (trust-scenarios.ts) instead of the general ones, and also
 * prints how many (region, split pair) cases demanded evidence and how many forged notices were sent.
 * The simulation signs and verifies through a memoizing crypto (crypto-memo.ts).
 */
import { parseArgs } from 'node:util';
import { memoStats } from './crypto-memo.js';
import { PLANTED_BUGS, type PlantedBug } from './planted.js';
import { runScenario, type Scenario, scenarioForSeed } from './simulation.js';
import { TRUST_SCENARIOS, type TrustScenario, trustScenarioForSeed } from './trust-scenarios.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    planted: { type: 'string' },
    trust: { type: 'string' },
  },
});

const planted = values.planted as PlantedBug | undefined;
if (planted && !PLANTED_BUGS.includes(planted)) {
  console.error(`--planted: expected one of ${PLANTED_BUGS.join(', ')}`);
  process.exit(2);
}
const overrides = planted ? { planted } : {};
const trust = values.trust as TrustScenario | undefined;
if (trust && !TRUST_SCENARIOS.includes(trust)) {
  console.error(`--trust: expected one of ${TRUST_SCENARIOS.join(', ')}`);
  process.exit(2);
}
const scenarioOf = (seed: number): Scenario => (trust ? trustScenarioForSeed(trust, seed, overrides) : scenarioForSeed(seed, overrides));

if (values.seed !== undefined) {
  const result = await runScenario(scenarioOf(Number(values.seed)));
  console.log(JSON.stringify(result.scenario, null, 2));
  console.log(`trace ${result.traceHash}  steps ${result.steps}  store calls ${result.storeCalls}  crashes ${result.crashes}`);
  console.log(
    `finalized ${result.finalized.join(',')}  evidence ${result.evidence}  masked evidence pairs ${result.maskedEvidence}  dead letters ${result.deadLetters}`,
  );
  for (const v of result.violations) console.log(`VIOLATION step ${v.step} ${v.kind}: ${v.message}`);
  process.exit(result.violations.length ? 1 : 0);
}

const from = Number(values.from);
const count = Number(values.seeds);
const failing: { seed: number; kind: string; message: string }[] = [];
let violations = 0;
let steps = 0;
const audit = { required: 0, uncovered: 0, seeds: 0 };
const forged = { justified: 0, finalized: 0 };
const started = performance.now();
for (let seed = from; seed < from + count; seed++) {
  const result = await runScenario(scenarioOf(seed));
  steps += result.steps;
  audit.required += result.audit.required;
  audit.uncovered += result.audit.uncovered;
  if (result.audit.required > 0) audit.seeds++;
  forged.justified += result.forgeries?.justified ?? 0;
  forged.finalized += result.forgeries?.finalized ?? 0;
  violations += result.violations.length;
  if (result.violations.length) {
    const v = result.violations[0]!;
    failing.push({ seed, kind: v.kind, message: v.message });
    console.log(`seed ${seed}: ${result.violations.length} violation(s), first ${v.kind} at step ${v.step}: ${v.message}`);
  }
  const done = seed - from + 1;
  if (done % 100 === 0) console.log(`${done}/${count} seeds, ${(done / ((performance.now() - started) / 1000)).toFixed(1)} seeds/s`);
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${count} seeds in ${seconds.toFixed(1)} s: ${(count / seconds).toFixed(1)} seeds/s, ${(steps / seconds).toFixed(0)} deliveries/s, ` +
    `${violations} violation(s) in ${failing.length} seed(s); crypto cache ${memoStats.hits} hits / ${memoStats.misses} misses`,
);
if (trust === 'split')
  console.log(
    `split pairs: ${audit.required} (region, pair) cases demanded evidence in ${audit.seeds} seeds; ${audit.uncovered} no audit could cover`,
  );
if (trust === 'forger') console.log(`forged notices: ${forged.justified} justified, ${forged.finalized} finalized`);
if (failing.length) console.log(`failing seeds: ${failing.map((f) => f.seed).join(' ')}`);
process.exit(failing.length ? 1 : 0);
