/**
 * Queue messages between roles. Every body is JSON `{ v: 1, kind, ... }`; decoders validate
 * fully and throw InputError, so a poison message is refused with a reason at the edge and ends
 * in the DLQ instead of crashing a batch. Transactions (alone or inside a proposed block) travel in
 * the application's JSON form, so encoding and decoding take its codec.
 */
import { asafeUint, fromHex, toHex } from '../core/bytes.js';
import { InputError } from '../core/errors.js';
import type { Block, Certificate, Checkpoint, Vote } from '../core/types.js';
import {
  aobject,
  blockFromJson,
  blockToJson,
  checkpointFromJson,
  checkpointToJson,
  linkToJson,
  type TxJsonCodec,
  voteFromJson,
  voteToJson,
} from '../core/wire.js';

/** Largest body we put on a queue (SQS allows 256 KiB; keep headroom for attributes). */
export const MAX_MESSAGE_BYTES = 200 * 1024;

export type QueueMessage =
  /** A client transaction for the sequencer (ingress queue), of the chain's application type. */
  | { kind: 'tx'; tx: unknown }
  /** Sequencer liveness nudge: checkpoint `height` was justified; propose empty blocks so it can be finalized (ingress queue). */
  | { kind: 'tick'; height: number }
  /** A proposed block, inline or by reference to the home region's block store (validator inbox). */
  | { kind: 'proposal'; height: number; hash: Uint8Array; block?: Block }
  /** A checkpoint just became justified in the sender's region: validators may vote on the next link (validator inbox). */
  | { kind: 'justified'; checkpoint: Checkpoint }
  /**
   * A member's partial signature on a link (vote queue), with the certificate that justified its
   * source when the sender has it: a region that missed that justification (lost shares after a
   * crash mid fan-out) imports it instead of stalling.
   */
  | { kind: 'vote'; vote: Vote; justification?: Certificate }
  /** Finality advanced in this region: the state function applies up to `height` (finalized queue). */
  | { kind: 'finalized'; height: number };

export type MessageKind = QueueMessage['kind'];

/** Serializes a message to its JSON body; `codec` is the application's transaction codec. */
export function encodeMessage(m: QueueMessage, codec: TxJsonCodec<unknown>): string {
  switch (m.kind) {
    case 'tx':
      return JSON.stringify({ v: 1, kind: m.kind, tx: codec.toJson(m.tx) });
    case 'tick':
    case 'finalized':
      return JSON.stringify({ v: 1, kind: m.kind, height: m.height });
    case 'proposal':
      return JSON.stringify({
        v: 1,
        kind: m.kind,
        height: m.height,
        hash: toHex(m.hash),
        ...(m.block ? { block: blockToJson(m.block, codec) } : {}),
      });
    case 'justified':
      return JSON.stringify({ v: 1, kind: m.kind, checkpoint: checkpointToJson(m.checkpoint) });
    case 'vote':
      return JSON.stringify({
        v: 1,
        kind: m.kind,
        vote: voteToJson(m.vote),
        ...(m.justification
          ? {
              justification: {
                ...linkToJson(m.justification),
                signers: [...m.justification.signers],
                signature: toHex(m.justification.signature),
              },
            }
          : {}),
      });
  }
}

/**
 * Parses and validates a body. `expected` restricts the kinds a queue accepts.
 * @throws InputError with the field path, e.g. "vote.signature: expected 48 bytes ..."
 */
export function decodeMessage<K extends MessageKind>(
  body: string,
  expected: readonly K[],
  codec: TxJsonCodec<unknown>,
): Extract<QueueMessage, { kind: K }> {
  if (body.length > 2 * MAX_MESSAGE_BYTES) throw new InputError('body', `larger than ${2 * MAX_MESSAGE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new InputError('body', 'not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw new InputError('body', 'expected a JSON object');
  const { v, kind } = raw as { v?: unknown; kind?: unknown };
  if (v !== 1) throw new InputError('v', 'unsupported message version (expected 1)');
  if (typeof kind !== 'string' || !(expected as readonly string[]).includes(kind))
    throw new InputError('kind', `expected one of ${expected.join(', ')}, got ${JSON.stringify(kind)}`);
  const msg = decodeKind(kind as MessageKind, raw, codec);
  return msg as Extract<QueueMessage, { kind: K }>;
}

/** A certificate without its `message` (the receiver rebuilds the signed bytes from its own chain id). */
function certificateLinkFromJson(value: unknown, path: string): Certificate {
  const o = aobject(value, path, ['era', 'source', 'target', 'signers', 'signature']);
  if (!Array.isArray(o.signers) || o.signers.length > 1024) throw new InputError(`${path}.signers`, 'expected an array of member indices');
  return {
    era: BigInt(asafeUint(o.era, `${path}.era`)),
    source: checkpointFromJson(o.source, `${path}.source`),
    target: checkpointFromJson(o.target, `${path}.target`),
    signers: o.signers.map((x, i) => asafeUint(x, `${path}.signers[${i}]`)),
    signature: fromHex(o.signature, 48, `${path}.signature`),
  };
}

function decodeKind(kind: MessageKind, raw: unknown, codec: TxJsonCodec<unknown>): QueueMessage {
  switch (kind) {
    case 'tx': {
      const o = aobject(raw, '', ['v', 'kind', 'tx']);
      return { kind, tx: codec.fromJson(o.tx, 'tx') };
    }
    case 'tick':
    case 'finalized': {
      const o = aobject(raw, '', ['v', 'kind', 'height']);
      return { kind, height: asafeUint(o.height, 'height') };
    }
    case 'proposal': {
      const o = aobject(raw, '', ['v', 'kind', 'height', 'hash'], ['block']);
      const height = asafeUint(o.height, 'height');
      const block = o.block === undefined ? undefined : blockFromJson(o.block, codec, 'block');
      if (block && block.height !== height) throw new InputError('block.height', 'does not match the proposal height');
      return { kind, height, hash: fromHex(o.hash, 32, 'hash'), ...(block ? { block } : {}) };
    }
    case 'justified': {
      const o = aobject(raw, '', ['v', 'kind', 'checkpoint']);
      return { kind, checkpoint: checkpointFromJson(o.checkpoint, 'checkpoint') };
    }
    case 'vote': {
      const o = aobject(raw, '', ['v', 'kind', 'vote'], ['justification']);
      const vote = voteFromJson(o.vote, 'vote');
      return o.justification === undefined
        ? { kind, vote }
        : { kind, vote, justification: certificateLinkFromJson(o.justification, 'justification') };
    }
  }
}
