/**
 * Validator (one per member): executes every proposed block itself and votes on the adjacent link
 * J -> J+K, where J is the highest justified checkpoint it knows. Adjacent links make the target
 * deterministic, so every honest member signs the same link, and each certificate both justifies
 * J+K and finalizes J.
 *
 * Trust: the validator computes every post-state root itself (its executions live in this
 * process's memory over a speculative node store; after a restart it re-executes from the region's
 * applied state), so no stored root of anyone else is ever signed. It learns J only from
 * certificates it verified with the group key (carried by the finalizer's notices and by proposals)
 * or, after a restart, from its own region's finality head; an unverifiable notice is ignored.
 *
 * Before any signature leaves, one conditional write on the member's watermark refuses a double or
 * surround vote; a retry of the same link re-sends the stored signature. Each vote carries the
 * headers proving its target descends from its source, and the certificate that justified the
 * source (with its own headers), so finalizers check ancestry without reading blocks.
 *
 * Views (core/views.ts): a validator votes only for proposals of the highest view it has verified a
 * certificate for (a proposal of an older view is refused: that is the fence on a superseded
 * sequencer). A proposal of a higher view carries that view's certificate and is adopted from it.
 * In a new view the first target is the view's floor (above every signer's last signed target), so
 * the first link may span more than one interval. The view timer is local and only for liveness:
 * while blocks with transactions (or work the ingress could not hand over) are not final, a delayed
 * message to the validator's own inbox checks that finality moved; if it did not, the member signs a
 * view change to the next view and sends it to every region's finalizer; it stops voting in older
 * views once the new one is certified.
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { type BlockHeader, blockHeader, checkpointEquals, headerHash, voteSigningBytes } from '../core/codec.js';
import { nextTargetHeight } from '../core/ffg.js';
import { linkId } from '../core/ids.js';
import { StateError } from '../core/smt.js';
import type { Application } from '../core/state-machine.js';
import type { Block, Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import {
  justifies,
  type ViewCertificate,
  type ViewChange,
  viewBase,
  viewCertificateProblem,
  viewSigningBytes,
  viewStateSigningBytes,
  viewTargetHeight,
} from '../core/views.js';
import { type ChainContext, proposerRegion, regionsOf } from './context.js';
import { NotReadyError } from './errors.js';
import type { QueueMessage } from './messages.js';
import type { AppliedStore, BlockStore, HeadStore, SlashingProtectionStore, Transport } from './ports.js';
import { ViewBackoff } from './view-backoff.js';

export interface ValidatorDeps {
  readonly chain: ChainContext;
  readonly member: number;
  readonly secretKey: Uint8Array;
  /** This validator's region. */
  readonly region: string;
  /** The sequencer region of view 0 (the order of the others follows, see context.sequencerRegions). */
  readonly homeRegion: string;
  /** This region's blocks (the validator stores every proposal here). */
  readonly blocks: BlockStore;
  /** A region's blocks: proposals sent by reference are read from their sequencer's region. */
  readonly blocksOf: (region: string) => BlockStore;
  /**
   * Seconds of no finality progress, with work pending, before this member asks for the next view
   * (doubled per view given up on in a row: see view-backoff.ts).
   */
  readonly viewTimeoutSeconds: number;
  /** This region's finality head: where J comes from after a restart. */
  readonly finality: HeadStore;
  /** This region's applied state: where re-execution starts after a restart. */
  readonly applied: AppliedStore;
  readonly protection: SlashingProtectionStore;
  readonly transport: Transport;
  /** Executes without persisting nodes (a speculative store over the region's state). */
  readonly executor: Application;
  /** What this process remembers for this member. */
  readonly memory: ValidatorMemory;
}

/** What a validator's inbox carries: proposals, justification and view notices, its view timer. */
export type InboxMessage = Extract<QueueMessage, { kind: 'proposal' | 'justified' | 'view' | 'view-timer' | 'pending' }>;

