/**
 * The finality sync's runner (lib/pipeline/finality-sync.ts), shared by the API function's scheduled
 * health check on AWS (every minute) and the local cluster's timer (every `--finality-sync` seconds):
 * one pass, logged. A pass that fails is logged and the next one tries again.
 */
import { type FinalitySyncResult, syncFinality } from '../pipeline/finality-sync.js';
import type { Region } from '../pipeline/region.js';
import type { Log } from './telemetry.js';

/** Seconds between the local cluster's finality syncs (AWS: the health check's one-minute schedule). */
export const DEFAULT_FINALITY_SYNC_SECONDS = 10;

/**
 * One finality sync of the region `runtime` gives; undefined where the region runs none (a follower,
 * or no peers) or its runtime could not be built (a cold start that cannot reach its tables). Never throws.
 */
export async function runFinalitySync(runtime: () => Promise<Region>, log: Log): Promise<FinalitySyncResult | undefined> {
  try {
    const deps = (await runtime()).finalitySync();
    if (!deps) return undefined;
    const result = await syncFinality(deps);
    if (result.kind === 'behind')
      log.warn('finality sync: behind a peer, its certificate handed to the finalizer', {
        finalized: result.finalized,
        peerFinalized: result.height,
        peer: result.peer,
      });
    if (result.kind === 'applying')
      log.info('finality sync: state applied below finality, the state function reminded', {
        finalized: result.finalized,
        applied: result.applied,
      });
    for (const p of result.problems) if (p.lied) log.warn('finality sync: a peer answered a head that does not verify', { ...p });
    return result;
  } catch (e) {
    log.error('finality sync failed (the next one tries again)', { error: String(e) });
    return undefined;
  }
}
