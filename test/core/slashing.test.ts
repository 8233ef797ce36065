import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advanceWatermark,
  checkSlashing,
  evidenceOf,
  isDoubleVote,
  isSurroundVote,
  type SlashingVerdict,
  type Watermark,
  watermarkAllows,
} from '../../lib/core/slashing.js';
import type { Link, Vote } from '../../lib/core/types.js';
import { cp } from '../helpers/checkpoints.js';

const link = (s: number, t: number, opts: { fork?: number; root?: number; sfork?: number; era?: bigint } = {}): Link => ({
  era: opts.era ?? 0n,
  source: cp(s, opts.sfork ?? 0),
  target: cp(t, opts.fork ?? 0, opts.root ?? 0),
});
const vote = (member: number, l: Link): Vote => ({ ...l, member, signature: new Uint8Array(48).fill(member) });

type Expected = SlashingVerdict['kind'] | 'surrounding' | 'surrounded';
const kindOf = (v: SlashingVerdict): Expected => (v.kind === 'surround' ? (v.surrounding ? 'surrounding' : 'surrounded') : v.kind);

// Named cases in the style of Lodestar's surroundTests: prior history, new link, expected verdict.
const cases: { name: string; prior: Link[]; link: Link; expected: Expected; existing?: number }[] = [
  { name: 'first link of a member is new', prior: [], link: link(0, 1), expected: 'new' },
  { name: 'the identical link is idempotent', prior: [link(0, 1)], link: link(0, 1), expected: 'identical', existing: 0 },
  { name: 'a later link in sequence is new', prior: [link(0, 1), link(1, 2)], link: link(2, 3), expected: 'new' },
  { name: 'same target height, other block: double', prior: [link(0, 2)], link: link(0, 2, { fork: 1 }), expected: 'double', existing: 0 },
  {
    name: 'same target block, other state root: double',
    prior: [link(0, 2)],
    link: link(0, 2, { root: 1 }),
    expected: 'double',
    existing: 0,
  },
  {
    name: 'same target height, other block and other source: double',
    prior: [link(1, 3)],
    link: link(0, 3, { fork: 2 }),
    expected: 'double',
  },
  { name: 'same target checkpoint from another source: new (neither rule)', prior: [link(1, 3)], link: link(0, 3), expected: 'new' },
  { name: 'new link surrounds an existing one', prior: [link(2, 3)], link: link(1, 4), expected: 'surrounding', existing: 0 },
  { name: 'an existing link surrounds the new one', prior: [link(1, 4)], link: link(2, 3), expected: 'surrounded', existing: 0 },
  { name: 'shared source is not a surround', prior: [link(1, 4)], link: link(1, 3), expected: 'new' },
  { name: 'shared target is not a surround', prior: [link(1, 4)], link: link(2, 4), expected: 'new' },
  { name: 'touching links are not a surround', prior: [link(1, 2)], link: link(2, 3), expected: 'new' },
  { name: 'overlapping, not nested links are not a surround', prior: [link(1, 3)], link: link(2, 4), expected: 'new' },
  { name: 'a lower disjoint link is new', prior: [link(5, 6)], link: link(1, 2), expected: 'new' },
  { name: 'links of another era never conflict (double)', prior: [link(0, 2)], link: link(0, 2, { fork: 1, era: 1n }), expected: 'new' },
  { name: 'links of another era never conflict (surround)', prior: [link(2, 3)], link: link(1, 4, { era: 1n }), expected: 'new' },
  { name: 'source equal to target is invalid', prior: [], link: link(3, 3), expected: 'invalid' },
  { name: 'source above target is invalid', prior: [], link: link(4, 3), expected: 'invalid' },
  { name: 'order: invalid before identical', prior: [link(3, 3)], link: link(3, 3), expected: 'invalid' },
  {
    name: 'order: double is reported before a surround listed earlier',
    prior: [link(1, 5), link(0, 3)],
    link: link(2, 3, { fork: 1 }),
    expected: 'double',
    existing: 1,
  },
  {
    name: 'order: identical wins over a conflict already in a tainted history',
    prior: [link(0, 3), link(0, 3, { fork: 1 })],
    link: link(0, 3, { fork: 1 }),
    expected: 'identical',
  },
  {
    name: 'first conflicting link in history order is reported',
    prior: [link(3, 4), link(2, 5)],
    link: link(1, 6),
    expected: 'surrounding',
    existing: 0,
  },
];