export type ValidatorOutcome =
  | { kind: 'voted'; link: Link; repeat: boolean }
  | { kind: 'waiting'; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'rejected'; reason: string }
  /** A notice or justification whose certificate did not verify: ignored. */
  | { kind: 'ignored'; reason: string }
  /** The view timer fired: finality moved, or this member asked for `view`. */
  | { kind: 'timer'; askedView?: number };

interface Executed {
  readonly header: BlockHeader;
  readonly hash: Uint8Array;
  readonly stateRoot: Uint8Array;
  /** The highest view this block was proposed in (-1: executed only as an ancestor). */
  readonly view: number;
  readonly transactions: number;
}

/**
 * One member's memory in this process: its own executions (bounded LRU), the highest justified
 * checkpoint it has verified, and verified certificates. Losing it (a cold start) only costs work:
 * executions are redone from the region's applied state and J is read from the region's head.
 */
export class ValidatorMemory {
  private readonly executed = new Map<string, Executed>();
  private readonly stored = new Set<string>();
  private readonly verified = new Set<string>();
  /** Highest justified checkpoint known, with the certificate that justified it (absent for genesis). */
  justified: { checkpoint: Checkpoint; certificate?: Certificate } | undefined;
  /** The highest view verified (0 before any view change), its certificate and its first target height. */
  view = 0;
  viewCertificate: ViewCertificate | undefined;
  viewFloor = 0;
  /** The highest view this member asked to move to (asking alone fences nothing: see the fence in handle). */
  askedView = 0;
  /** The view whose timer this process has in flight (-1: none). */
  timerView = -1;
  /** The serial of the last view timer this process sent: only that one may fire and re-arm. */
  timerSerial = 0;
  /** The finalized height the live timer (timerSerial) was sent at: what it checks progress against. */
  timerFinalizedAt = 0;
  /** How long the next view timer waits (the configured timeout, backed off after views given up on). */
  readonly backoff = new ViewBackoff();
  /** Highest block with transactions executed here (work that must become final). */
  workHeight = 0;
  /** Per superseded proposer region, the highest view this process told it of (see tellSuperseded). */
  readonly toldSuperseded = new Map<string, number>();

  constructor(private readonly max = 4096) {}

  execution(hash: Uint8Array): Executed | undefined {
    return this.executed.get(toHex(hash));
  }
  remember(e: Executed): void {
    const id = toHex(e.hash);
    if (e.transactions > 0) this.workHeight = Math.max(this.workHeight, e.header.height);
    this.executed.delete(id);
    this.executed.set(id, e);
    if (this.executed.size > this.max) this.executed.delete(this.executed.keys().next().value!);
  }
  /** Executions at `height`, most recent last. */
  at(height: number): Executed[] {
    return [...this.executed.values()].filter((e) => e.header.height === height);
  }
  forgetExecutions(): void {
    this.executed.clear();
  }
  isStored(hash: Uint8Array): boolean {
    return this.stored.has(toHex(hash));
  }
  noteStored(hash: Uint8Array): void {
    if (this.stored.size >= this.max) this.stored.clear();
    this.stored.add(toHex(hash));
  }
  isVerified(id: string): boolean {
    return this.verified.has(id);
  }
  noteVerified(id: string): void {
    if (this.verified.size >= this.max) this.verified.clear();
    this.verified.add(id);
  }
}

export interface InboxOptions {
  /**
   * This delivery may repeat one that stopped half-way (a redelivery), or the sequencer re-sent its
   * proposal because finality stalled: re-send the vote already signed for this link too (default
   * true). A first delivery passes false: the identical vote then came from the other trigger
   * (proposal and justification notice both lead to it), which already sent it.
   */
  readonly repeat?: boolean;
}

/** Most blocks re-executed to rebuild one state after a restart (beyond it: not ready, retry later). */
export const MAX_REEXECUTION = 256;

