/**
 * Reference model of the finality rules (test only): an in-memory state that takes votes whose
 * signatures the caller has verified and returns what they decide. It is not used by any role; it
 * exists so properties (order independence, accountable safety, liveness with f silent) can be
 * checked against the same rule functions the roles call (lib/core/ffg.ts, lib/core/slashing.ts).
 *
 * Counting rule: per member, the first recorded vote counts; a later vote that double or surround
 * votes against one of that member's counted votes is recorded as evidence and NOT counted.
 */
import { abytes, asafeUint } from '../../lib/core/bytes.js';
import { ConfigError } from '../../lib/core/errors.js';
import {
  type CheckpointStatus,
  checkVote,
  isCheckpointHeight,
  quorum,
  supermajorityDecision,
  thresholdProblem,
  type VoteRefusal,
} from '../../lib/core/ffg.js';
import { checkpointId, linkId } from '../../lib/core/ids.js';
import { checkSlashing, type Evidence } from '../../lib/core/slashing.js';
import type { Checkpoint, Link, Vote } from '../../lib/core/types.js';

export interface FfgParams {
  readonly era: bigint;
  readonly threshold: number;
  readonly n: number;
  readonly checkpointInterval: number;
  readonly genesis: Checkpoint;
}

export type VoteOutcome =
  | { kind: 'counted'; tally: number; justified: Checkpoint[]; finalized: Checkpoint[] }
  | { kind: 'duplicate' }
  | { kind: 'equivocation'; evidence: Evidence }
  | { kind: 'rejected'; reason: VoteRefusal };

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
    const problem = thresholdProblem(n, threshold);
    if (problem) throw new ConfigError('ffg.threshold', problem);
    if (!Number.isSafeInteger(K) || K < 1) throw new ConfigError('ffg.checkpointInterval', 'expected a positive integer');
    assertCheckpoint(genesis, 'genesis');
    if (!isCheckpointHeight(genesis.height, K))
      throw new ConfigError('ffg.genesis', `height ${genesis.height} is not a multiple of K = ${K}`);
    this.params = params;
    const key = checkpointId(genesis);
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
    const { era, n, checkpointInterval, genesis } = this.params;
    const refusal = checkVote({ era, n, checkpointInterval }, genesis.height, vote);
    if (refusal) return reject(refusal.reason);

    const mine = this.counted.get(vote.member) ?? [];
    const verdict = checkSlashing(mine, vote);
    switch (verdict.kind) {
      case 'identical':
        return { kind: 'duplicate' };
      case 'invalid': // unreachable: BAD_LINK is checked above
        return reject('BAD_LINK');
      case 'double':
      case 'surround': {
        const key = `${vote.member}|${linkId(vote)}`;
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
    const lk = linkId(vote);
    let tally = this.tallies.get(lk);
    if (tally === undefined) {
      tally = { link: { era: vote.era, source: vote.source, target: vote.target }, votes: [] };
      this.tallies.set(lk, tally);
    }
    tally.votes.push(vote);
    const justified: Checkpoint[] = [];
    const finalized: Checkpoint[] = [];
    // Only the vote that reaches the threshold decides; later votes on the link only raise the tally.
    if (quorum(tally.votes.length, this.params.threshold) && tally.votes.length === this.params.threshold)
      this.onSupermajority(tally.link, justified, finalized);
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
    return this.justifiedSet.has(checkpointId(c));
  }

  isFinalized(c: Checkpoint): boolean {
    return this.finalizedSet.has(checkpointId(c));
  }

  /** Status of one checkpoint identity (height, hash, stateRoot): another state root at the same block is another checkpoint. */
  status(c: Checkpoint): CheckpointStatus {
    const key = checkpointId(c);
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
    return this.tallies.get(linkId(link))?.votes.length ?? 0;
  }

  /** The counted votes on `link`, in arrival order (what a certificate combines). */
  votes(link: Link): readonly Vote[] {
    return this.tallies.get(linkId(link))?.votes ?? [];
  }

  /** The votes counted for `member`, in arrival order (pairwise non-slashable by construction). */
  countedVotes(member: number): readonly Vote[] {
    return this.counted.get(member) ?? [];
  }

  /** The supermajority link C -> C+K that finalized `c` (its certificate's link); undefined for genesis until one exists. */
  finalizingLink(c: Checkpoint): Link | undefined {
    return this.finalizedBy.get(checkpointId(c));
  }

  /** Applies a link that just reached the threshold, then drains the cascade it may start. */
  private onSupermajority(first: Link, justified: Checkpoint[], finalized: Checkpoint[]): void {
    const work: Link[] = [first];
    for (let link = work.pop(); link !== undefined; link = work.pop()) {
      const decision = supermajorityDecision(link, this.isJustified(link.source), this.params.checkpointInterval);
      if (decision.kind === 'wait') {
        const key = checkpointId(decision.source);
        this.waiting.set(key, [...(this.waiting.get(key) ?? []), link]);
        continue;
      }
      if (decision.finalize !== undefined) this.finalize(decision.finalize, link, finalized);
      const key = checkpointId(decision.target);
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
    const key = checkpointId(c);
    if (!this.finalizedBy.has(key)) this.finalizedBy.set(key, by);
    if (this.finalizedSet.has(key)) return;
    this.finalizedSet.set(key, c);
    finalized.push(c);
    if (c.height > this.highestFinalized.height) this.highestFinalized = c;
  }
}

function reject(reason: VoteRefusal): VoteOutcome {
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
