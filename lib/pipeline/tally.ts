/**
 * Reading finality out of tallies. Nothing records "finalized": the checkpoint at h is finalized by
 * the certificate stored at h + K when that link is adjacent and justified (which it can only be
 * once its source, the checkpoint at h, is). One rule, used by every reader.
 */
import { checkpointEquals } from '../core/codec.js';
import { isAdjacent } from '../core/ffg.js';
import type { Certificate, Checkpoint } from '../core/types.js';
import type { HeightTally, TallyStore } from './ports.js';

/** The justified checkpoint `tally` certifies, if any. */
export function justifiedCheckpoint(tally: HeightTally | undefined): Checkpoint | undefined {
  return tally?.certificate && tally.justified ? tally.certificate.target : undefined;
}

/**
 * The certificate that finalized the checkpoint at `tally`'s height, read from `next` (the tally one
 * checkpoint up): its justified adjacent link. A link is only justified once its source is, so the
 * link's source is that checkpoint; when `tally` holds a certificate it must agree. `tally` may be
 * absent where history starts at a snapshot (the region holds the finalizing link, not the one before).
 */
export function finalizationOf(tally: HeightTally | undefined, next: HeightTally | undefined, interval: number): Certificate | undefined {
  const link = next?.justified ? next.certificate : undefined;
  if (!link || !isAdjacent(link, interval)) return undefined;
  const checkpoint = justifiedCheckpoint(tally);
  if (tally?.certificate && (!checkpoint || !checkpointEquals(link.source, checkpoint))) return undefined;
  return link;
}

/** The tallies at `height` and one checkpoint up (one batch read). */
export async function tallyPair(
  store: Pick<TallyStore, 'tallies'>,
  height: number,
  interval: number,
): Promise<[HeightTally | undefined, HeightTally | undefined]> {
  const found = await store.tallies([height, height + interval]);
  return [found.find((t) => t.height === height), found.find((t) => t.height === height + interval)];
}

/** The certificate that finalized the checkpoint at `height` in `store`, if it is finalized there. */
export async function finalizationAt(
  store: Pick<TallyStore, 'tallies'>,
  height: number,
  interval: number,
): Promise<Certificate | undefined> {
  const [t, next] = await tallyPair(store, height, interval);
  return finalizationOf(t, next, interval);
}
