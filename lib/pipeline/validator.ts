/**
 * Validator (one per member): stores and re-executes each proposed block on its parent's
 * post-state, and votes on the adjacent link J -> J+K, where J is the highest justified
 * checkpoint its region knows. Adjacent links make the target deterministic, so every honest
 * member signs the same link, and each such certificate both justifies J+K and finalizes J.
 *
 * Before any signature leaves, one conditional write on the member's watermark refuses a double
 * or surround vote; a retry of the same link re-sends the stored signature.
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { checkpointEquals, voteSigningBytes } from '../core/codec.js';
import { isAdjacent, nextTargetHeight } from '../core/ffg.js';
import type { Block, Checkpoint, Link, Vote } from '../core/types.js';
import { type ChainContext, hashBlock, regionsOf } from './context.js';
import { NotReadyError } from './errors.js';
import type { QueueMessage } from './messages.js';
import type { BlockStore, CheckpointStore, HeadStore, SlashingProtectionStore, Transport } from './ports.js';

export interface ValidatorDeps {
  readonly chain: ChainContext;
  readonly member: number;
  readonly secretKey: Uint8Array;
  /** This region's blocks (the validator stores every proposal here). */
  readonly blocks: BlockStore;
  /** The home region's blocks, for proposals sent by reference. */
  readonly homeBlocks: BlockStore;
  /** This region's finality head and checkpoint records (read only). */
  readonly finality: HeadStore & Pick<CheckpointStore, 'checkpointsAt'>;
  readonly protection: SlashingProtectionStore;
  readonly transport: Transport;
}

/** What a validator's inbox carries: proposals and justification notices. */
export type InboxMessage = Extract<QueueMessage, { kind: 'proposal' | 'justified' }>;

export type ValidatorOutcome =
  | { kind: 'voted'; link: Link; repeat: boolean }
  | { kind: 'waiting'; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'rejected'; reason: string };

export interface InboxOptions {
  /**
   * Re-send a vote that was already signed for this link (default true). The handler passes false
   * on a first delivery: the identical vote then came from another trigger (proposal and
   * justification notice both lead to it) that already sent it. A redelivery must re-send, in case
   * the earlier attempt stopped between the watermark write and the send.
   */
  readonly resendIdentical?: boolean;
}

/** Handles one inbox message. Throws NotReadyError when the message must be redelivered later. */
export async function handleInbox(deps: ValidatorDeps, message: InboxMessage, options: InboxOptions = {}): Promise<ValidatorOutcome> {
  const resend = options.resendIdentical ?? true;
  // A redelivery may follow a crash in the middle of the last vote's fan-out: send that vote again
  // first (receivers treat repeats as no-ops), whatever this message leads to now.
  if (resend) {
    const last = await deps.protection.lastSigned(deps.member);
    if (last) await fanOut(deps, { ...last.link, member: deps.member, signature: last.signature });
  }
  if (message.kind === 'justified') return voteAfter(deps, await highestJustified(deps, message.checkpoint), resend);
  const block = message.block ?? (await deps.homeBlocks.getBlock(message.hash));
  if (!block) throw new NotReadyError(message.height, 'block sent by reference is not readable in the home region yet');
  const hash = hashBlock(deps.chain, block);
  if (!equalBytes(hash, message.hash) || block.height !== message.height)
    return { kind: 'rejected', reason: 'proposal hash does not match its block' };
  const stateRoot = await execute(deps, hash, block);
  const justified = await highestJustified(deps);
  const K = deps.chain.set.checkpointInterval;
  if (block.height !== nextTargetHeight(justified, K))
    return { kind: 'waiting', reason: `block ${block.height} is not the next checkpoint after ${justified.height}` };
  // Fast path: the block in hand is the target; with K = 1 its parent is the source.
  const link: Link = { era: deps.chain.set.era, source: justified, target: { height: block.height, hash, stateRoot } };
  if (K === 1 && isAdjacent(link, K) && equalBytes(block.parentHash, justified.hash) && (await stateRootAgrees(deps, justified)))
    return sign(deps, link, resend);
  return voteAfter(deps, justified, resend);
}

async function highestJustified(deps: ValidatorDeps, hint?: Checkpoint): Promise<Checkpoint> {
  const { justified } = await deps.finality.head();
  return hint && hint.height > justified.height ? hint : justified;
}

