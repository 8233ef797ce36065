/**
 * Finalizer (every region): turns verified votes into certificates, justification and finality.
 *
 * Work per vote is bounded, whatever came before it (grandpa's round and Lodestar's seen-cache):
 *   1. checks without I/O: the vote's shape (ffg.checkVote) and its age (a source far below this
 *      region's finalized height is refused);
 *   2. one pairing: the partial signature is verified before anything is stored (a process-wide cache
 *      skips repeats); a bad one is dropped and counted, never stored, tallied or verified again;
 *   3. one conditional write: the vote takes its member's slot in the tally of its target height. A
 *      slot already holding another (verified) vote makes this one evidence, never a second count;
 *      so does a vote of the member it surrounds or that surrounds it, found through the span notes
 *      (a non-adjacent vote is noted first, at the heights inside it): as in the reference model, the
 *      first of a slashable pair counts and the second never does (within MAX_SPAN_CHECKPOINTS);
 *   4. when the link's votes reach t and the vote's headers prove its target descends from its source
 *      (pure hashing; a link across branches is never certified), the verified partials are combined
 *      into the certificate (first writer wins) and, if its source is justified, the target is
 *      justified, the source finalized, the head raised and the notices sent: by the one call that
 *      made each mark, or again by a redelivered or re-sent vote (a crash between a mark and its
 *      notices).
 * A signed vote is recorded whatever its headers say, so an equivocation on a block that does not
 * exist is still evidence; it just never certifies anything.
 * A certificate whose source is not justified yet waits in the tally of its source's height. The
 * certifier's write there returns the source's status and the justifier's write returns the waiting
 * links, so one of the two always sees the other. Finality is not written anywhere: an adjacent link
 * justified here finalizes its source, and readers derive it from the tally one checkpoint up.
 */
import { toHex } from '../core/bytes.js';
import { type BlockHeader, checkpointEquals, provesAncestry, voteSigningBytes } from '../core/codec.js';
import { CryptoError } from '../core/errors.js';
import { checkVote, isAdjacent, isCheckpointHeight, quorum, supermajorityDecision, type VoteRefusal } from '../core/ffg.js';
import { linkId } from '../core/ids.js';
import { checkSlashing, type Evidence, evidenceOf, sameLink } from '../core/slashing.js';
import type { Certificate, Checkpoint, Vote } from '../core/types.js';
import {
  justifies,
  type ViewCertificate,
  type ViewChange,
  viewCertificateProblem,
  viewChangeProblem,
  viewSigningBytes,
  viewStateSigningBytes,
} from '../core/views.js';
import { type ChainContext, proposerRegion } from './context.js';
import type { FinalityStore, HeightTally, Transport } from './ports.js';

export interface FinalizerDeps {
  readonly chain: ChainContext;
  readonly region: string;
  readonly homeRegion: string;
  readonly store: FinalityStore;
  readonly transport: Transport;
  /** Members hosted in this region (their inboxes get the justification notices). */
  readonly members: readonly number[];
  /** This process's memory of immutable facts (verified signatures, justified checkpoints, finalized height). */
  readonly cache: FinalizerCache;
}

/** Votes whose source is more than this many checkpoints below the region's finalized height are refused. */
export const STALE_CHECKPOINTS = 64;
/** Longest link (in checkpoints) a finalizer tracks for surround evidence. */
export const MAX_SPAN_CHECKPOINTS = 64;

/**
 * Facts that never change once known, kept per process so repeats cost no pairing and no read:
 * verified partial signatures, justified checkpoints, the highest finalized height seen.
 * Bounded: each map is cleared when it reaches its cap (a miss only costs the check again).
 */
export class FinalizerCache {
  private readonly verified = new Map<string, boolean>();
  private readonly justifiedIds = new Set<string>();
  finalizedHeight = 0;
  /** The region's view as last read or raised by this process (undefined: read the head). */
  view: number | undefined;
  constructor(private readonly max = 50_000) {}

