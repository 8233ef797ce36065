/**
 * Which seeds the simulation runs (docs/testing.md, "Seed policy"): coverage that grows from run to
 * run, and replays with one command.
 *
 * - The test suite (test/sim/seeds-a/b) runs the fixed seeds 1..100 every time (known seeds never
 *   regress) and a fresh range whose start is derived from the UTC date and the git commit: a new
 *   commit or a new day explores new seeds, while a re-run of the same commit on the same day replays
 *   the same ones. `AFG_SIM_FROM=N` pins the start.
 * - `npm run test:soak` with no arguments runs a large range starting from the current time and the
 *   commit, so each invocation explores new ground.
 * Fresh starts lie in [FRESH_BASE, FRESH_BASE + FRESH_SPAN): far above the fixed and hand-picked ranges.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { InputError } from '../core/errors.js';

/** Seeds every sweep runs, whatever the date. */
export const FIXED_SEEDS = { from: 1, count: 100 } as const;
/** Fresh seeds per test-suite run (AFG_SIM_SEEDS overrides): with the fixed ones, about 6 min on 2 cores. */
export const DEFAULT_FRESH_SEEDS = 900;
export const FRESH_BASE = 1_000_000;
export const FRESH_SPAN = 1_000_000_000;

/** The commit being tested: `git rev-parse HEAD`, else $GITHUB_SHA, else "unknown" (never throws). */
export function currentCommit(cwd = process.cwd()): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return process.env.GITHUB_SHA ?? 'unknown';
  }
}

/**
 * The first seed of a fresh range for `label` (any string: a date and a commit, a timestamp):
 * sha256(label) mapped into [FRESH_BASE, FRESH_BASE + FRESH_SPAN).
 * @example freshStart('2026-12-01|bf5a1b5...') // the same label always gives the same start
 */
export function freshStart(label: string): number {
  const digest = createHash('sha256').update(label).digest();
  return FRESH_BASE + (digest.readUInt32BE(0) % FRESH_SPAN);
}

/** A seed count or start from the environment or a flag. @throws InputError naming `field` when it is not a non-negative integer. */
export function seedNumber(value: string, field: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0 || n > 2 ** 31)
    throw new InputError(field, 'expected an integer in [0, 2^31]');
  return n;
}

export interface SweepPlan {
  /** Seeds [from, from + count) that run every time. */
  readonly fixed: { readonly from: number; readonly count: number };
  /** Seeds [from, from + count) of this run. */
  readonly fresh: { readonly from: number; readonly count: number };
  /** Where the fresh start came from: `AFG_SIM_FROM` or `date <d> commit <c>`. */
  readonly origin: string;
}

/**
 * The test suite's seed plan: the fixed seeds (`AFG_SIM_FIXED` of them, default 100) and
 * `AFG_SIM_SEEDS` (default 900) fresh ones from `AFG_SIM_FROM`, or from the UTC date of `now` and
 * the git commit.
 * @throws InputError when AFG_SIM_FROM, AFG_SIM_SEEDS or AFG_SIM_FIXED is not an integer.
 */
export function sweepPlan(env: NodeJS.ProcessEnv = process.env, now = new Date(), commit?: string): SweepPlan {
  const count = env.AFG_SIM_SEEDS === undefined ? DEFAULT_FRESH_SEEDS : seedNumber(env.AFG_SIM_SEEDS, 'AFG_SIM_SEEDS');
  const fixed = {
    from: FIXED_SEEDS.from,
    count: env.AFG_SIM_FIXED === undefined ? FIXED_SEEDS.count : seedNumber(env.AFG_SIM_FIXED, 'AFG_SIM_FIXED'),
  };
  if (env.AFG_SIM_FROM !== undefined)
    return { fixed, fresh: { from: seedNumber(env.AFG_SIM_FROM, 'AFG_SIM_FROM'), count }, origin: 'AFG_SIM_FROM' };
  const date = now.toISOString().slice(0, 10);
  const sha = commit ?? currentCommit();
  return { fixed, fresh: { from: freshStart(`${date}|${sha}`), count }, origin: `date ${date}, commit ${sha.slice(0, 12)}` };
}

/**
 * Splits [from, from + count) into `parts` contiguous ranges (the first ones one longer when it does
 * not divide); part i of parts is what one sweep file runs.
 */
export function slice(range: { from: number; count: number }, part: number, parts: number): { from: number; count: number } {
  const base = Math.floor(range.count / parts);
  const extra = range.count % parts;
  const from = range.from + part * base + Math.min(part, extra);
  return { from, count: base + (part < extra ? 1 : 0) };
}