/** Handles one inbox message. Throws NotReadyError when the message must be redelivered later. */
export async function handleInbox(deps: ValidatorDeps, message: InboxMessage, options: InboxOptions = {}): Promise<ValidatorOutcome> {
  const repeat = options.repeat ?? true;
  try {
    return await handle(deps, message, repeat);
  } catch (e) {
    // A speculative node evicted from memory: forget executions so the retry rebuilds from the applied state.
    if (e instanceof StateError) {
      deps.memory.forgetExecutions();
      throw new NotReadyError(inboxHeight(message), e.message);
    }
    throw e;
  }
}

/** The height an inbox message is about (its processing order within a batch). */
export function inboxHeight(m: InboxMessage): number {
  switch (m.kind) {
    case 'proposal':
    case 'view-timer':
      return m.height;
    case 'justified':
      return m.certificate.target.height;
    case 'view':
    case 'pending':
      return 0;
  }
}

async function handle(deps: ValidatorDeps, message: InboxMessage, repeat: boolean): Promise<ValidatorOutcome> {
  if (message.kind === 'view-timer') return viewTimerFired(deps, message);
  if (message.kind === 'pending') {
    // The ingress could not hand work to the active sequencer: watch that view.
    await armViewTimer(deps, message.view, true);
    return { kind: 'ignored', reason: `view timer armed for view ${message.view}` };
  }
  // A repeat may follow a crash in the middle of the last vote's fan-out: send that vote again first
  // (receivers treat repeats as no-ops), whatever this message leads to now.
  if (repeat) {
    const last = await deps.protection.lastSigned(deps.member);
    if (last) await fanOut(deps, { ...last.link, member: deps.member, signature: last.signature }, true);
  }
  if (message.kind === 'justified') {
    if (!learnJustified(deps, message.certificate)) return { kind: 'ignored', reason: 'the notice certificate does not verify' };
    await restartViewTimer(deps, message.certificate);
    return voteAfter(deps, repeat);
  }
  if (message.kind === 'view') {
    if (!adoptView(deps, message.certificate)) return { kind: 'ignored', reason: 'the view certificate does not verify' };
    return voteAfter(deps, repeat);
  }
  const view = message.view ?? 0;
  if (view > deps.memory.view) {
    if (!(message.viewCertificate?.view === view && adoptView(deps, message.viewCertificate)))
      return { kind: 'ignored', reason: `proposal of view ${view} without a valid certificate of that view` };
    // This member learned the view from a proposal: its region's finalizer may have missed the view's
    // certification (it was cut off), and its region's sequencer and API would go on in the old view.
    await deps.transport.send({ queue: 'votes', region: deps.region }, [{ kind: 'view', certificate: message.viewCertificate }]);
  }
  const proposer = proposerRegion(deps.chain.set, deps.homeRegion, view);
  const block = message.block ?? (await deps.blocksOf(proposer).getBlock(message.height, message.hash));
  if (!block) throw new NotReadyError(message.height, `block sent by reference is not readable in ${proposer} yet`);
  if (block.height !== message.height || !equalBytes(hashOf(deps, block), message.hash))
    return { kind: 'rejected', reason: 'proposal hash does not match its block' };
  // Stored even when refused below: a new view's sequencer takes the transactions of superseded blocks back.
  await storeBlock(deps, message.hash, block, proposer);
  // The fence: a superseded sequencer's proposals are never voted on. Asking for a view fences nothing
  // until t members certified it: a member that asked alone must keep voting, or it could stall the
  // view the others still make progress in.
  const current = deps.memory.view;
  if (view < current) {
    await tellSuperseded(deps, proposer);
    return { kind: 'refused', reason: `proposal of view ${view}, this member is in view ${current}` };
  }
  if (message.justification) learnJustified(deps, message.justification);
  const executed = await execute(deps, message.hash, block, 0, view);
  if (block.transactions.length > 0) await armViewTimer(deps, view, false);
  return voteAfter(deps, repeat, executed);
}

