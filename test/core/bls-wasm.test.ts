/**
 * The WebAssembly verifier (lib/core/bls-wasm.ts) against the reference (lib/core/bls.ts): the same
 * answer (blsCrypto.verify: false, never a throw, on malformed input) on the published vectors and on
 * generated valid, tampered and malformed inputs.
 */
import { createHash } from 'node:crypto';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { deal, publicKeyOf, SIGNATURE_LENGTH, signShare, verifySignature } from '../../lib/core/bls.js';
import { wasmBlsCrypto } from '../../lib/core/bls-wasm.js';
import { fromHex } from '../../lib/core/bytes.js';
import { blsCrypto, type ThresholdCrypto } from '../../lib/core/crypto.js';
import { contract, loadVectors } from '../helpers/vectors.js';

const bytes = (hex: string) => fromHex(hex, undefined, 'vector');

let wasm: ThresholdCrypto;
beforeAll(async () => {
  wasm = await wasmBlsCrypto();
});

describe('wasm verification agrees with the reference', () => {
  it('accepts the contract vectors: every partial under its member key, the group signature under the group key', () => {
    const v = contract();
    const message = bytes(v.vote.signingBytes);
    for (const p of v.vote.partials as { index: number; signature: string }[]) {
      const member = (v.threshold.members as { index: number; publicKey: string }[]).find((m) => m.index === p.index)!;
      expect(wasm.verify(bytes(member.publicKey), message, bytes(p.signature)), `partial ${p.index}`).toBe(true);
      // A partial is not the group signature, and not another member's.
      expect(wasm.verify(bytes(v.threshold.groupPublicKey), message, bytes(p.signature))).toBe(false);
    }
    expect(wasm.verify(bytes(v.threshold.groupPublicKey), message, bytes(v.vote.groupSignature))).toBe(true);
  });

  it('accepts the drand quicknet beacon (the same scheme) and refuses it for another round', () => {
    const beacon = loadVectors('drand-quicknet-1000.json');
    const roundMessage = (round: number) => {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(round));
      return new Uint8Array(createHash('sha256').update(bytes).digest());
    };
    const [pk, sig] = [bytes(beacon.publicKey), bytes(beacon.signature)];
    expect(wasm.verify(pk, roundMessage(beacon.round), sig)).toBe(true);
    expect(verifySignature(pk, roundMessage(beacon.round), sig)).toBe(true);
    expect(wasm.verify(pk, roundMessage(beacon.round + 1), sig)).toBe(false);
  });

  it('property: the same answer as bls.ts for genuine, wrong-key, wrong-message and tampered signatures', () => {
    const dealing = deal(4, 3);
    const keys = dealing.shares.map((s) => s.publicKey);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom('genuine', 'other-message', 'flip-bit', 'random-bytes', 'infinity', 'short'),
        fc.integer({ min: 0, max: SIGNATURE_LENGTH * 8 - 1 }),
        (message, signer, checkedAs, tamper, bit) => {
          let signature = signShare(dealing.shares[signer]!.secretKey, message);
          let checked = message;
          if (tamper === 'other-message') checked = Uint8Array.from([...message, 1]);
          if (tamper === 'flip-bit') {
            signature = Uint8Array.from(signature);
            signature[bit >> 3]! ^= 1 << (bit & 7);
          }
          if (tamper === 'random-bytes') signature = new Uint8Array(createHash('sha384').update(message).digest());
          if (tamper === 'infinity') signature = bls12_381.G1.Point.ZERO.toBytes();
          if (tamper === 'short') signature = signature.slice(1);
          const expected = blsCrypto.verify(keys[checkedAs]!, checked, signature);
          expect(wasm.verify(keys[checkedAs]!, checked, signature)).toBe(expected);
          if (tamper === 'genuine') expect(expected).toBe(signer === checkedAs);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses malformed and non-subgroup public keys as the reference does', () => {
    const dealing = deal(4, 3);
    const message = new Uint8Array([1, 2, 3]);
    const signature = signShare(dealing.shares[0]!.secretKey, message);
    const good = dealing.shares[0]!.publicKey;
    const candidates = [
      bls12_381.G2.Point.ZERO.toBytes(), // the point at infinity
      good.slice(0, 95),
      Uint8Array.from(good, (b, i) => (i === 50 ? b ^ 0xff : b)), // off the curve, or not a point at all
      new Uint8Array(96).fill(0xff),
      publicKeyOf(dealing.shares[1]!.secretKey),
    ];
    for (const key of candidates) expect(wasm.verify(key, message, signature)).toBe(blsCrypto.verify(key, message, signature));
    expect(wasm.verify(good, message, signature)).toBe(true);
  });
});
