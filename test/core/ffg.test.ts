import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.js';
import { isAdjacent, isCheckpointHeight, quorum, supermajorityDecision } from '../../lib/core/ffg.js';
import { checkpointId as checkpointKey, linkId } from '../../lib/core/ids.js';
import { advanceWatermark, evidenceOf, type Watermark, watermarkAllows } from '../../lib/core/slashing.js';
import type { Checkpoint, Link, Vote } from '../../lib/core/types.js';
import { cp } from '../helpers/checkpoints.js';
import { type FfgParams, FinalityState } from '../helpers/ffg-reference.js';

const G = cp(0);
const lk = (source: Checkpoint, target: Checkpoint, era = 0n): Link => ({ era, source, target });
const vote = (member: number, l: Link): Vote => ({ ...l, member, signature: new Uint8Array(48).fill(member) });
const params = (n: number, threshold: number, K = 1, genesis = G): FfgParams => ({ era: 0n, n, threshold, checkpointInterval: K, genesis });
const keys = (cs: readonly Checkpoint[]) => cs.map(checkpointKey);
/** Feeds `members` votes on `l`; returns the last outcome. */
function voteAll(s: FinalityState, members: number[], l: Link) {
  return members.map((m) => s.addVote(vote(m, l))).at(-1)!;
}

describe('rule helpers', () => {
  it('quorum counts at least t distinct members', () => {
    expect(quorum(3, 3)).toBe(true);
    expect(quorum(2, 3)).toBe(false);
  });

  it('checkpoint heights are multiples of K', () => {
    expect(isCheckpointHeight(6, 3)).toBe(true);
    expect(isCheckpointHeight(7, 3)).toBe(false);
    expect(isCheckpointHeight(0, 3)).toBe(true);
  });

  it('a link finalizes its source only when it spans exactly K', () => {
    expect(isAdjacent(lk(cp(3), cp(6)), 3)).toBe(true);
    expect(isAdjacent(lk(cp(3), cp(9)), 3)).toBe(false);
  });

  it('linkId is era|source|target with padded heights and hex bytes, and separates state roots', () => {
    const key = linkId(lk(cp(1), cp(2), 7n));
    expect(key.split('|')).toHaveLength(3);
    expect(key.startsWith('7|0000000000000001:')).toBe(true);
    expect(linkId(lk(cp(1), cp(2, 0, 1)))).not.toBe(linkId(lk(cp(1), cp(2))));
  });

  it('supermajorityDecision waits on an unjustified source and justifies (and finalizes) otherwise', () => {
    expect(supermajorityDecision(lk(cp(1), cp(2)), false, 1)).toEqual({ kind: 'wait', source: cp(1) });
    expect(supermajorityDecision(lk(cp(1), cp(2)), true, 1)).toEqual({ kind: 'justify', target: cp(2), finalize: cp(1) });
    expect(supermajorityDecision(lk(cp(1), cp(3)), true, 1)).toEqual({ kind: 'justify', target: cp(3), finalize: undefined });
  });
});

describe('FinalityState parameters', () => {
  it('accepts n = 3f+1 with t = 2f+1 and refuses thresholds that allow two disjoint quorums', () => {
    expect(() => new FinalityState(params(4, 3))).not.toThrow();
    expect(() => new FinalityState(params(4, 2))).toThrow(/ffg.threshold/);
    expect(() => new FinalityState(params(4, 5))).toThrow(/ffg.threshold/);
  });

  it('refuses K < 1, a genesis off the checkpoint grid, and a malformed genesis', () => {
    expect(() => new FinalityState(params(4, 3, 0))).toThrow(/ffg.checkpointInterval/);
    expect(() => new FinalityState(params(4, 3, 3, cp(4)))).toThrow(/ffg.genesis/);
    expect(() => new FinalityState(params(4, 3, 1, { ...G, hash: new Uint8Array(31) }))).toThrow(InputError);
  });

  it('starts with genesis justified and finalized', () => {
    const s = new FinalityState(params(4, 3));
    expect(s.justified()).toBe(G);
    expect(s.finalized()).toBe(G);
    expect(s.status(G)).toBe('finalized');
    expect(s.status(cp(1))).toBe('pending');
  });
});

