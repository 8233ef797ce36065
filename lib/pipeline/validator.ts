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
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { type BlockHeader, blockHeader, checkpointEquals, headerHash, voteSigningBytes } from '../core/codec.js';
import { isAdjacent, nextTargetHeight, quorum } from '../core/ffg.js';
import { linkId } from '../core/ids.js';
import { StateError } from '../core/smt.js';
import type { Application } from '../core/state-machine.js';
import type { Block, Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import { type ChainContext, regionsOf } from './context.js';
import { NotReadyError } from './errors.js';
import type { QueueMessage } from './messages.js';
import type { AppliedStore, BlockStore, HeadStore, SlashingProtectionStore, Transport } from './ports.js';

export interface ValidatorDeps {
  readonly chain: ChainContext;
  readonly member: number;
  readonly secretKey: Uint8Array;
  /** This region's blocks (the validator stores every proposal here). */
  readonly blocks: BlockStore;
  /** The home region's blocks, for proposals sent by reference. */
  readonly homeBlocks: BlockStore;
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

/** What a validator's inbox carries: proposals and justification notices. */
export type InboxMessage = Extract<QueueMessage, { kind: 'proposal' | 'justified' }>;

export type ValidatorOutcome =
  | { kind: 'voted'; link: Link; repeat: boolean }
  | { kind: 'waiting'; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'rejected'; reason: string }
  /** A notice or justification whose certificate did not verify: ignored. */
  | { kind: 'ignored'; reason: string };

interface Executed {
  readonly header: BlockHeader;
  readonly hash: Uint8Array;
  readonly stateRoot: Uint8Array;
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

  constructor(private readonly max = 4096) {}

  execution(hash: Uint8Array): Executed | undefined {
    return this.executed.get(toHex(hash));
  }
  remember(e: Executed): void {
    const id = toHex(e.hash);
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
      const height = message.kind === 'proposal' ? message.height : message.certificate.target.height;
      throw new NotReadyError(height, e.message);
    }
    throw e;
  }
}

async function handle(deps: ValidatorDeps, message: InboxMessage, repeat: boolean): Promise<ValidatorOutcome> {
  // A repeat may follow a crash in the middle of the last vote's fan-out: send that vote again first
  // (receivers treat repeats as no-ops), whatever this message leads to now.
  if (repeat) {
    const last = await deps.protection.lastSigned(deps.member);
    if (last) await fanOut(deps, { ...last.link, member: deps.member, signature: last.signature }, true);
  }
  if (message.kind === 'justified') {
    if (!learnJustified(deps, message.certificate)) return { kind: 'ignored', reason: 'the notice certificate does not verify' };
    return voteAfter(deps, repeat);
  }
  const block = message.block ?? (await deps.homeBlocks.getBlock(message.height, message.hash));
  if (!block) throw new NotReadyError(message.height, 'block sent by reference is not readable in the home region yet');
  if (block.height !== message.height || !equalBytes(hashOf(deps, block), message.hash))
    return { kind: 'rejected', reason: 'proposal hash does not match its block' };
  if (message.justification) learnJustified(deps, message.justification);
  await storeBlock(deps, message.hash, block);
  const executed = await execute(deps, message.hash, block);
  return voteAfter(deps, repeat, executed);
}

const hashOf = (deps: ValidatorDeps, block: Block) => headerHash(deps.chain.set.chainId, headerOf(deps, block));
const headerOf = (deps: ValidatorDeps, block: Block) => blockHeader(block, (tx) => deps.chain.app.hash(tx));

/**
 * Stores a proposal in this region once per process (idempotent put: readers check the hash). The
 * sequencer's own region already has it.
 */
async function storeBlock(deps: ValidatorDeps, hash: Uint8Array, block: Block): Promise<void> {
  if (deps.memory.isStored(hash) || deps.homeBlocks === deps.blocks) return;
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
    const signers = new Set(c.signers);
    const wellFormed =
      c.era === set.era &&
      c.source.height < c.target.height &&
      signers.size === c.signers.length &&
      quorum(signers.size, set.threshold) &&
      c.signers.every((i) => i >= 1 && i <= set.n);
    if (!wellFormed || !deps.chain.crypto.verify(set.groupPublicKey, voteSigningBytes(set.chainId, c), c.signature)) return false;
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
async function execute(deps: ValidatorDeps, hash: Uint8Array, block: Block, depth = 0): Promise<Executed> {
  const known = deps.memory.execution(hash);
  if (known) return known;
  if (block.height === 0) throw new NotReadyError(0, 'genesis is never proposed');
  const parentRoot = await stateAt(deps, block.height - 1, block.parentHash, depth);
  const { root } = await deps.executor.execute(parentRoot, block.transactions);
  const executed = { header: headerOf(deps, block), hash, stateRoot: root };
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
 * Block (height, hash) from this region's store, else from the sequencer's region (which stores every
 * block before proposing it; a proposal may overtake its parent's), checked against the hash.
 */
async function storedBlock(deps: ValidatorDeps, height: number, hash: Uint8Array): Promise<Block | undefined> {
  const local = await deps.blocks.getBlock(height, hash);
  if (local && equalBytes(hashOf(deps, local), hash)) return local;
  if (deps.homeBlocks === deps.blocks) return undefined;
  const remote = await deps.homeBlocks.getBlock(height, hash);
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
 * Votes J -> J+K if this validator has executed a block at J+K that descends from J: the proposal in
 * hand when it is one, else the first such block it knows.
 */
async function voteAfter(deps: ValidatorDeps, repeat: boolean, proposed?: Executed): Promise<ValidatorOutcome> {
  const { set } = deps.chain;
  const K = set.checkpointInterval;
  const { checkpoint: J, certificate } = await highestJustified(deps, repeat);
  const targetHeight = nextTargetHeight(J, K);
  // A certified state root we did not compute means a bug or a fault somewhere: never build on it.
  if (!(await stateRootAgrees(deps, J))) return { kind: 'refused', reason: `our state root at ${J.height} differs from the justified one` };
  const inHand = proposed?.header.height === targetHeight ? [proposed] : [];
  for (const target of [...inHand, ...(await candidatesAt(deps, targetHeight))]) {
    const ancestry = await ancestryOf(deps, target, J);
    if (!ancestry) continue;
    const link: Link = { era: set.era, source: J, target: { height: targetHeight, hash: target.hash, stateRoot: target.stateRoot } };
    if (!isAdjacent(link, K)) continue;
    return sign(deps, link, ancestry, certificate, repeat);
  }
  return { kind: 'waiting', reason: `no executed block at ${targetHeight} descending from ${J.height}` };
}

/** Executed blocks at `height`: this process's, or the region's stored ones (executed now). */
async function candidatesAt(deps: ValidatorDeps, height: number): Promise<Executed[]> {
  const remembered = deps.memory.at(height);
  if (remembered.length > 0) return remembered;
  const out: Executed[] = [];
  for (const hash of await deps.blocks.hashesAt(height)) {
    const block = await deps.blocks.getBlock(height, hash);
    if (!block || !equalBytes(hashOf(deps, block), hash)) continue;
    try {
      out.push(await execute(deps, hash, block));
    } catch (e) {
      if (!(e instanceof NotReadyError)) throw e;
    }
  }
  return out;
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
  // The justification travels with the vote (with its own headers), so a region that lost shares of it catches up.
  let carried: { certificate: Certificate; ancestry: BlockHeader[] } | undefined;
  if (justification && checkpointEquals(justification.target, vote.source)) {
    const target = await executedAt(deps, justification.target.height, justification.target.hash);
    const headers = target && (await ancestryOf(deps, target, justification.source));
    if (headers) carried = { certificate: justification, ancestry: headers };
  }
  await Promise.all(
    regionsOf(deps.chain.set).map((region) =>
      deps.transport.send({ queue: 'votes', region }, [
        { kind: 'vote', vote, ancestry, ...(carried ? { justification: carried } : {}), ...(resent ? { resent: true } : {}) },
      ]),
    ),
  );
}
