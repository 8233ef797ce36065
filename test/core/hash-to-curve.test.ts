/** RFC 9380 conformance of the hash-to-curve we sign with (G1, XMD:SHA-256, SSWU, random oracle). */
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { BLS_DST, hashToG1, hashToG1WithDst } from '../../lib/core/bls.js';
import { ascii, toHex } from '../../lib/core/bytes.js';
import { loadVectors } from '../helpers/vectors.js';

interface H2CVectors {
  dst: string;
  ciphersuite: string;
  vectors: { msg: string; P: { x: string; y: string } }[];
}
interface XmdVectors {
  DST: string;
  tests: { msg: string; len_in_bytes: string; uniform_bytes: string }[];
}

const h2c = loadVectors<H2CVectors>('hash-to-curve-BLS12381G1_XMD-SHA-256_SSWU_RO_.json');
const xmd = loadVectors<XmdVectors>('expand_message_xmd_SHA256_38.json');

function affine(compressed: Uint8Array): { x: bigint; y: bigint } {
  return bls12_381.G1.Point.fromBytes(compressed).toAffine();
}

describe('RFC 9380 hash_to_curve BLS12381G1_XMD:SHA-256_SSWU_RO_', () => {
  it('the suite and DST are the ones our BLS_DST is built from', () => {
    expect(h2c.ciphersuite).toBe('BLS12381G1_XMD:SHA-256_SSWU_RO_');
    expect(BLS_DST).toBe(`BLS_SIG_${h2c.ciphersuite}NUL_`);
  });

  for (const v of h2c.vectors) {
    const label = v.msg.length > 16 ? `${v.msg.slice(0, 16)}...` : JSON.stringify(v.msg);
    it(`maps ${label} to the published point`, () => {
      const P = affine(hashToG1WithDst(ascii(v.msg), h2c.dst));
      expect(P.x).toBe(BigInt(v.P.x));
      expect(P.y).toBe(BigInt(v.P.y));
    });
  }

  it('a different DST or a changed message gives a different point', () => {
    const v = h2c.vectors[1]!;
    const expected = BigInt(v.P.x);
    expect(affine(hashToG1WithDst(ascii(v.msg), BLS_DST)).x).not.toBe(expected);
    expect(affine(hashToG1WithDst(ascii(`${v.msg}x`), h2c.dst)).x).not.toBe(expected);
  });

  it('hashToG1 uses BLS_DST: equals the explicit-DST hash and noble min-sig hash, not the test-suite DST', () => {
    const msg = ascii('afg');
    expect(toHex(hashToG1(msg))).toBe(toHex(hashToG1WithDst(msg, BLS_DST)));
    expect(toHex(hashToG1(msg))).toBe(toHex(bls12_381.shortSignatures.hash(msg).toBytes()));
    expect(toHex(hashToG1(msg))).not.toBe(toHex(hashToG1WithDst(msg, h2c.dst)));
  });

  it('refuses a non-bytes message with an InputError naming the field', () => {
    expect(() => hashToG1('abc' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', meta: { field: 'message' } }),
    );
  });
});

describe('RFC 9380 expand_message_xmd(SHA-256)', () => {
  for (const v of xmd.tests) {
    const len = Number(v.len_in_bytes);
    it(`expands ${JSON.stringify(v.msg.slice(0, 12))} to ${len} bytes`, () => {
      expect(toHex(expand_message_xmd(ascii(v.msg), xmd.DST, len, sha256))).toBe(v.uniform_bytes);
    });
  }

  it('a one-byte change of DST changes the output', () => {
    const v = xmd.tests[0]!;
    const out = expand_message_xmd(ascii(v.msg), `${xmd.DST.slice(0, -1)}9`, Number(v.len_in_bytes), sha256);
    expect(toHex(out)).not.toBe(v.uniform_bytes);
  });
});
