/**
 * An append-only key-value registry: the second application behind the plug-in interface
 * (state-machine.ts), and the event-sourcing case (a ledger of facts nobody can rewrite). It proves
 * that a transaction type lives in its own module: the pipeline, the sequencer and the API know
 * nothing of it beyond its ApplicationDefinition.
 *
 * A registration binds `key` to `value` for good, signed with ed25519 by `owner`:
 *   signing bytes: "AFG-REG-V1" || chainId(32) || owner(32) || len(key) u64 || key || len(value) u64 || value || nonce u64
 *   id: sha256(signing bytes || signature)
 * Rules, in this order: MALFORMED (lengths), BAD_SIGNATURE, BAD_NONCE (the owner's next nonce, 0 at
 * first; a higher one may become valid later), KEY_TAKEN (a key is registered once, by anyone).
 *
 * State (sparse Merkle tree): sha256("AFG-REG-ENTRY" || key) -> owner(32) || value, and
 * sha256("AFG-REG-NONCE" || owner) -> nonce u64 (the owner's next nonce; absent means 0).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, ascii, concatBytes, equalBytes, fromHex, parseU64Decimal, readU64, toHex, U64_MAX, u64 } from './bytes.js';
import { ed25519PublicKey, ed25519Sign, ed25519Verify } from './ed25519.js';
import { InputError } from './errors.js';
import { EMPTY_ROOT, type Hash, hexOf, type SmtChange, type SparseMerkleTree } from './smt.js';
import type {
  Admission,
  Application,
  ApplicationDefinition,
  ExecutionRejection,
  ExecutionResult,
  SenderState,
  StateRead,
  TransactionCodec,
} from './state-machine.js';
import { aobject } from './wire.js';

export const MAX_KEY_BYTES = 64;
export const MAX_VALUE_BYTES = 1024;

export interface Registration {
  readonly owner: Uint8Array; // 32-byte ed25519 public key
  readonly key: Uint8Array; // 1..64 bytes
  readonly value: Uint8Array; // 0..1024 bytes
  readonly nonce: bigint; // u64
  readonly signature: Uint8Array; // 64-byte ed25519 signature
}

export type RegistryRejection = 'MALFORMED' | 'BAD_SIGNATURE' | 'BAD_NONCE' | 'KEY_TAKEN';

const SIGN_TAG = ascii('AFG-REG-V1');
const ENTRY_TAG = ascii('AFG-REG-ENTRY');
const NONCE_TAG = ascii('AFG-REG-NONCE');

/** What `owner` signs. Throws InputError on a malformed field. */
export function registrationSigningBytes(chainId: Uint8Array, r: Omit<Registration, 'signature'>): Uint8Array {
  const key = abytes(r.key, undefined, 'key');
  const value = abytes(r.value, undefined, 'value');
  return concatBytes(
    SIGN_TAG,
    abytes(chainId, 32, 'chainId'),
    abytes(r.owner, 32, 'owner'),
    u64(key.length),
    key,
    u64(value.length),
    value,
    u64(r.nonce, 'nonce'),
  );
}

/** Builds a signed registration from the owner's 32-byte ed25519 seed. */
export function signRegistration(
  chainId: Uint8Array,
  secretKey: Uint8Array,
  r: { key: Uint8Array; value: Uint8Array; nonce: bigint },
): Registration {
  const unsigned = { owner: ed25519PublicKey(secretKey), key: r.key, value: r.value, nonce: r.nonce };
  return { ...unsigned, signature: ed25519Sign(registrationSigningBytes(chainId, unsigned), secretKey) };
}

/** Tree key of a registry entry: sha256("AFG-REG-ENTRY" || key). */
export const entryKey = (key: Uint8Array): Hash => sha256(concatBytes(ENTRY_TAG, key));
const nonceKey = (owner: Uint8Array): Hash => sha256(concatBytes(NONCE_TAG, owner));

type Refusal = { ok: false; reason: RegistryRejection; message: string };

