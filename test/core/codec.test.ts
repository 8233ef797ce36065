import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, parseU64Decimal, toHex, u64 } from '../../lib/core/bytes.js';
import { LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { blockHash, decodeVoteSigningBytes, txSigningBytes, VOTE_SIGNING_BYTES_LENGTH, voteSigningBytes } from '../../lib/core/codec.js';
import { InputError } from '../../lib/core/errors.js';
import type { Link } from '../../lib/core/types.js';
import { contract } from '../helpers/vectors.js';

const v = contract();
const cp = (c: { height: number; hash: string; stateRoot: string }) => ({
  height: c.height,
  hash: fromHex(c.hash, 32, 'hash'),
  stateRoot: fromHex(c.stateRoot, 32, 'stateRoot'),
});
const vectorLink: Link = { era: BigInt(v.vote.link.era), source: cp(v.vote.link.source), target: cp(v.vote.link.target) };

describe('chain id', () => {
  it('is sha256("afg-local")', () => expect(toHex(LOCAL_CHAIN_ID)).toBe(v.chainId));
});

describe('vote signing bytes', () => {
  it('match the contract vector byte for byte', () => {
    const bytes = voteSigningBytes(LOCAL_CHAIN_ID, vectorLink);
    expect(bytes.length).toBe(195);
    expect(VOTE_SIGNING_BYTES_LENGTH).toBe(195);
    expect(toHex(bytes)).toBe(v.vote.signingBytes);
  });

  it('round-trip through decode for any link', () => {
    const checkpoint = fc.record({
      height: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      hash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      stateRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), checkpoint, checkpoint, (era, source, target) => {
        const bytes = voteSigningBytes(LOCAL_CHAIN_ID, { era, source, target });
        const decoded = decodeVoteSigningBytes(bytes);
        expect(toHex(decoded.chainId)).toBe(toHex(LOCAL_CHAIN_ID));
        expect(decoded.link.era).toBe(era);
        expect(decoded.link.source.height).toBe(source.height);
        expect(toHex(decoded.link.target.hash)).toBe(toHex(target.hash));
        expect(toHex(voteSigningBytes(decoded.chainId, decoded.link))).toBe(toHex(bytes));
      }),
    );
  });

  it('refuses a wrong length, a wrong tag and a short hash', () => {
    const bytes = voteSigningBytes(LOCAL_CHAIN_ID, vectorLink);
    expect(() => decodeVoteSigningBytes(bytes.subarray(1))).toThrow(/message: expected 195 bytes/);
    const badTag = bytes.slice();
    badTag[0] = 0;
    expect(() => decodeVoteSigningBytes(badTag)).toThrow(/AFG-VOTE-V1/);
    const shortHash = { ...vectorLink, source: { ...vectorLink.source, hash: new Uint8Array(31) } };
    expect(() => voteSigningBytes(LOCAL_CHAIN_ID, shortHash)).toThrow(InputError);
  });
});

describe('transaction signing bytes', () => {
  it('match the contract vector', () => {
    const t = v.transaction;
    const bytes = txSigningBytes(LOCAL_CHAIN_ID, {
      from: fromHex(t.from, 32, 'from'),
      to: fromHex(t.to, 32, 'to'),
      amount: BigInt(t.amount),
      nonce: BigInt(t.nonce),
    });
    expect(toHex(bytes)).toBe(t.signingBytes);
  });
});

describe('block hash', () => {
  it('depends on every header field', () => {
    const base = { height: 1, parentHash: new Uint8Array(32), transactions: [new Uint8Array(32).fill(3)] };
    const id = (tx: Uint8Array) => tx;
    const h = toHex(blockHash(LOCAL_CHAIN_ID, base, id));
    expect(toHex(blockHash(LOCAL_CHAIN_ID, { ...base, height: 2 }, id))).not.toBe(h);
    expect(toHex(blockHash(LOCAL_CHAIN_ID, { ...base, parentHash: new Uint8Array(32).fill(1) }, id))).not.toBe(h);
    expect(toHex(blockHash(LOCAL_CHAIN_ID, { ...base, transactions: [new Uint8Array(32).fill(4)] }, id))).not.toBe(h);
    expect(toHex(blockHash(new Uint8Array(32), base, id))).not.toBe(h);
    expect(toHex(blockHash(LOCAL_CHAIN_ID, { ...base }, id))).toBe(h);
  });
});

describe('edge asserts', () => {
  it('name the field and the reason', () => {
    expect(() => fromHex('0xab', 1, 'from')).toThrow('from: expected lowercase hex without 0x prefix');
    expect(() => fromHex('ABCD', 2, 'to')).toThrow(/to: expected lowercase hex/);
    expect(() => fromHex('abcd', 3, 'hash')).toThrow('hash: expected 3 bytes (6 hex chars), got 4 hex chars');
    expect(() => parseU64Decimal('18446744073709551616', 'amount')).toThrow(/amount: exceeds u64/);
    expect(() => parseU64Decimal('-1', 'amount')).toThrow(/amount: expected a decimal/);
    expect(() => parseU64Decimal('01', 'amount')).toThrow(/leading zeros/);
    expect(parseU64Decimal('18446744073709551615', 'amount')).toBe((1n << 64n) - 1n);
    expect(() => u64(-1n, 'nonce')).toThrow(/nonce: out of u64 range/);
  });
});
