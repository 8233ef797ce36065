/**
 * Errors the roles throw, one class per code. A role throws only when its message must be
 * redelivered later (not ready, lost a race, a peer unavailable) or an invariant is broken; every
 * other outcome is a returned value. The SQS handlers and the simulation tell them apart by class.
 */
import { AfgError } from '../core/errors.js';

/** The input is not usable yet (parent not executed, block not readable yet): redeliver later. */
export class NotReadyError extends AfgError<'NOT_READY', { height: number }> {
  constructor(height: number, reason: string) {
    super('NOT_READY', `block ${height}: ${reason}`, { height });
  }
}

/** Another invocation moved the sequencer head first; the batch must be retried against the new head. */
export class HeadMovedError extends AfgError<'HEAD_MOVED', { height: number }> {
  constructor(height: number) {
    super('HEAD_MOVED', `sequencer head moved past ${height} concurrently; retry the batch`, { height });
  }
}

/** A block the store must hold (the sequencer's own head) is absent: an invariant is broken. */
export class MissingBlockError extends AfgError<'MISSING_BLOCK', { hash: string }> {
  constructor(hash: string, where: string) {
    super('MISSING_BLOCK', `block ${hash} is not in ${where}`, { hash });
  }
}

/** A finalized block is missing here and no peer served one with the certified hash: retry later. */
export class BlockUnavailableError extends AfgError<'BLOCK_UNAVAILABLE', { height: number; fetched: number }> {
  /** `fetched`: blocks this pass copied from peers and stored before it stopped (kept: a retry reads them here). */
  constructor(height: number, hash: string, fetched = 0) {
    super('BLOCK_UNAVAILABLE', `finalized block ${height} (${hash}) is missing here and no peer served a matching one`, {
      height,
      fetched,
    });
  }
}

/** The finalized chain disagrees with what this region applied: a safety invariant is broken. */
export class ConflictingFinalityError extends AfgError<'CONFLICTING_FINALITY', { height: number }> {
  constructor(height: number, reason: string) {
    super('CONFLICTING_FINALITY', reason, { height });
  }
}

/** Errors after which the message is simply redelivered (a correct system throws them under faults). */
export const isRetryLater = (e: unknown): boolean =>
  e instanceof NotReadyError || e instanceof HeadMovedError || e instanceof BlockUnavailableError;
