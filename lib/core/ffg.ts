/**
 * Casper-FFG finality rules (DESIGN.md section 3) as a pure in-memory state: votes in, decisions out.
 *
 * Like grandpa's voter behind its Environment, this module never touches the network, a store or a
 * clock, and never verifies signatures: the host verifies each partial signature (and that the target
 * descends from the source, see below) before calling `addVote`, and persists what it is told. It is
 * used by the deterministic simulation, by validators to learn the highest justified checkpoint, and as
 * the reference model of the DynamoDB finalizer, which uses the stateless helpers (quorum,
 * isCheckpointHeight, finalizesSource, linkKey, supermajorityDecision) with the same semantics.
 *
 * Rules:
 * - genesis is justified and finalized by definition;
 * - a link is a supermajority link once `threshold` distinct members have a counted vote on it;
 * - the target of a supermajority link whose source is justified is justified;
 * - a justified checkpoint C is finalized by a supermajority link C -> C' with C'.height = C.height + K.
 * Votes arrive in any order: a supermajority link whose source is not yet justified waits, and when the
 * source becomes justified the waiting links justify their targets (and finalize), transitively.
 *
 * Counting rule: per member, the first recorded vote counts; a later vote that double or surround votes
 * against one of that member's counted votes is recorded as evidence and NOT counted. So each member's
 * counted votes are pairwise non-slashable, and a tally is a count of distinct members. Which of two
 * conflicting votes counts depends on arrival order, so two regions may count different ones; then
 * their certificates together name the equivocators (accountable safety, tested with two regions).
 *
 * Ancestry: FFG links must go from a checkpoint to one of its descendants. This state knows no blocks,
 * so it cannot check that; the host must (an honest validator's links always satisfy it). Without that
 * check, t colluding members could justify a non-descendant target with no slashable pair at all.
 */
import { abytes, asafeUint, toHex } from './bytes.js';
import { ConfigError } from './errors.js';
import { checkSlashing, type Evidence } from './slashing.js';
import type { Checkpoint, Link, Vote } from './types.js';

export interface FfgParams {
  /** The era whose votes this state counts; votes of other eras are rejected. */
  readonly era: bigint;
  /** Distinct members needed for a supermajority link (t = n - f). Must satisfy n < 2t <= 2n. */
  readonly threshold: number;
  /** Members are 1..n. */
  readonly n: number;
  /** K: checkpoints are at heights that are multiples of K. */
  readonly checkpointInterval: number;
  /** Justified and finalized by definition; its height must be a multiple of K. */
  readonly genesis: Checkpoint;
}

export type RejectReason =
  | 'WRONG_ERA' // vote.era differs from params.era
  | 'UNKNOWN_MEMBER' // member not an integer in 1..n
  | 'BAD_LINK' // source.height >= target.height
  | 'NOT_CHECKPOINT' // a height is not a multiple of K
  | 'BELOW_GENESIS'; // source below the genesis height: can never be justified

export type VoteOutcome =
  /** Counted. `tally` is the link's count after this vote; `justified`/`finalized` are the checkpoints this
   *  vote newly justified/finalized (cascades included), in height order. */
  | { kind: 'counted'; tally: number; justified: Checkpoint[]; finalized: Checkpoint[] }
  /** Same member, same link (or the same already-recorded equivocating vote): no effect. */
  | { kind: 'duplicate' }
  /** Slashable against the member's counted votes: recorded as evidence, not counted. */
  | { kind: 'equivocation'; evidence: Evidence }
  | { kind: 'rejected'; reason: RejectReason };

export type CheckpointStatus = 'pending' | 'justified' | 'finalized';

/** Supermajority: at least `threshold` distinct members. */
export function quorum(count: number, threshold: number): boolean {
  return count >= threshold;
}

/** True when `height` is a checkpoint height for interval K. */
export function isCheckpointHeight(height: number, K: number): boolean {
  return height % K === 0;
}

/** A supermajority link finalizes its (justified) source when it spans exactly one interval. */
export function finalizesSource(link: Link, K: number): boolean {
  return link.target.height === link.source.height + K;
}

/** Canonical id of a checkpoint: "height|hashHex|stateRootHex". */
export function checkpointKey(c: Checkpoint): string {
  return `${c.height}|${toHex(c.hash)}|${toHex(c.stateRoot)}`;
}

/** Canonical id of a link, used as a store key: "era|sh|shash|sroot|th|thash|troot" (decimal numbers, hex bytes). */
export function linkKey(link: Link): string {
  return `${link.era}|${checkpointKey(link.source)}|${checkpointKey(link.target)}`;
}

export type SupermajorityDecision =
  /** Remember the link under its source; decide again when the source becomes justified. */
  | { kind: 'wait'; source: Checkpoint }
  /** Justify `target`; finalize `finalize` when set (the link's source). Both may already hold: apply idempotently. */
  | { kind: 'justify'; target: Checkpoint; finalize: Checkpoint | undefined };