  /** Whether the partial (member, link, signature) verifies, computing it at most once per cache life. */
  verify(key: string, compute: () => boolean): boolean {
    const hit = this.verified.get(key);
    if (hit !== undefined) return hit;
    const value = compute();
    if (this.verified.size >= this.max) this.verified.clear();
    this.verified.set(key, value);
    return value;
  }
  isJustified(id: string): boolean {
    return this.justifiedIds.has(id);
  }
  noteJustified(id: string): void {
    if (this.justifiedIds.size >= this.max) this.justifiedIds.clear();
    this.justifiedIds.add(id);
  }
  noteFinalized(height: number): void {
    this.finalizedHeight = Math.max(this.finalizedHeight, height);
  }
}

export type VoteResult =
  | {
      kind: 'counted';
      /** The vote took its member's slot for the first time (false: a redelivery or a late repeat). */
      fresh: boolean;
      /** Distinct members whose slot holds this link. */
      tally: number;
      /** The link has a certificate; `certifiedNow` when this call stored it. */
      certified: boolean;
      certifiedNow: boolean;
      justified: number[];
      finalized: number[];
      evidence: number;
    }
  /** The member's slot at this height holds another vote: not counted (evidence when slashable). */
  | { kind: 'uncounted'; evidence: number }
  | { kind: 'refused'; reason: VoteRefusal | 'STALE' | 'BAD_SIGNATURE'; message: string };

export interface VoteOptions {
  /** Headers proving the target descends from the source (target first). */
  readonly ancestry: readonly BlockHeader[];
  /** The certificate that justified the vote's source, as sent by the validator, with its own ancestry headers. */
  readonly justification?: { readonly certificate: Certificate; readonly ancestry: readonly BlockHeader[] };
  /**
   * Whether this delivery may repeat one that stopped half-way (a redelivery, or a vote re-sent after a
   * stall): then the notices of marks already made are sent again. Default true, the safe choice.
   */
  readonly repeat?: boolean;
}

type Progress = { justified: number[]; finalized: number[] };

const partialKey = (v: Vote) => `${v.member}|${linkId(v)}|${toHex(v.signature)}`;

/** Processes one vote. Never throws for a bad vote (it is refused); throws only on store/transport failure. */
export async function handleVote(deps: FinalizerDeps, vote: Vote, options: VoteOptions): Promise<VoteResult> {
  const { chain, store, cache } = deps;
  const { set } = chain;
  const K = set.checkpointInterval;
  const refusal = checkVote(set, chain.genesis.height, vote);
  if (refusal) return { kind: 'refused', ...refusal };
  if (vote.source.height + STALE_CHECKPOINTS * K < cache.finalizedHeight)
    return { kind: 'refused', reason: 'STALE', message: `source ${vote.source.height} is far below finalized ${cache.finalizedHeight}` };
  if (!validPartial(chain, cache, vote)) {
    await store.countInvalidVote();
    return { kind: 'refused', reason: 'BAD_SIGNATURE', message: `member ${vote.member}'s partial signature does not verify` };
  }
  const repeat = options.repeat ?? true;
  const progress: Progress = { justified: [], finalized: [] };
  if (options.justification)
    await importJustification(deps, vote.source, options.justification.certificate, options.justification.ancestry, progress);

  // A spanning vote is noted before it takes its slot, and is not counted when it surrounds a vote
  // already counted; a vote surrounded by a note is refused its slot (tally.ts slotRefusal). Each side
  // writes the item at the inner height before it decides, so the first of a surround pair counts.
  let evidence = isAdjacent(vote, K) ? 0 : await recordSpan(deps, vote);
  if (evidence > 0) return { kind: 'uncounted', evidence };
  const recorded = await store.recordVote(vote);
  evidence += await spanEvidence(deps, vote, recorded.tally);
  if (recorded.kind === 'surrounded') return { kind: 'uncounted', evidence };
  if (recorded.kind === 'slot-taken') {
    const e = evidenceOf(recorded.existing, vote);
    if (e) {
      await store.putEvidence(e);
      evidence++;
    }
    return { kind: 'uncounted', evidence };
  }

  const tally = recorded.tally;
  const mine = [...tally.votes.values()].filter((v) => sameLink(v, vote));
  const result = {
    kind: 'counted' as const,
    fresh: recorded.fresh,
    tally: mine.length,
    certified: false,
    certifiedNow: false,
    ...progress,
    evidence,
  };
  let certificate = tally.certificate;
  if (certificate && !sameLink(certificate, vote)) return result; // another link holds this height: this vote can never count there
  if (!certificate && quorum(mine.length, set.threshold) && provesAncestry(set.chainId, vote.source, vote.target, options.ancestry)) {
    const combined = combine(chain, vote, mine);
    if (combined) {
      const stored = await storeCertificate(deps, combined, result);
      certificate = stored.certificate;
      result.certifiedNow = stored.created;
    }
  }
  if (!certificate) return result;
  result.certified = true;
  // A repeat (redelivery, re-sent vote) re-runs the marks: a crash may have stopped the call that made them
  // between its writes and its notices. Each mark is conditional, so only missing ones are made. Once this
  // process knows the region finalized at or above the link's target, its marks were all made and its
  // notices are moot (everything they would wake has moved on): a late vote stops here.
  if (repeat && !result.certifiedNow && certificate.target.height > cache.finalizedHeight) await resume(deps, certificate, tally, result);
  return result;
}

