/**
 * JSON wire forms of protocol objects (SQS messages, HTTP answers). Hex for bytes, decimal strings
 * for u64 amounts and nonces, numbers for heights and member indices. Every decoder validates
 * and throws InputError naming the offending field (`path`), and refuses unknown fields.
 */
import { asafeUint, fromHex, parseU64Decimal, toHex } from './bytes.js';
import { type BlockHeader, voteSigningBytes } from './codec.js';
import { InputError } from './errors.js';
import type { Block, Certificate, Checkpoint, Link, Transaction, Vote } from './types.js';
import type { ViewCertificate, ViewChange, ViewState } from './views.js';

export interface CheckpointJson {
  height: number;
  hash: string;
  stateRoot: string;
}
export type TransactionJson = {
  from: string;
  to: string;
  amount: string;
  nonce: string;
  signature: string;
};
export interface BlockJson {
  height: number;
  parentHash: string;
  transactions: Record<string, unknown>[];
}
export interface VoteJson {
  era: number;
  source: CheckpointJson;
  target: CheckpointJson;
  member: number;
  signature: string;
}
export interface CertificateJson {
  era: number;
  source: CheckpointJson;
  target: CheckpointJson;
  signers: number[];
  signature: string;
  message: string;
}

type Obj = Record<string, unknown>;

/** Asserts `value` is a plain object with exactly the allowed keys (all required unless listed optional). */
export function aobject(value: unknown, path: string, keys: readonly string[], optional: readonly string[] = []): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(path, 'expected an object');
  const o = value as Obj;
  for (const k of Object.keys(o)) if (!keys.includes(k) && !optional.includes(k)) throw new InputError(join(path, k), 'unknown field');
  for (const k of keys) if (!(k in o)) throw new InputError(join(path, k), 'missing');
  return o;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function eraOf(value: unknown, path: string): bigint {
  return BigInt(asafeUint(value, path));
}

export const checkpointToJson = (c: Checkpoint): CheckpointJson => ({
  height: c.height,
  hash: toHex(c.hash),
  stateRoot: toHex(c.stateRoot),
});

export function checkpointFromJson(value: unknown, path = 'checkpoint'): Checkpoint {
  const o = aobject(value, path, ['height', 'hash', 'stateRoot']);
  return {
    height: asafeUint(o.height, join(path, 'height')),
    hash: fromHex(o.hash, 32, join(path, 'hash')),
    stateRoot: fromHex(o.stateRoot, 32, join(path, 'stateRoot')),
  };
}

/** Transfer JSON (DESIGN.md section 4, POST /v1/transactions). */
export const transactionToJson = (tx: Transaction): TransactionJson => ({
  from: toHex(tx.from),
  to: toHex(tx.to),
  amount: tx.amount.toString(),
  nonce: tx.nonce.toString(),
  signature: toHex(tx.signature),
});

export function transactionFromJson(value: unknown, path = 'transaction'): Transaction {
  const o = aobject(value, path, ['from', 'to', 'amount', 'nonce', 'signature']);
  return {
    from: fromHex(o.from, 32, join(path, 'from')),
    to: fromHex(o.to, 32, join(path, 'to')),
    amount: parseU64Decimal(o.amount, join(path, 'amount')),
    nonce: parseU64Decimal(o.nonce, join(path, 'nonce')),
    signature: fromHex(o.signature, 64, join(path, 'signature')),
  };
}

/** The JSON codec of one transaction type (an application's codec entry). */
export interface TxJsonCodec<Tx> {
  toJson(tx: Tx): Record<string, unknown>;
  fromJson(value: unknown, path: string): Tx;
}

export const blockToJson = <Tx>(b: Block<Tx>, codec: Pick<TxJsonCodec<Tx>, 'toJson'>): BlockJson => ({
  height: b.height,
  parentHash: toHex(b.parentHash),
  transactions: b.transactions.map((tx) => codec.toJson(tx)),
});

