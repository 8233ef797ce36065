/**
 * Casper-FFG rules (DESIGN.md section 3) as small named functions over integers and checkpoints.
 * Every role and every store condition that applies one of these rules calls the function here;
 * nothing restates them. Pure: no I/O, no clock, no signature checks (the caller verifies first).
 *
 * - genesis is justified and finalized by definition;
 * - a supermajority link has at least t distinct members' votes (`quorum`);
 * - the target of a supermajority link whose source is justified is justified;
 * - a justified checkpoint C is finalized by a supermajority link C -> C' with C'.height = C.height + K
 *   (`isAdjacent`); honest validators only ever vote such adjacent links from the highest justified
 *   checkpoint they know (`nextTargetHeight`), so every certificate finalizes its source.
 * The slashing rules (what one member may sign) are in slashing.ts.
 */
import type { Checkpoint, Link, ValidatorSet, Vote } from './types.js';

export type CheckpointStatus = 'pending' | 'justified' | 'finalized';

/** f: the Byzantine members n validators tolerate, floor((n - 1) / 3). */
export const maxFaulty = (n: number): number => Math.floor((n - 1) / 3);

/** The default threshold t = n - f (2f + 1 when n = 3f + 1). */
export const defaultThreshold = (n: number): number => n - maxFaulty(n);

/**
 * Why `threshold` cannot give safety for `n` members, or undefined when it can: any two quorums of
 * t must overlap in more than f members (t >= n - f), and t cannot exceed n.
 */
export function thresholdProblem(n: number, threshold: number): string | undefined {
  if (!Number.isSafeInteger(n) || n < 1) return `n must be a positive integer, got ${n}`;
  if (!Number.isSafeInteger(threshold) || threshold > n) return `must be an integer <= n = ${n}, got ${threshold}`;
  if (threshold < defaultThreshold(n))
    return `must be at least n - f = ${defaultThreshold(n)} for n = ${n} (f = ${maxFaulty(n)}: two quorums must overlap in an honest member)`;
  return undefined;
}

/** Supermajority: at least `threshold` distinct members. */
export const quorum = (distinctMembers: number, threshold: number): boolean => distinctMembers >= threshold;

/** Checkpoints are the blocks at heights that are multiples of K. */
export const isCheckpointHeight = (height: number, K: number): boolean => height % K === 0;

/** The highest checkpoint height at or below `height`. */
export const checkpointAtOrBelow = (height: number, K: number): number => height - (height % K);

/** A link spanning exactly one interval: when certified with a justified source, it finalizes that source. */
export const isAdjacent = (link: Link, K: number): boolean => link.target.height === link.source.height + K;

/** The target height an honest validator votes for when `justified` is the highest justified checkpoint it knows. */
export const nextTargetHeight = (justified: Checkpoint, K: number): number => justified.height + K;

/** A vote that can never count, whatever else arrives. */
export type VoteRefusal =
  | 'WRONG_ERA' // vote.era is not the validator set's era
  | 'UNKNOWN_MEMBER' // member not in 1..n
  | 'BAD_LINK' // source.height >= target.height
  | 'NOT_CHECKPOINT' // a height is not a multiple of K
  | 'BELOW_GENESIS'; // source below the genesis height

/**
 * Checks a vote against the validator set without any I/O or signature check, in a fixed order.
 * Returns the refusal, or undefined when the vote may count once its signature verifies.
 * @example checkVote(set, 0, vote) // undefined for a well-formed vote of member 1..n
 */
export function checkVote(
  set: Pick<ValidatorSet, 'era' | 'n' | 'checkpointInterval'>,
  genesisHeight: number,
  vote: Vote,
): { reason: VoteRefusal; message: string } | undefined {
  const K = set.checkpointInterval;
  if (vote.era !== set.era) return { reason: 'WRONG_ERA', message: `era ${vote.era} is not the current era ${set.era}` };
  if (!Number.isSafeInteger(vote.member) || vote.member < 1 || vote.member > set.n)
    return { reason: 'UNKNOWN_MEMBER', message: `member ${vote.member} is not in 1..${set.n}` };
  if (vote.source.height >= vote.target.height) return { reason: 'BAD_LINK', message: 'source height must be below target height' };
  if (!isCheckpointHeight(vote.source.height, K) || !isCheckpointHeight(vote.target.height, K))
    return { reason: 'NOT_CHECKPOINT', message: `heights must be multiples of ${K}` };
  if (vote.source.height < genesisHeight) return { reason: 'BELOW_GENESIS', message: `source below genesis height ${genesisHeight}` };
  return undefined;
}

export type SupermajorityDecision =
  /** Remember the link under its source; decide again when the source becomes justified. */
  | { kind: 'wait'; source: Checkpoint }
  /** Justify `target`; finalize `finalize` when set (the link's source). Both may already hold: apply idempotently. */
  | { kind: 'justify'; target: Checkpoint; finalize: Checkpoint | undefined };

/**
 * What a supermajority link decides, given whether its source is justified. Called when a link is
 * certified, and again for each waiting link whose source has just been justified (the cascade).
 */
export function supermajorityDecision(link: Link, sourceJustified: boolean, K: number): SupermajorityDecision {
  if (!sourceJustified) return { kind: 'wait', source: link.source };
  return { kind: 'justify', target: link.target, finalize: isAdjacent(link, K) ? link.source : undefined };
}