describe('justification and finalization, K = 1', () => {
  it('justifies at exactly t votes and finalizes the source of a one-step link', () => {
    const s = new FinalityState(params(4, 3));
    const l01 = lk(G, cp(1));
    expect(s.addVote(vote(1, l01))).toEqual({ kind: 'counted', tally: 1, justified: [], finalized: [] });
    expect(s.addVote(vote(2, l01))).toEqual({ kind: 'counted', tally: 2, justified: [], finalized: [] });
    expect(s.isJustified(cp(1))).toBe(false);
    // Genesis -> 1 spans K: genesis is already final, so only the target is newly justified.
    expect(s.addVote(vote(3, l01))).toEqual({ kind: 'counted', tally: 3, justified: [cp(1)], finalized: [] });
    expect(s.justified()).toEqual(cp(1));
    expect(s.finalizingLink(G)).toEqual(l01);

    const l12 = lk(cp(1), cp(2));
    voteAll(s, [1, 2], l12);
    expect(s.addVote(vote(4, l12))).toEqual({ kind: 'counted', tally: 3, justified: [cp(2)], finalized: [cp(1)] });
    expect(s.status(cp(1))).toBe('finalized');
    expect(s.status(cp(2))).toBe('justified');
    expect(s.finalized()).toEqual(cp(1));
    expect(s.finalizingLink(cp(1))).toEqual(l12);
    expect(s.votes(l12).map((v) => v.member)).toEqual([1, 2, 4]);
  });

  it('a late vote on an old link raises only the tally', () => {
    const s = new FinalityState(params(4, 3));
    voteAll(s, [1, 2, 3], lk(G, cp(1)));
    voteAll(s, [1, 2, 3], lk(cp(1), cp(2)));
    const before = { j: s.justified(), f: s.finalized(), js: keys(s.justifiedCheckpoints()), fs: keys(s.finalizedCheckpoints()) };
    expect(s.addVote(vote(4, lk(G, cp(1))))).toEqual({ kind: 'counted', tally: 4, justified: [], finalized: [] });
    expect({ j: s.justified(), f: s.finalized(), js: keys(s.justifiedCheckpoints()), fs: keys(s.finalizedCheckpoints()) }).toEqual(before);
  });

  it('a skip link justifies without finalizing; finality never moves back', () => {
    const s = new FinalityState(params(4, 3));
    voteAll(s, [1, 2, 3], lk(G, cp(2)));
    expect(s.justified()).toEqual(cp(2));
    expect(s.finalized()).toEqual(G);
    voteAll(s, [1, 2, 3], lk(cp(2), cp(3)));
    expect(s.finalized()).toEqual(cp(2));
    // G -> 1 later: 1 is justified, but G -> 1 does not finalize anything new and cp(1) is not final.
    const out = voteAll(s, [1, 2, 3], lk(G, cp(1)));
    expect(out).toMatchObject({ kind: 'counted', justified: [cp(1)], finalized: [] });
    expect(s.status(cp(1))).toBe('justified');
    expect(s.finalized()).toEqual(cp(2));
    expect(s.justified()).toEqual(cp(3));
  });
});

