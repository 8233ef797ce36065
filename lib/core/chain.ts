/** The local development chain (fixed contract): chain id and the ten dev accounts. */
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii } from './bytes.js';

export const LOCAL_CHAIN_ID: Uint8Array = sha256(ascii('afg-local'));
export const DEV_ACCOUNT_COUNT = 10;
export const DEV_GENESIS_BALANCE = 1_000_000_000n;

/** ed25519 secret key (seed) of dev account i: sha256("afg-dev-account-" + i). */
export function devSecretKey(index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= DEV_ACCOUNT_COUNT) throw new RangeError(`dev account index ${index} not in 0..9`);
  return sha256(ascii(`afg-dev-account-${index}`));
}
