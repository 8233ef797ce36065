/**
 * Funded accounts beyond the ten dev accounts, for a chain started at a realistic state size
 * (`npm start -- --accounts N`, the benches): account i (0-based) has the ed25519 secret key
 * sha256(ascii("afg-account-" + i)) and a genesis balance of 1_000_000_000, like a dev account.
 * Anyone can derive these keys: they are for local chains and benchmarks, never for value.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii, concatBytes } from './bytes.js';
import { DEV_GENESIS_BALANCE } from './chain.js';
import { InputError } from './errors.js';

/** Most funded accounts a chain is started with (1e6 builds in about a minute in memory; writing it takes longer). */
export const MAX_GENESIS_ACCOUNTS = 1_000_000;

/** ed25519 secret key (seed) of funded account i: sha256("afg-account-" + i). */
export function accountSecretKey(index: number): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) throw new InputError('index', `expected a non-negative integer, got ${index}`);
  return sha256(ascii(`afg-account-${index}`));
}

// DER prefix of a raw 32-byte ed25519 seed (RFC 8410), for the native public key derivation.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** The public key of a 32-byte seed through node:crypto (several times faster than the pure-JS path for many keys). */
function publicKeyOf(seed: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' });
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

const cache = new Map<number, readonly { readonly account: Uint8Array; readonly balance: bigint }[]>();

/**
 * The first `count` funded accounts (public key and genesis balance), in index order. The same
 * array is returned for the same count (it identifies the genesis in caches).
 * @throws InputError when count is not an integer in 0..MAX_GENESIS_ACCOUNTS.
 */
export function fundedAccounts(count: number): readonly { readonly account: Uint8Array; readonly balance: bigint }[] {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_GENESIS_ACCOUNTS)
    throw new InputError('accounts', `expected an integer in 0..${MAX_GENESIS_ACCOUNTS}, got ${count}`);
  let list = cache.get(count);
  if (!list) {
    list = Array.from({ length: count }, (_, i) => ({ account: publicKeyOf(accountSecretKey(i)), balance: DEV_GENESIS_BALANCE }));
    cache.set(count, list);
  }
  return list;
}