/** The registry's codec entry: id, JSON form and validation of a registration. */
export function registryCodec(chainId: Uint8Array): TransactionCodec<Registration> {
  return {
    hash: (r) => sha256(concatBytes(registrationSigningBytes(chainId, r), abytes(r.signature, 64, 'signature'))),
    toJson: (r) => ({
      owner: toHex(r.owner),
      key: toHex(r.key),
      value: toHex(r.value),
      nonce: r.nonce.toString(),
      signature: toHex(r.signature),
    }),
    fromJson(value, path) {
      const at = (k: string) => (path ? `${path}.${k}` : k);
      const o = aobject(value, path, ['owner', 'key', 'value', 'nonce', 'signature']);
      const key = fromHex(o.key, undefined, at('key'));
      if (key.length < 1 || key.length > MAX_KEY_BYTES) throw new InputError(at('key'), `expected 1..${MAX_KEY_BYTES} bytes`);
      const v = fromHex(o.value, undefined, at('value'));
      if (v.length > MAX_VALUE_BYTES) throw new InputError(at('value'), `expected at most ${MAX_VALUE_BYTES} bytes`);
      return {
        owner: fromHex(o.owner, 32, at('owner')),
        key,
        value: v,
        nonce: parseU64Decimal(o.nonce, at('nonce')),
        signature: fromHex(o.signature, 64, at('signature')),
      };
    },
  };
}

/** The registry over one chain's state tree. */
export class KeyValueRegistry implements Application<Registration> {
  private readonly codec: TransactionCodec<Registration>;

  constructor(
    private readonly chainId: Uint8Array,
    private readonly tree: SparseMerkleTree,
  ) {
    this.codec = registryCodec(chainId);
  }

  async genesis(): Promise<Hash> {
    return EMPTY_ROOT;
  }

  hash(r: Registration): Uint8Array {
    return this.codec.hash(r);
  }

  toJson(r: Registration): Record<string, unknown> {
    return this.codec.toJson(r);
  }

  fromJson(value: unknown, path: string): Registration {
    return this.codec.fromJson(value, path);
  }

  sender(r: Registration): Uint8Array {
    return r.owner;
  }

  sequence(r: Registration): bigint {
    return r.nonce;
  }

  /** A registration spends nothing. */
  spend(_r: Registration): bigint {
    return 0n;
  }

  /** The owner's next nonce; the budget is unlimited (registrations spend nothing). */
  async senderState(root: Hash, owner: Uint8Array): Promise<SenderState> {
    return { next: await this.nextNonce(root, owner), budget: U64_MAX };
  }

  private signatureOk(r: Registration): boolean {
    return ed25519Verify(r.signature, registrationSigningBytes(this.chainId, r), r.owner);
  }

  private async nextNonce(root: Hash, owner: Uint8Array): Promise<bigint> {
    const bytes = await this.tree.get(root, nonceKey(owner));
    return bytes ? readU64(bytes, 0) : 0n;
  }

  async admit(state: { root: Hash; height: number }, r: Registration): Promise<Admission> {
    if (!this.signatureOk(r))
      return { ok: false, code: 'BAD_SIGNATURE', message: 'signature: does not verify for this chain (AFG-REG-V1)' };
    const next = await this.nextNonce(state.root, r.owner);
    if (r.nonce < next)
      return {
        ok: false,
        code: 'STALE_NONCE',
        message: `nonce: ${r.nonce} is stale; the owner's next nonce at height ${state.height} is ${next}`,
      };
    if (await this.tree.get(state.root, entryKey(r.key)))
      return { ok: false, code: 'KEY_TAKEN', message: `key ${toHex(r.key)} is already registered` };
    return { ok: true };
  }

  async execute(root: Hash, txs: readonly Registration[]): Promise<ExecutionResult<RegistryRejection>> {
    abytes(root, 32, 'root');
    const nonces = new Map<string, bigint>(); // owner hex -> next nonce, as updated by this block
    const taken = new Set<string>(); // keys registered by this block
    const changes: SmtChange[] = [];
    const rejected: ExecutionRejection<RegistryRejection>[] = [];
    const refuse = (index: number, f: Refusal, retryable = false, sequenceUsed = false) =>
      rejected.push({ index, reason: f.reason, message: f.message, retryable, ...(sequenceUsed ? { sequenceUsed } : {}) });
    for (const [index, r] of txs.entries()) {
      if (!this.wellFormed(r)) {
        refuse(index, { ok: false, reason: 'MALFORMED', message: 'field lengths out of range' });
        continue;
      }
      if (!this.signatureOk(r)) {
        refuse(index, { ok: false, reason: 'BAD_SIGNATURE', message: 'signature does not verify' });
        continue;
      }
      const owner = hexOf(r.owner);
      const next = nonces.get(owner) ?? (await this.nextNonce(root, r.owner));
      if (r.nonce !== next || next === U64_MAX) {
        refuse(
          index,
          { ok: false, reason: 'BAD_NONCE', message: `nonce ${r.nonce}: the owner's next nonce is ${next}` },
          r.nonce > next,
          r.nonce < next,
        );
        continue;
      }
      const id = hexOf(r.key);
      if (taken.has(id) || (await this.tree.get(root, entryKey(r.key)))) {
        refuse(index, { ok: false, reason: 'KEY_TAKEN', message: `key ${id} is already registered` });
        continue;
      }
      taken.add(id);
      nonces.set(owner, next + 1n);
      changes.push({ key: entryKey(r.key), value: concatBytes(r.owner, r.value) });
    }
    for (const [owner, nonce] of nonces) changes.push({ key: nonceKey(fromHex(owner, 32, 'owner')), value: u64(nonce) });
    const { root: post, written } = await this.tree.update(root, changes);
    return { root: post, applied: taken.size, rejected, written };
  }

