/**
 * Queue messages between roles. Every body is JSON `{ v: 1, kind, ... }`; decoders validate
 * fully and throw InputError, so a poison message is refused with a reason at the edge and ends
 * in the DLQ instead of crashing a batch. Transactions (alone or inside a proposed block) travel in
 * the application's JSON form, so encoding and decoding take its codec.
 *
 * Certificates travel without their `message` (the receiver rebuilds the signed bytes from its own
 * chain id) and are hints until the receiver verifies them with the group key.
 */
import { asafeUint, fromHex, toHex } from '../core/bytes.js';
import type { BlockHeader } from '../core/codec.js';
import { InputError } from '../core/errors.js';
import type { Block, Certificate, Vote } from '../core/types.js';
import type { ViewCertificate, ViewChange } from '../core/views.js';
import {
  aobject,
  blockFromJson,
  blockToJson,
  certificateFromWire,
  certificateToWire,
  headerFromJson,
  headerToJson,
  type TxJsonCodec,
  viewCertificateFromJson,
  viewCertificateToJson,
  viewChangeFromJson,
  viewChangeToJson,
  voteFromJson,
  voteToJson,
} from '../core/wire.js';

/** Largest body we put on a queue (SQS allows 256 KiB; keep headroom for attributes). */
export const MAX_MESSAGE_BYTES = 200 * 1024;

/** Most block headers a vote carries as its ancestry proof (a link spans at most this many blocks). */
export const MAX_ANCESTRY = 1024;

export type QueueMessage =
  /** A client transaction for the sequencer (ingress queue), of the chain's application type. */
  | { kind: 'tx'; tx: unknown }
  /**
   * Sequencer nudge (ingress queue): checkpoint `height` was justified (pacing may allow more blocks),
   * or, with `pacemaker` (the chain's generation), the sequencer's own delayed check of whether
   * finality moved above `height` since it was armed.
   */
  | { kind: 'tick'; height: number; pacemaker?: number }
  /**
   * A proposed block, inline or by reference to the proposing region's block store (validator inbox),
   * with the certificate of the highest justified checkpoint the sequencer knows. `view` is the
   * proposer's view (0 when absent); `rebroadcast` marks a repeat sent because finality stalled:
   * validators re-send the vote they signed.
   */
  | {
      kind: 'proposal';
      height: number;
      hash: Uint8Array;
      block?: Block;
      justification?: Certificate;
      rebroadcast?: boolean;
      view?: number;
      /** The certificate of `view` (views above 0), so a validator adopts the view from the proposal itself. */
      viewCertificate?: ViewCertificate;
    }
  /** A member asks to move to `change.view` (vote queue of every region). */
  | { kind: 'view-change'; change: ViewChange }
  /** t members moved to `certificate.view` (validator inbox; ingress of the new view's region and of the certifying region). */
  | { kind: 'view'; certificate: ViewCertificate }
  /**
   * A validator's own delayed check (its inbox): has its region finalized above `finalizedAt` since
   * it saw work at `height` in `view`? If not, it asks for view + 1. Liveness only.
   */
  | { kind: 'view-timer'; view: number; height: number; finalizedAt: number; serial?: number }
  /** Work is waiting but the active sequencer's region did not take it (validator inbox): start the view timer. */
  | { kind: 'pending'; view: number }
  /** A certificate justified its target in the sender's region: validators may vote on the next link (validator inbox). */
  | { kind: 'justified'; certificate: Certificate }
  /**
   * A member's partial signature on a link (vote queue), with the headers proving its target
   * descends from its source (target first), and the certificate that justified its source when the
   * sender has it: a region that missed that justification imports it instead of stalling.
   * `resent` marks a vote re-sent after a stall or a crash: the finalizer then repeats its notices.
   */
  | {
      kind: 'vote';
      vote: Vote;
      ancestry: readonly BlockHeader[];
      justification?: { certificate: Certificate; ancestry: readonly BlockHeader[] };
      resent?: boolean;
    }
  /**
   * A certificate another region holds, verified by the sender with the group key (vote queue): the
   * finality sync found this region behind a peer (lib/pipeline/finality-sync.ts). The finalizer checks
   * it again and imports it as it imports a vote's justification.
   */
  | { kind: 'certified'; certificate: Certificate }
  /** Finality advanced in this region to `height`, finalized by `certificate` (finalized queue). */
  | { kind: 'finalized'; height: number; certificate?: Certificate };

