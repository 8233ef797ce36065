/**
 * Cross-region evidence audit (every region that hosts members). Validators send each vote to every
 * region's vote queue, so a member that sends one vote to some regions and a conflicting one to the
 * others (a split equivocation) leaves no single finalizer holding both, and the finalizer's own
 * checks (one slot per member and height, span notes for surrounds) never see the pair.
 *
 * The audit closes that gap with bounded work. Auditing a checkpoint height h compares this region's
 * tally at h (each member's slot vote and the span notes covering h) with the same tally read from
 * each peer region (`PeerVotes`, served by `GET /v1/checkpoints/{h}/votes`), and stores evidence for
 * every slashable pair of one member's votes among all of them:
 *   - at most (regions - 1) peer reads, each answer at most n slot votes and n span notes;
 *   - a peer's answer is refused whole when it breaks the contract (a vote of another height, a
 *     malformed or duplicate entry, more than n of a kind): a lying peer is named, never believed;
 *   - one pairing per foreign vote that differs from the votes already held and forms a slashable
 *     pair (a partial verified once is remembered in the region's finalizer cache). Evidence is
 *     stored only when both partial signatures verify under the member's key, so a peer cannot plant
 *     evidence against an honest member: it would need that member's signature on a conflicting link.
 * Double votes at h are pairs of slot votes; a surround whose inner vote targets h is a slot vote
 * paired with a span note (the finalizer notes a non-adjacent link at every height strictly inside
 * it, within MAX_SPAN_CHECKPOINTS).
 *
 * When: before the state function applies a checkpoint height h, it audits h, and the height
 * `horizon` checkpoints below h (auditRange); each finality notice for checkpoint F also audits F and
 * F - horizon (auditHeights) when the pass did not. The first audit finds what was recorded by the
 * time h became final; the second, at the horizon where finalizers start refusing votes on that
 * height as stale (STALE_CHECKPOINTS), finds votes that arrived late. Auditing what a pass applies,
 * not only what notices name, covers the heights that became final as ancestors only (a jump link
 * skips them and no notice names them), and auditing before applying means a crash after the apply
 * cannot skip an audit. So each checkpoint height costs at most 2 x (regions - 1) peer reads in its
 * life (more only when a pass or a notice is run again).
 */
import { asafeUint, toHex } from '../core/bytes.js';
import { voteSigningBytes } from '../core/codec.js';
import { InputError } from '../core/errors.js';
import { checkVote, isCheckpointHeight } from '../core/ffg.js';
import { linkId } from '../core/ids.js';
import { type Evidence, evidenceOf } from '../core/slashing.js';
import type { Vote } from '../core/types.js';
import { aobject, type VoteJson, voteFromJson, voteToJson } from '../core/wire.js';
import type { ChainContext } from './context.js';
import type { EvidenceStore, HeightTally, HeightVotes, PeerVotes, TallyStore } from './ports.js';

export interface AuditDeps {
  readonly chain: ChainContext;
  /** Checkpoints between a height's first audit and its second (default STALE_CHECKPOINTS). */
  readonly horizon: number;
  /** This region's tallies (read) and evidence (written). */
  readonly store: Pick<TallyStore, 'tally'> & Pick<EvidenceStore, 'putEvidence'>;
  /** Every other region hosting members. */
  readonly peers: readonly PeerVotes[];
  /** Memo of partial signature checks, shared with the finalizer (same keys): a vote verified by either costs no second pairing. */
  readonly cache: { verify(key: string, compute: () => boolean): boolean };
}

/** What one audit of one height did. */
export interface AuditReport {
  readonly height: number;
  /** Peers whose answer was read and kept. */
  readonly peersRead: number;
  /** Peers that could not be read or whose answer broke the contract, with the reason. */
  readonly peerFailures: readonly { readonly peer: string; readonly reason: string }[];
  /** Foreign votes checked with a pairing (or found in the cache) because they formed a slashable pair. */
  readonly checked: number;
  /** Of those, the ones whose partial signature did not verify (dropped). */
  readonly badSignatures: number;
  /** Evidence this audit stored (idempotent: an audit repeated stores the same items again). */
  readonly evidence: readonly Evidence[];
}

/** Checkpoint heights audited at once (each costs up to regions - 1 peer reads). */
export const AUDIT_CONCURRENCY = 4;

