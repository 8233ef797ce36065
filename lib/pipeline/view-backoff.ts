/**
 * How long a member's view timer waits: the configured view timeout, doubled for each view in a row
 * that this member gave up on, and halved again after steady progress. A fixed timeout is either long
 * (a lost sequencer region stalls finality that long) or, on a machine where one round takes longer,
 * changes the view at every round. Backing off per failed view (as PBFT and Tendermint do) lets the
 * configured timeout be short: a slow round costs a view change or two, after which the timeout is
 * long enough. Liveness only: each member keeps its own, in its process's memory, and reads no clock
 * (a cold start begins at the configured timeout again).
 */

/** Most doublings of the configured timeout (8x it: 40 s at the default 5 s). */
export const MAX_VIEW_TIMEOUT_DOUBLINGS = 3;
/** Checkpoints seen finalized, after the last view given up on, before one doubling is taken back. */
export const FINALIZATIONS_PER_HALVING = 16;
/** The timer is a delayed SQS message: SQS delays a message by at most 900 s. */
export const MAX_TIMER_DELAY_SECONDS = 900;

export class ViewBackoff {
  private doublings = 0;
  private finalizations = 0;
  private finalizedHeight = 0;

  /** The delay of the next view timer, for a configured timeout of `baseSeconds`. */
  delaySeconds(baseSeconds: number): number {
    return Math.min(MAX_TIMER_DELAY_SECONDS, baseSeconds * 2 ** this.doublings);
  }

  /** This member asks for a view it never asked for: the view it watched made no progress in time. */
  viewGivenUp(): void {
    this.doublings = Math.min(MAX_VIEW_TIMEOUT_DOUBLINGS, this.doublings + 1);
    this.finalizations = 0;
  }

  /** This member saw `height` finalized. Only a height above the last one seen counts (notices repeat). */
  finalized(height: number): void {
    if (height <= this.finalizedHeight) return;
    this.finalizedHeight = height;
    if (this.doublings === 0 || ++this.finalizations < FINALIZATIONS_PER_HALVING) return;
    this.doublings--;
    this.finalizations = 0;
  }
}
