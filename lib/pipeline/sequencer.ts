/**
 * Sequencer (home region): orders accepted transactions into blocks, stores them, and sends each
 * proposal to every validator's inbox.
 *
 * Accepted transactions first go to a durable pending pool, so the ingress message can be deleted
 * at once and nothing is lost while the sequencer waits. Blocks are paced by justification: the
 * head may run at most two checkpoints ahead of the highest justified one, so under load blocks
 * grow instead of piling up unfinalized (each finality round then covers more transactions). A
 * checkpoint that carries transactions is followed at once, when pacing allows, by the next
 * checkpoint (empty if nothing else waits): that block is what finalizes it, and proposing it now
 * lets the second vote round start as soon as the first certifies, without a tick round trip.
 *
 * Liveness without clocks in any rule: while unfinalized blocks carry transactions, the sequencer
 * keeps one delayed "pacemaker" tick to itself in flight (SQS DelaySeconds). When it fires and
 * finality has not moved past what was pending when it was armed, the proposals above the finalized
 * checkpoint are sent again, marked `rebroadcast`, and validators re-send their votes: whatever
 * wake-up was lost on the way (a crash between a write and a send, a message consumed too early),
 * the pipeline is poked again. The delay is a local liveness aid; it costs nothing once all is final.
 *
 * Views (core/views.ts): every member region runs a sequencer, but only the one of the region's
 * current view proposes; the others forward what reaches them to it. When the view moves here, the
 * head restarts from the view's base (the highest justified checkpoint the view certificate shows,
 * or a higher one this region knows) and builds, with empty blocks if need be, up to the view's
 * floor, the first height every signer of the view change may vote for. Proposals carry the view and
 * its certificate, so validators adopt the view from the proposal and refuse older views' proposals.
 * A superseded sequencer hands its unfinal work (the transactions of its older view's blocks and of
 * its pool) to the active one when its region enters the view and when its pacemaker fires: a region
 * that learned the view late may have taken transfers into blocks every member refuses.
 *
 * Single writer by compare-and-set on the head: an invocation that lost the race re-reads the head
 * and tries again; transactions already in a block are refused by the application (a used nonce)
 * and leave the pool, so a retry never includes one twice. The sequencer knows no application rule:
 * it orders by the application's sender and sequence and asks it to execute (speculatively: no state
 * is persisted before finality).
 */

import { equalBytes, toHex } from '../core/bytes.js';
import { checkpointAtOrBelow, isCheckpointHeight } from '../core/ffg.js';
import { StateError } from '../core/smt.js';
import type { Application } from '../core/state-machine.js';
import type { Block, Certificate, Checkpoint } from '../core/types.js';
import { MAX_VIEW_GAP_CHECKPOINTS, type ViewCertificate, viewBase, viewCertificateProblem, viewTargetHeight } from '../core/views.js';
import { blockToJson } from '../core/wire.js';
import { type ChainContext, hashBlock, proposerRegion, sequencerRegions } from './context.js';
import { HeadMovedError, NotReadyError } from './errors.js';
import { MAX_MESSAGE_BYTES, type QueueMessage } from './messages.js';
import { pendingOf } from './pool.js';
import type {
  AppliedStore,
  BlockStore,
  HeadStore,
  PendingTransaction,
  PoolOutcome,
  SequencerHead,
  SequencerStore,
  Transport,
} from './ports.js';

export interface SequencerDeps {
  readonly chain: ChainContext;
  /** This sequencer's region, and the region of view 0. */
  readonly region: string;
  readonly homeRegion: string;
  /** The home region's blocks (the sequencer stores every block it proposes). */
  readonly blocks: BlockStore;
  /**
   * Another member region's blocks: where the head's state is rebuilt from when this region lacks a block
   * (its validator was down when that block was proposed). Absent: this region's blocks only.
   */
  readonly blocksOf?: (region: string) => BlockStore;
  readonly store: SequencerStore;
  /** The home region's finality head, for pacing and the pacemaker. */
  readonly finality: HeadStore;
  readonly transport: Transport;
  /** Executes without persisting nodes (trial runs and proposals are speculative). */
  readonly executor: Application;
  /** This region's applied state: where the head's state is rebuilt from when the executor lacks it. */
  readonly applied: AppliedStore;
  readonly maxBlockTransactions: number;
  readonly maxBlockBytes: number;
  /** Seconds between pacemaker checks while work is unfinalized (a liveness aid only). */
  readonly pacemakerSeconds: number;
}