  async read(root: Hash, key: Uint8Array): Promise<StateRead> {
    const { value, proof } = await this.tree.prove(root, entryKey(key));
    const fields: Record<string, string> = { key: toHex(key) };
    if (value) {
      fields.owner = toHex(value.subarray(0, 32));
      fields.value = toHex(value.subarray(32));
    }
    return { fields, proof };
  }

  private wellFormed(r: Registration): boolean {
    const len = (b: unknown, min: number, max: number) => b instanceof Uint8Array && b.length >= min && b.length <= max;
    return (
      len(r.owner, 32, 32) &&
      len(r.key, 1, MAX_KEY_BYTES) &&
      len(r.value, 0, MAX_VALUE_BYTES) &&
      len(r.signature, 64, 64) &&
      typeof r.nonce === 'bigint' &&
      r.nonce >= 0n &&
      r.nonce <= U64_MAX
    );
  }
}

/** True when two registrations are the same signed fact. */
export const sameRegistration = (a: Registration, b: Registration): boolean =>
  equalBytes(a.owner, b.owner) && equalBytes(a.key, b.key) && a.nonce === b.nonce && equalBytes(a.signature, b.signature);

const hexBytes = (min: number, max: number, what: string) => ({
  type: 'string',
  pattern: `^([0-9a-f]{2}){${min},${max}}$`,
  description: `${what}: ${min === max ? min : `${min}..${max}`} bytes as lowercase hex`,
});

/** The registry application: registrations, the entry route and their schemas. */
export const registryApplication: ApplicationDefinition<Registration> = {
  name: 'registry',
  codec: registryCodec,
  create: (ctx) => new KeyValueRegistry(ctx.chainId, ctx.tree),
  transactionSchema: {
    type: 'object',
    properties: {
      owner: { $ref: '#/components/schemas/PublicKey' },
      key: hexBytes(1, MAX_KEY_BYTES, 'key'),
      value: hexBytes(0, MAX_VALUE_BYTES, 'value'),
      nonce: { $ref: '#/components/schemas/U64' },
      signature: { $ref: '#/components/schemas/Ed25519Signature' },
    },
    required: ['owner', 'key', 'value', 'nonce', 'signature'],
    additionalProperties: false,
  },
  admissionCodes: ['BAD_SIGNATURE', 'STALE_NONCE', 'KEY_TAKEN'],
  stateRoute: {
    path: '/v1/entries/{keyHex}',
    operationId: 'getEntry',
    summary: 'Registry entry at the latest finalized state, with proof and certificate (unregistered keys: an absence proof)',
    parameter: { name: 'keyHex', minBytes: 1, maxBytes: MAX_KEY_BYTES, description: 'registry key' },
    answerSchema: {
      type: 'object',
      properties: {
        key: hexBytes(1, MAX_KEY_BYTES, 'key'),
        owner: { $ref: '#/components/schemas/PublicKey' },
        value: hexBytes(0, MAX_VALUE_BYTES, 'value'),
        height: { $ref: '#/components/schemas/Height' },
        stateRoot: { $ref: '#/components/schemas/Hash' },
        proof: { $ref: '#/components/schemas/Proof' },
        certificate: { $ref: '#/components/schemas/MaybeCertificate' },
      },
      required: ['key', 'height', 'stateRoot', 'proof', 'certificate'],
      additionalProperties: false,
    },
  },
};
