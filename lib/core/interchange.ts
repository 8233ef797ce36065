/**
 * Slashing-protection interchange in the EIP-3076 format, version 5: how a member's signing history
 * leaves one deployment (export) and enters another, or the same one after a restore (import).
 *
 * Mapping onto afg (an afg vote is an FFG link, like an Ethereum attestation):
 * - `pubkey`: the member's key share public key, 0x-prefixed hex of the 96-byte G2 point. On import
 *   any non-empty hex string is accepted and compared as an opaque id;
 * - `metadata.genesis_validators_root`: the chain id (32 bytes, 0x hex). An interchange for another
 *   chain is refused;
 * - `source_epoch` / `target_epoch`: the link's source and target checkpoint heights;
 * - `signing_root`: sha256 of the vote's 195 signing bytes (DESIGN.md section 4; not Ethereum's
 *   SSZ `compute_signing_root`, which does not apply to afg votes). Accepted and ignored on import;
 * - `signed_blocks`: afg validators sign no blocks. Validated and ignored on import, empty on export.
 *
 * afg keeps a watermark per member (minimal strategy, see Watermark in slashing.ts), so import
 * minifies: each pubkey's attestations collapse to (max source, max target), which forbids every link
 * that could conflict with any of them. An interchange that is slashable within itself (two of its
 * attestations form a double or surround vote) is therefore imported minified, not refused: the
 * maxima forbid everything either attestation could conflict with. Unknown JSON fields are ignored,
 * as the EIP's schema allows them.
 *
 * Pure functions: no I/O, no clock. Parsing throws InputError naming the JSON path of the bad value.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, parseU64Decimal, toHex } from './bytes.js';
import { voteSigningBytes } from './codec.js';
import { InputError } from './errors.js';
import type { Watermark } from './slashing.js';
import type { Link } from './types.js';

export const INTERCHANGE_FORMAT_VERSION = '5';

/** One signed attestation (an afg link) as heights; the signing root only identifies a repeat. */
export interface InterchangeAttestation {
  readonly sourceEpoch: number;
  readonly targetEpoch: number;
  readonly signingRoot?: Uint8Array;
}

/** An Ethereum block proposal: validated, never used by afg. */
export interface InterchangeBlock {
  readonly slot: bigint;
  readonly signingRoot?: Uint8Array;
}

export interface InterchangeRecord {
  /** Lowercase hex without the 0x prefix (the form used to compare keys). */
  readonly pubkey: string;
  readonly signedBlocks: readonly InterchangeBlock[];
  readonly signedAttestations: readonly InterchangeAttestation[];
}

/** A parsed and validated interchange document. */
export interface Interchange {
  readonly genesisValidatorsRoot: Uint8Array;
  readonly data: readonly InterchangeRecord[];
}

/** The JSON form, as written by exportInterchange (EIP-3076 field names). */
export interface InterchangeJson {
  readonly metadata: { readonly interchange_format_version: string; readonly genesis_validators_root: string };
  readonly data: readonly {
    readonly pubkey: string;
    readonly signed_blocks: readonly { readonly slot: string; readonly signing_root?: string }[];
    readonly signed_attestations: readonly {
      readonly source_epoch: string;
      readonly target_epoch: string;
      readonly signing_root?: string;
    }[];
  }[];
}

// ---------------------------------------------------------------- parsing

type Obj = Record<string, unknown>;

function object(value: unknown, path: string, required: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(path, 'expected an object');
  const o = value as Obj;
  for (const k of required) if (!(k in o)) throw new InputError(`${path}.${k}`, 'missing');
  return o;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new InputError(path, 'expected an array');
  return value;
}

const HEX_0X = /^0x(?:[0-9a-fA-F]{2})+$/;

/** 0x-prefixed hex (either case) of `bytes` bytes (any non-zero length when undefined); returns lowercase hex without prefix. */
function hex0x(value: unknown, bytes: number | undefined, path: string): string {
  if (typeof value !== 'string' || !HEX_0X.test(value)) throw new InputError(path, 'expected 0x-prefixed hex');
  if (bytes !== undefined && value.length !== 2 + bytes * 2)
    throw new InputError(path, `expected ${bytes} bytes (${bytes * 2} hex characters after 0x), got ${value.length - 2}`);
  return value.slice(2).toLowerCase();
}

