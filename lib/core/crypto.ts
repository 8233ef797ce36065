/**
 * The signature operations the roles perform, behind one interface so the caller decides how they
 * run (grandpa's Environment signs for the voter the same way): the default is threshold BLS
 * (bls.ts); the simulation passes a memoizing wrapper, tests may count calls. Roles reach it
 * through their ChainContext and never import bls.ts themselves.
 */
import { type CertifyParams, type CertifyResult, certify, combine, type PartialSignature, signShare, verifySignature } from './bls.js';

export interface ThresholdCrypto {
  /** A member's partial signature over `message` with its 32-byte key share. */
  signShare(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** A plain BLS verification (a partial under a member key, a certificate under the group key). False on any malformed input; never throws. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** Combines partials into a group signature that verifies under the group key (see bls.certify). */
  certify(message: Uint8Array, partials: PartialSignature[], params: CertifyParams): CertifyResult;
  /**
   * Lagrange-combines the first `threshold` distinct partials without verifying anything (bls.combine):
   * for partials each verified under member keys that match the group key's dealing (checked at start-up
   * against the Feldman commitments), the result is the group signature. Throws CryptoError on bad input.
   */
  combine(partials: PartialSignature[], threshold: number): Uint8Array;
}

/** Threshold BLS12-381 (DESIGN.md section 4). */
export const blsCrypto: ThresholdCrypto = {
  signShare,
  verify(publicKey, message, signature) {
    try {
      return verifySignature(publicKey, message, signature);
    } catch {
      return false;
    }
  },
  certify,
  combine,
};
