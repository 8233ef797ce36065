import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FINALIZATIONS_PER_HALVING,
  MAX_TIMER_DELAY_SECONDS,
  MAX_VIEW_TIMEOUT_DOUBLINGS,
  ViewBackoff,
} from '../../lib/pipeline/view-backoff.js';

/** A member's history: views given up on, and heights seen finalized (repeats and stale ones too). */
const event = fc.oneof(
  fc.constant({ kind: 'given-up' as const }),
  fc.record({ kind: fc.constant('finalized' as const), height: fc.nat(200) }),
);

function replay(backoff: ViewBackoff, events: readonly (typeof event extends fc.Arbitrary<infer T> ? T : never)[]): void {
  for (const e of events) e.kind === 'given-up' ? backoff.viewGivenUp() : backoff.finalized(e.height);
}

describe('the view timer backoff', () => {
  it('waits the configured timeout until a view is given up on', () => {
    const backoff = new ViewBackoff();
    for (let h = 1; h <= 100; h++) backoff.finalized(h);
    expect(backoff.delaySeconds(5)).toBe(5);
  });

  it('doubles per view given up on, up to its cap', () => {
    const backoff = new ViewBackoff();
    const delays = [];
    for (let i = 0; i < MAX_VIEW_TIMEOUT_DOUBLINGS + 2; i++) {
      backoff.viewGivenUp();
      delays.push(backoff.delaySeconds(5));
    }
    expect(delays).toEqual([10, 20, 40, 40, 40]);
  });

  it('takes one doubling back per FINALIZATIONS_PER_HALVING new finalized heights, counting each height once', () => {
    const backoff = new ViewBackoff();
    backoff.viewGivenUp();
    backoff.viewGivenUp();
    for (let h = 1; h < FINALIZATIONS_PER_HALVING; h++) {
      backoff.finalized(h);
      backoff.finalized(h); // a repeated notice
      backoff.finalized(h - 1); // a late one
    }
    expect(backoff.delaySeconds(5)).toBe(20);
    backoff.finalized(FINALIZATIONS_PER_HALVING);
    expect(backoff.delaySeconds(5)).toBe(10);
    for (let h = FINALIZATIONS_PER_HALVING + 1; h <= 2 * FINALIZATIONS_PER_HALVING; h++) backoff.finalized(h);
    expect(backoff.delaySeconds(5)).toBe(5);
  });

  it('starts counting progress again after each view given up on', () => {
    const backoff = new ViewBackoff();
    backoff.viewGivenUp();
    for (let h = 1; h < FINALIZATIONS_PER_HALVING; h++) backoff.finalized(h);
    backoff.viewGivenUp(); // the progress before it does not count towards the halving
    backoff.finalized(FINALIZATIONS_PER_HALVING);
    expect(backoff.delaySeconds(5)).toBe(20);
  });

  it('always waits between the configured timeout and its cap, never beyond what SQS can delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 900 }), fc.array(event, { maxLength: 200 }), (base, events) => {
        const backoff = new ViewBackoff();
        replay(backoff, events);
        const delay = backoff.delaySeconds(base);
        expect(delay).toBeGreaterThanOrEqual(Math.min(base, MAX_TIMER_DELAY_SECONDS));
        expect(delay).toBeLessThanOrEqual(Math.min(base * 2 ** MAX_VIEW_TIMEOUT_DOUBLINGS, MAX_TIMER_DELAY_SECONDS));
        expect(Math.log2(delay / base) % 1 === 0 || delay === MAX_TIMER_DELAY_SECONDS).toBe(true);
      }),
    );
  });

  it('after a view given up on, waits longer than before it (until the cap)', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 100 }), (events) => {
        const backoff = new ViewBackoff();
        replay(backoff, events);
        const before = backoff.delaySeconds(5);
        backoff.viewGivenUp();
        expect(backoff.delaySeconds(5)).toBe(Math.min(before * 2, 5 * 2 ** MAX_VIEW_TIMEOUT_DOUBLINGS));
      }),
    );
  });
});