/** Stores the block and its post-state root (idempotent). */
async function execute(deps: ValidatorDeps, hash: Uint8Array, block: Block): Promise<Uint8Array> {
  const done = await deps.blocks.getExecution(hash);
  if (done) return done;
  if (block.height === 0) throw new NotReadyError(0, 'genesis is never proposed');
  const parentRoot = equalBytes(block.parentHash, deps.chain.genesis.hash)
    ? deps.chain.genesis.stateRoot
    : await deps.blocks.getExecution(block.parentHash);
  if (!parentRoot) throw new NotReadyError(block.height, `parent ${toHex(block.parentHash)} not executed yet`);
  await deps.blocks.putBlock(hash, block);
  const { root } = await deps.chain.app.execute(parentRoot, block.transactions);
  await deps.blocks.putExecution(hash, root);
  return root;
}

/** False when this region computed a different state root for the justified checkpoint. */
async function stateRootAgrees(deps: ValidatorDeps, justified: Checkpoint): Promise<boolean> {
  const ownRoot = justified.height > 0 ? await deps.blocks.getExecution(justified.hash) : undefined;
  return !ownRoot || equalBytes(ownRoot, justified.stateRoot);
}

/** Votes J -> J+K if this region has executed a block at J+K that descends from J. */
async function voteAfter(deps: ValidatorDeps, justified: Checkpoint, resend: boolean): Promise<ValidatorOutcome> {
  const { set } = deps.chain;
  const targetHeight = nextTargetHeight(justified, set.checkpointInterval);
  // A certified state root we did not compute means a bug or a fault somewhere: never build on it.
  if (!(await stateRootAgrees(deps, justified)))
    return { kind: 'refused', reason: `our state root at ${justified.height} differs from the justified one` };
  for (const hash of await deps.blocks.hashesAt(targetHeight)) {
    const stateRoot = await deps.blocks.getExecution(hash);
    if (!stateRoot || !(await descendsFrom(deps.blocks, hash, justified))) continue;
    const link: Link = { era: set.era, source: justified, target: { height: targetHeight, hash, stateRoot } };
    return sign(deps, link, resend);
  }
  return { kind: 'waiting', reason: `no executed block at ${targetHeight} descending from ${justified.height}` };
}

async function descendsFrom(blocks: BlockStore, hash: Uint8Array, ancestor: Checkpoint): Promise<boolean> {
  let cursor = await blocks.getBlock(hash);
  while (cursor && cursor.height > ancestor.height + 1) cursor = await blocks.getBlock(cursor.parentHash);
  return cursor !== undefined && cursor.height === ancestor.height + 1 && equalBytes(cursor.parentHash, ancestor.hash);
}

async function sign(deps: ValidatorDeps, link: Link, resend: boolean): Promise<ValidatorOutcome> {
  const message = voteSigningBytes(deps.chain.set.chainId, link);
  // BLS signing is deterministic and releases nothing until sent, so it may precede the fence write.
  const outcome = await deps.protection.recordSignature(deps.member, link, deps.chain.crypto.signShare(deps.secretKey, message));
  if (outcome.kind === 'refused')
    return { kind: 'refused', reason: `watermark at target ${outcome.watermark.lastTargetHeight} forbids target ${link.target.height}` };
  if (outcome.kind === 'identical' && !resend) return { kind: 'voted', link, repeat: true };
  await fanOut(deps, { ...link, member: deps.member, signature: outcome.signature });
  return { kind: 'voted', link, repeat: outcome.kind === 'identical' };
}

/** Sends the vote to every region's vote queue, with the certificate that justified its source. */
async function fanOut(deps: ValidatorDeps, vote: Vote): Promise<void> {
  // The justification travels with the vote, so a region that lost shares of it catches up.
  const justification =
    vote.source.height === 0
      ? undefined
      : (await deps.finality.checkpointsAt(vote.source.height)).find((r) => checkpointEquals(r.checkpoint, vote.source))?.justification;
  await Promise.all(
    regionsOf(deps.chain.set).map((region) =>
      deps.transport.send({ queue: 'votes', region }, [{ kind: 'vote', vote, ...(justification ? { justification } : {}) }]),
    ),
  );
}
