/**
 * Views: which region's sequencer may propose, and the threshold certificate that moves to the next.
 *
 * The active sequencer of view v runs in `sequencerRegion(v, regions)` = regions[v mod R]. A member
 * that sees no progress in view v (its own local timer: liveness only) signs a view change to v + 1:
 *   - a partial signature over AFG-VIEW-V1 (the same bytes for every member, so t of them combine
 *     into one group signature, like a vote certificate), and
 *   - a partial signature over AFG-VIEW-STATE-V1, its own statement of the highest justified
 *     checkpoint J it knows and the highest target T it has signed (verifiable under its member key).
 * t view changes make the view certificate. The new sequencer builds on the highest J among the
 * signers (its justification travels with the certificate) and proposes up to the first checkpoint
 * above the highest T, so every honest signer can vote J -> that checkpoint without breaking its
 * watermark (a non-adjacent link justifies; the adjacent links after it finalize again).
 * No rule here reads a clock; the views only decide who proposes, never what is final.
 *
 * Byte layouts (big-endian u64, fixed size):
 *   view:       "AFG-VIEW-V1" || chainId(32) || era(u64) || view(u64)                              (59 bytes)
 *   view state: "AFG-VIEW-STATE-V1" || chainId(32) || era(u64) || view(u64)
 *               || J(height u64, hash 32, stateRoot 32) || lastTarget(u64)                        (145 bytes)
 */
import { abytes, ascii, concatBytes, u64 } from './bytes.js';
import { checkpointEquals, voteSigningBytes } from './codec.js';
import type { ThresholdCrypto } from './crypto.js';
import { isCheckpointHeight, quorum } from './ffg.js';
import type { Certificate, Checkpoint, ValidatorSet } from './types.js';

const VIEW_TAG = ascii('AFG-VIEW-V1');
const VIEW_STATE_TAG = ascii('AFG-VIEW-STATE-V1');

export const VIEW_SIGNING_BYTES_LENGTH = VIEW_TAG.length + 32 + 8 + 8; // 59
export const VIEW_STATE_SIGNING_BYTES_LENGTH = VIEW_STATE_TAG.length + 32 + 8 + 8 + (8 + 32 + 32) + 8; // 145

/**
 * A view change's statement: the highest justified checkpoint the member knows and the highest
 * target it has signed (0 when none).
 */
export interface ViewState {
  readonly justified: Checkpoint;
  readonly lastTarget: number;
}

/** One member's request to move to `view`. */
export interface ViewChange {
  readonly era: bigint;
  readonly view: number;
  readonly member: number;
  /** Partial signature over viewSigningBytes(view). */
  readonly signature: Uint8Array;
  readonly state: ViewState;
  /** Partial signature over viewStateSigningBytes(view, state). */
  readonly stateSignature: Uint8Array;
  /** The certificate that justified state.justified (absent for genesis). */
  readonly justification?: Certificate;
}

/** t view changes combined: moves every region to `view`. */
export interface ViewCertificate {
  readonly era: bigint;
  readonly view: number;
  /** The members whose partials were combined (sorted). */
  readonly signers: readonly number[];
  /** Group signature over viewSigningBytes(view). */
  readonly signature: Uint8Array;
  /** Each signer's statement, with its partial signature over it. */
  readonly states: readonly { readonly member: number; readonly state: ViewState; readonly signature: Uint8Array }[];
  /** The certificate that justified the highest J among the states (absent when that is genesis). */
  readonly justification?: Certificate;
}

/** Furthest a member's last signed target may be above its justified checkpoint, in checkpoints (bounds the new view's catch-up). */
export const MAX_VIEW_GAP_CHECKPOINTS = 32;

/** The region whose sequencer proposes in `view`. */
export function sequencerRegion(view: number, regions: readonly string[]): string {
  if (!Number.isSafeInteger(view) || view < 0) throw new RangeError(`view must be a non-negative safe integer, got ${view}`);
  if (regions.length === 0) throw new RangeError('no regions');
  return regions[view % regions.length]!;
}

/**
 * Where an accepted transaction is stored before the API answers 202: the pool of the active
 * sequencer's region (view v) and a backup copy in another member region's, preferably the region
 * of view v + 1, where the sequencer goes when the active one stops making progress; when that one
 * cannot be written, the next in view order (v + 2, ...), which is where the view goes when v + 1
 * cannot take over either. `backups` lists the other member regions in that order (empty with one
 * region).
 */
export function poolRegions(view: number, regions: readonly string[]): { readonly active: string; readonly backups: readonly string[] } {
  const active = sequencerRegion(view, regions);
  const backups: string[] = [];
  for (let k = 1; k < regions.length; k++) {
    const r = sequencerRegion(view + k, regions);
    if (r !== active && !backups.includes(r)) backups.push(r);
  }
  return { active, backups };
}

/** "AFG-VIEW-V1" || chainId || era || view: what t members sign to move to `view`. */
export function viewSigningBytes(chainId: Uint8Array, era: bigint, view: number): Uint8Array {
  return concatBytes(VIEW_TAG, abytes(chainId, 32, 'chainId'), u64(era, 'era'), u64(view, 'view'));
}