describe('justification and finalization, K = 3', () => {
  it('walks 0 -> 3 -> 9 -> 12 and back-fills 3 -> 6 without moving finality back', () => {
    const s = new FinalityState(params(4, 3, 3));
    expect(voteAll(s, [1, 2, 3], lk(G, cp(3)))).toMatchObject({ justified: [cp(3)], finalized: [] });
    expect(voteAll(s, [1, 2, 3], lk(cp(3), cp(9)))).toMatchObject({ justified: [cp(9)], finalized: [] });
    expect(s.status(cp(3))).toBe('justified');
    expect(voteAll(s, [2, 3, 4], lk(cp(9), cp(12)))).toMatchObject({ justified: [cp(12)], finalized: [cp(9)] });
    expect(s.finalized()).toEqual(cp(9));
    // Surround check: 3 -> 6 is inside 3 -> 9 only at the source end (shared source), so members may vote it.
    expect(voteAll(s, [1, 2, 4], lk(cp(3), cp(6)))).toMatchObject({ justified: [cp(6)], finalized: [cp(3)] });
    expect(s.finalized()).toEqual(cp(9));
    expect(s.justified()).toEqual(cp(12));
  });

  it('rejects votes off the checkpoint grid and below genesis', () => {
    const s = new FinalityState(params(4, 3, 3, cp(3)));
    expect(s.addVote(vote(1, lk(cp(3), cp(7))))).toEqual({ kind: 'rejected', reason: 'NOT_CHECKPOINT' });
    expect(s.addVote(vote(1, lk(cp(0), cp(6))))).toEqual({ kind: 'rejected', reason: 'BELOW_GENESIS' });
    expect(s.addVote(vote(1, lk(cp(3), cp(6))))).toMatchObject({ kind: 'counted', tally: 1 });
  });
});

describe('cascade: links that reach t before their source is justified', () => {
  it('justifies and finalizes transitively once the source is justified, in height order', () => {
    const s = new FinalityState(params(4, 3));
    expect(voteAll(s, [1, 2, 3], lk(cp(2), cp(3)))).toEqual({ kind: 'counted', tally: 3, justified: [], finalized: [] });
    expect(voteAll(s, [1, 2, 3], lk(cp(1), cp(2)))).toEqual({ kind: 'counted', tally: 3, justified: [], finalized: [] });
    expect(s.status(cp(2))).toBe('pending');
    voteAll(s, [1, 2], lk(G, cp(1)));
    expect(s.addVote(vote(3, lk(G, cp(1))))).toEqual({
      kind: 'counted',
      tally: 3,
      justified: [cp(1), cp(2), cp(3)],
      finalized: [cp(1), cp(2)],
    });
    expect(s.justified()).toEqual(cp(3));
    expect(s.finalized()).toEqual(cp(2));
  });

  it('a supermajority link from a source that is never justified justifies nothing', () => {
    const s = new FinalityState(params(4, 3));
    voteAll(s, [1, 2, 3], lk(cp(1, 5), cp(2)));
    voteAll(s, [1, 2, 3], lk(G, cp(1)));
    expect(s.status(cp(2))).toBe('pending');
    expect(s.justified()).toEqual(cp(1));
  });
});