describe('checkSlashing', () => {
  it.each(cases)('$name', ({ prior, link: l, expected, existing }) => {
    const verdict = checkSlashing(prior, l);
    expect(kindOf(verdict)).toBe(expected);
    if (existing !== undefined && (verdict.kind === 'double' || verdict.kind === 'surround'))
      expect(verdict.existing).toBe(prior[existing]);
  });

  it('invalid links carry the reason', () => {
    expect(checkSlashing([], link(2, 1))).toEqual({ kind: 'invalid', reason: 'SOURCE_NOT_BELOW_TARGET' });
    expect(checkSlashing([], link(1, 2))).toEqual({ kind: 'new' });
  });

  it('reports the stored vote itself when the history holds votes', () => {
    const first = vote(3, link(0, 2));
    const verdict = checkSlashing([first], link(0, 2, { fork: 9 }));
    expect(verdict.kind === 'double' && verdict.existing.signature).toBe(first.signature);
  });
});

const arbLink = fc
  .record({ s: fc.nat(12), d: fc.integer({ min: 1, max: 6 }), fork: fc.nat(2), root: fc.nat(1), era: fc.constantFrom(0n, 0n, 0n, 1n) })
  .map(({ s, d, fork, root, era }) => link(s, s + d, { fork, root, era }));

describe('isDoubleVote / isSurroundVote', () => {
  it('are symmetric and never both true', () => {
    fc.assert(
      fc.property(arbLink, arbLink, (a, b) => {
        expect(isDoubleVote(a, b)).toBe(isDoubleVote(b, a));
        expect(isSurroundVote(a, b)).toBe(isSurroundVote(b, a));
        expect(isDoubleVote(a, b) && isSurroundVote(a, b)).toBe(false);
        expect(isDoubleVote(a, a) || isSurroundVote(a, a)).toBe(false);
      }),
    );
  });

  it('agree with checkSlashing on a one-link history', () => {
    fc.assert(
      fc.property(arbLink, arbLink, (a, b) => {
        const k = checkSlashing([a], b).kind;
        expect(k === 'double').toBe(isDoubleVote(a, b));
        expect(k === 'surround').toBe(isSurroundVote(a, b));
      }),
    );
  });
});

describe('evidenceOf', () => {
  it('turns a double vote by one member into evidence carrying both signatures', () => {
    const first = vote(2, link(0, 1));
    const second = vote(2, link(0, 1, { fork: 1 }));
    const ev = evidenceOf(first, second);
    expect(ev).toEqual({ kind: 'double', member: 2, first, second });
    expect(ev?.first.signature.length).toBe(48);
  });

  it('turns a surround vote into evidence', () => {
    expect(evidenceOf(vote(1, link(1, 4)), vote(1, link(2, 3)))?.kind).toBe('surround');
  });

  it('returns undefined for different members, identical links and compatible links', () => {
    expect(evidenceOf(vote(1, link(0, 1)), vote(2, link(0, 1, { fork: 1 })))).toBeUndefined();
    expect(evidenceOf(vote(1, link(0, 1)), vote(1, link(0, 1)))).toBeUndefined();
    expect(evidenceOf(vote(1, link(0, 1)), vote(1, link(1, 2)))).toBeUndefined();
  });
});

describe('watermark', () => {
  it('allows the first forward link and refuses a backward one', () => {
    expect(watermarkAllows(undefined, link(0, 1))).toBe(true);
    expect(watermarkAllows(undefined, link(1, 1))).toBe(false);
  });

  it('refuses re-signing, double votes and surround votes after a link is signed', () => {
    const w = advanceWatermark(undefined, link(2, 3));
    expect(w).toEqual({ lastSourceHeight: 2, lastTargetHeight: 3 });
    expect(watermarkAllows(w, link(2, 3))).toBe(false); // identical: the validator reuses its stored signature
    expect(watermarkAllows(w, link(2, 3, { fork: 1 }))).toBe(false); // double
    expect(watermarkAllows(w, link(1, 4))).toBe(false); // would surround
    expect(watermarkAllows(w, link(2, 4))).toBe(true);
    expect(watermarkAllows(w, link(3, 4))).toBe(true);
  });

  it('only moves up', () => {
    const w = advanceWatermark({ lastSourceHeight: 5, lastTargetHeight: 9 }, link(1, 2));
    expect(w).toEqual({ lastSourceHeight: 5, lastTargetHeight: 9 });
  });

  it('never lets a validator double or surround vote: watermarkAllows implies checkSlashing is new', () => {
    fc.assert(
      fc.property(fc.array(arbLink, { maxLength: 60 }), (candidates) => {
        let w: Watermark | undefined;
        const signed: Link[] = [];
        for (const l of candidates) {
          if (!watermarkAllows(w, l)) continue;
          expect(checkSlashing(signed, l)).toEqual({ kind: 'new' });
          signed.push(l);
          w = advanceWatermark(w, l);
        }
        // Pairwise too, whatever the order: the signed history holds no slashable pair.
        for (const a of signed) for (const b of signed) expect(evidenceOf(vote(1, a), vote(1, b))).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});
