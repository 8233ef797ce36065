/**
 * The seed sweep's plan, shared by the two sweep files (which run in parallel): each runs half of
 * the fixed seeds and half of this run's fresh range (lib/sim/seed-policy.ts, docs/testing.md).
 */
import { slice, sweepPlan } from '../../lib/sim/seed-policy.js';
import { sweep } from './sweep.js';

/** Runs part `part` (0 or 1) of the fixed seeds and of the fresh range, printing the range and how to replay it. */
export async function sweepPart(part: 0 | 1, file: string): Promise<void> {
  const plan = sweepPlan();
  const fixed = slice(plan.fixed, part, 2);
  const fresh = slice(plan.fresh, part, 2);
  console.log(
    `seed sweep ${file}: fixed seeds ${fixed.from}..${fixed.from + fixed.count - 1}, fresh seeds ${fresh.from}..${fresh.from + fresh.count - 1} ` +
      `(range start ${plan.fresh.from} from ${plan.origin}); replay: AFG_SIM_FROM=${plan.fresh.from} AFG_SIM_SEEDS=${plan.fresh.count} npx vitest run ${file}` +
      ` (or the whole range: npm run test:soak -- --from ${plan.fresh.from} --seeds ${plan.fresh.count})`,
  );
  await sweep([fixed, fresh]);
}