function bytesOf(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A u64 decimal string that must also be a height afg can hold (a safe integer). */
function height(value: unknown, path: string): number {
  const v = parseU64Decimal(value, path);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new InputError(path, `exceeds the highest height afg supports (${Number.MAX_SAFE_INTEGER})`);
  return Number(v);
}

function signingRootOf(o: Obj, path: string): { signingRoot?: Uint8Array } {
  return o.signing_root === undefined ? {} : { signingRoot: bytesOf(hex0x(o.signing_root, 32, `${path}.signing_root`)) };
}

/**
 * Validates an EIP-3076 version 5 document (already parsed from JSON) and returns it in typed form.
 * Throws InputError naming the JSON path of the first bad value, e.g.
 * `data[0].signed_attestations[2].target_epoch: expected a decimal string without sign or leading zeros`.
 * @example parseInterchange(JSON.parse(await readFile(file, 'utf8')))
 */
export function parseInterchange(value: unknown): Interchange {
  const doc = object(value, 'interchange', ['metadata', 'data']);
  const meta = object(doc.metadata, 'metadata', ['interchange_format_version', 'genesis_validators_root']);
  if (meta.interchange_format_version !== INTERCHANGE_FORMAT_VERSION)
    throw new InputError(
      'metadata.interchange_format_version',
      `expected "${INTERCHANGE_FORMAT_VERSION}" (EIP-3076 version 5), got ${JSON.stringify(meta.interchange_format_version)}`,
    );
  const genesisValidatorsRoot = bytesOf(hex0x(meta.genesis_validators_root, 32, 'metadata.genesis_validators_root'));
  const data = array(doc.data, 'data').map((entry, i): InterchangeRecord => {
    const path = `data[${i}]`;
    const r = object(entry, path, ['pubkey', 'signed_blocks', 'signed_attestations']);
    return {
      pubkey: hex0x(r.pubkey, undefined, `${path}.pubkey`),
      signedBlocks: array(r.signed_blocks, `${path}.signed_blocks`).map((b, j) => {
        const p = `${path}.signed_blocks[${j}]`;
        const o = object(b, p, ['slot']);
        return { slot: parseU64Decimal(o.slot, `${p}.slot`), ...signingRootOf(o, p) };
      }),
      signedAttestations: array(r.signed_attestations, `${path}.signed_attestations`).map((a, j) => {
        const p = `${path}.signed_attestations[${j}]`;
        const o = object(a, p, ['source_epoch', 'target_epoch']);
        return {
          sourceEpoch: height(o.source_epoch, `${p}.source_epoch`),
          targetEpoch: height(o.target_epoch, `${p}.target_epoch`),
          ...signingRootOf(o, p),
        };
      }),
    };
  });
  return { genesisValidatorsRoot, data };
}

// ---------------------------------------------------------------- import

/** The pointwise maximum of two watermarks (`a` may be absent): merging never lowers either height. */
export function mergeWatermarks(a: Watermark | undefined, b: Watermark): Watermark {
  return {
    lastSourceHeight: Math.max(a?.lastSourceHeight ?? 0, b.lastSourceHeight),
    lastTargetHeight: Math.max(a?.lastTargetHeight ?? 0, b.lastTargetHeight),
  };
}

/**
 * Minifies an interchange for a chain: per pubkey (lowercase hex, no 0x), the watermark made of the
 * maximum source and maximum target over all its attestations, entries with the same pubkey merged;
 * undefined for a pubkey listed with no attestations. Signing roots and blocks play no part.
 * Throws InputError at `metadata.genesis_validators_root` when the document is for another chain.
 */
export function minifyInterchange(doc: Interchange, chainId: Uint8Array): Map<string, Watermark | undefined> {
  if (!equalBytes(doc.genesisValidatorsRoot, chainId))
    throw new InputError(
      'metadata.genesis_validators_root',
      `0x${toHex(doc.genesisValidatorsRoot)} is another chain (this chain's id is 0x${toHex(chainId)}); nothing imported`,
    );
  const out = new Map<string, Watermark | undefined>();
  for (const record of doc.data) {
    let w = out.get(record.pubkey);
    for (const a of record.signedAttestations) w = mergeWatermarks(w, { lastSourceHeight: a.sourceEpoch, lastTargetHeight: a.targetEpoch });
    out.set(record.pubkey, w);
  }
  return out;
}

// ---------------------------------------------------------------- export

/** sha256 of the vote's signing bytes: the `signing_root` afg writes for a link. */
export function voteSigningRoot(chainId: Uint8Array, link: Link): Uint8Array {
  return sha256(voteSigningBytes(chainId, link));
}

/** What one member's protection consists of, as read from its store. */
export interface MemberProtection {
  readonly chainId: Uint8Array;
  /** The member's 96-byte key share public key. */
  readonly pubkey: Uint8Array;
  /** The stored watermark; undefined when the member has signed (and imported) nothing. */
  readonly watermark?: Watermark;
  /** The last link the member signed in this deployment, if the store holds one. */
  readonly last?: Link;
}

/**
 * One member's protection as an EIP-3076 v5 document with one attestation: (max source, max target)
 * of the watermark and the last signed link together. The attestation carries the signing root of
 * the last link when that link is the watermark itself (no import raised it beyond), and none
 * otherwise. A member with nothing signed gets an empty `signed_attestations`; `signed_blocks` is
 * always empty.
 */
export function exportInterchange(p: MemberProtection): InterchangeJson {
  const fromLink = p.last && { lastSourceHeight: p.last.source.height, lastTargetHeight: p.last.target.height };
  const w = fromLink ? mergeWatermarks(p.watermark, fromLink) : p.watermark;
  const sameAsLast =
    p.last !== undefined && w !== undefined && w.lastSourceHeight === p.last.source.height && w.lastTargetHeight === p.last.target.height;
  return {
    metadata: { interchange_format_version: INTERCHANGE_FORMAT_VERSION, genesis_validators_root: `0x${toHex(p.chainId)}` },
    data: [
      {
        pubkey: `0x${toHex(p.pubkey)}`,
        signed_blocks: [],
        signed_attestations:
          w === undefined
            ? []
            : [
                {
                  source_epoch: String(w.lastSourceHeight),
                  target_epoch: String(w.lastTargetHeight),
                  ...(sameAsLast ? { signing_root: `0x${toHex(voteSigningRoot(p.chainId, p.last!))}` } : {}),
                },
              ],
      },
    ],
  };
}