export interface SequencerResult {
  readonly blocks: { height: number; hash: string; transactions: number }[];
  /** Refused for good (the application says it can never apply): logged and dropped from the pool. */
  readonly rejected: { hash: string; reason: string; message: string }[];
  /** Transactions left waiting in the pool (pacing, or not valid yet, e.g. a nonce ahead of the sender's). */
  waiting: number;
  /** Proposals sent again by the pacemaker because finality did not move. */
  rebroadcast: number;
  /** Set when another region's sequencer is active: the transactions were forwarded to it. */
  forwardedTo?: string;
}

// Rough JSON size of one transaction in a proposal (hex fields + decimal strings + keys).
const TX_JSON_BYTES = 330;
/** How many checkpoints the head may run ahead of the highest justified checkpoint. */
const MAX_CHECKPOINTS_AHEAD = 2;
/** Pool entries read per pass, in blocks' worth (maxBlockTransactions). */
const POOL_READ = 4;
/** Head races lost in a row before the batch is handed back to the queue. */
const HEAD_ATTEMPTS = 5;

/**
 * Handles one batch of ingress messages: transactions join the pending pool; then, while pacing
 * allows, blocks are built from the pool (checked by the application, in sender order). Ticks say a
 * checkpoint was justified (pacing may allow more); pacemaker ticks check that finality moves.
 * @throws HeadMovedError when other invocations kept moving the head (the batch is redelivered).
 */
export async function sequence(
  deps: SequencerDeps,
  messages: readonly QueueMessage[],
  options: { redelivered?: boolean } = {},
): Promise<SequencerResult> {
  const { chain } = deps;
  const incoming: PendingTransaction[] = [];
  let tickTo = 0;
  let pacemaker: { generation: number; finalizedAt: number } | undefined;
  let noticed: ViewCertificate | undefined;
  for (const m of messages) {
    if (m.kind === 'view' && m.certificate.view > (noticed?.view ?? 0)) noticed = m.certificate;
    if (m.kind === 'tx') incoming.push(pendingOf(chain.app, m.tx));
    if (m.kind === 'tick' && m.pacemaker === undefined) tickTo = Math.max(tickTo, m.height);
    if (m.kind === 'tick' && m.pacemaker !== undefined && (!pacemaker || m.pacemaker > pacemaker.generation))
      pacemaker = { generation: m.pacemaker, finalizedAt: m.height };
  }
  const view = await currentView(deps, noticed);
  const active = proposerRegion(chain.set, deps.homeRegion, view.view);
  if (active !== deps.region) {
    // Not this region's turn: hand the transactions to the active sequencer (ticks are for it alone). When
    // this region entered the view (its finalizer's notice) or its pacemaker fired, hand over its own
    // unfinal work too: nothing else ever would.
    const handed = messages.flatMap((m) => (m.kind === 'tx' ? [m.tx] : []));
    if (noticed !== undefined || pacemaker !== undefined) handed.push(...(await supersededWork(deps, view)));
    const { live, includable } = await triage(deps, handed);
    if (includable) {
      // Every validator watches that the active view makes progress with this work (its view timer); a
      // region that cannot be reached is skipped (the others are enough to change the view). Told first:
      // when the active region is the one lost, the hand-over below fails, and only a view change helps.
      await Promise.allSettled(
        chain.set.members.map((m) =>
          deps.transport.send({ queue: 'inbox', region: m.region, member: m.index }, [{ kind: 'pending', view: view.view }]),
        ),
      );
    }
    if (live.length > 0)
      await deps.transport.send(
        { queue: 'ingress', region: active },
        live.map((tx) => ({ kind: 'tx', tx })),
      );
    return { blocks: [], rejected: [], waiting: 0, rebroadcast: 0, forwardedTo: active };
  }
  if (incoming.length > 0) await deps.store.addPending(incoming);
  for (let attempt = 1; ; attempt++) {
    try {
      return await build(deps, tickTo, pacemaker, options.redelivered ?? true, view);
    } catch (e) {
      // The head's state is not in this process (a cold start, or a new view restarting from blocks
      // another region proposed): rebuild it from the region's applied state, then try again.
      if (e instanceof StateError && attempt < HEAD_ATTEMPTS) {
        await rebuildHeadState(deps);
        continue;
      }
      // Another invocation moved the head: start again from the new head (pool reads are idempotent).
      if (!(e instanceof HeadMovedError) || attempt >= HEAD_ATTEMPTS) throw e;
    }
  }
}