/**
 * Tells a superseded proposer's region of the current view (a `view` notice to its sequencer, which
 * records it and hands its unfinal work to the active sequencer). A region whose finalizer missed the
 * view would otherwise keep proposing in the old one the transfers it takes in, which nobody executes,
 * so no timer watches them (seed 567128643: the probe waited there for good). Once per region and view
 * per process; best effort (that region may be the one lost).
 */
async function tellSuperseded(deps: ValidatorDeps, proposer: string): Promise<void> {
  const { memory } = deps;
  if (!memory.viewCertificate || (memory.toldSuperseded.get(proposer) ?? -1) >= memory.view) return;
  memory.toldSuperseded.set(proposer, memory.view);
  await deps.transport
    .send({ queue: 'ingress', region: proposer }, [{ kind: 'view', certificate: memory.viewCertificate }])
    .catch(() => {});
}

/**
 * Raises this member's view to the certificate's when it verifies (t view changes, each statement
 * signed, the highest J shown justified) and is higher. Returns false when it does not verify.
 */
function adoptView(deps: ValidatorDeps, cert: ViewCertificate): boolean {
  const { memory, chain } = deps;
  if (cert.view <= memory.view) return true;
  if (viewCertificateProblem(chain.set, chain.crypto, chain.genesis, cert)) return false;
  const base = viewBase(cert);
  memory.view = cert.view;
  memory.viewCertificate = cert;
  memory.viewFloor = viewTargetHeight(base.justified, base.lastTarget, chain.set.checkpointInterval);
  if (cert.justification) learnJustified(deps, cert.justification);
  return true;
}

/**
 * Keeps one view timer in flight in this process for `view`: a delayed message to this member's own
 * inbox. `force` arms it even with no work executed here (the ingress reported work it could not hand over).
 */
async function armViewTimer(deps: ValidatorDeps, view: number, force: boolean): Promise<void> {
  const { memory } = deps;
  if (memory.timerView >= view && !force) return;
  const head = await deps.finality.head();
  if (memory.timerView >= view) {
    // Work waits, and the timer in flight was sent before finality last moved: when it fires it would
    // only re-arm (or end, with no unfinal block executed here), so restart it from this notice. Without
    // progress the timer in flight already watches the stall: a flood of notices cannot postpone it.
    if (head.finalized.height > memory.timerFinalizedAt) await sendViewTimer(deps, memory.timerView, head.finalized.height);
    return;
  }
  if (!force && memory.workHeight <= head.finalized.height) return;
  const before = memory.timerView;
  memory.timerView = view;
  try {
    await sendViewTimer(deps, view, head.finalized.height);
  } catch (e) {
    // No timer may be in flight: let the next message that brings work arm it again (a lost wake-up otherwise).
    if (memory.timerView === view) memory.timerView = before;
    throw e;
  }
}

/**
 * Sends a view timer with the next serial, and makes it the one that may re-arm only once the send
 * succeeded: a serial taken by a send that failed names no message, and the timer in flight (or the
 * one being handled, redelivered after the failure) would then be ignored as stale and the chain would
 * end (seed 180: two concurrent runs armed the timer and the second one's send crashed).
 */
async function sendViewTimer(
  deps: ValidatorDeps,
  view: number,
  finalizedAt: number,
  delaySeconds = deps.memory.backoff.delaySeconds(deps.viewTimeoutSeconds),
): Promise<void> {
  const { memory } = deps;
  const serial = memory.timerSerial + 1;
  await deps.transport.send(
    { queue: 'inbox', region: deps.region, member: deps.member },
    [{ kind: 'view-timer', view, height: memory.workHeight, finalizedAt, serial }],
    { delaySeconds },
  );
  if (serial > memory.timerSerial) {
    memory.timerSerial = serial;
    memory.timerFinalizedAt = finalizedAt;
  }
}

