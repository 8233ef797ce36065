/**
 * Finalizer (every region): records each vote, keeps a tally per link, certifies a link once t
 * members agree (optimistic: combine, verify once), and raises justification and finality.
 * Every step is an idempotent write, so a redelivered vote or a crashed-and-retried invocation
 * repeats them harmlessly; the steps always run in full for that reason.
 *
 * Ordering of votes does not matter: a certified link whose source is not yet justified is
 * recorded as waiting (before the source status is read), and justifying a checkpoint cascades
 * over the links waiting on it (after its status is written). One of the two always sees the
 * other, so no link is stranded.
 */
import { equalBytes } from '../core/bytes.js';
import { checkpointEquals, voteSigningBytes } from '../core/codec.js';
import { checkVote, quorum, supermajorityDecision, type VoteRefusal } from '../core/ffg.js';
import { checkSlashing, type Evidence, sameLink } from '../core/slashing.js';
import type { Certificate, Checkpoint, Vote } from '../core/types.js';
import type { ChainContext } from './context.js';
import type { FinalityStore, Transport } from './ports.js';

export interface FinalizerDeps {
  readonly chain: ChainContext;
  readonly region: string;
  readonly homeRegion: string;
  readonly store: FinalityStore;
  readonly transport: Transport;
}

export type VoteResult =
  | {
      kind: 'counted';
      duplicate: boolean;
      tally: number;
      /** The link has a certificate; `certifiedNow` when this call combined it. */
      certified: boolean;
      certifiedNow: boolean;
      justified: number[];
      finalized: number[];
      evidence: number;
    }
  | { kind: 'refused'; reason: VoteRefusal; message: string };

export interface VoteOptions {
  /** The certificate that justified the vote's source, as sent by the validator. */
  readonly justification?: Certificate;
  /**
   * Whether this delivery may repeat one that stopped half-way (default true, the safe choice);
   * the SQS handler passes false on a first delivery. It decides whether notices are re-sent.
   */
  readonly redelivered?: boolean;
}

/** Processes one vote. Never throws for a bad vote (it is refused); throws only on store/transport failure. */
export async function handleVote(deps: FinalizerDeps, vote: Vote, options: VoteOptions = {}): Promise<VoteResult> {
  const { chain, store } = deps;
  const refusal = checkVote(chain.set, chain.genesis.height, vote);
  if (refusal) return { kind: 'refused', ...refusal };
  const redelivered = options.redelivered ?? true;
  const duplicate = (await store.recordVote(vote)) === 'duplicate';
  const evidence = await detectEquivocation(deps, vote);
  if (options.justification) await importJustification(deps, vote, options.justification);
  let tally = await store.addPartial(vote);
  const held = tally.partials.get(vote.member);
  // Another copy holds this member's slot. BLS signatures are deterministic, so at most one of the
  // two is genuine: only then (rarely) pay for two checks, and let the genuine one take the slot.
  if (held && !equalBytes(held, vote.signature) && validPartial(chain, vote, vote.signature) && !validPartial(chain, vote, held)) {
    await store.removePartials(tally.link, [{ member: vote.member, signature: held }]);
    tally = await store.addPartial(vote);
  }
  const result = {
    kind: 'counted' as const,
    duplicate,
    tally: tally.partials.size,
    certified: false,
    certifiedNow: false,
    justified: [] as number[],
    finalized: [] as number[],
    evidence,
  };
  let certificate = tally.certificate;
  if (!certificate && quorum(tally.partials.size, chain.set.threshold)) {
    const message = voteSigningBytes(chain.set.chainId, tally.link);
    const partials = [...tally.partials].map(([index, signature]) => ({ index, signature }));
    const outcome = chain.crypto.certify(message, partials, {
      threshold: chain.set.threshold,
      groupPublicKey: chain.set.groupPublicKey,
      memberPublicKey: (i) => chain.set.members[i - 1]?.publicKey,
    });
    if (outcome.rejected.length > 0)
      await store.removePartials(
        tally.link,
        partials.filter((p) => outcome.rejected.includes(p.index)).map((p) => ({ member: p.index, signature: p.signature })),
      );
    if (outcome.ok) {
      certificate = await store.setCertificate({ ...tally.link, signers: outcome.signers, signature: outcome.signature });
      result.certifiedNow = true;
    }
  }
  if (certificate) {
    result.certified = true;
    await onCertified(deps, certificate, result, !duplicate || redelivered);
  }
  return result;
}

