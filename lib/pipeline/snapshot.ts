/**
 * Learning finality from peers without trusting them, for regions that hold no key share
 * (followers) and regions far behind:
 *   - recordFinalized turns a certificate, checked here with the group key alone, into the same
 *     finality records a region's finalizer writes for an adjacent certified link, so the query
 *     service, the API and the finality stream answer from them unchanged;
 *   - bootstrapFromSnapshot starts a region from the latest finalized checkpoint its peers prove:
 *     the certificate is verified with the group key (never one taken from a peer), then the state
 *     tree under the certified state root is fetched from peers a subtree at a time, every node
 *     checked against the hash its parent names, so the tree written is exactly that state whoever served
 *     it. No block is replayed. A peer that lies (a certificate that does not verify, a root that is
 *     not the certified one, node bytes that do not hash right) is refused and another one used.
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { voteSigningBytes } from '../core/codec.js';
import { AfgError } from '../core/errors.js';
import { sameLink } from '../core/slashing.js';
import { isEmptySubtree, nodeChildren } from '../core/smt.js';
import type { Certificate, Checkpoint } from '../core/types.js';
import { verifyFinalityAnswer } from '../core/verifier.js';
import { certificateFromJson } from '../core/wire.js';
import { type ChainContext, hashBlock } from './context.js';
import type { AppliedHead, FinalityStore, PeerBlocks, PeerFinality, RegionStores, SnapshotPeer } from './ports.js';
import { MAX_STATE_ROOTS } from './query.js';

/** A certificate refused by recordFinalized, or a bootstrap that found no usable snapshot. */
export class SnapshotError extends AfgError<
  'BAD_CERTIFICATE' | 'NO_VERIFIED_CHECKPOINT' | 'STATE_UNAVAILABLE' | 'APPLIED_MOVED',
  { height?: number; problems?: readonly PeerProblem[] }
> {}

/** Why a peer was not used: `lied` when it answered something that fails verification. */
export interface PeerProblem {
  readonly peer: string;
  readonly lied: boolean;
  readonly reason: string;
}

/**
 * Checks `certificate` with the group key alone (era, distinct signers of the set, at least the
 * threshold of them, target = source + K, the group signature over the vote signing bytes) and
 * records it as a region's finalizer records an adjacent certified link: its target justified, its
 * source finalized with this certificate, the head raised to both. Idempotent.
 * @returns true when this call finalized the source here
 * @throws SnapshotError BAD_CERTIFICATE (nothing written) when a check fails
 */
export async function recordFinalized(
  deps: { readonly chain: ChainContext; readonly finality: FinalityStore },
  certificate: Certificate,
): Promise<boolean> {
  const { set, crypto } = deps.chain;
  const { source, target, signers } = certificate;
  const refuse = (reason: string) => {
    throw new SnapshotError('BAD_CERTIFICATE', `certificate ${source.height} -> ${target.height}: ${reason}`, { height: source.height });
  };
  if (certificate.era !== set.era) refuse(`era ${certificate.era}, expected ${set.era}`);
  if (target.height !== source.height + set.checkpointInterval)
    refuse(`not a link to the next checkpoint (interval ${set.checkpointInterval})`);
  if (new Set(signers).size !== signers.length || signers.some((i) => !Number.isInteger(i) || i < 1 || i > set.n))
    refuse('signers are not distinct members of the set');
  if (signers.length < set.threshold) refuse(`${signers.length} signers, fewer than the threshold ${set.threshold}`);
  if (!crypto.verify(set.groupPublicKey, voteSigningBytes(set.chainId, certificate), certificate.signature))
    refuse('the group signature does not verify under the group public key');
  // Stored justified at its target (which makes its source finalized, see tally.ts), the record
  // first, then the head (as the finalizer does): whoever sees the head sees its records.
  const stored = await deps.finality.certify(certificate, true);
  const finalizedNow =
    stored.justifiedNow || (sameLink(stored.certificate, certificate) && (await deps.finality.markJustified(certificate)) !== undefined);
  await deps.finality.raiseHead({ justified: target, justification: certificate, finalized: source, finalization: certificate });
  return finalizedNow;
}