/** Verifies a partial signature once per process (a bad one is never stored). */
function validPartial(chain: ChainContext, cache: FinalizerCache, vote: Vote): boolean {
  const publicKey = chain.set.members[vote.member - 1]!.publicKey;
  return cache.verify(partialKey(vote), () => chain.crypto.verify(publicKey, voteSigningBytes(chain.set.chainId, vote), vote.signature));
}

/**
 * Combines t partials of one link into its certificate. Each was verified under its member's key
 * before it was stored, and the member keys were checked against the group key's dealing at start-up,
 * so the interpolation is the group signature: no further pairing is needed.
 */
function combine(chain: ChainContext, link: Vote, votes: readonly Vote[]): Certificate | undefined {
  const { set } = chain;
  const used = [...votes].sort((a, b) => a.member - b.member).slice(0, set.threshold);
  try {
    const signature = chain.crypto.combine(
      used.map((v) => ({ index: v.member, signature: v.signature })),
      set.threshold,
    );
    return { era: link.era, source: link.source, target: link.target, signers: used.map((v) => v.member), signature };
  } catch (e) {
    if (e instanceof CryptoError) return undefined;
    throw e;
  }
}

/**
 * Stores a certificate at its target height (first writer wins), justified at once when its source is
 * known to be justified, else noted as waiting on its source; then whatever this call justified moves on.
 */
async function storeCertificate(
  deps: FinalizerDeps,
  c: Certificate,
  progress: Progress,
  sourceJustified?: true,
): Promise<{ certificate: Certificate; created: boolean }> {
  const stored = await deps.store.certify(c, sourceJustified ?? (await isJustified(deps, c.source)));
  if (stored.justifiedNow)
    await afterJustified(deps, stored.certificate, stored.tally ?? (await deps.store.tally(c.target.height))!, progress);
  else if (stored.created) await whenSourceJustified(deps, stored.certificate, progress);
  else if (sourceJustified && checkpointEquals(stored.certificate.target, c.target)) {
    // This height's certificate (made here, waiting for its source) certifies the same checkpoint, which
    // `c` shows justified: the stored one's signers saw its source justified just as well.
    const justified = await deps.store.markJustified(stored.certificate);
    if (justified) await afterJustified(deps, stored.certificate, justified, progress);
  }
  return stored;
}

/** Whether `c` is justified in this region: genesis, known to this process, or marked in its tally. */
async function isJustified(deps: FinalizerDeps, c: Checkpoint): Promise<boolean> {
  if (deps.cache.isJustified(checkpointKey(c))) return true;
  return justifiedIn(deps, c, await deps.store.tally(c.height));
}

/** Whether `tally` (of `c`'s height) shows `c` justified; remembered in the process cache when it does. */
function justifiedIn(deps: FinalizerDeps, c: Checkpoint, tally: HeightTally | undefined): boolean {
  const justified =
    checkpointEquals(c, deps.chain.genesis) ||
    (tally?.justified === true && tally.certificate !== undefined && checkpointEquals(tally.certificate.target, c));
  if (justified) deps.cache.noteJustified(checkpointKey(c));
  return justified;
}

