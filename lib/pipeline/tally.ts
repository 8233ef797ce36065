/**
 * Reading finality out of tallies. Nothing records "finalized": the checkpoint at h is finalized by
 * the certificate stored at h + K when that link is adjacent and justified (which it can only be
 * once its source, the checkpoint at h, is). One rule, used by every reader.
 */
import { equalBytes } from '../core/bytes.js';
import { checkpointEquals } from '../core/codec.js';
import { isAdjacent } from '../core/ffg.js';
import { sameLink } from '../core/slashing.js';
import type { Certificate, Checkpoint, Vote } from '../core/types.js';
import type { HeightTally, RecordOutcome, TallyStore } from './ports.js';

/**
 * The counting rule of a tally slot, shared by every finality store (the DynamoDB store states it as
 * its write's condition and reads the refusal back with this function): a member's vote takes its
 * slot at its target height when the slot holds this very vote (a repeat) or is free and no vote of
 * the member noted as spanning the height surrounds it (span.source < vote.source; a note's target
 * is above every height it is noted at). Together with the finalizer noting a spanning vote before it
 * takes its own slot, and not counting it when a slot vote it surrounds is already there, this is the
 * reference model's rule (test/helpers/ffg-reference.ts): a member's first counted vote wins, and a
 * later one that double or surround votes against it is evidence, never counted.
 * Returns why `vote` may not take its slot in `tally`, or undefined when it may.
 */
export function slotRefusal(tally: HeightTally, vote: Vote): Exclude<RecordOutcome, { kind: 'recorded' }> | undefined {
  const existing = tally.votes.get(vote.member);
  if (existing) return sameVote(existing, vote) ? undefined : { kind: 'slot-taken', existing, tally };
  const span = tally.spans.find(
    (s) => s.member === vote.member && s.source.height < vote.source.height && vote.target.height < s.target.height,
  );
  return span ? { kind: 'surrounded', existing: span, tally } : undefined;
}

/** The same signed vote: member, link and signature. */
export const sameVote = (a: Vote, b: Vote): boolean => a.member === b.member && sameLink(a, b) && equalBytes(a.signature, b.signature);

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