export interface SnapshotDeps {
  readonly chain: ChainContext;
  readonly stores: Pick<RegionStores, 'blocks' | 'finality' | 'applied' | 'nodes'>;
  /** Where the checkpoint's own block may be fetched (best effort, checked against its hash). */
  readonly blockPeers?: readonly PeerBlocks[];
}

export interface SnapshotOptions {
  /** Bootstrap only to a checkpoint above this height; default the region's applied height. */
  readonly above?: number;
  /** Subtree requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Nodes per write to the node store (default 1000). */
  readonly writeBatch?: number;
}

export type SnapshotResult =
  | { readonly kind: 'skipped'; readonly reason: string; readonly problems: readonly PeerProblem[] }
  | {
      readonly kind: 'bootstrapped';
      /** The finalized checkpoint the region now starts from. */
      readonly checkpoint: Checkpoint;
      readonly certificate: Certificate;
      /** The peer whose finality answer was used. */
      readonly source: string;
      /** State nodes fetched and written, their bytes, and the requests it took. */
      readonly nodes: number;
      readonly nodeBytes: number;
      readonly requests: number;
      readonly problems: readonly PeerProblem[];
    };

/** A peer's finalized checkpoint and the certificate that finalized it, verified with the group key. */
export interface Candidate<P extends PeerFinality = SnapshotPeer> {
  readonly peer: P;
  readonly checkpoint: Checkpoint;
  readonly certificate: Certificate;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Starts the region from the highest finalized checkpoint any peer proves, if it is above
 * `opts.above` (default: the applied height): fetches and checks the state tree under its state
 * root, writes it, moves the applied pointer there, then records the certificate (recordFinalized).
 * The applied pointer moves before the finality head, so the state function never replays the
 * blocks below the checkpoint. Safe to call again after a failure (content-addressed writes).
 * @returns what was done, with every peer that was not used and why
 * @throws SnapshotError NO_VERIFIED_CHECKPOINT when no peer's finality answer verifies,
 *   STATE_UNAVAILABLE when no honest peer serves a node of the tree, APPLIED_MOVED when the
 *   applied pointer kept moving underneath; a store error as it is
 */
export async function bootstrapFromSnapshot(
  deps: SnapshotDeps,
  peers: readonly SnapshotPeer[],
  opts: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const { chain, stores } = deps;
  const problems: PeerProblem[] = [];
  const applied: AppliedHead = (await stores.applied.applied()) ?? chain.genesis;
  const above = opts.above ?? applied.height;

  const candidates = (await Promise.all(peers.map((peer) => verifiedHead(chain, peer, problems))))
    .filter((c): c is Candidate => c !== undefined)
    .sort((a, b) => b.checkpoint.height - a.checkpoint.height);
  const best = candidates[0];
  if (!best) {
    if (problems.length === peers.length && peers.length > 0)
      throw new SnapshotError('NO_VERIFIED_CHECKPOINT', `no peer proves a finalized checkpoint: ${describe(problems)}`, { problems });
    return { kind: 'skipped', reason: 'no peer has finalized a checkpoint above genesis', problems };
  }
  if (best.checkpoint.height <= above)
    return {
      kind: 'skipped',
      reason: `the highest finalized checkpoint peers prove (${best.checkpoint.height}) is not above ${above}`,
      problems,
    };

  // Nodes may come from any peer that proved a checkpoint, starting with the one whose checkpoint is used.
  const pool = [best.peer, ...candidates.map((c) => c.peer).filter((p) => p !== best.peer)];
  const tree = await fetchTree(deps, best.checkpoint, pool, problems, opts);

  const { checkpoint, certificate } = best;
  await storeCheckpointBlock(deps, checkpoint);
  await moveApplied(deps, { height: checkpoint.height, hash: checkpoint.hash, stateRoot: checkpoint.stateRoot });
  await recordFinalized({ chain, finality: stores.finality }, certificate);
  return { kind: 'bootstrapped', checkpoint, certificate, source: best.peer.name, ...tree, problems };
}

/** The peer's finalized checkpoint with its certificate, verified with the chain's own group key; undefined (and a problem) otherwise. */
export async function verifiedHead<P extends PeerFinality>(
  chain: ChainContext,
  peer: P,
  problems: PeerProblem[],
): Promise<Candidate<P> | undefined> {
  let answer: unknown;
  try {
    answer = await peer.finality();
  } catch (e) {
    problems.push({ peer: peer.name, lied: false, reason: `finality: ${message(e)}` });
    return undefined;
  }
  const { set } = chain;
  const verdict = verifyFinalityAnswer(answer, {
    groupPublicKey: set.groupPublicKey,
    chainId: set.chainId,
    checkpointInterval: set.checkpointInterval,
    threshold: set.threshold,
    era: set.era,
  });
  if (!verdict.ok) {
    problems.push({
      peer: peer.name,
      lied: true,
      reason: `finality: ${verdict.failures.map((f) => `[${f.check}] ${f.message}`).join('; ')}`,
    });
    return undefined;
  }
  if (verdict.checkpoint.height === 0) return undefined; // genesis: nothing to fetch
  return { peer, checkpoint: verdict.checkpoint, certificate: certificateFromJson((answer as { certificate: unknown }).certificate) };
}

/**
 * Fetches every node under `checkpoint.stateRoot` and writes it. Work is a set of subtree roots;
 * each request asks one live peer for up to MAX_STATE_ROOTS of them and gets back their subtrees
 * breadth-first, one after the other, cut anywhere; every node is checked against the hash the
 * walk expects, and the roots of what is left go back in the set. A peer that lacks the first root
 * is not asked for it again; a peer whose answer fails a check is refused for the rest of the
 * bootstrap and its work given to another.
 */
async function fetchTree(
  deps: SnapshotDeps,
  checkpoint: Checkpoint,
  pool: readonly SnapshotPeer[],
  problems: PeerProblem[],
  opts: SnapshotOptions,
): Promise<{ nodes: number; nodeBytes: number; requests: number }> {
  const concurrency = opts.concurrency ?? 4;
  const writeBatch = opts.writeBatch ?? 1000;
  const live = new Set(pool);
  /** Peers that answered "no such node" (or failed) for a root, by root hex. */
  const lacking = new Map<string, Set<SnapshotPeer>>();
  // A stack: the part left of a cut answer is asked for next, which keeps the set small.
  const frontier = isEmptySubtree(checkpoint.stateRoot) ? [] : [checkpoint.stateRoot];
  let pending: { hash: Uint8Array; bytes: Uint8Array }[] = [];
  const stats = { nodes: 0, nodeBytes: 0, requests: 0 };
  let turn = 0;

  const flush = async () => {
    const batch = pending;
    pending = [];
    if (batch.length > 0) await deps.stores.nodes.putMany(batch);
  };
  const peerFor = (root: Uint8Array): SnapshotPeer | undefined => {
    const skip = lacking.get(toHex(root));
    const choices = [...live].filter((p) => !skip?.has(p));
    return choices.length === 0 ? undefined : choices[turn++ % choices.length];
  };
  const fetchSome = async (roots: Uint8Array[]): Promise<void> => {
    const first = roots[0]!;
    const peer = peerFor(first);
    if (!peer)
      throw new SnapshotError(
        'STATE_UNAVAILABLE',
        `no peer serves state node ${toHex(first)} of checkpoint ${checkpoint.height}${problems.length ? `: ${describe(problems)}` : ''}`,
        { height: checkpoint.height, problems },
      );
    const lacks = () => {
      const set = lacking.get(toHex(first)) ?? new Set();
      lacking.set(toHex(first), set.add(peer));
      frontier.push(...roots);
    };
    let answer: Uint8Array[] | undefined;
    stats.requests++;
    try {
      answer = await peer.stateNodes(roots);
    } catch (e) {
      problems.push({ peer: peer.name, lied: false, reason: `state nodes: ${message(e)}` });
      return lacks();
    }
    if (answer === undefined) return lacks();
    const checked = checkSubtrees(roots, answer);
    if (typeof checked === 'string') {
      live.delete(peer);
      problems.push({ peer: peer.name, lied: true, reason: `state nodes under ${toHex(first)}: ${checked}` });
      frontier.push(...roots);
      return;
    }
    for (const node of checked.nodes) {
      pending.push(node);
      stats.nodes++;
      stats.nodeBytes += node.bytes.length;
    }
    frontier.push(...checked.rest);
    if (pending.length >= writeBatch) await flush();
  };

  while (frontier.length > 0) {
    const round: Uint8Array[][] = [];
    while (frontier.length > 0 && round.length < concurrency) round.push(frontier.splice(-MAX_STATE_ROOTS));
    await Promise.all(round.map(fetchSome));
  }
  await flush();
  return stats;
}

/**
 * Checks an answer for the subtrees under `roots`: breadth-first for each root in turn, node i must
 * be the stored form of the hash the walk expects next (the root, then each checked node's children
 * in order). Returns the checked nodes and the roots of what was not sent (the rest of a cut
 * subtree, then the roots not reached), or why the answer is refused.
 */
function checkSubtrees(
  roots: readonly Uint8Array[],
  answer: readonly Uint8Array[],
): { nodes: { hash: Uint8Array; bytes: Uint8Array }[]; rest: Uint8Array[] } | string {
  if (answer.length === 0) return 'no nodes (a missing node is a 404)';
  const nodes: { hash: Uint8Array; bytes: Uint8Array }[] = [];
  let sent = 0;
  for (const [r, root] of roots.entries()) {
    const walk = [root];
    for (let w = 0; w < walk.length; w++) {
      if (sent === answer.length) return { nodes, rest: [...walk.slice(w), ...roots.slice(r + 1)] };
      const hash = walk[w]!;
      try {
        for (const child of nodeChildren(hash, answer[sent]!)) walk.push(child);
      } catch (e) {
        return `node ${sent} does not match hash ${toHex(hash)}: ${message(e)}`;
      }
      nodes.push({ hash, bytes: answer[sent]! });
      sent++;
    }
  }
  return sent === answer.length ? { nodes, rest: [] } : `${answer.length} nodes, more than the ${sent} the requested subtrees hold`;
}

/** Best effort: the checkpoint's own block, from a peer, if it hashes right (so GET /v1/blocks/H answers here). */
async function storeCheckpointBlock(deps: SnapshotDeps, checkpoint: Checkpoint): Promise<void> {
  for (const peer of deps.blockPeers ?? []) {
    try {
      const block = await peer.fetchBlock(checkpoint.height);
      if (block && block.height === checkpoint.height && equalBytes(hashBlock(deps.chain, block), checkpoint.hash)) {
        await deps.stores.blocks.putBlock(checkpoint.hash, block);
        return;
      }
    } catch {
      // another peer, or none: the block is not needed to serve state
    }
  }
}

/** Moves the applied pointer up to `next` unless it is already there or above (a few tries against concurrent moves). */
async function moveApplied(deps: SnapshotDeps, next: AppliedHead): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = (await deps.stores.applied.applied()) ?? deps.chain.genesis;
    if (current.height >= next.height) return;
    if (await deps.stores.applied.advanceApplied(current, next)) return;
  }
  throw new SnapshotError('APPLIED_MOVED', `the applied pointer kept moving while bootstrapping to ${next.height}`, {
    height: next.height,
  });
}

const describe = (problems: readonly PeerProblem[]) =>
  problems.map((p) => `${p.peer} ${p.lied ? 'refused' : 'unavailable'} (${p.reason})`).join('; ');