const checkpointKey = (c: Checkpoint) => `${c.height}:${toHex(c.hash)}:${toHex(c.stateRoot)}`;

/**
 * A certificate was stored with its source not (yet) known to be justified: it is noted in the tally
 * of its source's height, and that same write returns the source's status. If the source was
 * justified meanwhile, this call completes the justification; otherwise the call that justifies the
 * source finds this link in the tally its own write returns. Each side writes before it reads.
 */
async function whenSourceJustified(deps: FinalizerDeps, c: Certificate, progress: Progress): Promise<void> {
  const source = await deps.store.awaitSource(c);
  if (!justifiedIn(deps, c.source, source)) return;
  const justified = await deps.store.markJustified(c);
  if (justified) await afterJustified(deps, c, justified, progress);
}

/**
 * `c`'s target was just justified by this call (`tally` is its height's tally after that write): an
 * adjacent `c` finalizes its source. The head is raised, the notices sent, then the links waiting on
 * the target are justified (the cascade).
 */
async function afterJustified(deps: FinalizerDeps, c: Certificate, tally: HeightTally, progress: Progress): Promise<void> {
  const { cache, chain } = deps;
  cache.noteJustified(checkpointKey(c.target));
  progress.justified.push(c.target.height);
  const finalizes = finalizesSource(chain, c);
  if (finalizes) {
    progress.finalized.push(c.source.height);
    cache.noteFinalized(c.source.height);
  }
  await announce(deps, c, finalizes);
  await cascade(deps, c.target, tally, progress);
}

/** Whether a justified `c` finalizes its source (an adjacent link; genesis needs no finalizing). */
function finalizesSource(chain: ChainContext, c: Certificate): boolean {
  const decision = supermajorityDecision(c, true, chain.set.checkpointInterval);
  return decision.kind === 'justify' && decision.finalize !== undefined && !checkpointEquals(c.source, chain.genesis);
}

/** Raises the head, then sends the notices: a role woken by a notice must see the head it announces. */
async function announce(deps: FinalizerDeps, c: Certificate, finalizes: boolean): Promise<void> {
  const view = await deps.store.raiseHead({
    justified: c.target,
    justification: c,
    ...(finalizes ? { finalized: c.source, finalization: c } : {}),
  });
  // Another invocation may have recorded a view change since this process cached its view.
  if (view !== undefined) deps.cache.view = Math.max(deps.cache.view ?? 0, view);
  await sendNotices(deps, c, finalizes);
}

/** Justifies the links certified before `source` was justified (noted in its height's tally). */
async function cascade(deps: FinalizerDeps, source: Checkpoint, tally: HeightTally, progress: Progress): Promise<void> {
  for (const c of tally.waiting) {
    if (!checkpointEquals(c.source, source)) continue;
    const justified = await deps.store.markJustified(c);
    if (justified) await afterJustified(deps, c, justified, progress);
  }
}

/**
 * Notices of `c`: the region's validators may vote on the next link (carrying the certificate, which
 * they verify), the home region's sequencer may build further, and, when `c` finalized its source,
 * the state function applies up to it.
 */
async function sendNotices(deps: FinalizerDeps, c: Certificate, finalizes: boolean): Promise<void> {
  const { transport, region } = deps;
  const active = activeRegion(deps, await currentView(deps));
  await Promise.all([
    ...deps.members.map((member) => transport.send({ queue: 'inbox', region, member }, [{ kind: 'justified', certificate: c }])),
    region === active ? transport.send({ queue: 'ingress', region }, [{ kind: 'tick', height: c.target.height }]) : undefined,
    finalizes
      ? transport.send({ queue: 'finalized', region }, [{ kind: 'finalized', height: c.source.height, certificate: c }])
      : undefined,
  ]);
}

/**
 * A repeat of a vote on a certified link (`tally` is the target height's tally, as the vote's write
 * returned it): make whatever marks are missing (a crash may have stopped the call that certified
 * between its writes) and send the notices again (they may not have left).
 */
async function resume(deps: FinalizerDeps, c: Certificate, tally: HeightTally, progress: Progress): Promise<void> {
  if (!tally.certificate || !sameLink(tally.certificate, c)) return;
  if (!tally.justified) {
    await whenSourceJustified(deps, c, progress);
    return;
  }
  await announce(deps, c, finalizesSource(deps.chain, c));
  await cascade(deps, c.target, tally, progress);
}

