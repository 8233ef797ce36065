import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { txSigningBytes } from '../../lib/core/codec.js';
import { ed25519PublicKey, ed25519Sign, ed25519Verify, ed25519VerifyNoble } from '../../lib/core/ed25519.js';
import { contract } from '../helpers/vectors.js';

const v = contract();

describe('dev accounts', () => {
  it('derive the contract secret and public keys', () => {
    for (const acct of v.devAccounts) {
      expect(toHex(devSecretKey(acct.index))).toBe(acct.secretKey);
      expect(toHex(ed25519PublicKey(devSecretKey(acct.index)))).toBe(acct.publicKey);
    }
  });
});

describe('ed25519', () => {
  const t = v.transaction;
  const msg = txSigningBytes(LOCAL_CHAIN_ID, {
    from: fromHex(t.from, 32, 'from'),
    to: fromHex(t.to, 32, 'to'),
    amount: BigInt(t.amount),
    nonce: BigInt(t.nonce),
  });
  const sig = fromHex(t.signature, 64, 'signature');
  const pk = fromHex(t.from, 32, 'from');

  it('signs the contract transfer exactly as the vector (deterministic)', () => {
    expect(toHex(ed25519Sign(msg, devSecretKey(0)))).toBe(t.signature);
  });
  it('native and noble agree on valid and tampered signatures', () => {
    expect(ed25519Verify(sig, msg, pk)).toBe(true);
    expect(ed25519VerifyNoble(sig, msg, pk)).toBe(true);
    const bad = sig.slice();
    bad[5] = bad[5]! ^ 1;
    expect(ed25519Verify(bad, msg, pk)).toBe(false);
    expect(ed25519VerifyNoble(bad, msg, pk)).toBe(false);
    const otherMsg = msg.slice();
    otherMsg[msg.length - 1] = otherMsg[msg.length - 1]! ^ 1;
    expect(ed25519Verify(sig, otherMsg, pk)).toBe(false);
  });
  it('returns false for malformed keys and signatures instead of throwing', () => {
    expect(ed25519Verify(sig.subarray(1), msg, pk)).toBe(false);
    expect(ed25519Verify(sig, msg, new Uint8Array(31))).toBe(false);
    expect(ed25519VerifyNoble(sig, msg, new Uint8Array(32).fill(0xff))).toBe(false);
  });
});