/**
 * What a link that has just reached the threshold decides, given whether its source is justified.
 * A store-backed finalizer calls this when a link's tally reaches t, and again for each waiting link
 * whose source it has just justified (that is the cascade; FinalityState does exactly the same).
 */
export function supermajorityDecision(link: Link, sourceJustified: boolean, K: number): SupermajorityDecision {
  if (!sourceJustified) return { kind: 'wait', source: link.source };
  return { kind: 'justify', target: link.target, finalize: finalizesSource(link, K) ? link.source : undefined };
}

interface Tally {
  readonly link: Link;
  readonly votes: Vote[];
}

/**
 * In-memory finality state for one era; deterministic for a given vote order. Nothing is pruned: memory
 * grows with the votes recorded.
 *
 * @example
 * const s = new FinalityState({ era: 0n, n: 4, threshold: 3, checkpointInterval: 1, genesis });
 * s.addVote(vote); // { kind: 'counted', tally: 1, justified: [], finalized: [] }
 * s.justified();   // highest justified checkpoint: the source of the next honest vote
 */
export class FinalityState {
  readonly params: FfgParams;
  private readonly tallies = new Map<string, Tally>();
  private readonly counted = new Map<number, Vote[]>(); // member -> counted votes, arrival order
  private readonly evidenceList: Evidence[] = [];
  private readonly evidenceKeys = new Set<string>(); // member|linkKey of recorded second votes
  private readonly justifiedSet = new Map<string, Checkpoint>();
  private readonly finalizedSet = new Map<string, Checkpoint>();
  private readonly finalizedBy = new Map<string, Link>();
  private readonly waiting = new Map<string, Link[]>(); // source key -> supermajority links waiting on it
  private highestJustified: Checkpoint;
  private highestFinalized: Checkpoint;

  /** Throws ConfigError when the parameters cannot give safety (see FfgParams) and InputError on a malformed genesis. */
  constructor(params: FfgParams) {
    const { n, threshold, checkpointInterval: K, genesis } = params;
    if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError('ffg.n', 'expected a positive integer');
    if (!Number.isSafeInteger(threshold) || threshold > n || 2 * threshold <= n)
      throw new ConfigError('ffg.threshold', `expected an integer with n/2 < threshold <= n (n = ${n})`);
    if (!Number.isSafeInteger(K) || K < 1) throw new ConfigError('ffg.checkpointInterval', 'expected a positive integer');
    assertCheckpoint(genesis, 'genesis');
    if (!isCheckpointHeight(genesis.height, K))
      throw new ConfigError('ffg.genesis', `height ${genesis.height} is not a multiple of K = ${K}`);
    this.params = params;
    const key = checkpointKey(genesis);
    this.justifiedSet.set(key, genesis);
    this.finalizedSet.set(key, genesis);
    this.highestJustified = genesis;
    this.highestFinalized = genesis;
  }

  /**
   * Records one vote whose signature the host has already verified, and returns what it did.
   * Protocol outcomes (duplicate, equivocation, rejection) are results; throws InputError only when the
   * vote is malformed (heights not safe integers, hashes or state roots not 32 bytes).
   */
  addVote(vote: Vote): VoteOutcome {
    assertCheckpoint(vote.source, 'vote.source');
    assertCheckpoint(vote.target, 'vote.target');
    const { era, n, checkpointInterval: K, genesis } = this.params;
    if (vote.era !== era) return reject('WRONG_ERA');
    if (!Number.isSafeInteger(vote.member) || vote.member < 1 || vote.member > n) return reject('UNKNOWN_MEMBER');
    if (vote.source.height >= vote.target.height) return reject('BAD_LINK');
    if (!isCheckpointHeight(vote.source.height, K) || !isCheckpointHeight(vote.target.height, K)) return reject('NOT_CHECKPOINT');
    if (vote.source.height < genesis.height) return reject('BELOW_GENESIS');

    const mine = this.counted.get(vote.member) ?? [];
    const verdict = checkSlashing(mine, vote);
    switch (verdict.kind) {
      case 'identical':
        return { kind: 'duplicate' };
      case 'invalid': // unreachable: BAD_LINK is checked above
        return reject('BAD_LINK');
      case 'double':
      case 'surround': {
        const key = `${vote.member}|${linkKey(vote)}`;
        if (this.evidenceKeys.has(key)) return { kind: 'duplicate' };
        const evidence: Evidence = { kind: verdict.kind, member: vote.member, first: verdict.existing, second: vote };
        this.evidenceKeys.add(key);
        this.evidenceList.push(evidence);
        return { kind: 'equivocation', evidence };
      }
      case 'new':
        break;
    }

    mine.push(vote);
    this.counted.set(vote.member, mine);
    const lk = linkKey(vote);
    let tally = this.tallies.get(lk);
    if (tally === undefined) {
      tally = { link: { era: vote.era, source: vote.source, target: vote.target }, votes: [] };
      this.tallies.set(lk, tally);
    }
    tally.votes.push(vote);
    const justified: Checkpoint[] = [];
    const finalized: Checkpoint[] = [];
    // Only the vote that reaches the threshold decides; later votes on the link only raise the tally.
    if (tally.votes.length === this.params.threshold) this.onSupermajority(tally.link, justified, finalized);
    return { kind: 'counted', tally: tally.votes.length, justified: byHeight(justified), finalized: byHeight(finalized) };
  }