describe('vote outcomes', () => {
  it('rejects unknown members, other eras and backward links, and counts the same vote when well formed', () => {
    const s = new FinalityState(params(4, 3));
    expect(s.addVote(vote(0, lk(G, cp(1))))).toEqual({ kind: 'rejected', reason: 'UNKNOWN_MEMBER' });
    expect(s.addVote(vote(5, lk(G, cp(1))))).toEqual({ kind: 'rejected', reason: 'UNKNOWN_MEMBER' });
    expect(s.addVote(vote(1.5, lk(G, cp(1))))).toEqual({ kind: 'rejected', reason: 'UNKNOWN_MEMBER' });
    expect(s.addVote(vote(1, lk(G, cp(1), 1n)))).toEqual({ kind: 'rejected', reason: 'WRONG_ERA' });
    expect(s.addVote(vote(1, lk(cp(2), cp(1))))).toEqual({ kind: 'rejected', reason: 'BAD_LINK' });
    expect(s.addVote(vote(1, lk(cp(1), cp(1))))).toEqual({ kind: 'rejected', reason: 'BAD_LINK' });
    expect(s.addVote(vote(4, lk(G, cp(1))))).toMatchObject({ kind: 'counted', tally: 1 });
  });

  it('throws InputError on a malformed vote (wrong hash length, bad height)', () => {
    const s = new FinalityState(params(4, 3));
    expect(() => s.addVote(vote(1, lk(G, { ...cp(1), hash: new Uint8Array(31) })))).toThrow(/vote.target.hash/);
    expect(() => s.addVote(vote(1, lk({ ...G, height: -1 }, cp(1))))).toThrow(/vote.source.height/);
  });

  it('a duplicate never counts twice', () => {
    const s = new FinalityState(params(4, 3));
    const l = lk(G, cp(1));
    s.addVote(vote(1, l));
    s.addVote(vote(2, l));
    expect(s.addVote(vote(2, l))).toEqual({ kind: 'duplicate' });
    expect(s.tally(l)).toBe(2);
    expect(s.isJustified(cp(1))).toBe(false);
    expect(s.addVote(vote(3, l))).toMatchObject({ kind: 'counted', tally: 3, justified: [cp(1)] });
  });

  it('a double vote becomes evidence, is not counted, and is recorded once', () => {
    const s = new FinalityState(params(4, 3));
    const a = vote(1, lk(G, cp(1, 0)));
    const b = vote(1, lk(G, cp(1, 1)));
    s.addVote(a);
    expect(s.addVote(b)).toEqual({ kind: 'equivocation', evidence: { kind: 'double', member: 1, first: a, second: b } });
    expect(s.tally(b)).toBe(0);
    expect(s.tally(a)).toBe(1);
    expect(s.addVote(b)).toEqual({ kind: 'duplicate' });
    expect(s.evidence()).toHaveLength(1);
  });

  it('the same block with another state root is another target: double vote', () => {
    const s = new FinalityState(params(4, 3));
    s.addVote(vote(2, lk(G, cp(1, 0, 0))));
    expect(s.addVote(vote(2, lk(G, cp(1, 0, 1))))).toMatchObject({ kind: 'equivocation', evidence: { kind: 'double', member: 2 } });
    // Another member voting that state root is not evidence.
    expect(s.addVote(vote(3, lk(G, cp(1, 0, 1))))).toMatchObject({ kind: 'counted', tally: 1 });
  });

  it('a surround vote becomes evidence in either direction', () => {
    const s = new FinalityState(params(4, 3));
    s.addVote(vote(1, lk(cp(1), cp(4))));
    expect(s.addVote(vote(1, lk(cp(2), cp(3))))).toMatchObject({ kind: 'equivocation', evidence: { kind: 'surround', member: 1 } });
    s.addVote(vote(2, lk(cp(2), cp(3))));
    expect(s.addVote(vote(2, lk(cp(1), cp(4))))).toMatchObject({ kind: 'equivocation', evidence: { kind: 'surround', member: 2 } });
    expect(s.tally(lk(cp(1), cp(4)))).toBe(1);
    expect(s.evidence().map((e) => e.member)).toEqual([1, 2]);
  });
});

describe('liveness with f of 3f+1 offline', () => {
  it('n = 7, members 6 and 7 silent: the other five finalize every height of a 10-block chain', () => {
    const s = new FinalityState(params(7, 5));
    for (let h = 1; h <= 10; h++) voteAll(s, [1, 2, 3, 4, 5], lk(s.justified(), cp(h)));
    expect(s.justified()).toEqual(cp(10));
    expect(s.finalized()).toEqual(cp(9));
    expect(s.evidence()).toHaveLength(0);
  });

  it('with f+1 silent nothing beyond genesis is justified', () => {
    const s = new FinalityState(params(7, 5));
    for (let h = 1; h <= 5; h++) voteAll(s, [1, 2, 3, 4], lk(s.justified(), cp(h)));
    expect(s.justified()).toEqual(G);
  });
});

