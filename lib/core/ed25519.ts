/**
 * ed25519 for transaction signatures. Verification uses Node's native crypto (OpenSSL), which
 * `npm run bench:crypto` measures at several times the speed of pure-JS @noble/curves; the noble
 * implementation is kept for runtimes without node:crypto (the browser verifier never needs ed25519).
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { abytes, concatBytes } from './bytes.js';

// DER prefixes for raw 32-byte ed25519 keys (RFC 8410).
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

const publicKeyCache = new Map<string, KeyObject | null>();

function nativePublicKey(publicKey: Uint8Array): KeyObject | null {
  const id = Buffer.from(publicKey).toString('hex');
  let key = publicKeyCache.get(id);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' });
    } catch {
      key = null; // not a valid curve point
    }
    if (publicKeyCache.size > 100_000) publicKeyCache.clear();
    publicKeyCache.set(id, key);
  }
  return key;
}

/** Public key (32 bytes) of a 32-byte ed25519 secret seed. */
export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(abytes(secretKey, 32, 'secretKey'));
}

/** Signs `message` with a 32-byte seed; returns the 64-byte signature. */
export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const key = createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_PREFIX, abytes(secretKey, 32, 'secretKey'))),
    format: 'der',
    type: 'pkcs8',
  });
  return new Uint8Array(nodeSign(null, message, key));
}

/** Native verification; false (never a throw) for a malformed key or signature. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  const key = nativePublicKey(publicKey);
  if (!key) return false;
  return nodeVerify(null, message, key, signature);
}

/** Pure-JS verification (@noble/curves), for comparison and for runtimes without node:crypto. */
export function ed25519VerifyNoble(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed25519.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