/**
 * The notice's link finalizes its source: progress, which the backoff counts. When that is past what
 * the live timer watches and work above it is still not final, restart the timer from here. A timer
 * that fires after progress only re-arms, so without this a stall right after progress was noticed
 * up to two timeouts later instead of one (the region-loss drill waited 20 s for the view change).
 * The timer this replaces is ignored when it fires (its serial is no longer the live one).
 */
async function restartViewTimer(deps: ValidatorDeps, c: Certificate): Promise<void> {
  const { memory } = deps;
  const finalized = c.source.height;
  if (c.target.height !== finalized + deps.chain.set.checkpointInterval) return;
  memory.backoff.finalized(finalized);
  if (memory.timerView < 0 || finalized <= memory.timerFinalizedAt || memory.workHeight <= finalized) return;
  await sendViewTimer(deps, memory.timerView, finalized);
}

/**
 * The view timer fired. Finality moved (or the view did): keep watching while work is not final.
 * Nothing moved: ask for the view above the highest certified one (again, if asked before: the
 * request may have been lost), and keep watching. Asking never skips a view that was not certified,
 * so honest members converge on the same next view; a certified view whose region is down too
 * stalls in turn, and the timer then asks for the one after it.
 */
async function viewTimerFired(deps: ValidatorDeps, timer: Extract<InboxMessage, { kind: 'view-timer' }>): Promise<ValidatorOutcome> {
  const { memory } = deps;
  const head = await deps.finality.head();
  if (head.viewCertificate) adoptView(deps, head.viewCertificate);
  if (memory.timerView !== timer.view) return { kind: 'timer' }; // a newer timer is in flight
  // A copy of a timer that already fired (queues deliver at least once), or one a concurrent run
  // superseded: re-arming from it too would double the chain of timers at every duplicate, and the
  // chains would grow without bound while finality does not move.
  if (timer.serial !== undefined && timer.serial !== memory.timerSerial) return { kind: 'timer' };
  if (head.finalized.height > timer.finalizedAt || memory.view > timer.view) {
    memory.backoff.finalized(head.finalized.height);
    memory.timerView = -1;
    if (memory.workHeight > head.finalized.height) await armViewTimer(deps, memory.view, false);
    return { kind: 'timer' };
  }
  const next = memory.view + 1;
  // Giving up on a view backs off the timers of the views after it: the timeout is how long a view may
  // take to make progress.
  if (next > memory.askedView) memory.backoff.viewGivenUp();
  await askForView(deps, next);
  // The chain keeps the view it watches (memory.timerView): a timer of another view would find a
  // mismatch when it fires and end the chain (seed 180: armed for view 1 by a `pending` notice while in view 0).
  // Asking again waits the configured timeout, not the backed-off one: until t members asked, the view
  // is not certified, and a member whose timer was armed late (the region-loss drill: the last proposal
  // never reached it, so only the API's `pending` notice armed it) completes the t only with the
  // others' repeated requests (each 1 message per member per timeout, only while nothing moves).
  await sendViewTimer(deps, timer.view, head.finalized.height, deps.viewTimeoutSeconds);
  return { kind: 'timer', askedView: next };
}

/** Signs a view change to `view` (once per process; a repeat re-sends it) and sends it to every region's finalizer. */
async function askForView(deps: ValidatorDeps, view: number): Promise<void> {
  const { chain, member, memory } = deps;
  const { set, crypto } = chain;
  memory.askedView = Math.max(memory.askedView, view);
  const { checkpoint: justified, certificate } = await highestJustified(deps, true);
  const last = await deps.protection.lastSigned(member);
  const state = { justified, lastTarget: last?.link.target.height ?? 0 };
  const change: ViewChange = {
    era: set.era,
    view,
    member,
    signature: crypto.signShare(deps.secretKey, viewSigningBytes(set.chainId, set.era, view)),
    state,
    stateSignature: crypto.signShare(deps.secretKey, viewStateSigningBytes(set.chainId, set.era, view, state)),
    ...(certificate ? { justification: certificate } : {}),
  };
  await sendToEveryRegion(deps, 'votes', { kind: 'view-change', change });
}