/** The region's view: its finality head's, or a higher one a notice brought (verified here). */
async function currentView(deps: SequencerDeps, noticed: ViewCertificate | undefined): Promise<ProposerView> {
  const head = await deps.finality.head();
  const { chain } = deps;
  if (noticed && noticed.view > head.view && !viewCertificateProblem(chain.set, chain.crypto, chain.genesis, noticed)) {
    // Recorded in the region's head (monotone): this region may not have certified the view yet (another
    // region's finalizer told this sequencer), and its later batches, such as its pacemaker's tick, must
    // act in the view it restarted in, not hand their work away (seed 861520141 lost its pacemaker so).
    await deps.finality.raiseHead({ view: noticed });
    return { view: noticed.view, certificate: noticed };
  }
  return { view: head.view, ...(head.viewCertificate ? { certificate: head.viewCertificate } : {}) };
}

async function build(
  deps: SequencerDeps,
  tickTo: number,
  pacemaker: { generation: number; finalizedAt: number } | undefined,
  redelivered: boolean,
  view: ProposerView,
): Promise<SequencerResult> {
  const { chain } = deps;
  const K = chain.set.checkpointInterval;
  const finality = await deps.finality.head();
  let head: SequencerHead = (await deps.store.head()) ?? chain.genesis;
  // A new view: restart from its base (never on a block of the superseded view above it).
  let floor = 0;
  let viewBaseHeight = 0;
  let restarted = false;
  if (view.certificate) {
    const base = viewBase(view.certificate);
    viewBaseHeight = base.justified.height;
    // The view's first target (fixed for the view). A restart on a higher justified checkpoint than the
    // base also needs the block one interval above it.
    floor = viewTargetHeight(base.justified, base.lastTarget, K);
    if ((head.view ?? 0) < view.view) {
      const from: Checkpoint = finality.justified.height > base.justified.height ? finality.justified : base.justified;
      floor = Math.max(floor, from.height + K);
      const restart: SequencerHead = { height: from.height, hash: from.hash, stateRoot: from.stateRoot, view: view.view };
      if (!(await deps.store.swapHead(head, restart))) throw new HeadMovedError(head.height);
      head = restart;
      restarted = true;
      await recoverOrphans(deps, from);
      // What this pool took into its own blocks in an older view of this region and is not final: those
      // blocks may be off the new chain (seed 5044: the probe stayed "included" in a superseded block).
      await deps.store.reopen(finality.finalized.height);
    }
  }
  const start = head;
  // The highest justification known: the region's, or the one the view certificate carries.
  const carriedJustification = view.certificate?.justification;
  const justification =
    carriedJustification && carriedJustification.target.height > finality.justified.height ? carriedJustification : finality.justification;
  const result: SequencerResult = { blocks: [], rejected: [], waiting: 0, rebroadcast: 0 };
  /** Whether blocks above finality carry transactions (a trailing empty block is never finalized, and need not be). */
  const unfinalizedWork = (from: SequencerHead) => carriesTransactions(deps, from, finality.finalized.height + 1);

  // The pacemaker fired and finality did not move past what was pending when it was armed, or this batch
  // is a redelivery (an earlier attempt may have moved the head and crashed before its proposals left):
  // send the proposals above finality again.
  const stalled = pacemaker !== undefined && finality.finalized.height <= pacemaker.finalizedAt;
  // One walk down the unfinalized blocks answers both questions (is there work, what to send again).
  const above = stalled || redelivered ? await unfinalizedBlocks(deps, head, finality.finalized.height) : undefined;
  /**
   * Whether the blocks above finality on the starting head carry transactions (undefined: not walked).
   * Blocks below a new view's base may be held only in other regions (seed 861520141): looked up there.
   */
  const workAtStart = above && (above.some(({ block }) => block.transactions.length > 0) || (await unfinalizedWork(head)));
  if (above && workAtStart) result.rebroadcast = await rebroadcast(deps, above, justification, view);

  const limit = Math.max(finality.justified.height + MAX_CHECKPOINTS_AHEAD * K, floor + K);
  const perBlock = Math.max(1, Math.min(deps.maxBlockTransactions, Math.floor(deps.maxBlockBytes / TX_JSON_BYTES)));
  const readPool = () => deps.store.pending(POOL_READ * deps.maxBlockTransactions, { finalizedHeight: finality.finalized.height });
  let pool = head.height < limit ? await readPool() : [];
  const sentBack = new Set<string>();
  while (pool.length > 0 && head.height < limit) {
    const { valid, drop, waiting } = await selectValid(deps, head, pool, result);
    const chosen = valid.slice(0, perBlock);
    if (chosen.length === 0) {
      // Nothing read can be included on this head: drop the dead, send the waiting to the back of the
      // line and read on (includable ones may wait beyond this read), until the reads come round again.
      await deps.store.removePending([...drop, ...waiting]);
      const fresh = waiting.filter((w) => !sentBack.has(toHex(w.entry.hash)));
      for (const w of fresh) sentBack.add(toHex(w.entry.hash));
      pool =
        fresh.length > 0 && pool.length >= POOL_READ * deps.maxBlockTransactions
          ? (await readPool()).filter((p) => !sentBack.has(toHex(p.hash)))
          : [];
      continue;
    }
    head = await propose(
      deps,
      head,
      chosen.map((c) => c.tx),
      justification,
      result,
      view,
    );
    await deps.store.removePending([
      ...drop,
      ...waiting,
      ...chosen.map((entry) => ({ entry, status: 'included' as const, height: head.height })),
    ]);
    const used = new Set([...drop.map((d) => d.entry), ...chosen].map((e) => toHex(e.hash)));
    pool = pool.filter((p) => !used.has(toHex(p.hash)));
    if (pool.length === 0 && valid.length > chosen.length) pool = await readPool();
  }
  result.waiting = pool.length;
  // A new view's first target is its floor: build up to it (validators that signed beyond the base vote there).
  while (head.height < floor) head = await propose(deps, head, [], justification, result, view);
  const carried = result.blocks.some((b) => b.transactions > 0);
  // Only checkpoints are voted on: complete the interval after blocks with transactions (K > 1),
  // then propose the next checkpoint at once, which is what will finalize the one just proposed.
  if (carried) {
    while (!isCheckpointHeight(head.height, K)) head = await propose(deps, head, [], justification, result, view);
    if (head.height + K <= limit) for (let i = 0; i < K; i++) head = await propose(deps, head, [], justification, result, view);
  }

  // A stall may be a region short of one certificate that other regions have: votes on the next link
  // carry it (as their source's justification). Extend the chain by one checkpoint when pacing allows,
  // so those votes exist.
  if (stalled && workAtStart && head.height + K <= limit)
    for (let i = 0; i < K; i++) head = await propose(deps, head, [], justification, result, view);

  // A tick says checkpoint `tickTo` was justified: it becomes final once the next checkpoint is
  // certified, so propose empty blocks up to it while the last two intervals carry transactions.
  // The second one matters: votes on the link after a finalizing link carry its certificate (as their
  // source's justification), so a region that could not certify that link itself (its tally lost a
  // slot to an equivocating vote) imports it. Beyond that, empty blocks would keep finalizing each other.
  const tickTarget = checkpointAtOrBelow(tickTo, K) + K;
  // A new view's first link spans from its base to its floor: blocks below the floor count as the floor's interval.
  const since = floor > 0 && tickTo <= floor + K ? Math.min(tickTo - 2 * K, viewBaseHeight) + 1 : tickTo - 2 * K + 1;
  if (tickTo > 0 && head.height < Math.min(tickTarget, limit) && (await carriesTransactions(deps, head, since)))
    while (head.height < Math.min(tickTarget, limit)) head = await propose(deps, head, [], justification, result, view);

  // Keep one pacemaker chain live while blocks above finality carry transactions: a fired tick of the
  // live generation re-arms it; a batch that brings work to an idle chain, or a redelivered batch (its
  // first attempt may have crashed before arming), starts a new generation, which retires older ticks.
  // Blocks proposed here extend `start` above finality, so work found at start or carried since is work at head.
  const workAtHead = async () => workAtStart === true || carried || (await unfinalizedWork(head));
  const arm =
    pacemaker !== undefined
      ? await workAtHead()
      : (carried && !(workAtStart ?? (await unfinalizedWork(start)))) || ((redelivered || restarted) && (await workAtHead()));
  // A redelivered tick may be one whose first attempt moved the live generation and crashed before its
  // tick left: continuing only that generation would find it taken and end the chain for good, so a
  // redelivery starts a new one (which retires any other). So does a new view's restart: its floor blocks
  // may be empty above unfinal work of the old view, and when its own region lacks the floor's
  // certificate no tick comes; only the pacemaker's extra checkpoint brings it (seed 903939012).
  if (arm) await armPacemaker(deps, finality.finalized.height, redelivered || restarted ? undefined : pacemaker?.generation);
  return result;
}