/** Stores evidence when this vote and an earlier one of the same member are slashable and both signatures are valid. */
async function detectEquivocation(deps: FinalizerDeps, vote: Vote): Promise<number> {
  const { chain, store } = deps;
  const prior = (await store.votesOf(vote.member, vote.source.height + 1)).filter((v) => !sameLink(v, vote));
  const valid = (v: Vote) => validPartial(chain, v, v.signature);
  let found = 0;
  for (const other of prior) {
    const verdict = checkSlashing([other], vote);
    if (verdict.kind !== 'double' && verdict.kind !== 'surround') continue;
    // Only signed conflicts are evidence; a forged vote would otherwise frame an honest member.
    if (!valid(vote) || !valid(other)) continue;
    const evidence: Evidence = { kind: verdict.kind, member: vote.member, first: other, second: vote };
    await store.putEvidence(evidence);
    found++;
  }
  return found;
}

const validPartial = (chain: ChainContext, link: Vote, signature: Uint8Array) =>
  chain.crypto.verify(chain.set.members[link.member - 1]!.publicKey, voteSigningBytes(chain.set.chainId, link), signature);

/**
 * A vote whose source this region has not justified yet may carry the source's justification:
 * checked here with the group key alone (signers, link, signature), then treated like a link
 * certified locally, so a region that lost shares of a link catches up instead of stalling.
 */
async function importJustification(deps: FinalizerDeps, vote: Vote, c: Certificate): Promise<void> {
  const { chain, store } = deps;
  if (!checkpointEquals(c.target, vote.source) || c.era !== chain.set.era || (await isJustified(deps, vote.source))) return;
  const signers = new Set(c.signers);
  if (signers.size !== c.signers.length || signers.size < chain.set.threshold || c.signers.some((i) => i < 1 || i > chain.set.n)) return;
  if (
    c.source.height >= c.target.height ||
    !chain.crypto.verify(chain.set.groupPublicKey, voteSigningBytes(chain.set.chainId, c), c.signature)
  )
    return;
  await onCertified(deps, await store.setCertificate(c), { justified: [], finalized: [] }, true);
}

async function isJustified(deps: FinalizerDeps, c: Checkpoint): Promise<boolean> {
  if (checkpointEquals(c, deps.chain.genesis)) return true;
  return (await deps.store.checkpointsAt(c.height)).some((r) => checkpointEquals(r.checkpoint, c));
}

type Progress = { justified: number[]; finalized: number[] };

async function onCertified(deps: FinalizerDeps, certificate: Certificate, result: Progress, freshVote: boolean): Promise<void> {
  await deps.store.awaitSource(certificate); // written before the source status is read (see header)
  const decision = supermajorityDecision(certificate, await isJustified(deps, certificate.source), deps.chain.set.checkpointInterval);
  if (decision.kind === 'justify') await justify(deps, certificate, decision.finalize, result, freshVote);
}

/** `certificate` is a certified link whose source is justified: its target is justified; `finalize` (its source, when adjacent) is final. */
async function justify(
  deps: FinalizerDeps,
  certificate: Certificate,
  finalize: Checkpoint | undefined,
  result: Progress,
  freshVote: boolean,
): Promise<void> {
  const { store, chain, transport } = deps;
  const target = certificate.target;
  const adjacent = finalize !== undefined;
  const [justifiedNow, finalizedNow] = await Promise.all([
    store.markJustified(target, certificate),
    finalize ? store.markFinalized(finalize, certificate) : Promise.resolve(false),
  ]);
  if (justifiedNow) result.justified.push(target.height);
  if (finalizedNow) result.finalized.push(certificate.source.height);
  // Notices go out when this pass changed something or carries a vote seen for the first time
  // (the n - t votes after the certificate re-send them, covering a crash between the writes above
  // and the sends). A redelivered duplicate sends nothing: re-sending on every duplicate made
  // validators re-send identical votes, which came back as duplicates again.
  const notify = justifiedNow || finalizedNow || freshVote;
  const local = notify ? chain.set.members.filter((m) => m.region === deps.region) : [];
  // The head moves before any notice leaves: a state function woken by the notice must see it.
  await store.raiseHead({ justified: target, ...(adjacent ? { finalized: certificate.source, finalization: certificate } : {}) });
  const [, , , waiting] = await Promise.all([
    Promise.all(
      local.map((m) =>
        transport.send({ queue: 'inbox', region: deps.region, member: m.index }, [{ kind: 'justified', checkpoint: target }]),
      ),
    ),
    notify && deps.region === deps.homeRegion ? transport.send({ queue: 'ingress' }, [{ kind: 'tick', height: target.height }]) : undefined,
    notify && adjacent
      ? transport.send({ queue: 'finalized', region: deps.region }, [{ kind: 'finalized', height: certificate.source.height }])
      : undefined,
    // Links certified before this target was justified (read after the status write above).
    store.linksFrom(target),
  ]);
  for (const next of waiting) {
    const decision = supermajorityDecision(next, true, chain.set.checkpointInterval);
    if (decision.kind === 'justify') await justify(deps, next, decision.finalize, result, freshVote);
  }
}