export function blockFromJson<Tx>(value: unknown, codec: Pick<TxJsonCodec<Tx>, 'fromJson'>, path = 'block'): Block<Tx> {
  const o = aobject(value, path, ['height', 'parentHash', 'transactions']);
  if (!Array.isArray(o.transactions)) throw new InputError(join(path, 'transactions'), 'expected an array');
  return {
    height: asafeUint(o.height, join(path, 'height')),
    parentHash: fromHex(o.parentHash, 32, join(path, 'parentHash')),
    transactions: o.transactions.map((t, i) => codec.fromJson(t, `${join(path, 'transactions')}[${i}]`)),
  };
}

export const linkToJson = (l: Link) => ({ era: Number(l.era), source: checkpointToJson(l.source), target: checkpointToJson(l.target) });

export const voteToJson = (v: Vote): VoteJson => ({ ...linkToJson(v), member: v.member, signature: toHex(v.signature) });

export function voteFromJson(value: unknown, path = 'vote'): Vote {
  const o = aobject(value, path, ['era', 'source', 'target', 'member', 'signature']);
  const member = asafeUint(o.member, join(path, 'member'));
  if (member === 0) throw new InputError(join(path, 'member'), 'member indices start at 1');
  return {
    era: eraOf(o.era, join(path, 'era')),
    source: checkpointFromJson(o.source, join(path, 'source')),
    target: checkpointFromJson(o.target, join(path, 'target')),
    member,
    signature: fromHex(o.signature, 48, join(path, 'signature')),
  };
}

/** Certificate JSON (DESIGN.md section 4); `message` is the hex of the 195 vote signing bytes. */
export function certificateToJson(chainId: Uint8Array, c: Certificate): CertificateJson {
  return { ...linkToJson(c), signers: [...c.signers], signature: toHex(c.signature), message: toHex(voteSigningBytes(chainId, c)) };
}

/** Decodes the certificate fields; does NOT check `message` or the signature (the verifier does). */
export function certificateFromJson(value: unknown, path = 'certificate'): Certificate & { message: Uint8Array } {
  const o = aobject(value, path, ['era', 'source', 'target', 'signers', 'signature', 'message']);
  if (!Array.isArray(o.signers)) throw new InputError(join(path, 'signers'), 'expected an array of member indices');
  return {
    era: eraOf(o.era, join(path, 'era')),
    source: checkpointFromJson(o.source, join(path, 'source')),
    target: checkpointFromJson(o.target, join(path, 'target')),
    signers: o.signers.map((s, i) => asafeUint(s, `${join(path, 'signers')}[${i}]`)),
    signature: fromHex(o.signature, 48, join(path, 'signature')),
    message: fromHex(o.message, undefined, join(path, 'message')),
  };
}

export interface BlockHeaderJson {
  height: number;
  parentHash: string;
  txRoot: string;
}

export const headerToJson = (h: BlockHeader): BlockHeaderJson => ({
  height: h.height,
  parentHash: toHex(h.parentHash),
  txRoot: toHex(h.txRoot),
});

export function headerFromJson(value: unknown, path = 'header'): BlockHeader {
  const o = aobject(value, path, ['height', 'parentHash', 'txRoot']);
  return {
    height: asafeUint(o.height, join(path, 'height')),
    parentHash: fromHex(o.parentHash, 32, join(path, 'parentHash')),
    txRoot: fromHex(o.txRoot, 32, join(path, 'txRoot')),
  };
}

// ---------------------------------------------------------------- views (lib/core/views.ts)

/** A certificate without its `message` (the receiver rebuilds the signed bytes from its own chain id). */
export const certificateToWire = (c: Certificate) => ({ ...linkToJson(c), signers: [...c.signers], signature: toHex(c.signature) });