/**
 * Sends the next pacemaker tick (delayed) if this call may continue or start the chain: a fired tick
 * continues only its own generation if it is still the live one; a new start replaces whatever is live.
 */
async function armPacemaker(deps: SequencerDeps, finalizedAt: number, firedGeneration: number | undefined): Promise<void> {
  const live = await deps.store.pacemaker();
  if (firedGeneration !== undefined && firedGeneration !== live) return; // a newer chain took over
  if (!(await deps.store.swapPacemaker(live, live + 1))) return; // someone else armed concurrently
  await deps.transport.send({ queue: 'ingress', region: deps.region }, [{ kind: 'tick', height: finalizedAt, pacemaker: live + 1 }], {
    delaySeconds: deps.pacemakerSeconds,
  });
}

/**
 * Executes the pool on the head in the pool's fair order (each sender by sequence, senders
 * round-robin: lib/pipeline/pool.ts): returns the valid transactions in block order, the ones to
 * drop for good (with why), and the waiting ones: the application calls them retryable (a nonce
 * ahead of the sender's), so they stay in the pool, behind the others.
 */
async function selectValid(deps: SequencerDeps, head: SequencerHead, pool: PendingTransaction[], result: SequencerResult) {
  const trial = await deps.executor.execute(
    head.stateRoot,
    pool.map((t) => t.tx),
  );
  const bad = new Set<number>();
  const drop: PoolOutcome[] = [];
  const waiting: PoolOutcome[] = [];
  for (const r of trial.rejected) {
    const entry = pool[r.index]!;
    bad.add(r.index);
    if (r.retryable) {
      waiting.push({ entry, status: 'waiting' });
      continue;
    }
    drop.push({ entry, status: 'rejected', reason: r.reason, message: r.message, ...(r.sequenceUsed ? { sequenceUsed: true } : {}) });
    result.rejected.push({ hash: toHex(entry.hash), reason: r.reason, message: r.message });
  }
  return { valid: pool.filter((_, i) => !bad.has(i)), drop, waiting };
}

