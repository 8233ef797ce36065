/**
 * Ledger accounts as stored in the state tree. Kept apart from ledger.ts (which imports node:crypto
 * for ed25519) so a browser verifier can decode a proven account with this module and smt.ts alone.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, readU64, u64 } from './bytes.js';
import type { Hash } from './smt.js';

/** An account's state. Both fields are u64. */
export interface Account {
  readonly balance: bigint;
  readonly nonce: bigint; // the nonce the account's next transaction must carry
}

export const ACCOUNT_BYTES = 16;

/** Fixed 16 bytes: balance(u64) || nonce(u64), big-endian. Throws InputError outside u64. */
export function encodeAccount(account: Account): Uint8Array {
  const out = new Uint8Array(ACCOUNT_BYTES);
  out.set(u64(account.balance, 'account.balance'), 0);
  out.set(u64(account.nonce, 'account.nonce'), 8);
  return out;
}

/** Inverse of encodeAccount. Throws InputError (field `account`) unless given exactly 16 bytes. */
export function decodeAccount(bytes: Uint8Array): Account {
  abytes(bytes, ACCOUNT_BYTES, 'account');
  return { balance: readU64(bytes, 0), nonce: readU64(bytes, 8) };
}

/**
 * Tree key of an account: sha256(public key). Hashing (rather than using the 32-byte key itself) matters
 * because anyone can send to any 32 bytes: raw keys would let a sender pick recipients sharing a long
 * prefix and force deep paths for free, while hashed keys make each shared bit cost a doubling of work.
 */
export function accountKey(publicKey: Uint8Array): Hash {
  return sha256(abytes(publicKey, 32, 'publicKey'));
}