/**
 * A vote whose source this region has not justified may carry the source's justification: imported
 * (importCertificate), so a region that lost shares of that link, or was cut off for a while, catches
 * up instead of stalling.
 */
async function importJustification(
  deps: FinalizerDeps,
  source: Checkpoint,
  c: Certificate,
  ancestry: readonly BlockHeader[],
  progress: Progress,
): Promise<void> {
  if (!checkpointEquals(c.target, source) || c.era !== deps.chain.set.era || (await isJustified(deps, source))) return;
  await importCertificate(deps, c, ancestry, progress);
}

/**
 * Checks a certificate made elsewhere with the group key alone, then stores it like a certificate made
 * locally (when its height has none), justified. Returns why it was not imported, or undefined.
 */
async function importCertificate(
  deps: FinalizerDeps,
  c: Certificate,
  ancestry: readonly BlockHeader[],
  progress: Progress,
): Promise<string | undefined> {
  const { chain } = deps;
  const { set } = chain;
  if (c.era !== set.era) return `era ${c.era}, expected ${set.era}`;
  // No ancestry proof is needed: the honest signers among t checked that the target descends from the
  // source before signing. Headers, when sent, are only checked to be the right ones.
  if (ancestry.length > 0 && !provesAncestry(set.chainId, c.source, c.target, ancestry))
    return 'the headers do not link its source to its target';
  const signers = new Set(c.signers);
  if (signers.size !== c.signers.length || !quorum(signers.size, set.threshold) || c.signers.some((i) => i < 1 || i > set.n))
    return `signers ${JSON.stringify(c.signers)} are not ${set.threshold} distinct members of the set`;
  if (c.source.height >= c.target.height || !isCheckpointHeight(c.source.height, set.checkpointInterval))
    return `not a link between checkpoints (${c.source.height} -> ${c.target.height})`;
  const message = voteSigningBytes(set.chainId, c);
  if (!deps.cache.verify(`group|${linkId(c)}|${toHex(c.signature)}`, () => chain.crypto.verify(set.groupPublicKey, message, c.signature)))
    return 'the group signature does not verify';
  // t members signed this link, so at least one honest member saw its source justified: the source is
  // justified whether or not this region recorded it (a region back from a partition missed every
  // certificate in between, and importing them one level per vote would never catch up).
  await storeCertificate(deps, c, progress, true);
  return undefined;
}

export type CertifiedResult =
  | { kind: 'imported'; justified: number[]; finalized: number[] }
  /** This region already finalized the certificate's source: nothing to do. */
  | { kind: 'known'; finalized: number }
  | { kind: 'refused'; reason: 'BAD_CERTIFICATE'; message: string };

/**
 * A certificate a peer region holds, handed over by this region's finality sync (finality-sync.ts)
 * because this region was behind: a region that missed votes while it was cut off, on a chain that
 * then went idle, gets no vote that would carry it. Imported like a vote's justification; costs one
 * head read when this region already finalized its source, else one pairing (cached) and the writes
 * of one certificate.
 */
export async function handleCertified(deps: FinalizerDeps, c: Certificate): Promise<CertifiedResult> {
  const head = await deps.store.head();
  deps.cache.noteFinalized(head.finalized.height);
  // Strictly below: everything its notices would wake has moved on. At the region's own finalized height it
  // may repeat an import that a crash stopped between its head and its notices.
  if (c.source.height < head.finalized.height) return { kind: 'known', finalized: head.finalized.height };
  const progress: Progress = { justified: [], finalized: [] };
  const problem = await importCertificate(deps, c, [], progress);
  if (problem) {
    await deps.store.countInvalidVote();
    return { kind: 'refused', reason: 'BAD_CERTIFICATE', message: `certificate ${c.source.height} -> ${c.target.height}: ${problem}` };
  }
  if (progress.justified.length === 0) {
    // Nothing newly justified: an earlier import (a redelivery, or the sync sending again while the head
    // stayed below) stopped between its marks and its notices. Resume as a repeated vote does.
    const tally = await deps.store.tally(c.target.height);
    if (tally) await resume(deps, c, tally, progress);
  }
  return { kind: 'imported', ...progress };
}