  /** The highest justified checkpoint (the first one seen at that height). */
  justified(): Checkpoint {
    return this.highestJustified;
  }

  /** The highest finalized checkpoint (the first one seen at that height). Never moves to a lower height. */
  finalized(): Checkpoint {
    return this.highestFinalized;
  }

  isJustified(c: Checkpoint): boolean {
    return this.justifiedSet.has(checkpointKey(c));
  }

  isFinalized(c: Checkpoint): boolean {
    return this.finalizedSet.has(checkpointKey(c));
  }

  /** Status of one checkpoint identity (height, hash, stateRoot): another state root at the same block is another checkpoint. */
  status(c: Checkpoint): CheckpointStatus {
    const key = checkpointKey(c);
    if (this.finalizedSet.has(key)) return 'finalized';
    return this.justifiedSet.has(key) ? 'justified' : 'pending';
  }

  /** All justified checkpoints, in height order (ties in the order they were justified). */
  justifiedCheckpoints(): Checkpoint[] {
    return byHeight([...this.justifiedSet.values()]);
  }

  /** All finalized checkpoints, in height order. */
  finalizedCheckpoints(): Checkpoint[] {
    return byHeight([...this.finalizedSet.values()]);
  }

  /** Evidence recorded so far, in arrival order. */
  evidence(): readonly Evidence[] {
    return this.evidenceList;
  }

  /** Distinct members with a counted vote on `link`. */
  tally(link: Link): number {
    return this.tallies.get(linkKey(link))?.votes.length ?? 0;
  }

  /** The counted votes on `link`, in arrival order (what a certificate combines). */
  votes(link: Link): readonly Vote[] {
    return this.tallies.get(linkKey(link))?.votes ?? [];
  }

  /** The votes counted for `member`, in arrival order (pairwise non-slashable by construction). */
  countedVotes(member: number): readonly Vote[] {
    return this.counted.get(member) ?? [];
  }

  /** The supermajority link C -> C+K that finalized `c` (its certificate's link); undefined for genesis until one exists. */
  finalizingLink(c: Checkpoint): Link | undefined {
    return this.finalizedBy.get(checkpointKey(c));
  }

  /** Applies a link that just reached the threshold, then drains the cascade it may start. */
  private onSupermajority(first: Link, justified: Checkpoint[], finalized: Checkpoint[]): void {
    const work: Link[] = [first];
    for (let link = work.pop(); link !== undefined; link = work.pop()) {
      const decision = supermajorityDecision(link, this.isJustified(link.source), this.params.checkpointInterval);
      if (decision.kind === 'wait') {
        const key = checkpointKey(decision.source);
        this.waiting.set(key, [...(this.waiting.get(key) ?? []), link]);
        continue;
      }
      if (decision.finalize !== undefined) this.finalize(decision.finalize, link, finalized);
      const key = checkpointKey(decision.target);
      if (this.justifiedSet.has(key)) continue;
      this.justifiedSet.set(key, decision.target);
      justified.push(decision.target);
      if (decision.target.height > this.highestJustified.height) this.highestJustified = decision.target;
      // Links that reached the threshold before their source (this target) was justified now apply.
      const released = this.waiting.get(key);
      if (released !== undefined) {
        this.waiting.delete(key);
        work.push(...released);
      }
    }
  }

  private finalize(c: Checkpoint, by: Link, finalized: Checkpoint[]): void {
    const key = checkpointKey(c);
    if (!this.finalizedBy.has(key)) this.finalizedBy.set(key, by);
    if (this.finalizedSet.has(key)) return;
    this.finalizedSet.set(key, c);
    finalized.push(c);
    if (c.height > this.highestFinalized.height) this.highestFinalized = c;
  }
}

function reject(reason: RejectReason): VoteOutcome {
  return { kind: 'rejected', reason };
}

function byHeight(cs: Checkpoint[]): Checkpoint[] {
  return cs.sort((a, b) => a.height - b.height); // Array.prototype.sort is stable
}

function assertCheckpoint(c: Checkpoint, field: string): void {
  asafeUint(c.height, `${field}.height`);
  abytes(c.hash, 32, `${field}.hash`);
  abytes(c.stateRoot, 32, `${field}.stateRoot`);
}