/** "AFG-VIEW-STATE-V1" || chainId || era || view || J || lastTarget: one member's statement in its view change. */
export function viewStateSigningBytes(chainId: Uint8Array, era: bigint, view: number, state: ViewState): Uint8Array {
  const j = state.justified;
  return concatBytes(
    VIEW_STATE_TAG,
    abytes(chainId, 32, 'chainId'),
    u64(era, 'era'),
    u64(view, 'view'),
    u64(j.height, 'justified.height'),
    abytes(j.hash, 32, 'justified.hash'),
    abytes(j.stateRoot, 32, 'justified.stateRoot'),
    u64(state.lastTarget, 'lastTarget'),
  );
}

/** Why a view change can never count, checked without I/O or signatures; undefined when well-formed. */
export function viewChangeProblem(set: Pick<ValidatorSet, 'era' | 'n' | 'checkpointInterval'>, vc: ViewChange): string | undefined {
  const K = set.checkpointInterval;
  if (vc.era !== set.era) return `era ${vc.era} is not the current era ${set.era}`;
  if (!Number.isSafeInteger(vc.member) || vc.member < 1 || vc.member > set.n) return `member ${vc.member} is not in 1..${set.n}`;
  if (!Number.isSafeInteger(vc.view) || vc.view < 1) return `view ${vc.view} is not a positive integer`;
  return stateProblem(K, vc.state);
}

function stateProblem(K: number, state: ViewState): string | undefined {
  const { justified, lastTarget } = state;
  if (!isCheckpointHeight(justified.height, K)) return `justified height ${justified.height} is not a checkpoint`;
  if (!Number.isSafeInteger(lastTarget) || lastTarget < 0) return `lastTarget ${lastTarget} is not a non-negative integer`;
  if (lastTarget > justified.height + MAX_VIEW_GAP_CHECKPOINTS * K)
    return `lastTarget ${lastTarget} is more than ${MAX_VIEW_GAP_CHECKPOINTS} checkpoints above justified ${justified.height}`;
  return undefined;
}

/** Whether `c` is a well-formed certificate of the set that justified `checkpoint`, by the group key. */
export function justifies(set: ValidatorSet, crypto: ThresholdCrypto, c: Certificate, checkpoint: Checkpoint): boolean {
  const signers = new Set(c.signers);
  const wellFormed =
    c.era === set.era &&
    c.source.height < c.target.height &&
    c.target.height === checkpoint.height &&
    signers.size === c.signers.length &&
    quorum(signers.size, set.threshold) &&
    c.signers.every((i) => Number.isSafeInteger(i) && i >= 1 && i <= set.n);
  if (!wellFormed || !checkpointEquals(c.target, checkpoint)) return false;
  return crypto.verify(set.groupPublicKey, voteSigningBytes(set.chainId, c), c.signature);
}

/** What the sequencer of the certificate's view builds on: the highest J stated, and the highest target signed. */
export function viewBase(cert: Pick<ViewCertificate, 'states'>): { justified: Checkpoint; lastTarget: number } {
  let justified = cert.states[0]!.state.justified;
  let lastTarget = 0;
  for (const { state } of cert.states) {
    if (state.justified.height > justified.height) justified = state.justified;
    lastTarget = Math.max(lastTarget, state.lastTarget);
  }
  return { justified, lastTarget };
}

/**
 * The first target height of a view: the lowest checkpoint height above both J + K - 1 and the
 * highest target any signer signed, so every honest signer may vote J -> it.
 */
export function viewTargetHeight(justified: Checkpoint, lastTarget: number, K: number): number {
  const aboveSigned = lastTarget - (lastTarget % K) + K;
  return Math.max(justified.height + K, aboveSigned);
}

/**
 * Checks a view certificate with the validator set alone: t distinct signers whose partials combine
 * into the group signature over the view, each signer's statement signed under its member key and
 * within bounds, and the highest stated J justified by the carried certificate (or genesis).
 * Returns the problem, or undefined when the certificate is valid.
 */
export function viewCertificateProblem(
  set: ValidatorSet,
  crypto: ThresholdCrypto,
  genesis: Checkpoint,
  cert: ViewCertificate,
): string | undefined {
  if (cert.era !== set.era) return `era ${cert.era} is not the current era ${set.era}`;
  if (!Number.isSafeInteger(cert.view) || cert.view < 1) return `view ${cert.view} is not a positive integer`;
  const signers = new Set(cert.signers);
  if (signers.size !== cert.signers.length || !quorum(signers.size, set.threshold))
    return `needs ${set.threshold} distinct signers, has ${signers.size}`;
  if (cert.signers.some((i) => !Number.isSafeInteger(i) || i < 1 || i > set.n)) return 'a signer is not a member';
  const stated = new Set(cert.states.map((s) => s.member));
  if (stated.size !== cert.states.length || cert.signers.some((i) => !stated.has(i)) || stated.size !== signers.size)
    return 'each signer needs exactly one statement';
  for (const s of cert.states) {
    const problem = stateProblem(set.checkpointInterval, s.state);
    if (problem) return `member ${s.member}: ${problem}`;
    const key = set.members[s.member - 1]!.publicKey;
    if (!crypto.verify(key, viewStateSigningBytes(set.chainId, set.era, cert.view, s.state), s.signature))
      return `member ${s.member}'s statement signature does not verify`;
  }
  if (!crypto.verify(set.groupPublicKey, viewSigningBytes(set.chainId, set.era, cert.view), cert.signature))
    return 'the group signature does not verify';
  const { justified } = viewBase(cert);
  const shown =
    checkpointEquals(justified, genesis) || (cert.justification !== undefined && justifies(set, crypto, cert.justification, justified));
  if (!shown) return `the highest stated J (${justified.height}) is not shown to be justified`;
  return undefined;
}