/** The key under which the finalizer's cache remembers whether a partial verifies (finalizer.ts uses the same). */
const partialKey = (v: Vote) => `${v.member}|${linkId(v)}|${toHex(v.signature)}`;

/**
 * The heights a batch of finality notices asks to audit: each notice's checkpoint F and F - horizon
 * checkpoints, leaving out genesis, non-checkpoint heights and anything above `finalized` (this
 * region's finalized height: a notice is a hint, and a forged one must not widen the work). Sorted,
 * without repeats.
 */
export function auditHeights(deps: Pick<AuditDeps, 'chain' | 'horizon'>, notices: readonly number[], finalized: number): number[] {
  const K = deps.chain.set.checkpointInterval;
  const heights = new Set<number>();
  for (const F of notices)
    for (const h of [F, F - deps.horizon * K])
      if (h > deps.chain.genesis.height && h <= finalized && isCheckpointHeight(h, K)) heights.add(h);
  return [...heights].sort((a, b) => a - b);
}

/**
 * The heights a state function pass audits before it applies the blocks above `from` up to `to`: every
 * checkpoint height in (from, to], and each one `horizon` checkpoints below it, leaving out genesis.
 * A pass covers the heights no notice names: after a jump link (S -> F with F > S + K, as a fork or a
 * view change leaves) the checkpoints between S and F become final only as ancestors of F, and no
 * finality notice is ever sent for them. Sorted, without repeats; at most 2 per checkpoint applied.
 */
export function auditRange(deps: Pick<AuditDeps, 'chain' | 'horizon'>, from: number, to: number): number[] {
  const K = deps.chain.set.checkpointInterval;
  const heights = new Set<number>();
  for (let h = from + K - (from % K); h <= to; h += K)
    for (const x of [h, h - deps.horizon * K]) if (x > deps.chain.genesis.height) heights.add(x);
  return [...heights].sort((a, b) => a - b);
}

/**
 * Audits each of `heights`, at most AUDIT_CONCURRENCY at a time, and returns one report per height.
 * @throws only when this region's own store fails (peer failures are reported, not thrown)
 */
export async function auditAll(deps: AuditDeps, heights: readonly number[]): Promise<AuditReport[]> {
  const reports: AuditReport[] = [];
  for (let at = 0; at < heights.length; at += AUDIT_CONCURRENCY)
    reports.push(...(await Promise.all(heights.slice(at, at + AUDIT_CONCURRENCY).map((h) => auditHeight(deps, h)))));
  return reports;
}

/**
 * Compares this region's tally at checkpoint `height` with each peer's and stores evidence for every
 * slashable pair of one member's votes among them, once both partial signatures verify (this
 * region's own votes were verified when recorded; a foreign one is verified once, when it pairs).
 * @throws only when this region's own store fails
 */
export async function auditHeight(deps: AuditDeps, height: number): Promise<AuditReport> {
  const { chain } = deps;
  const [local, answers] = await Promise.all([
    deps.store.tally(height),
    Promise.allSettled(deps.peers.map((p) => p.votesAt(height).then((a) => foreignVotes(chain, height, a)))),
  ]);
  const peerFailures: { peer: string; reason: string }[] = [];
  const foreign: Vote[] = [];
  answers.forEach((a, i) => {
    if (a.status === 'fulfilled') foreign.push(...a.value);
    else peerFailures.push({ peer: deps.peers[i]!.name, reason: a.reason instanceof Error ? a.reason.message : String(a.reason) });
  });

  // Each member's distinct votes: the ones this region holds (verified when recorded), then the peers'.
  const byMember = new Map<number, { vote: Vote; local: boolean }[]>();
  const seen = new Set<string>();
  const add = (vote: Vote, local: boolean) => {
    const key = partialKey(vote);
    if (seen.has(key)) return;
    seen.add(key);
    byMember.set(vote.member, [...(byMember.get(vote.member) ?? []), { vote, local }]);
  };
  for (const v of localVotes(local)) add(v, true);
  for (const v of foreign) add(v, false);

  let checked = 0;
  let badSignatures = 0;
  const valid = new Map<string, boolean>();
  const verifies = (vote: Vote): boolean => {
    const key = partialKey(vote);
    let ok = valid.get(key);
    if (ok === undefined) {
      checked++;
      const publicKey = chain.set.members[vote.member - 1]!.publicKey;
      ok = deps.cache.verify(key, () => chain.crypto.verify(publicKey, voteSigningBytes(chain.set.chainId, vote), vote.signature));
      if (!ok) badSignatures++;
      valid.set(key, ok);
    }
    return ok;
  };

  const evidence: Evidence[] = [];
  for (const votes of byMember.values()) {
    if (votes.length < 2) continue;
    // Pairs among our own votes are the finalizer's to find, but checking them here too costs no pairing
    // (they were verified when recorded) and covers a finalizer call that crashed before storing them.
    for (let i = 0; i < votes.length; i++)
      for (let j = i + 1; j < votes.length; j++) {
        const [a, b] = ordered(votes[i]!, votes[j]!);
        const e = evidenceOf(a.vote, b.vote);
        if (!e) continue;
        if (!(a.local || verifies(a.vote)) || !(b.local || verifies(b.vote))) continue;
        await deps.store.putEvidence(e);
        evidence.push(e);
      }
  }
  return { height, peersRead: deps.peers.length - peerFailures.length, peerFailures, checked, badSignatures, evidence };
}

