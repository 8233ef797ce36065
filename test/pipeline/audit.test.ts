/**
 * The cross-region evidence audit (lib/pipeline/audit.ts) against hand-made peers: what it pairs,
 * what it refuses, what it costs. Peers are untrusted, so a lying one must never plant evidence
 * against an honest member nor stop the audit reading the others.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { wasmBlsCrypto } from '../../lib/core/bls-wasm.js';
import { voteSigningBytes } from '../../lib/core/codec.js';
import type { Checkpoint, Link, Vote } from '../../lib/core/types.js';
import { type AuditDeps, auditHeight, auditHeights, auditRange, foreignVotes } from '../../lib/pipeline/audit.js';
import type { ChainContext } from '../../lib/pipeline/context.js';
import { FinalizerCache } from '../../lib/pipeline/finalizer.js';
import { MemoryFinalityStore } from '../../lib/pipeline/memory.js';
import type { HeightVotes, PeerVotes } from '../../lib/pipeline/ports.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const dealing = deal(4, 3);
let chain: ChainContext;
/** Pairings asked of the crypto (cache misses of the audit and of nothing else). */
let pairings = 0;

beforeAll(async () => {
  const crypto = await wasmBlsCrypto();
  const cluster = await MemoryCluster.create({ regions: ['a', 'b', 'c', 'd'], dealing, crypto });
  const base = cluster.node('a').chain;
  chain = {
    ...base,
    crypto: {
      ...crypto,
      verify: (publicKey, message, signature) => {
        pairings++;
        return crypto.verify(publicKey, message, signature);
      },
    },
  };
});

const H = 4;
const cp = (height: number, fork = 0): Checkpoint => ({
  height,
  hash: new Uint8Array(32).fill(16 * fork + 1),
  stateRoot: new Uint8Array(32).fill(16 * fork + 2),
});
const link = (s: number, t: number, fork = 0): Link => ({ era: 0n, source: cp(s), target: cp(t, fork) });
/** `member`'s real partial signature on `l` (or `as` another member's index, which then does not verify). */
function vote(member: number, l: Link, as = member): Vote {
  const signature = chain.crypto.signShare(dealing.shares[member - 1]!.secretKey, voteSigningBytes(chain.set.chainId, l));
  return { ...l, member: as, signature };
}

function peer(name: string, answer: Partial<HeightVotes> | (() => Promise<HeightVotes>)): PeerVotes & { reads: number } {
  const p = {
    name,
    reads: 0,
    votesAt: async (height: number) => {
      p.reads++;
      return typeof answer === 'function' ? answer() : { height, votes: [], spans: [], ...answer };
    },
  };
  return p;
}

async function setup(local: Vote[], localSpans: Vote[], peers: PeerVotes[]) {
  const store = new MemoryFinalityStore(chain.genesis);
  for (const v of local) await store.recordVote(v);
  for (const v of localSpans) await store.recordSpan(v, [H]);
  const deps: AuditDeps = { chain, store, peers, cache: new FinalizerCache(), horizon: 64 };
  return { deps, store };
}

