/**
 * The follower's runner: how a region that holds no key share (no validator votes reach it) learns
 * finality without trusting anyone. Shared by the local cluster (one long run per follower region)
 * and Lambda (functions/follower.ts: a scheduled run bounded by the invocation's time).
 *
 *   1. Snapshot: when the region is fresh (at genesis) or more than `snapshotLagBlocks` behind what
 *      its peers prove, it starts from the latest finalized checkpoint instead of replaying blocks
 *      (bootstrapFromSnapshot: certificate checked with the group key, every state node against its
 *      hash, lying peers refused).
 *   2. Stream: it follows one peer's finality stream with watchFinality (every certificate verified
 *      with the group key, heights K apart with no gap), records each checkpoint as a finalizer
 *      would (recordFinalized, which checks the certificate again before writing) and sends the
 *      region's state function a finality notice through its own queue, so blocks are fetched from
 *      peers (checked against the certified hash chain) and applied by the same handler as anywhere.
 *   3. A peer that breaks a rule or stops answering is left for the next one, resuming from the
 *      region's own finalized height, so nothing is skipped and nothing is taken on trust. When no
 *      peer can be followed from there (they all hold history from later snapshots only), the next
 *      snapshot above the region's height is taken, whatever the gap.
 */

import { WatchError, watchFinality } from '../client/watch.js';
import type { Certificate } from '../core/types.js';
import { certificateFromJson } from '../core/wire.js';
import type { HttpPeer } from '../pipeline/peers.js';
import type { Region } from '../pipeline/region.js';
import { bootstrapFromSnapshot, recordFinalized, type SnapshotResult } from '../pipeline/snapshot.js';
import { type Log, silentLog } from './telemetry.js';

export type FollowerEvent =
  | { readonly kind: 'snapshot'; readonly result: SnapshotResult }
  | { readonly kind: 'finalized'; readonly height: number; readonly peer: string }
  /** A peer was left: its stream broke a rule (`lied`), or could not be followed. */
  | { readonly kind: 'peer-left'; readonly peer: string; readonly reason: string }
  | { readonly kind: 'error'; readonly error: unknown };

export interface FollowOptions {
  /** The follower region's runtime (its stores, chain and transport). */
  readonly region: Region;
  /** The regions it follows, in order of preference; blocks and snapshots come from them too. */
  readonly peers: readonly HttpPeer[];
  /** Ends the run (local cluster: stop; Lambda: shortly before the invocation's deadline). */
  readonly signal: AbortSignal;
  readonly log?: Log;
  /** Snapshot instead of following block by block when more than this many blocks behind (default 1000). */
  readonly snapshotLagBlocks?: number;
  /** Pause before trying the next peer, and watchFinality's first reconnection delay, in ms (default 1000). */
  readonly retryMs?: number;
  /** Connections in a row to one peer's stream that may fail before the next peer is tried (default 3). */
  readonly maxAttempts?: number;
  readonly fetch?: typeof fetch;
  /** Told about every step (tests, the local view). */
  readonly onEvent?: (event: FollowerEvent) => void;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Follows finality from `opts.peers` into `opts.region` until `opts.signal` aborts. Never throws:
 * failures are logged, reported through `onEvent` and retried with the next peer.
 * @example const stop = new AbortController(); void follow({ region, peers, signal: stop.signal });
 */
export async function follow(opts: FollowOptions): Promise<void> {
  const { region, peers, signal } = opts;
  const log = opts.log ?? silentLog;
  const retryMs = opts.retryMs ?? 1000;
  const lag = opts.snapshotLagBlocks ?? 1000;
  const emit = (event: FollowerEvent) => opts.onEvent?.(event);
  if (peers.length === 0) {
    log.error('follower: no peer region to follow', { region: region.name });
    return;
  }
  const { chain, stores } = region;
  const { set } = chain;
  let next = 0;
  /** Peers in a row whose stream refused the region's resume point (they hold no history there): after a whole round, any newer snapshot will do. */
  let refusedInRow = 0;
  while (!signal.aborted) {
    try {
      const [head, applied] = await Promise.all([stores.finality.head(), stores.applied.applied()]);
      const at = Math.max(head.finalized.height, applied?.height ?? 0);
      // Fresh, or no peer could be followed from here (e.g. they all hold history from later snapshots only).
      const stuck = refusedInRow >= peers.length;
      const above = at === 0 || stuck ? at : at + lag;
      const result = await bootstrapFromSnapshot({ chain, stores, blockPeers: peers }, peers, { above });
      if (result.kind === 'bootstrapped') refusedInRow = 0;
      if (result.kind === 'bootstrapped')
        log.info('follower: started from a snapshot', {
          region: region.name,
          height: result.checkpoint.height,
          source: result.source,
          nodes: result.nodes,
          refused: result.problems.filter((p) => p.lied).map((p) => p.peer),
        });
      for (const p of result.problems)
        if (p.lied) log.warn('follower: peer refused', { region: region.name, peer: p.peer, reason: p.reason });
      emit({ kind: 'snapshot', result });
    } catch (e) {
      if (signal.aborted) return;
      log.warn('follower: snapshot failed (following the stream instead)', { region: region.name, error: message(e) });
      emit({ kind: 'error', error: e });
    }

    const peer = peers[next++ % peers.length]!;
    try {
      const from = (await stores.finality.head()).finalized.height;
      for await (const checkpoint of watchFinality(peer.baseUrl, {
        groupPublicKey: set.groupPublicKey,
        chainId: set.chainId,
        checkpointInterval: set.checkpointInterval,
        threshold: set.threshold,
        from,
        signal,
        retryMs,
        maxAttempts: opts.maxAttempts ?? 3,
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
      })) {
        const certificate: Certificate = certificateFromJson(checkpoint.certificate);
        await recordFinalized({ chain, finality: stores.finality }, certificate);
        await region.transport.send({ queue: 'finalized', region: region.name }, [{ kind: 'finalized', height: checkpoint.height }]);
        refusedInRow = 0;
        emit({ kind: 'finalized', height: checkpoint.height, peer: peer.baseUrl });
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof WatchError && e.code === 'REFUSED') refusedInRow++;
      log.warn('follower: leaving peer', { region: region.name, peer: peer.baseUrl, reason: message(e) });
      emit({ kind: 'peer-left', peer: peer.baseUrl, reason: message(e) });
    }
    await pause(retryMs, signal);
  }
}