// ---- properties ---------------------------------------------------------------------------------

/** Raw link candidate: heights in units of K, fork bytes 0/1. Height 0 is always genesis. */
const arbRaw = (H: number) => fc.record({ s: fc.nat(H - 1), d: fc.integer({ min: 1, max: H }), sf: fc.nat(1), tf: fc.nat(1) });
type Raw = { s: number; d: number; sf: number; tf: number };
const rawLink = (r: Raw, H: number, K: number, at: (h: number, fork: number) => Checkpoint = cp): Link => {
  const th = Math.min(r.s + r.d, H);
  return lk(r.s === 0 ? G : at(r.s * K, r.sf), at(th * K, r.tf));
};
/** The links a well-behaved member signs from a candidate list: those its watermark allows. */
function honestLinks(candidates: Link[]): Link[] {
  let w: Watermark | undefined;
  const out: Link[] = [];
  for (const l of candidates) {
    if (!watermarkAllows(w, l)) continue;
    out.push(l);
    w = advanceWatermark(w, l);
  }
  return out;
}
const snapshot = (s: FinalityState) => ({
  justified: checkpointKey(s.justified()),
  finalized: checkpointKey(s.finalized()),
  allJustified: keys(s.justifiedCheckpoints()).sort(),
  allFinalized: keys(s.finalizedCheckpoints()).sort(),
});

