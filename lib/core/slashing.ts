/**
 * Slashing rules (DESIGN.md section 3): what one member may sign, and what two of its signed votes prove.
 *
 * Rules, all within one era (a member index names a key only inside its era, so links of different
 * eras never conflict):
 * - a link goes forward: source.height < target.height;
 * - double vote: two links with the same target height and different target checkpoints. Checkpoint
 *   identity is (height, hash, stateRoot), so the same block with another state root is another target.
 *   Two links to the same target from different sources are not a double vote (DESIGN.md: "two
 *   different targets at one height"), and are not a surround either (the inequalities are strict);
 * - surround vote: s1 < s2 < t2 < t1, in either order.
 *
 * These two rules are exactly what the accountable-safety argument needs: two conflicting justified
 * or finalized checkpoints force f+1 members into one of them (see test/core/ffg.test.ts).
 * Pure functions over integers and bytes; no clock, no I/O.
 */
import { checkpointEquals } from './codec.js';
import type { Link, Vote } from './types.js';

export type InvalidLinkReason = 'SOURCE_NOT_BELOW_TARGET';

/** `L` is the element type of the history, so a history of votes reports the conflicting vote itself. */
export type SlashingVerdict<L extends Link = Link> =
  /** Safe to sign or record. */
  | { kind: 'new' }
  /** The same link is already in the history: idempotent, reuse the stored signature. */
  | { kind: 'identical' }
  /** Another target at the same target height. */
  | { kind: 'double'; existing: L }
  /** `surrounding` is true when the new link surrounds `existing`, false when `existing` surrounds it. */
  | { kind: 'surround'; existing: L; surrounding: boolean }
  /** The link itself is malformed; no history can make it signable. */
  | { kind: 'invalid'; reason: InvalidLinkReason };

/** A slashable pair of votes by one member. Both votes keep their signatures so anyone can re-verify them. */
export interface Evidence {
  readonly kind: 'double' | 'surround';
  readonly member: number;
  /** The vote recorded first (the one that counted). */
  readonly first: Vote;
  /** The later, conflicting vote. */
  readonly second: Vote;
}

/** True when a and b are the same link: same era, same source and same target checkpoint. */
export function sameLink(a: Link, b: Link): boolean {
  return a.era === b.era && checkpointEquals(a.source, b.source) && checkpointEquals(a.target, b.target);
}

/** Double vote: same era, same target height, different target checkpoint (hash or state root differs). */
export function isDoubleVote(a: Link, b: Link): boolean {
  return a.era === b.era && a.target.height === b.target.height && !checkpointEquals(a.target, b.target);
}

/** Surround vote: same era and one link strictly surrounds the other (s1 < s2 < t2 < t1, either way round). */
export function isSurroundVote(a: Link, b: Link): boolean {
  return a.era === b.era && (surrounds(a, b) || surrounds(b, a));
}

/** outer.source < inner.source and inner.target < outer.target (strict on both ends). */
function surrounds(outer: Link, inner: Link): boolean {
  return outer.source.height < inner.source.height && inner.target.height < outer.target.height;
}

/**
 * Checks `link` against a member's `prior` links, in a fixed order (Lodestar's slashing protection):
 * 1. the link itself: source below target, else `invalid`;
 * 2. an identical prior link: `identical` (signing again is idempotent);
 * 3. a prior link with the same target height and another target: `double`;
 * 4. a prior link it surrounds or that surrounds it: `surround`;
 * otherwise `new`. Prior links from other eras are ignored. When several prior links conflict, the
 * first one in `prior` order is reported.
 *
 * @example checkSlashing([], link) // { kind: 'new' } when link.source.height < link.target.height
 */
export function checkSlashing<L extends Link>(prior: readonly L[], link: Link): SlashingVerdict<L> {
  if (link.source.height >= link.target.height) return { kind: 'invalid', reason: 'SOURCE_NOT_BELOW_TARGET' };
  for (const p of prior) if (sameLink(p, link)) return { kind: 'identical' };
  for (const p of prior) if (isDoubleVote(p, link)) return { kind: 'double', existing: p };
  for (const p of prior) {
    if (p.era !== link.era) continue;
    if (surrounds(link, p)) return { kind: 'surround', existing: p, surrounding: true };
    if (surrounds(p, link)) return { kind: 'surround', existing: p, surrounding: false };
  }
  return { kind: 'new' };
}

/**
 * The evidence two votes make against their member, or undefined when they are not slashable
 * (different members, identical links, or no rule broken). `first` is taken as the earlier vote.
 * Signatures are not checked here: the caller verifies both partial signatures first.
 */
export function evidenceOf(first: Vote, second: Vote): Evidence | undefined {
  if (first.member !== second.member) return undefined;
  if (isDoubleVote(first, second)) return { kind: 'double', member: first.member, first, second };
  if (isSurroundVote(first, second)) return { kind: 'surround', member: first.member, first, second };
  return undefined;
}

/**
 * A validator's signing watermark (one per member and era): the highest source and target heights it
 * has signed. A validator that signs only links with target.height > lastTargetHeight and
 * source.height >= lastSourceHeight signs strictly increasing targets with non-decreasing sources, so
 * it can never double vote (targets never repeat) nor surround vote (a later link has a higher target
 * and a source at least as high). This is what makes one conditional write on the watermark item
 * enough; retries of an already-signed link must reuse the stored signature rather than re-check.
 */
export interface Watermark {
  readonly lastSourceHeight: number;
  readonly lastTargetHeight: number;
}

/** The watermark a single signed link leaves. */
export const watermarkOf = (link: Link): Watermark => ({ lastSourceHeight: link.source.height, lastTargetHeight: link.target.height });

/** True when `link` may be signed under watermark `w` (undefined: nothing signed yet in this era). */
export function watermarkAllows(w: Watermark | undefined, link: Link): boolean {
  if (link.source.height >= link.target.height) return false;
  if (w === undefined) return true;
  return link.target.height > w.lastTargetHeight && link.source.height >= w.lastSourceHeight;
}

/** The watermark after signing `link` (heights only ever grow). */
export function advanceWatermark(w: Watermark | undefined, link: Link): Watermark {
  return {
    lastSourceHeight: Math.max(w?.lastSourceHeight ?? 0, link.source.height),
    lastTargetHeight: Math.max(w?.lastTargetHeight ?? 0, link.target.height),
  };
}
