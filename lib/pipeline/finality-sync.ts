/**
 * Finality sync (anti-entropy) for a member region: a scheduled look at the peers' finalized heads.
 *
 * A region learns finality from votes, and a vote carries the certificate of its source, so a region
 * that missed votes (its queues were unreachable while the others went on) catches up with the next
 * vote it gets. When the chain goes idle after the outage no vote comes: the region would serve its
 * old finality for good (the region-loss drill's revived home region stayed at finalized 7 against
 * 13 for three minutes). So each member region, on a schedule (the API function's scheduled health
 * check on AWS, a timer in the local cluster; liveness only, never a safety input), asks its peers
 * for their finalized head. When one proves a height above this region's (its certificate checked
 * with the group key here, and again by the finalizer), the certificate goes to this region's own
 * vote queue, and the finalizer imports it as it imports a vote's justification: the head moves, the
 * state function is told and fetches the missing blocks from peers, checked against the certified
 * hash chain.
 *
 * The same pass reminds the state function when the region's state is applied below its finalized
 * height (a lost notice would otherwise leave it there on an idle chain).
 *
 * Bounded: one request per peer (answers capped by the peer client), one verification per answer,
 * at most one message sent. An idle, final, current region sends nothing.
 */
import type { Certificate } from '../core/types.js';
import type { ChainContext } from './context.js';
import type { AppliedStore, HeadStore, PeerFinality, Transport } from './ports.js';
import { type PeerProblem, verifiedHead } from './snapshot.js';

export interface FinalitySyncDeps {
  readonly chain: ChainContext;
  readonly region: string;
  readonly finality: Pick<HeadStore, 'head'>;
  readonly applied: Pick<AppliedStore, 'applied'>;
  readonly transport: Transport;
  readonly peers: readonly PeerFinality[];
}

export type FinalitySyncResult =
  /** No peer proves a finalized height above this region's, and its state is applied up to it. */
  | { readonly kind: 'current'; readonly finalized: number; readonly problems: readonly PeerProblem[] }
  /**
   * Current with its peers, but its state is applied only up to `applied`: the state function was sent
   * the finality notice again (idempotent), in case the one that should have woken it was lost.
   */
  | { readonly kind: 'applying'; readonly finalized: number; readonly applied: number; readonly problems: readonly PeerProblem[] }
  /** `peer` proves `height` finalized, above this region's `finalized`: its certificate was sent to the finalizer. */
  | {
      readonly kind: 'behind';
      readonly finalized: number;
      readonly height: number;
      readonly peer: string;
      readonly certificate: Certificate;
      readonly problems: readonly PeerProblem[];
    };

/**
 * Asks every peer for its finalized head and hands the highest one proven above this region's
 * finalized height to this region's finalizer. A peer that does not answer, or answers something
 * that does not verify, is reported in `problems` and otherwise ignored.
 * @throws only when reading this region's head or sending to its vote queue fails
 */
export async function syncFinality(deps: FinalitySyncDeps): Promise<FinalitySyncResult> {
  const { chain, region } = deps;
  const problems: PeerProblem[] = [];
  const heads = await Promise.all(deps.peers.map((peer) => verifiedHead(chain, peer, problems)));
  const head = await deps.finality.head();
  const finalized = head.finalized.height;
  let best: (typeof heads)[number];
  for (const h of heads) if (h && h.checkpoint.height > (best?.checkpoint.height ?? finalized)) best = h;
  if (!best) {
    const applied = (await deps.applied.applied())?.height ?? 0;
    if (applied >= finalized || !head.finalization) return { kind: 'current', finalized, problems };
    await deps.transport.send({ queue: 'finalized', region }, [{ kind: 'finalized', height: finalized, certificate: head.finalization }]);
    return { kind: 'applying', finalized, applied, problems };
  }
  await deps.transport.send({ queue: 'votes', region }, [{ kind: 'certified', certificate: best.certificate }]);
  return { kind: 'behind', finalized, height: best.checkpoint.height, peer: best.peer.name, certificate: best.certificate, problems };
}