describe('order independence (honest votes)', () => {
  it('any arrival order, with duplicates, reaches the same justified and finalized checkpoints and tallies', () => {
    const H = 6;
    fc.assert(
      fc.property(
        fc.constantFrom(1, 3),
        fc.array(fc.array(arbRaw(H), { maxLength: 12 }), { minLength: 4, maxLength: 4 }),
        fc.func(fc.nat()),
        (K, perMember, order) => {
          const votes = perMember.flatMap((raws, i) => honestLinks(raws.map((r) => rawLink(r, H, K))).map((l) => vote(i + 1, l)));
          const a = new FinalityState(params(4, 3, K));
          for (const v of votes) expect(a.addVote(v).kind).toBe('counted');
          // Shuffle by a generated key function, and deliver every vote twice.
          const shuffled = [...votes, ...votes]
            .map((v, i) => ({ v, k: order(i) }))
            .sort((x, y) => x.k - y.k)
            .map((x) => x.v);
          const b = new FinalityState(params(4, 3, K));
          for (const v of shuffled) expect(['counted', 'duplicate']).toContain(b.addVote(v).kind);
          expect(snapshot(b)).toEqual(snapshot(a));
          for (const v of votes) expect(b.tally(v)).toBe(a.tally(v));
          expect(b.evidence()).toHaveLength(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('justified and finalized heights never decrease while votes arrive', () => {
    const H = 6;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), arbRaw(H)), { maxLength: 80 }), (raws) => {
        const s = new FinalityState(params(4, 3));
        let j = 0;
        let f = 0;
        for (const [m, r] of raws) {
          s.addVote(vote(m, rawLink(r, H, 1)));
          expect(s.justified().height).toBeGreaterThanOrEqual(j);
          expect(s.finalized().height).toBeGreaterThanOrEqual(f);
          j = s.justified().height;
          f = s.finalized().height;
          expect(s.isJustified(s.finalized())).toBe(true);
        }
      }),
    );
  });
});

// Accountable safety. Two regions record votes independently (each its own FinalityState); Byzantine
// members may sign anything and send different votes to different regions. Conflicting checkpoints
// across the regions must then expose at least f+1 members with a slashable pair among the votes the
// regions counted, and never an honest member.

type Delivery = 'both' | 'r1' | 'r2';
interface Execution {
  n: number;
  f: number;
  byzantine: number; // members 1..byzantine are Byzantine
  votes: { v: Vote; to: Delivery; o1: number; o2: number }[];
}

/** Members whose counted votes, across the given regions, contain a slashable pair. */
function accused(regions: FinalityState[], n: number): Set<number> {
  const out = new Set<number>();
  for (let m = 1; m <= n; m++) {
    const all = regions.flatMap((r) => r.countedVotes(m));
    if (all.some((a) => all.some((b) => evidenceOf(a, b) !== undefined))) out.add(m);
  }
  return out;
}

function run(e: Execution, K: number): [FinalityState, FinalityState] {
  const t = e.n - e.f;
  const regions: [FinalityState, FinalityState] = [new FinalityState(params(e.n, t, K)), new FinalityState(params(e.n, t, K))];
  const to = (r: 0 | 1) =>
    e.votes
      .filter((x) => x.to === 'both' || x.to === (r === 0 ? 'r1' : 'r2'))
      .sort((a, b) => (r === 0 ? a.o1 - b.o1 : a.o2 - b.o2))
      .map((x) => x.v);
  for (const r of [0, 1] as const) for (const v of to(r)) regions[r].addVote(v);
  return regions;
}

/**
 * Generates an execution over heights 1..H (in units of K) with forks 0 and 1. Honest members sign a
 * fork's chain links plus random links, filtered through their watermark (and `ok`); Byzantine members
 * sign chain links of both forks plus random links (filtered by `ok` only), and a "smart" Byzantine
 * member sends fork-0 votes to region 1 and fork-1 votes to region 2.
 */
function arbExecution(H: number, K: number, at: (h: number, fork: number) => Checkpoint, ok: (l: Link) => boolean) {
  const chain = (fork: number) => Array.from({ length: H }, (_, i) => lk(i === 0 ? G : at(i * K, fork), at((i + 1) * K, fork)));
  const likely = fc.integer({ min: 0, max: 9 }).map((x) => x > 0); // chain links are picked 90% of the time
  const member = fc.record({
    fork: fc.nat(1),
    chainPicks: fc.array(likely, { minLength: 2 * H, maxLength: 2 * H }),
    extra: fc.array(arbRaw(H), { maxLength: 4 }),
    smart: fc.nat(3).map((x) => x > 0),
    delivery: fc.array(fc.record({ to: fc.constantFrom<Delivery>('both', 'both', 'both', 'r1', 'r2'), o1: fc.nat(), o2: fc.nat() }), {
      minLength: 3 * H + 4,
      maxLength: 3 * H + 4,
    }),
  });
  return fc
    .constantFrom(4, 7)
    .chain((n) => {
      // Bias towards f+1 Byzantine members: the smallest coalition that can break safety, where the bound is tight.
      const byzantine = fc.oneof({ arbitrary: fc.nat(n), weight: 1 }, { arbitrary: fc.constant(Math.floor((n - 1) / 3) + 1), weight: 2 });
      return fc.record({ n: fc.constant(n), byzantine, members: fc.array(member, { minLength: n, maxLength: n }) });
    })
    .map(({ n, byzantine, members }): Execution => {
      const f = Math.floor((n - 1) / 3);
      const votes = members.flatMap((g, i) => {
        const m = i + 1;
        const isByz = m <= byzantine;
        const tagged = (fork: number) => chain(fork).map((l) => ({ l, to: (fork === 0 ? 'r1' : 'r2') as Delivery }));
        const chainLinks = (isByz ? [...tagged(0), ...tagged(1)] : tagged(g.fork)).filter((_, j) => g.chainPicks[j]);
        const extra = g.extra.map((r) => ({ l: rawLink(r, H, K, at), to: undefined }));
        const candidates = [...chainLinks, ...extra].filter((x) => ok(x.l));
        const signed = isByz ? candidates : honestLinks(candidates.map((x) => x.l)).map((l) => candidates.find((x) => x.l === l)!);
        return signed.map(({ l, to }, j) => {
          const d = g.delivery[j]!;
          // A smart Byzantine member sends each fork's chain votes to one region only.
          return { v: vote(m, l), to: isByz && g.smart && to !== undefined ? to : d.to, o1: d.o1, o2: d.o2 };
        });
      });
      return { n, f, byzantine, votes };
    });
}

describe('accountable safety', () => {
  it('same-height conflicts across regions expose >= f+1 members, never an honest one (K = 1, any links)', () => {
    const H = 4;
    let conflicts = 0;
    fc.assert(
      fc.property(
        arbExecution(H, 1, cp, () => true),
        (e) => {
          const regions = run(e, 1);
          const guilty = accused(regions, e.n);
          for (const m of guilty) expect(m).toBeLessThanOrEqual(e.byzantine);
          for (const r of regions) for (const ev of r.evidence()) expect(ev.member).toBeLessThanOrEqual(e.byzantine);
          // Within one region, conflicting justification at one height is impossible: counted votes never equivocate.
          for (const r of regions) {
            const heights = r.justifiedCheckpoints().map((c) => c.height);
            expect(new Set(heights).size).toBe(heights.length);
          }
          const [j1, j2] = regions.map((r) => r.justifiedCheckpoints());
          const conflict = j1!.some((a) => j2!.some((b) => a.height === b.height && checkpointKey(a) !== checkpointKey(b)));
          if (conflict) {
            expect(guilty.size).toBeGreaterThanOrEqual(e.f + 1);
            const [f1, f2] = regions.map((r) => r.finalizedCheckpoints());
            if (f1!.some((a) => f2!.some((b) => a.height === b.height && checkpointKey(a) !== checkpointKey(b)))) conflicts++;
          }
          if (e.byzantine <= e.f) expect(conflict).toBe(false);
        },
      ),
      { numRuns: 400, seed: 20240611 },
    );
    // Not vacuous: some executions really finalized conflicting checkpoints.
    expect(conflicts).toBeGreaterThan(0);
  });

  it('finalized vs justified on another branch exposes >= f+1 members (chain model, descendant links, K = 1 and 2)', () => {
    // Block tree: fork 1 branches off fork 0 at height B (in units of K); below B there is only fork 0.
    const H = 4;
    const B = 2;
    for (const K of [1, 2]) {
      const at = (h: number, fork: number) => cp(h, fork === 1 && h >= B * K ? 1 : 0);
      const forkOf = (c: Checkpoint) => c.hash[31]!;
      const isAncestor = (a: Checkpoint, d: Checkpoint) =>
        a.height <= d.height &&
        (forkOf(a) === forkOf(d) || (forkOf(a) === 0 && a.height < B * K)) &&
        checkpointKey(at(a.height, forkOf(a))) === checkpointKey(a);
      const conflicting = (a: Checkpoint, b: Checkpoint) => !isAncestor(a, b) && !isAncestor(b, a);
      // The host only feeds links whose target descends from the source (FinalityState's precondition).
      const ok = (l: Link) => isAncestor(l.source, l.target);
      let conflicts = 0;
      fc.assert(
        fc.property(arbExecution(H, K, at, ok), (e) => {
          const regions = run(e, K);
          const guilty = accused(regions, e.n);
          for (const m of guilty) expect(m).toBeLessThanOrEqual(e.byzantine);
          const finalized = regions.flatMap((r) => r.finalizedCheckpoints());
          const justified = regions.flatMap((r) => r.justifiedCheckpoints());
          const conflict = finalized.some((a) => justified.some((b) => b.height >= a.height && conflicting(a, b)));
          if (conflict) {
            expect(guilty.size).toBeGreaterThanOrEqual(e.f + 1);
            if (finalized.some((a) => finalized.some((b) => conflicting(a, b)))) conflicts++;
          }
          if (e.byzantine <= e.f) expect(conflict).toBe(false);
        }),
        { numRuns: 300, seed: 7 + K },
      );
      expect(conflicts).toBeGreaterThan(0);
    }
  });
});