describe('auditHeight', () => {
  it('finds a double vote split between this region and a peer, verifying only the foreign vote', async () => {
    const mine = vote(4, link(3, H, 0));
    const theirs = vote(4, link(3, H, 1));
    const { deps, store } = await setup([vote(1, link(3, H)), mine], [], [peer('b', { votes: [vote(1, link(3, H)), theirs] })]);
    pairings = 0;
    const report = await auditHeight(deps, H);
    expect(report).toMatchObject({ height: H, peersRead: 1, peerFailures: [], checked: 1, badSignatures: 0 });
    expect(pairings).toBe(1);
    expect(report.evidence).toEqual([{ kind: 'double', member: 4, first: mine, second: theirs }]);
    expect(await store.listEvidence(10)).toEqual(report.evidence);
  });

  it('pairs two peers with each other when this region holds neither vote', async () => {
    const a = vote(2, link(3, H, 0));
    const b = vote(2, link(3, H, 1));
    const { deps, store } = await setup([], [], [peer('b', { votes: [a] }), peer('c', { votes: [b] }), peer('d', {})]);
    const report = await auditHeight(deps, H);
    expect(report.checked).toBe(2);
    expect(report.evidence.map((e) => [e.kind, e.member])).toEqual([['double', 2]]);
    expect(await store.listEvidence(10)).toHaveLength(1);
  });

  it('finds a surround: a peer notes a span over this height, this region holds the inner vote', async () => {
    const inner = vote(3, link(3, H));
    const outer = vote(3, { era: 0n, source: cp(2), target: cp(H + 1, 1) });
    const { deps } = await setup([inner], [], [peer('b', { spans: [outer] })]);
    const report = await auditHeight(deps, H);
    expect(report.evidence).toEqual([{ kind: 'surround', member: 3, first: inner, second: outer }]);
  });

  it('also stores a pair this region held alone (a finalizer call that crashed before storing it), with no pairing', async () => {
    const inner = vote(2, link(3, H));
    const outer = vote(2, { era: 0n, source: cp(1), target: cp(H + 2, 1) });
    const { deps, store } = await setup([inner], [outer], [peer('b', {})]);
    pairings = 0;
    const report = await auditHeight(deps, H);
    expect(report).toMatchObject({ checked: 0, evidence: [{ kind: 'surround', member: 2 }] });
    expect(pairings).toBe(0);
    expect(await store.listEvidence(10)).toHaveLength(1);
  });

  it('costs no pairing when the peers hold what this region holds (honest cluster)', async () => {
    const votes = [1, 2, 3, 4].map((m) => vote(m, link(3, H)));
    const { deps } = await setup(votes.slice(0, 3), [], [peer('b', { votes }), peer('c', { votes: votes.slice(1) })]);
    pairings = 0;
    const report = await auditHeight(deps, H);
    expect(report).toMatchObject({ peersRead: 2, checked: 0, evidence: [] });
    expect(pairings).toBe(0);
  });

  it('a lying peer cannot plant evidence against an honest member: its forged vote does not verify', async () => {
    const honest = vote(1, link(3, H, 0));
    // Member 4's real signature on another target, labelled as member 1's vote.
    const forged = vote(4, link(3, H, 1), 1);
    const { deps, store } = await setup([honest], [], [peer('liar', { votes: [forged] })]);
    pairings = 0;
    const report = await auditHeight(deps, H);
    expect(report).toMatchObject({ checked: 1, badSignatures: 1, evidence: [] });
    expect(await store.listEvidence(10)).toEqual([]);
    // Verified once: the region's cache remembers the bad partial (a second audit costs no pairing).
    await auditHeight(deps, H);
    expect(pairings).toBe(1);
  });

  it('refuses a whole answer that breaks the contract, names the peer, and still reads the others', async () => {
    const a = vote(2, link(3, H, 0));
    const b = vote(2, link(3, H, 1));
    // An honest member's real vote of another height, replayed here as a slot vote (it cannot frame anyone).
    const replayed = vote(1, link(2, 3));
    const peers = [
      peer('wrong-height', { votes: [replayed, b] }),
      peer('too-many', { votes: [1, 2, 3, 4, 4].map((m) => vote(m, link(3, H))) }),
      peer('duplicate-span', { spans: [vote(1, link(1, H + 1)), vote(1, link(2, H + 2))] }),
      peer('span-not-spanning', { spans: [vote(1, link(3, H + 1))] }),
      peer('answers-another-height', async () => ({ height: H + 1, votes: [b], spans: [] })),
      peer('down', async () => {
        throw new Error('connect ECONNREFUSED');
      }),
      peer('honest', { votes: [b] }),
    ];
    const { deps } = await setup([a], [], peers);
    const report = await auditHeight(deps, H);
    expect(report.peersRead).toBe(1);
    expect(report.peerFailures.map((f) => f.peer)).toEqual([
      'wrong-height',
      'too-many',
      'duplicate-span',
      'span-not-spanning',
      'answers-another-height',
      'down',
    ]);
    expect(report.peerFailures[0]!.reason).toMatch(/votes\[0\]: link 2 -> 3 does not belong at 4/);
    expect(report.peerFailures[1]!.reason).toMatch(/more than n = 4/);
    expect(report.peerFailures[5]!.reason).toMatch(/ECONNREFUSED/);
    expect(report.evidence.map((e) => e.kind)).toEqual(['double']);
  });

  it('refuses votes this chain would refuse (unknown member, other era, backwards link)', () => {
    const good = vote(1, link(3, H));
    for (const bad of [
      { ...good, member: 5 },
      { ...good, era: 1n },
      { ...vote(1, link(H, 5)), target: cp(H) },
    ])
      expect(() => foreignVotes(chain, H, { height: H, votes: [bad], spans: [] })).toThrow(/votes\[0\]/);
    expect(foreignVotes(chain, H, { height: H, votes: [good], spans: [] })).toEqual([good]);
  });

  it('reads each peer once per audited height (at most regions - 1 reads)', async () => {
    const peers = [peer('b', {}), peer('c', {}), peer('d', {})];
    const { deps } = await setup([], [], peers);
    await auditHeight(deps, H);
    expect(peers.map((p) => p.reads)).toEqual([1, 1, 1]);
  });
});

describe('auditHeights', () => {
  const deps = (K: number, horizon: number) => ({
    chain: { ...chain, set: { ...chain.set, checkpointInterval: K } },
    horizon,
  });

  it("audits each notice's checkpoint and the one `horizon` checkpoints below it, none above the finalized height", () => {
    expect(auditHeights(deps(1, 64), [70], 70)).toEqual([6, 70]);
    expect(auditHeights(deps(1, 64), [3, 3, 2], 10)).toEqual([2, 3]);
    expect(auditHeights(deps(2, 3), [10, 12], 12)).toEqual([4, 6, 10, 12]);
  });

  it('skips genesis, heights off the checkpoint grid, and (forged) notices above the finalized height', () => {
    expect(auditHeights(deps(2, 1), [2, 3, 0], 10)).toEqual([2]);
    expect(auditHeights(deps(1, 2), [1_000_000], 12)).toEqual([]);
  });
});

describe('auditRange', () => {
  const deps = (K: number, horizon: number) => ({
    chain: { ...chain, set: { ...chain.set, checkpointInterval: K } },
    horizon,
  });

  it('audits every checkpoint height a pass applies, including those no notice names (a jump), and each one `horizon` below', () => {
    // Finality jumped from 0 to 2 (the link 0 -> 2): height 1 is final only as an ancestor of 2.
    expect(auditRange(deps(1, 64), 0, 2)).toEqual([1, 2]);
    expect(auditRange(deps(1, 64), 64, 66)).toEqual([1, 2, 65, 66]);
    expect(auditRange(deps(2, 3), 4, 11)).toEqual([2, 4, 6, 8, 10]);
    expect(auditRange(deps(2, 3), 10, 16)).toEqual([6, 8, 10, 12, 14, 16]);
  });

  it('audits nothing for an empty pass, and never genesis', () => {
    expect(auditRange(deps(1, 64), 5, 5)).toEqual([]);
    expect(auditRange(deps(1, 2), 0, 3)).toEqual([1, 2, 3]);
  });
});
