/**
 * Known bugs, planted behind a test-only switch, to prove the simulation catches what it claims to
 * (test/sim/planted.test.ts). Each is an alternative store or validator set handed to the region
 * runtime; nothing in lib/pipeline changes.
 */

import { linkId } from '../core/ids.js';
import type { Link, ValidatorSet, Vote } from '../core/types.js';
import type { AppliedHead, AppliedStore, FinalityStore, LinkTally, SignOutcome, SlashingProtectionStore } from '../pipeline/ports.js';

export type PlantedBug =
  /** The finalizer believes the threshold is t-1. */
  | 'threshold-minus-one'
  /** The tally counts a redelivered vote again (no de-duplication by member). */
  | 'no-dedup'
  /** Slashing protection always signs (no watermark, no surround or double check). */
  | 'no-watermark'
  /** The applied pointer ignores its compare-and-set, so a concurrent run applies a block twice. */
  | 'apply-twice';

export const PLANTED_BUGS: readonly PlantedBug[] = ['threshold-minus-one', 'no-dedup', 'no-watermark', 'apply-twice'];

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

/** A Map whose size also counts every repeated receipt of a partial (a counter incremented per delivery). */
class InflatedMap<K, V> extends Map<K, V> {
  constructor(
    entries: Iterable<[K, V]>,
    private readonly extra: number,
  ) {
    super(entries);
  }
  override get size(): number {
    return super.size + this.extra;
  }
}

/** Wraps a finality store so addPartial reports a tally that counts duplicates of a member's vote. */
export function noDedupTally(inner: FinalityStore): FinalityStore {
  const receipts = new Map<string, number>();
  const addPartial = async (vote: Vote): Promise<LinkTally> => {
    const tally = await inner.addPartial(vote);
    const id = linkId(vote);
    const calls = (receipts.get(id) ?? 0) + 1;
    receipts.set(id, calls);
    return { ...tally, partials: new InflatedMap(tally.partials, Math.max(0, calls - tally.partials.size)) };
  };
  return new Proxy(inner, {
    get(obj, prop, receiver) {
      if (prop === 'addPartial') return addPartial;
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