/**
 * Whether any block on the head's chain at height >= `fromHeight` has transactions. A block this region
 * lacks (below a new view's base, proposed while its validator was down) is read from another member region.
 */
async function carriesTransactions(deps: SequencerDeps, head: SequencerHead, fromHeight: number): Promise<boolean> {
  let hash = head.hash;
  for (let h = head.height; h >= Math.max(1, fromHeight); h--) {
    const block = await blockFromAnyRegion(deps, h, hash);
    if (!block) return false;
    if (block.transactions.length > 0) return true;
    hash = block.parentHash;
  }
  return false;
}

/**
 * A new view restarts from a justified checkpoint: transactions in the superseded view's blocks above
 * it (as stored in this region by its validators) go back to the pool. The application refuses any
 * that a block on the new chain already holds, so none is included twice. Bounded by the view gap.
 */
async function recoverOrphans(deps: SequencerDeps, from: Checkpoint): Promise<void> {
  const K = deps.chain.set.checkpointInterval;
  const { app } = deps.chain;
  for (let h = from.height + 1; h <= from.height + (MAX_VIEW_GAP_CHECKPOINTS + 1) * K; h++) {
    const hashes = await deps.blocks.hashesAt(h);
    if (hashes.length === 0) return;
    for (const hash of hashes) {
      const block = await deps.blocks.getBlock(h, hash);
      if (!block || block.transactions.length === 0) continue;
      await deps.store.addPending(block.transactions.map((tx) => pendingOf(app, tx)));
    }
  }
}

