/**
 * The dangerous corner of issue 19, by construction rather than by random draw (used by
 * corner-crashes.test.ts and corner-faults.test.ts): exactly f members silent, so every honest share
 * is needed and a single lost wake-up (a vote, notice or proposal that never leaves, or a message
 * consumed before what it waits for) could stall finality for good. Each scenario must keep every
 * safety invariant and, after faults stop, finalize and apply the liveness probe transfer in every
 * region (the simulation's liveness invariant).
 *
 * - n = 4 (f = 1): each choice of silent member; n = 7 (f = 2, t = 5): three silent pairs (both
 *   validators of the sequencer's region, two regions' first members, a lone member's region too).
 * - (a) crash points: one crash before or after a store call or send of the fault-free run. Every
 *   kind of call (its label without the region) is hit at its first occurrence, plus a stride over
 *   all calls (offset by the silent choice), so the slice is deterministic and bounded.
 *   AFG_SIM_CORNER_STRIDE=N takes every N-th call instead (1: every call, before and after; slow).
 * - (b) concurrent duplicate invocations: every delivery runs twice at once, and copies stay queued.
 * - (c) reordering: deliveries held back 1..50 steps on top of the uniformly random pick.
 * - (a) under (b) and (c): crash points over a run with concurrency and reordering.
 */
import { expect } from 'vitest';
import { type FaultRates, NO_FAULTS, runScenario, type Scenario, scenarioForSeed } from '../../lib/sim/simulation.js';

/** A scenario with no Byzantine actor and no random fault: n members, `silent` of them offline. */
export function corner(seed: number, members: number, silent: readonly number[], extra: Partial<Scenario> = {}): Scenario {
  const { byzantineMember: _m, sequencer: _s, ...base } = scenarioForSeed(seed);
  return { ...base, faults: NO_FAULTS, checkpointInterval: 1, transactions: 1, members, silent, ...extra };
}

/** The kind of a call: its label without the region (`finality@eu-west-1.recordVote` -> `finality.recordVote`). */
const kindOf = (label: string) => label.replace(/@[^.]+/, '');

/**
 * Crash points of a run whose calls are `labels`: the first call of each kind, before and after its
 * effect, and every `stride`-th call from `offset` (alternately before and after; both when stride is 1).
 */
function crashPoints(labels: readonly string[], stride: number, offset: number): { call: number; after: boolean }[] {
  const points = new Map<string, { call: number; after: boolean }>();
  const add = (call: number, after: boolean) => points.set(`${call}|${after}`, { call, after });
  const seen = new Set<string>();
  labels.forEach((label, i) => {
    if (seen.has(kindOf(label))) return;
    seen.add(kindOf(label));
    add(i + 1, false);
    add(i + 1, true);
  });
  for (let call = 1 + (offset % stride), k = 0; call <= labels.length; call += stride, k++) {
    if (stride === 1 || k % 2 === 0) add(call, false);
    if (stride === 1 || k % 2 === 1) add(call, true);
  }
  return [...points.values()].sort((a, b) => a.call - b.call || Number(a.after) - Number(b.after));
}

const FULL = process.env.AFG_SIM_CORNER_STRIDE !== undefined;
const STRIDE = Number(process.env.AFG_SIM_CORNER_STRIDE ?? 0);

/** Runs `base` with a single planned crash at each point; returns the failures (empty when all held). */
export async function sweepCrashes(base: Scenario, strideSamples: number, offset: number): Promise<{ runs: number; failures: string[] }> {
  const clean = await runScenario({ ...base, recordCalls: true });
  expect(clean.violations, 'the run without a crash').toEqual([]);
  const labels = clean.callLabels!;
  const stride = FULL ? Math.max(1, STRIDE) : Math.max(1, Math.ceil(labels.length / strideSamples));
  const failures: string[] = [];
  const points = crashPoints(labels, stride, offset);
  for (const point of points) {
    const r = await runScenario({ ...base, crashAt: point });
    expect(r.crashes).toBeGreaterThanOrEqual(1);
    const v = r.violations[0];
    if (v)
      failures.push(`crash ${point.after ? 'after' : 'before'} call ${point.call} (${labels[point.call - 1]}): ${v.kind} ${v.message}`);
  }
  console.log(`${JSON.stringify(base.silent)} of ${base.members ?? 4} silent: ${points.length} crash points over ${labels.length} calls`);
  return { runs: points.length, failures };
}

/** (b) Every delivery runs twice at once (two invocations of one message), and copies stay queued. */
export const CONCURRENT: FaultRates = { ...NO_FAULTS, concurrent: 1, duplicate: 0.3, yields: 5 };
/** (c) Deliveries held back 1..50 steps, on top of the uniformly random pick among deliverable messages. */
export const REORDERED: FaultRates = { ...NO_FAULTS, delay: 0.3, duplicate: 0.1 };
/** (b) and (c) together. */
export const BOTH: FaultRates = { ...NO_FAULTS, concurrent: 0.3, duplicate: 0.3, delay: 0.3, yields: 3 };

/** n = 7 (t = 5) silent pairs. Members sit round-robin over the four regions: us-east-1 (the sequencer's) hosts 1 and 5, eu-west-1 2 and 6, ap-northeast-1 3 and 7, sa-east-1 only 4. */
export const SILENT_PAIRS: readonly (readonly number[])[] = [
  [1, 5],
  [2, 4],
  [3, 6],
];

/** Runs each scenario; returns `what: first violation` for every one that broke an invariant. */
export async function failuresOf(runs: readonly { what: string; scenario: Scenario }[]): Promise<string[]> {
  const failures: string[] = [];
  for (const { what, scenario } of runs) {
    const r = await runScenario(scenario);
    if (r.violations.length) failures.push(`${what}: ${r.violations[0]!.kind} ${r.violations[0]!.message}`);
  }
  return failures;
}