/**
 * Surround evidence from the tally this vote was recorded in: a non-adjacent vote of the same member
 * that spans this height surrounds this one when it starts below this vote's source.
 */
async function spanEvidence(deps: FinalizerDeps, vote: Vote, tally: HeightTally): Promise<number> {
  let found = 0;
  for (const span of tally.spans) {
    if (span.member !== vote.member) continue;
    const verdict = checkSlashing([span], vote);
    if (verdict.kind !== 'surround') continue;
    await deps.store.putEvidence({ kind: 'surround', member: vote.member, first: span, second: vote });
    found++;
  }
  return found;
}

/**
 * A non-adjacent vote is noted at every checkpoint height strictly inside its span (bounded by
 * MAX_SPAN_CHECKPOINTS), where it could surround an adjacent vote; votes of the member already there
 * that it surrounds are evidence now, later ones find the note when they are recorded.
 */
async function recordSpan(deps: FinalizerDeps, vote: Vote): Promise<number> {
  const K = deps.chain.set.checkpointInterval;
  const heights: number[] = [];
  for (let h = vote.source.height + 2 * K; h < vote.target.height && heights.length < MAX_SPAN_CHECKPOINTS; h += K) heights.push(h);
  if (heights.length === 0) return 0;
  let found = 0;
  for (const t of await deps.store.recordSpan(vote, heights)) {
    const inner = t.votes.get(vote.member);
    if (!inner) continue;
    const e: Evidence | undefined = evidenceOf(inner, vote);
    if (e?.kind !== 'surround') continue;
    await deps.store.putEvidence(e);
    found++;
  }
  return found;
}

// ---------------------------------------------------------------- views

/** The region's view: this process's memory, else the region's head (read once per process). */
async function currentView(deps: FinalizerDeps): Promise<number> {
  if (deps.cache.view === undefined) deps.cache.view = (await deps.store.head()).view;
  return deps.cache.view;
}

const activeRegion = (deps: FinalizerDeps, view: number) => proposerRegion(deps.chain.set, deps.homeRegion, view);

export type ViewChangeResult =
  | { kind: 'refused'; reason: 'BAD_VIEW_CHANGE' | 'BAD_SIGNATURE'; message: string }
  /** For a view below the region's: nothing to do. */
  | { kind: 'stale'; view: number }
  | { kind: 'counted'; fresh: boolean; changes: number; certified: boolean; certifiedNow: boolean };

/**
 * Processes one member's view change, with the same bounds as a vote: checks without I/O, its two
 * partial signatures (and the certificate of its stated J) verified once before anything is stored,
 * one conditional write for its slot. At t, the first t changes by member index combine into the
 * view certificate (first writer wins); the region's head moves to the view and the new view's
 * sequencer and this region's validators are told. A repeat re-sends those notices.
 */
export async function handleViewChange(
  deps: FinalizerDeps,
  change: ViewChange,
  options: { repeat?: boolean } = {},
): Promise<ViewChangeResult> {
  const { chain, store, cache } = deps;
  const { set } = chain;
  const problem = viewChangeProblem(set, change);
  if (problem) return { kind: 'refused', reason: 'BAD_VIEW_CHANGE', message: problem };
  const view = await currentView(deps);
  if (change.view < view) return { kind: 'stale', view };
  const key = `view|${change.member}|${change.view}|${toHex(change.signature)}|${toHex(change.stateSignature)}`;
  if (!cache.verify(key, () => validViewChange(chain, change))) {
    await store.countInvalidVote();
    return { kind: 'refused', reason: 'BAD_SIGNATURE', message: `member ${change.member}'s view change does not verify` };
  }
  const { fresh, tally } = await store.recordViewChange(change);
  let certificate = tally.certificate;
  let certifiedNow = false;
  if (!certificate && quorum(tally.changes.size, set.threshold)) {
    const stored = await store.certifyView(combineViewChanges(chain, [...tally.changes.values()]));
    certificate = stored.certificate;
    certifiedNow = stored.created;
  }
  if (certificate && (certifiedNow || !fresh || (options.repeat ?? true))) await enterView(deps, certificate);
  return { kind: 'counted', fresh, changes: tally.changes.size, certified: certificate !== undefined, certifiedNow };
}