/**
 * Sends to every region's queue of `kind`. A region that cannot be reached must not stop the others
 * (that is what a view change is for): only a failure to reach this validator's own region throws.
 */
async function sendToEveryRegion(deps: ValidatorDeps, queue: 'votes', message: QueueMessage): Promise<void> {
  const results = await Promise.allSettled(regionsOf(deps.chain.set).map((region) => deps.transport.send({ queue, region }, [message])));
  const own = regionsOf(deps.chain.set).indexOf(deps.region);
  const failed = results[own];
  if (failed?.status === 'rejected') throw failed.reason;
}

const hashOf = (deps: ValidatorDeps, block: Block) => headerHash(deps.chain.set.chainId, headerOf(deps, block));
const headerOf = (deps: ValidatorDeps, block: Block) => blockHeader(block, (tx) => deps.chain.app.hash(tx));

/**
 * Stores a proposal in this region once per process (idempotent put: readers check the hash). The
 * sequencer's own region already has it.
 */
async function storeBlock(
  deps: ValidatorDeps,
  hash: Uint8Array,
  block: Block,
  proposer = proposerRegion(deps.chain.set, deps.homeRegion, deps.memory.view),
): Promise<void> {
  if (deps.memory.isStored(hash) || proposer === deps.region) return; // the proposer's region stored it first
  await deps.blocks.putBlock(hash, block);
  deps.memory.noteStored(hash);
}

/**
 * Raises J to the certificate's target when its group signature verifies (once per process) and it
 * is higher than the J known. Returns false when the certificate does not verify.
 */
function learnJustified(deps: ValidatorDeps, c: Certificate): boolean {
  const { set } = deps.chain;
  const known = deps.memory.justified;
  // Nothing to learn from a certificate no higher than what is known: spare the pairing.
  if (known && c.target.height <= known.checkpoint.height) return true;
  const id = `${linkId(c)}|${toHex(c.signature)}`;
  if (!deps.memory.isVerified(id)) {
    if (!justifies(set, deps.chain.crypto, c, c.target)) return false;
    deps.memory.noteVerified(id);
  }
  deps.memory.justified = { checkpoint: c.target, certificate: c };
  return true;
}

/**
 * The highest justified checkpoint known: this process's memory, else (after a restart, or on a
 * repeat, when a notice may have been lost) the region's own finality head.
 */
async function highestJustified(deps: ValidatorDeps, refresh: boolean): Promise<{ checkpoint: Checkpoint; certificate?: Certificate }> {
  const known = deps.memory.justified;
  if (known && !refresh) return known;
  const head = await deps.finality.head();
  if (!known || head.justified.height > known.checkpoint.height)
    deps.memory.justified = { checkpoint: head.justified, ...(head.justification ? { certificate: head.justification } : {}) };
  return deps.memory.justified!;
}

/** Executes `block` on its parent's post-state (computed by this validator) and remembers the root. */
async function execute(deps: ValidatorDeps, hash: Uint8Array, block: Block, depth = 0, view = -1): Promise<Executed> {
  const known = deps.memory.execution(hash);
  if (known && known.view >= view) return known;
  if (known) {
    const raised = { ...known, view };
    deps.memory.remember(raised);
    return raised;
  }
  if (block.height === 0) throw new NotReadyError(0, 'genesis is never proposed');
  const parentRoot = await stateAt(deps, block.height - 1, block.parentHash, depth);
  const { root } = await deps.executor.execute(parentRoot, block.transactions);
  const executed = { header: headerOf(deps, block), hash, stateRoot: root, view, transactions: block.transactions.length };
  deps.memory.remember(executed);
  return executed;
}

/**
 * The post-state root of block (height, hash), computed by this validator: genesis, a remembered
 * execution, the region's applied state at that block, or a re-execution from the region's blocks.
 */