/** Inverse of certificateToWire. @throws InputError naming the field */
export function certificateFromWire(value: unknown, path: string): Certificate {
  const o = aobject(value, path, ['era', 'source', 'target', 'signers', 'signature']);
  if (!Array.isArray(o.signers) || o.signers.length > MAX_VIEW_SIGNERS)
    throw new InputError(`${path}.signers`, 'expected an array of member indices');
  return {
    era: BigInt(asafeUint(o.era, `${path}.era`)),
    source: checkpointFromJson(o.source, `${path}.source`),
    target: checkpointFromJson(o.target, `${path}.target`),
    signers: o.signers.map((x, i) => asafeUint(x, `${path}.signers[${i}]`)),
    signature: fromHex(o.signature, 48, `${path}.signature`),
  };
}

/** Most signers (and statements) a view certificate carries. */
const MAX_VIEW_SIGNERS = 1024;

const viewStateToJson = (s: ViewState) => ({ justified: checkpointToJson(s.justified), lastTarget: s.lastTarget });

function viewStateFromJson(value: unknown, path: string): ViewState {
  const o = aobject(value, path, ['justified', 'lastTarget']);
  return { justified: checkpointFromJson(o.justified, `${path}.justified`), lastTarget: asafeUint(o.lastTarget, `${path}.lastTarget`) };
}

export const viewChangeToJson = (c: ViewChange) => ({
  era: Number(c.era),
  view: c.view,
  member: c.member,
  signature: toHex(c.signature),
  state: viewStateToJson(c.state),
  stateSignature: toHex(c.stateSignature),
  ...(c.justification ? { justification: certificateToWire(c.justification) } : {}),
});

export function viewChangeFromJson(value: unknown, path = 'change'): ViewChange {
  const o = aobject(value, path, ['era', 'view', 'member', 'signature', 'state', 'stateSignature'], ['justification']);
  return {
    era: BigInt(asafeUint(o.era, `${path}.era`)),
    view: asafeUint(o.view, `${path}.view`),
    member: asafeUint(o.member, `${path}.member`),
    signature: fromHex(o.signature, 48, `${path}.signature`),
    state: viewStateFromJson(o.state, `${path}.state`),
    stateSignature: fromHex(o.stateSignature, 48, `${path}.stateSignature`),
    ...(o.justification === undefined ? {} : { justification: certificateFromWire(o.justification, `${path}.justification`) }),
  };
}

export const viewCertificateToJson = (c: ViewCertificate) => ({
  era: Number(c.era),
  view: c.view,
  signers: [...c.signers],
  signature: toHex(c.signature),
  states: c.states.map((s) => ({ member: s.member, state: viewStateToJson(s.state), signature: toHex(s.signature) })),
  ...(c.justification ? { justification: certificateToWire(c.justification) } : {}),
});

export function viewCertificateFromJson(value: unknown, path = 'certificate'): ViewCertificate {
  const o = aobject(value, path, ['era', 'view', 'signers', 'signature', 'states'], ['justification']);
  if (!Array.isArray(o.signers) || o.signers.length > MAX_VIEW_SIGNERS)
    throw new InputError(`${path}.signers`, 'expected an array of member indices');
  if (!Array.isArray(o.states) || o.states.length > MAX_VIEW_SIGNERS)
    throw new InputError(`${path}.states`, 'expected an array of statements');
  return {
    era: BigInt(asafeUint(o.era, `${path}.era`)),
    view: asafeUint(o.view, `${path}.view`),
    signers: o.signers.map((x, i) => asafeUint(x, `${path}.signers[${i}]`)),
    signature: fromHex(o.signature, 48, `${path}.signature`),
    states: o.states.map((x, i) => {
      const s = aobject(x, `${path}.states[${i}]`, ['member', 'state', 'signature']);
      return {
        member: asafeUint(s.member, `${path}.states[${i}].member`),
        state: viewStateFromJson(s.state, `${path}.states[${i}].state`),
        signature: fromHex(s.signature, 48, `${path}.states[${i}].signature`),
      };
    }),
    ...(o.justification === undefined ? {} : { justification: certificateFromWire(o.justification, `${path}.justification`) }),
  };
}