/**
 * What this superseded sequencer holds that the active view would never include by itself: the
 * transactions of the blocks it built on its head's chain in an older view (every member refuses
 * them; a region still in the older view may even have taken new transfers into them after the view
 * changed elsewhere) and the transactions still pending in its pool (triage drops the ones final
 * already). The active sequencer's pool and the application refuse any it has already (a used nonce),
 * so handing over too much is harmless.
 * Bounded: the walk stops at the view's base or the region's finalized height, at a block not stored
 * here, or after the view gap, and one pool page is read.
 */
async function supersededWork(deps: SequencerDeps, view: ProposerView): Promise<unknown[]> {
  const K = deps.chain.set.checkpointInterval;
  const txs: unknown[] = [];
  const head = await deps.store.head();
  if (head && (head.view ?? 0) < view.view && view.certificate) {
    const finalized = (await deps.finality.head()).finalized.height;
    const stop = Math.max(
      Math.min(viewBase(view.certificate).justified.height, finalized),
      head.height - (MAX_VIEW_GAP_CHECKPOINTS + 1) * K,
    );
    const blocks: Block[] = [];
    let hash = head.hash;
    for (let h = head.height; h > stop; h--) {
      const block = await deps.blocks.getBlock(h, hash);
      if (!block) break;
      blocks.push(block);
      hash = block.parentHash;
    }
    for (const block of blocks.reverse()) txs.push(...block.transactions);
  }
  const pool = await deps.store.pending(POOL_READ * deps.maxBlockTransactions);
  txs.push(...pool.map((p) => p.tx));
  return txs;
}

/**
 * What a sequencer that is not active hands over, judged on its region's applied (final) state in the
 * order given: `live`, all but the transactions that state refuses for good (a used nonce, a bad
 * signature: the active sequencer would drop them too); `includable`, whether any of them applies on
 * that state as it stands. Only includable work is announced to the validators (`pending`, which arms
 * their view timers): a transaction waiting for a nonce that never comes (junk a Byzantine sequencer
 * put in a superseded block, taken back into a pool) would otherwise arm them at every hand-over,
 * with finality unable to move for it, and change the view again and again.
 */
async function triage(deps: SequencerDeps, txs: unknown[]): Promise<{ live: unknown[]; includable: boolean }> {
  if (txs.length === 0) return { live: [], includable: false };
  const applied = (await deps.applied.applied()) ?? deps.chain.genesis;
  const { rejected } = await deps.executor.execute(applied.stateRoot, txs);
  const dead = new Set(rejected.filter((r) => !r.retryable).map((r) => r.index));
  return { live: txs.filter((_, i) => !dead.has(i)), includable: rejected.length < txs.length };
}

/** Most blocks re-executed to rebuild the head's state (beyond it: not ready, the message comes back later). */
const MAX_REBUILD = 256;

/**
 * Re-executes the head's chain from the region's applied state (or genesis) along this region's
 * blocks, so the speculative executor holds the head's state again. The sequencer stored its own
 * blocks and this region's validators the others; a block this region lacks (its validator was down
 * when it was proposed: a new view's head is then a checkpoint other regions justified) is copied
 * from another member region that holds it.
 */
async function rebuildHeadState(deps: SequencerDeps): Promise<void> {
  const { chain } = deps;
  const head: SequencerHead = (await deps.store.head()) ?? chain.genesis;
  const applied = (await deps.applied.applied()) ?? chain.genesis;
  const path: Block[] = [];
  let hash = head.hash;
  for (let h = head.height; h > applied.height; h--) {
    const block = path.length < MAX_REBUILD ? await blockFromAnyRegion(deps, h, hash) : undefined;
    if (!block) throw new NotReadyError(h, 'the sequencer cannot rebuild its head state yet');
    path.push(block);
    hash = block.parentHash;
  }
  let root = applied.stateRoot;
  for (const block of path.reverse()) root = (await deps.executor.execute(root, block.transactions)).root;
}

/**
 * The block `hash` at `height`: this region's copy, or one read from the other member regions in view
 * order (checked against the hash, then stored here). A region that cannot be reached is skipped.
 */