async function stateAt(deps: ValidatorDeps, height: number, hash: Uint8Array, depth: number): Promise<Uint8Array> {
  const { genesis } = deps.chain;
  if (height === genesis.height && equalBytes(hash, genesis.hash)) return genesis.stateRoot;
  const known = deps.memory.execution(hash);
  if (known) return known.stateRoot;
  const applied = await deps.applied.applied();
  // The applied state is final and was computed by this region's state function from certified blocks.
  if (applied && applied.height === height && equalBytes(applied.hash, hash)) return applied.stateRoot;
  if (depth >= MAX_REEXECUTION) throw new NotReadyError(height, 'too far from any state this validator can rebuild');
  const block = await storedBlock(deps, height, hash);
  if (!block) throw new NotReadyError(height, `parent ${toHex(hash)} is not stored here or in the sequencer's region yet`);
  return (await execute(deps, hash, block, depth + 1)).stateRoot;
}

/**
 * Block (height, hash) from this region's store, else from the current view's sequencer region (which
 * stores every block before proposing it; a proposal may overtake its parent's), checked against the hash.
 */
async function storedBlock(deps: ValidatorDeps, height: number, hash: Uint8Array): Promise<Block | undefined> {
  const local = await deps.blocks.getBlock(height, hash);
  if (local && equalBytes(hashOf(deps, local), hash)) return local;
  const proposer = proposerRegion(deps.chain.set, deps.homeRegion, deps.memory.view);
  if (proposer === deps.region) return undefined;
  const remote = await deps.blocksOf(proposer).getBlock(height, hash);
  if (!remote || !equalBytes(hashOf(deps, remote), hash)) return undefined;
  await storeBlock(deps, hash, remote);
  return remote;
}

/** False when this validator computed a different state root for the justified checkpoint. */
async function stateRootAgrees(deps: ValidatorDeps, justified: Checkpoint): Promise<boolean> {
  if (justified.height === deps.chain.genesis.height) return checkpointEquals(justified, deps.chain.genesis);
  const own = deps.memory.execution(justified.hash);
  return !own || equalBytes(own.stateRoot, justified.stateRoot);
}

/**
 * Votes J -> T, T = J+K (or the view's floor when higher), if this validator has executed a block at T
 * proposed in its current view that descends from J: the proposal in hand when it is one, else the
 * first such block it knows.
 */
async function voteAfter(deps: ValidatorDeps, repeat: boolean, proposed?: Executed): Promise<ValidatorOutcome> {
  const { set } = deps.chain;
  const K = set.checkpointInterval;
  const { memory } = deps;
  const { checkpoint: J, certificate } = await highestJustified(deps, repeat);
  const targetHeight = Math.max(nextTargetHeight(J, K), memory.view > 0 ? memory.viewFloor : 0);
  const view = memory.view;
  // A certified state root we did not compute means a bug or a fault somewhere: never build on it.
  if (!(await stateRootAgrees(deps, J))) return { kind: 'refused', reason: `our state root at ${J.height} differs from the justified one` };
  const inHand = proposed?.header.height === targetHeight ? [proposed] : [];
  for (const target of [...inHand, ...candidatesAt(deps, targetHeight)]) {
    // Only blocks that came as proposals (an orphan the sequencer stored before losing its head race is
    // never a target) of the view this member is in (a superseded sequencer's blocks never are).
    if (target.view < view) continue;
    const ancestry = await ancestryOf(deps, target, J);
    if (!ancestry) continue;
    const link: Link = { era: set.era, source: J, target: { height: targetHeight, hash: target.hash, stateRoot: target.stateRoot } };
    return sign(deps, link, ancestry, certificate, repeat);
  }
  return { kind: 'waiting', reason: `no executed block at ${targetHeight} descending from ${J.height}` };
}

/**
 * Blocks at `height` this process executed from proposals. Blocks only stored in the region are not
 * candidates: one may be an orphan (a sequencer stores a block before its head's compare-and-set).
 * After a restart the sequencer's pacemaker sends the proposals again.
 */
