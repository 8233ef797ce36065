/**
 * Known bugs, planted behind a test-only switch, to prove the simulation catches what it claims to
 * (test/sim/planted.test.ts, test/sim/trust.test.ts). Each is an alternative store, validator set,
 * peer list or inbox hook handed to the region runtime; nothing in lib/pipeline changes.
 */

import type { Link, ValidatorSet, Vote } from '../core/types.js';
import type { AppliedHead, AppliedStore, FinalityStore, RecordOutcome, SignOutcome, SlashingProtectionStore } from '../pipeline/ports.js';
import type { InboxMessage, ValidatorDeps, ValidatorOutcome } from '../pipeline/validator.js';

export type PlantedBug =
  /** The finalizer believes the threshold is t-1. */
  | 'threshold-minus-one'
  /** The tally counts a redelivered vote again (no de-duplication by member). */
  | 'no-dedup'
  /** Slashing protection always signs (no watermark, no surround or double check). */
  | 'no-watermark'
  /** The applied pointer ignores its compare-and-set, so a concurrent run applies a block twice. */
  | 'apply-twice'
  /** Validators believe a "justified" notice without verifying its certificate (issue 15, item 4). */
  | 'trust-notices'
  /** No region reads its peers' votes: the cross-region evidence audit never runs (issue 15, item 6). */
  | 'no-audit';

export const PLANTED_BUGS: readonly PlantedBug[] = [
  'threshold-minus-one',
  'no-dedup',
  'no-watermark',
  'apply-twice',
  'trust-notices',
  'no-audit',
];

/**
 * An inbox that takes a "justified" notice at its word: the notice's target becomes the validator's
 * highest justified checkpoint before the honest handling (which then refuses the certificate, but
 * the validator's memory already moved). The next proposal makes it vote from that source.
 */
export async function trustingInbox(ctx: {
  readonly deps: ValidatorDeps;
  readonly message: InboxMessage;
  readonly honest: () => Promise<ValidatorOutcome>;
}): Promise<ValidatorOutcome> {
  const { deps, message } = ctx;
  if (message.kind === 'justified') {
    const known = deps.memory.justified;
    if (!known || message.certificate.target.height > known.checkpoint.height)
      deps.memory.justified = { checkpoint: message.certificate.target, certificate: message.certificate };
  }
  return ctx.honest();
}

/** The validator set as a region configured with threshold t-1 sees it. */
export function thresholdMinusOne(set: ValidatorSet): ValidatorSet {
  return { ...set, threshold: set.threshold - 1 };
}

/** Slashing protection that signs anything (the watermark check is gone). */
export class AlwaysSignProtection implements SlashingProtectionStore {
  async recordSignature(_member: number, _link: Link, signature: Uint8Array): Promise<SignOutcome> {
    return { kind: 'signed', signature };
  }
  async lastSigned(): Promise<undefined> {
    return undefined;
  }
}

/**
 * Wraps a finality store so a repeated vote counts again: when the member's slot already held it,
 * the returned tally shows it a second time under an index no member has (as a tally keyed by
 * delivery rather than by member would).
 */
export function noDedupTally(inner: FinalityStore): FinalityStore {
  const repeats = new Map<number, number>(); // target height -> phantom entries added
  const recordVote = async (vote: Vote): Promise<RecordOutcome> => {
    const outcome = await inner.recordVote(vote);
    if (outcome.kind !== 'recorded' || outcome.fresh) return outcome;
    const n = (repeats.get(vote.target.height) ?? 0) + 1;
    repeats.set(vote.target.height, n);
    const votes = new Map(outcome.tally.votes);
    for (let i = 1; i <= n; i++) votes.set(1000 + i, { ...vote, member: 1000 + i });
    return { ...outcome, tally: { ...outcome.tally, votes } };
  };
  return new Proxy(inner, {
    get(obj, prop, receiver) {
      if (prop === 'recordVote') return recordVote;
      const value = Reflect.get(obj, prop, receiver);
      return typeof value === 'function' ? value.bind(obj) : value;
    },
  });
}

/** An applied pointer without its compare-and-set: every advance wins. */
export class NoCasAppliedStore implements AppliedStore {
  private current: AppliedHead | undefined;
  async applied(): Promise<AppliedHead | undefined> {
    return this.current;
  }
  async advanceApplied(_expected: AppliedHead, next: AppliedHead): Promise<boolean> {
    this.current = next;
    return true;
  }
}