async function blockFromAnyRegion(deps: SequencerDeps, height: number, hash: Uint8Array): Promise<Block | undefined> {
  const own = await deps.blocks.getBlock(height, hash);
  if (own || !deps.blocksOf) return own;
  for (const region of sequencerRegions(deps.chain.set, deps.homeRegion)) {
    if (region === deps.region) continue;
    const block = await deps
      .blocksOf(region)
      .getBlock(height, hash)
      .catch(() => undefined);
    if (block && block.height === height && equalBytes(hashBlock(deps.chain, block), hash)) {
      await deps.blocks.putBlock(hash, block);
      return block;
    }
  }
  return undefined;
}

/** The view a proposal is made in, with its certificate (views above 0). */
type ProposerView = { readonly view: number; readonly certificate?: ViewCertificate };

async function propose(
  deps: SequencerDeps,
  head: SequencerHead,
  txs: unknown[],
  justification: Certificate | undefined,
  result: SequencerResult,
  view: ProposerView,
): Promise<SequencerHead> {
  const { chain } = deps;
  const block: Block = { height: head.height + 1, parentHash: head.hash, transactions: txs };
  const hash = hashBlock(chain, block);
  const executed = await deps.executor.execute(head.stateRoot, txs);
  // Store before moving the head: a crash in between leaves an unreferenced block, never a head without its block.
  await deps.blocks.putBlock(hash, block);
  const next: SequencerHead = { height: block.height, hash, stateRoot: executed.root, ...(view.view > 0 ? { view: view.view } : {}) };
  if (!(await deps.store.swapHead(head, next))) throw new HeadMovedError(head.height);
  result.blocks.push({ height: block.height, hash: toHex(hash), transactions: txs.length });
  // A crash after the head moved and before the sends is repaired by the pacemaker's rebroadcast.
  await announce(deps, block, hash, justification, false, view);
  return next;
}

/** Sends a proposal to every member's inbox (inline when it fits in a message). Validators treat repeats as no-ops. */
async function announce(
  deps: SequencerDeps,
  block: Block,
  hash: Uint8Array,
  justification: Certificate | undefined,
  rebroadcast: boolean,
  view: ProposerView,
): Promise<void> {
  const inline = JSON.stringify(blockToJson(block, deps.chain.app)).length <= MAX_MESSAGE_BYTES - 2048;
  const message: QueueMessage = {
    kind: 'proposal',
    height: block.height,
    hash,
    ...(inline ? { block } : {}),
    ...(justification ? { justification } : {}),
    ...(rebroadcast ? { rebroadcast: true } : {}),
    ...(view.view > 0 ? { view: view.view } : {}),
    ...(view.certificate && view.view > 0 ? { viewCertificate: view.certificate } : {}),
  };
  // A member whose region is down must not stop the others' proposals; this region's members must get theirs.
  const sends = await Promise.allSettled(
    deps.chain.set.members.map((m) => deps.transport.send({ queue: 'inbox', region: m.region, member: m.index }, [message])),
  );
  const failedHere = sends.find((r, i) => r.status === 'rejected' && deps.chain.set.members[i]!.region === deps.region);
  if (failedHere?.status === 'rejected') throw failedHere.reason;
}

/** The blocks above `finalizedHeight` on the head's chain, lowest first (as far as this region holds them). Bounded by pacing. */
async function unfinalizedBlocks(
  deps: SequencerDeps,
  head: SequencerHead,
  finalizedHeight: number,
): Promise<{ block: Block; hash: Uint8Array }[]> {
  const chain: { block: Block; hash: Uint8Array }[] = [];
  let hash = head.hash;
  for (let h = head.height; h > finalizedHeight; h--) {
    const block = await deps.blocks.getBlock(h, hash);
    // Below a new view's base the blocks came from an earlier view's region (validators have them).
    if (!block) break;
    chain.push({ block, hash });
    hash = block.parentHash;
  }
  return chain.reverse();
}

/** Sends the given proposals again (the pacemaker found finality stalled, or the batch is a redelivery). */
async function rebroadcast(
  deps: SequencerDeps,
  blocks: readonly { block: Block; hash: Uint8Array }[],
  justification: Certificate | undefined,
  view: ProposerView,
): Promise<number> {
  for (const { block, hash } of blocks) await announce(deps, block, hash, justification, true, view);
  return blocks.length;
}