function candidatesAt(deps: ValidatorDeps, height: number): Executed[] {
  return deps.memory.at(height).filter((e) => e.view >= 0);
}

/** The headers from `target` down to the block just above `source` (target first), or undefined when it does not descend from it. */
async function ancestryOf(deps: ValidatorDeps, target: Executed, source: Checkpoint): Promise<BlockHeader[] | undefined> {
  const headers: BlockHeader[] = [];
  let cursor: Executed | undefined = target;
  while (cursor && cursor.header.height > source.height) {
    headers.push(cursor.header);
    if (cursor.header.height === source.height + 1) return equalBytes(cursor.header.parentHash, source.hash) ? headers : undefined;
    cursor = await executedAt(deps, cursor.header.height - 1, cursor.header.parentHash);
  }
  return undefined;
}

async function executedAt(deps: ValidatorDeps, height: number, hash: Uint8Array): Promise<Executed | undefined> {
  const known = deps.memory.execution(hash);
  if (known) return known;
  const block = await storedBlock(deps, height, hash);
  return block && execute(deps, hash, block);
}

async function sign(
  deps: ValidatorDeps,
  link: Link,
  ancestry: BlockHeader[],
  justification: Certificate | undefined,
  repeat: boolean,
): Promise<ValidatorOutcome> {
  const message = voteSigningBytes(deps.chain.set.chainId, link);
  // BLS signing is deterministic and releases nothing until sent, so it may precede the fence write.
  const outcome = await deps.protection.recordSignature(deps.member, link, deps.chain.crypto.signShare(deps.secretKey, message));
  if (outcome.kind === 'refused')
    return { kind: 'refused', reason: `watermark at target ${outcome.watermark.lastTargetHeight} forbids target ${link.target.height}` };
  if (outcome.kind === 'identical' && !repeat) return { kind: 'voted', link, repeat: true };
  const vote: Vote = { ...link, member: deps.member, signature: outcome.signature };
  await sendVote(deps, vote, ancestry, justification, outcome.kind === 'identical');
  return { kind: 'voted', link, repeat: outcome.kind === 'identical' };
}

/** Re-sends a vote signed earlier (its headers come from this validator's executions or the region's blocks). */
async function fanOut(deps: ValidatorDeps, vote: Vote, resent: boolean): Promise<void> {
  const target = await executedAt(deps, vote.target.height, vote.target.hash);
  const ancestry = target && (await ancestryOf(deps, target, vote.source));
  if (!ancestry) return; // blocks not available any more: the vote cannot be proven, and a newer one supersedes it
  const known = deps.memory.justified;
  const justification = known?.certificate && checkpointEquals(known.checkpoint, vote.source) ? known.certificate : undefined;
  await sendVote(deps, vote, ancestry, justification, resent);
}

/** Sends the vote to every region's vote queue, with its ancestry and the certificate that justified its source. */
async function sendVote(
  deps: ValidatorDeps,
  vote: Vote,
  ancestry: BlockHeader[],
  justification: Certificate | undefined,
  resent: boolean,
): Promise<void> {
  // The justification travels with the vote (with its own headers when this validator has them: a long
  // link of a new view may reach below what it executed), so a region that lost shares of it, or was cut
  // off for a while, catches up.
  let carried: { certificate: Certificate; ancestry: BlockHeader[] } | undefined;
  if (justification && checkpointEquals(justification.target, vote.source)) {
    const target = await executedAt(deps, justification.target.height, justification.target.hash);
    const headers = target && (await ancestryOf(deps, target, justification.source));
    carried = { certificate: justification, ancestry: headers ?? [] };
  }
  await sendToEveryRegion(deps, 'votes', {
    kind: 'vote',
    vote,
    ancestry,
    ...(carried ? { justification: carried } : {}),
    ...(resent ? { resent: true } : {}),
  });
}
