/**
 * Byte helpers and named asserts used at every boundary of the protocol core.
 * Messages name the field so a caller can tell exactly which input was wrong.
 */
import { InputError } from './errors.js';

export const U64_MAX = (1n << 64n) - 1n;

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Asserts `value` is a Uint8Array, optionally of exactly `length` bytes. Throws InputError. */
export function abytes(value: unknown, length: number | undefined, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InputError(field, 'expected bytes');
  if (length !== undefined && value.length !== length) throw new InputError(field, `expected ${length} bytes, got ${value.length}`);
  return value;
}

/** Decodes lowercase hex without a 0x prefix; `length` is in bytes. Throws InputError naming `field`. */
export function fromHex(hex: unknown, length: number | undefined, field: string): Uint8Array {
  if (typeof hex !== 'string') throw new InputError(field, 'expected a hex string');
  if (!HEX_RE.test(hex)) throw new InputError(field, 'expected lowercase hex without 0x prefix');
  if (length !== undefined && hex.length !== length * 2)
    throw new InputError(field, `expected ${length} bytes (${length * 2} hex chars), got ${hex.length} hex chars`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const HEX_TABLE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of `bytes`, no prefix. Browser-safe (no Buffer), like everything in lib/core/bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_TABLE[bytes[i]!];
  return out;
}

/** Big-endian u64. Throws InputError when `value` is outside [0, 2^64 - 1]. */
export function u64(value: bigint | number, field = 'u64'): Uint8Array {
  const v = typeof value === 'number' ? BigInt(value) : value;
  if (v < 0n || v > U64_MAX) throw new InputError(field, 'out of u64 range');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

/** Reads a big-endian u64 at `offset`. */
export function readU64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, false);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Parses a decimal string into a u64 bigint. Throws InputError naming `field`. */
export function parseU64Decimal(value: unknown, field: string): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]*)$/.test(value))
    throw new InputError(field, 'expected a decimal string without sign or leading zeros');
  const v = BigInt(value);
  if (v > U64_MAX) throw new InputError(field, 'exceeds u64 maximum 18446744073709551615');
  return v;
}

/** Asserts a non-negative safe integer (heights, indices). */
export function asafeUint(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new InputError(field, 'expected a non-negative integer');
  return value;
}