export type ViewNoticeResult =
  | { kind: 'stale'; view: number }
  | { kind: 'refused'; reason: 'BAD_VIEW_CERTIFICATE'; message: string }
  | { kind: 'entered'; view: number };

/**
 * A view certificate a member of this region adopted from a proposal, which this region's finalizer
 * may have missed (it was cut off while the others certified it): verified, then entered like a view
 * certified here. One verification per certificate per process; a view not above the region's costs
 * nothing.
 */
export async function handleViewNotice(deps: FinalizerDeps, certificate: ViewCertificate): Promise<ViewNoticeResult> {
  const { chain, cache } = deps;
  const current = await currentView(deps);
  if (certificate.view <= current) return { kind: 'stale', view: current };
  const key = `view-cert|${certificate.view}|${toHex(certificate.signature)}`;
  let problem: string | undefined;
  const verifies = () => {
    problem = viewCertificateProblem(chain.set, chain.crypto, chain.genesis, certificate);
    return problem === undefined;
  };
  if (!cache.verify(key, verifies)) {
    await deps.store.countInvalidVote();
    return { kind: 'refused', reason: 'BAD_VIEW_CERTIFICATE', message: problem ?? 'the view certificate did not verify' };
  }
  await enterView(deps, certificate);
  return { kind: 'entered', view: certificate.view };
}

/** Both partials verify under the member's key, and the stated J is genesis or carries the certificate that justified it. */
function validViewChange(chain: ChainContext, change: ViewChange): boolean {
  const { set, crypto, genesis } = chain;
  const memberKey = set.members[change.member - 1]!.publicKey;
  const { justified } = change.state;
  return (
    crypto.verify(memberKey, viewSigningBytes(set.chainId, set.era, change.view), change.signature) &&
    crypto.verify(memberKey, viewStateSigningBytes(set.chainId, set.era, change.view, change.state), change.stateSignature) &&
    (checkpointEquals(justified, genesis) ||
      (change.justification !== undefined && justifies(set, crypto, change.justification, justified)))
  );
}

/** The view certificate of the first t verified changes by member index, carrying the justification of the highest J. */
function combineViewChanges(chain: ChainContext, changes: ViewChange[]): ViewCertificate {
  const { set, crypto } = chain;
  const chosen = [...changes].sort((a, b) => a.member - b.member).slice(0, set.threshold);
  // The same choice as views.viewBase: the first strictly highest J.
  let top = chosen[0]!;
  for (const c of chosen) if (c.state.justified.height > top.state.justified.height) top = c;
  return {
    era: set.era,
    view: top.view,
    signers: chosen.map((c) => c.member),
    signature: crypto.combine(
      chosen.map((c) => ({ index: c.member, signature: c.signature })),
      set.threshold,
    ),
    states: chosen.map((c) => ({ member: c.member, state: c.state, signature: c.stateSignature })),
    ...(top.justification && !checkpointEquals(top.state.justified, chain.genesis) ? { justification: top.justification } : {}),
  };
}

/**
 * Moves the region's head to the certificate's view and tells the new view's sequencer, this
 * region's validators, and this region's sequencer when it is not the new one (superseded, it hands
 * its unfinal work over). The new sequencer's region may be down too (its validators' timers then
 * ask for the next view): a send there that fails does not fail this call.
 */
async function enterView(deps: FinalizerDeps, certificate: ViewCertificate): Promise<void> {
  const { store, cache, transport, region } = deps;
  await store.raiseHead({ view: certificate });
  cache.view = Math.max(cache.view ?? 0, certificate.view);
  const notice = { kind: 'view' as const, certificate };
  await Promise.all(deps.members.map((member) => transport.send({ queue: 'inbox', region, member }, [notice])));
  const active = activeRegion(deps, certificate.view);
  await transport.send({ queue: 'ingress', region: active }, [notice]).catch(() => {});
  // This region's own sequencer, superseded, hands its unfinal work to the active one (sequencer.ts).
  if (active !== region) await transport.send({ queue: 'ingress', region }, [notice]);
}
