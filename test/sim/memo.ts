/**
 * Shared by the simulation test files: `vi.mock('../../lib/core/bls.js', blsMemoFactory)` swaps the
 * pure BLS functions for memoizing wrappers (lib/sim/crypto-memo.ts; same results, no semantic change).
 */
import type * as Bls from '../../lib/core/bls.js';
import { memoizeBls } from '../../lib/sim/crypto-memo.js';

export const blsMemoFactory = async (importOriginal: () => Promise<typeof Bls>) => memoizeBls(await importOriginal());

/** Seeds per sweep file (two files run in parallel); AFG_SIM_SEEDS overrides the total. */
export const SEEDS_PER_FILE = Math.max(1, Math.floor(Number(process.env.AFG_SIM_SEEDS ?? 1000) / 2));