export type MessageKind = QueueMessage['kind'];

/** Serializes a message to its JSON body; `codec` is the application's transaction codec. */
export function encodeMessage(m: QueueMessage, codec: TxJsonCodec<unknown>): string {
  switch (m.kind) {
    case 'tx':
      return JSON.stringify({ v: 1, kind: m.kind, tx: codec.toJson(m.tx) });
    case 'tick':
      return JSON.stringify({ v: 1, kind: m.kind, height: m.height, ...(m.pacemaker !== undefined ? { pacemaker: m.pacemaker } : {}) });
    case 'finalized':
      return JSON.stringify({
        v: 1,
        kind: m.kind,
        height: m.height,
        ...(m.certificate ? { certificate: certificateToWire(m.certificate) } : {}),
      });
    case 'proposal':
      return JSON.stringify({
        v: 1,
        kind: m.kind,
        height: m.height,
        hash: toHex(m.hash),
        ...(m.block ? { block: blockToJson(m.block, codec) } : {}),
        ...(m.justification ? { justification: certificateToWire(m.justification) } : {}),
        ...(m.rebroadcast ? { rebroadcast: true } : {}),
        ...(m.view ? { view: m.view } : {}),
        ...(m.viewCertificate ? { viewCertificate: viewCertificateToJson(m.viewCertificate) } : {}),
      });
    case 'view-change':
      return JSON.stringify({ v: 1, kind: m.kind, change: viewChangeToJson(m.change) });
    case 'view':
      return JSON.stringify({ v: 1, kind: m.kind, certificate: viewCertificateToJson(m.certificate) });
    case 'view-timer':
      return JSON.stringify({
        v: 1,
        kind: m.kind,
        view: m.view,
        height: m.height,
        finalizedAt: m.finalizedAt,
        ...(m.serial !== undefined ? { serial: m.serial } : {}),
      });
    case 'pending':
      return JSON.stringify({ v: 1, kind: m.kind, view: m.view });
    case 'justified':
    case 'certified':
      return JSON.stringify({ v: 1, kind: m.kind, certificate: certificateToWire(m.certificate) });
    case 'vote':
      return JSON.stringify({
        v: 1,
        kind: m.kind,
        vote: voteToJson(m.vote),
        ancestry: m.ancestry.map(headerToJson),
        ...(m.justification
          ? { justification: { ...certificateToWire(m.justification.certificate), ancestry: m.justification.ancestry.map(headerToJson) } }
          : {}),
        ...(m.resent ? { resent: true } : {}),
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
  return decodeKind(kind as MessageKind, raw, codec) as Extract<QueueMessage, { kind: K }>;
}

function headersFromWire(value: unknown, path: string): BlockHeader[] {
  if (!Array.isArray(value) || value.length > MAX_ANCESTRY)
    throw new InputError(path, `expected an array of at most ${MAX_ANCESTRY} block headers`);
  return value.map((h, i) => headerFromJson(h, `${path}[${i}]`));
}

function justificationFromWire(value: unknown): { certificate: Certificate; ancestry: BlockHeader[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError('justification', 'expected an object');
  const { ancestry, ...certificate } = value as Record<string, unknown>;
  return {
    certificate: certificateFromWire(certificate, 'justification'),
    ancestry: headersFromWire(ancestry ?? [], 'justification.ancestry'),
  };
}

const flag = (value: unknown, path: string): boolean => {
  if (value === undefined) return false;
  if (value !== true) throw new InputError(path, 'expected true or absent');
  return true;
};

function decodeKind(kind: MessageKind, raw: unknown, codec: TxJsonCodec<unknown>): QueueMessage {
  switch (kind) {
    case 'tx': {
      const o = aobject(raw, '', ['v', 'kind', 'tx']);
      return { kind, tx: codec.fromJson(o.tx, 'tx') };
    }
    case 'tick': {
      const o = aobject(raw, '', ['v', 'kind', 'height'], ['pacemaker']);
      return {
        kind,
        height: asafeUint(o.height, 'height'),
        ...(o.pacemaker === undefined ? {} : { pacemaker: asafeUint(o.pacemaker, 'pacemaker') }),
      };
    }
    case 'finalized': {
      const o = aobject(raw, '', ['v', 'kind', 'height'], ['certificate']);
      const height = asafeUint(o.height, 'height');
      if (o.certificate === undefined) return { kind, height };
      const certificate = certificateFromWire(o.certificate, 'certificate');
      if (certificate.source.height !== height) throw new InputError('certificate.source.height', 'does not match the finalized height');
      return { kind, height, certificate };
    }
    case 'proposal': {
      const o = aobject(raw, '', ['v', 'kind', 'height', 'hash'], ['block', 'justification', 'rebroadcast', 'view', 'viewCertificate']);
      const height = asafeUint(o.height, 'height');
      const block = o.block === undefined ? undefined : blockFromJson(o.block, codec, 'block');
      if (block && block.height !== height) throw new InputError('block.height', 'does not match the proposal height');
      return {
        kind,
        height,
        hash: fromHex(o.hash, 32, 'hash'),
        ...(block ? { block } : {}),
        ...(o.justification === undefined ? {} : { justification: certificateFromWire(o.justification, 'justification') }),
        ...(flag(o.rebroadcast, 'rebroadcast') ? { rebroadcast: true } : {}),
        ...(o.view === undefined ? {} : { view: asafeUint(o.view, 'view') }),
        ...(o.viewCertificate === undefined ? {} : { viewCertificate: viewCertificateFromJson(o.viewCertificate, 'viewCertificate') }),
      };
    }
    case 'view-change': {
      const o = aobject(raw, '', ['v', 'kind', 'change']);
      return { kind, change: viewChangeFromJson(o.change, 'change') };
    }
    case 'view': {
      const o = aobject(raw, '', ['v', 'kind', 'certificate']);
      return { kind, certificate: viewCertificateFromJson(o.certificate, 'certificate') };
    }
    case 'view-timer': {
      const o = aobject(raw, '', ['v', 'kind', 'view', 'height', 'finalizedAt', 'serial']);
      return {
        kind,
        view: asafeUint(o.view, 'view'),
        height: asafeUint(o.height, 'height'),
        finalizedAt: asafeUint(o.finalizedAt, 'finalizedAt'),
        ...(o.serial !== undefined ? { serial: asafeUint(o.serial, 'serial') } : {}),
      };
    }
    case 'pending': {
      const o = aobject(raw, '', ['v', 'kind', 'view']);
      return { kind, view: asafeUint(o.view, 'view') };
    }
    case 'justified':
    case 'certified': {
      const o = aobject(raw, '', ['v', 'kind', 'certificate']);
      return { kind, certificate: certificateFromWire(o.certificate, 'certificate') };
    }
    case 'vote': {
      const o = aobject(raw, '', ['v', 'kind', 'vote', 'ancestry'], ['justification', 'resent']);
      const vote = voteFromJson(o.vote, 'vote');
      return {
        kind,
        vote,
        ancestry: headersFromWire(o.ancestry, 'ancestry'),
        ...(o.justification === undefined ? {} : { justification: justificationFromWire(o.justification) }),
        ...(flag(o.resent, 'resent') ? { resent: true } : {}),
      };
    }
  }
}
