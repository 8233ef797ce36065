/** Seeds per sweep file (two files run in parallel); AFG_SIM_SEEDS overrides the total. */
export const SEEDS_PER_FILE = Math.max(1, Math.floor(Number(process.env.AFG_SIM_SEEDS ?? 1000) / 2));