/** The pair in evidence order: the vote this region holds first, else the lower link id first (deterministic). */
function ordered<T extends { vote: Vote; local: boolean }>(x: T, y: T): [T, T] {
  if (x.local !== y.local) return x.local ? [x, y] : [y, x];
  return linkId(x.vote) <= linkId(y.vote) ? [x, y] : [y, x];
}

function localVotes(t: HeightTally | undefined): Vote[] {
  return t ? [...t.votes.values(), ...t.spans] : [];
}

/**
 * The votes of a peer's answer for `height`, after checking it keeps the contract: the right height,
 * at most n slot votes (each targeting `height`, one per member) and n span notes (each a link
 * strictly spanning `height`, one per member), every vote well formed for this chain.
 * @throws InputError naming the first broken rule (the whole answer is refused)
 */
export function foreignVotes(chain: ChainContext, height: number, answer: HeightVotes): Vote[] {
  const { set } = chain;
  if (answer.height !== height) throw new InputError('height', `answered ${answer.height} for ${height}`);
  const check = (list: readonly Vote[], kind: 'votes' | 'spans', covers: (v: Vote) => boolean): Vote[] => {
    if (list.length > set.n) throw new InputError(kind, `${list.length} entries, more than n = ${set.n}`);
    const members = new Set<number>();
    list.forEach((v, i) => {
      const refusal = checkVote(set, chain.genesis.height, v);
      if (refusal) throw new InputError(`${kind}[${i}]`, refusal.message);
      if (!covers(v)) throw new InputError(`${kind}[${i}]`, `link ${v.source.height} -> ${v.target.height} does not belong at ${height}`);
      if (members.has(v.member)) throw new InputError(`${kind}[${i}]`, `second entry for member ${v.member}`);
      members.add(v.member);
    });
    return [...list];
  };
  const K = set.checkpointInterval;
  return [
    ...check(answer.votes, 'votes', (v) => v.target.height === height),
    ...check(answer.spans, 'spans', (v) => v.source.height + K < height && height < v.target.height),
  ];
}

/** The JSON answer of `GET /v1/checkpoints/{height}/votes`. */
export interface HeightVotesJson {
  readonly height: number;
  readonly votes: VoteJson[];
  readonly spans: VoteJson[];
}

/** A tally's votes at `height` as the route answers them (ordered by member; empty when nothing is recorded there). */
export function heightVotesToJson(height: number, tally: HeightTally | undefined): HeightVotesJson {
  const byMember = (a: Vote, b: Vote) => a.member - b.member;
  return {
    height,
    votes: [...(tally?.votes.values() ?? [])].sort(byMember).map(voteToJson),
    spans: [...(tally?.spans ?? [])].sort(byMember).map(voteToJson),
  };
}

/**
 * Parses a `GET /v1/checkpoints/{height}/votes` answer (shape only: foreignVotes checks the rest).
 * @throws InputError naming the first malformed field
 */
export function heightVotesFromJson(value: unknown, path = 'answer'): HeightVotes {
  const o = aobject(value, path, ['height', 'votes', 'spans']);
  const height = asafeUint(o.height, `${path}.height`);
  const list = (key: 'votes' | 'spans'): Vote[] => {
    const items = o[key];
    if (!Array.isArray(items)) throw new InputError(`${path}.${key}`, 'expected an array');
    return items.map((v, i) => voteFromJson(v, `${path}.${key}[${i}]`));
  };
  return { height, votes: list('votes'), spans: list('spans') };
}
