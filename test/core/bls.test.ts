/** Threshold BLS: contract vectors, round trips, properties, tampered partials and malformed input. */
import { createHash } from 'node:crypto';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { numberToBytesBE } from '@noble/curves/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLS_DST,
  type CertifyResult,
  certify,
  certifyNaive,
  combine,
  commitmentsFromShares,
  type Dealing,
  deal,
  dealingProblems,
  groupPublicKeyFromCommitments,
  memberPublicKeyFromCommitments,
  type PartialSignature,
  PUBLIC_KEY_LENGTH,
  publicKeyOf,
  SECRET_KEY_LENGTH,
  SIGNATURE_LENGTH,
  signShare,
  verifyShare,
  verifySignature,
} from '../../lib/core/bls.js';
import { ascii, fromHex, toHex } from '../../lib/core/bytes.js';
import { contract } from '../helpers/vectors.js';

const v = contract();
const { Fp, Fr } = bls12_381.fields;

/** Asserts `fn` throws an AfgError with `code` (and, when given, meta.field). */
function expectCode(fn: () => unknown, code: string, field?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code}`).toMatchObject(field === undefined ? { code } : { code, meta: expect.objectContaining({ field }) });
}

function vectorCoefficients(t: number): bigint[] {
  return Array.from({ length: t }, (_, i) => {
    const digest = createHash('sha256').update(`afg-test-dealer-coefficient-${i}`).digest('hex');
    return BigInt(`0x${digest}`) % Fr.ORDER;
  });
}

/** Deterministic rng so tests are reproducible without fixing coefficients by hand. */
function seededRandom(seed: string): (len: number) => Uint8Array {
  let counter = 0;
  return (len) => {
    const out = new Uint8Array(len);
    for (let at = 0; at < len; at += 32)
      out.set(
        createHash('sha256')
          .update(`${seed}/${counter++}`)
          .digest()
          .subarray(0, len - at),
        at,
      );
    return out;
  };
}

function signAll(d: Dealing, message: Uint8Array): PartialSignature[] {
  return d.shares.map((s) => ({ index: s.index, signature: signShare(s.secretKey, message) }));
}

function paramsOf(d: Dealing) {
  return { threshold: d.threshold, groupPublicKey: d.groupPublicKey, memberPublicKey: (i: number) => d.shares[i - 1]?.publicKey };
}

/** A compressed G1 encoding of an on-curve point outside the prime-order subgroup. */
function offSubgroupG1(): Uint8Array {
  for (let x = 1n; ; x++) {
    try {
      Fp.sqrt(Fp.add(Fp.pow(x, 3n), 4n));
    } catch {
      continue;
    }
    const bytes = numberToBytesBE(x, 48);
    bytes[0] = bytes[0]! | 0x80;
    return bytes;
  }
}

/** A compressed G1 encoding whose x has no point on the curve. */
function offCurveG1(): Uint8Array {
  for (let x = 1n; ; x++) {
    try {
      Fp.sqrt(Fp.add(Fp.pow(x, 3n), 4n));
    } catch {
      const bytes = numberToBytesBE(x, 48);
      bytes[0] = bytes[0]! | 0x80;
      return bytes;
    }
  }
}

const G1_INFINITY = Uint8Array.from([0xc0, ...new Uint8Array(47)]);
const G2_INFINITY = Uint8Array.from([0xc0, ...new Uint8Array(95)]);

describe('contract vectors: 3-of-4 dealer', () => {
  const tv = v.threshold;
  const d = deal(tv.n, tv.t, { coefficients: vectorCoefficients(tv.t) });

  it('uses the contract DST and sizes', () => {
    expect(tv.dst).toBe(BLS_DST);
    expect([SIGNATURE_LENGTH, PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH]).toEqual([48, 96, 32]);
  });

  it('reproduces the Feldman commitments, group key, shares and member keys', () => {
    expect(d.commitments.map(toHex)).toEqual(tv.feldmanCommitments);
    expect(toHex(d.groupPublicKey)).toBe(tv.groupPublicKey);
    expect(toHex(groupPublicKeyFromCommitments(d.commitments))).toBe(tv.groupPublicKey);
    for (const m of tv.members) {
      const share = d.shares[m.index - 1]!;
      expect(share.index).toBe(m.index);
      expect(toHex(share.secretKey)).toBe(m.secretShare);
      expect(toHex(share.publicKey)).toBe(m.publicKey);
      expect(toHex(publicKeyOf(share.secretKey))).toBe(m.publicKey);
      expect(toHex(memberPublicKeyFromCommitments(d.commitments, m.index))).toBe(m.publicKey);
    }
  });

  it('a different coefficient changes the group key and every share', () => {
    const coeffs = vectorCoefficients(tv.t);
    coeffs[0] = coeffs[0]! + 1n;
    const other = deal(tv.n, tv.t, { coefficients: coeffs });
    expect(toHex(other.groupPublicKey)).not.toBe(tv.groupPublicKey);
    for (const [i, s] of other.shares.entries()) expect(toHex(s.secretKey)).not.toBe(tv.members[i].secretShare);
  });

  it('Feldman check accepts each vector share at its index and refuses it elsewhere', () => {
    const commitments = tv.feldmanCommitments.map((c: string) => fromHex(c, 96, 'commitment'));
    for (const m of tv.members) {
      const sk = fromHex(m.secretShare, 32, 'secretShare');
      expect(verifyShare(m.index, sk, commitments)).toBe(true);
      expect(verifyShare((m.index % tv.n) + 1, sk, commitments)).toBe(false);
    }
    const sk1 = fromHex(tv.members[0].secretShare, 32, 'secretShare');
    expect(verifyShare(1, sk1, commitments.slice(0, 2))).toBe(false); // a lower-degree claim
  });
});

describe('the public dealing check (dealingProblems) and commitment recovery', () => {
  const tv = v.threshold;
  const published = () => ({
    threshold: tv.t as number,
    groupPublicKey: fromHex(tv.groupPublicKey, 96, 'groupPublicKey'),
    commitments: tv.feldmanCommitments.map((c: string) => fromHex(c, 96, 'commitment')) as Uint8Array[],
    members: tv.members.map((m: { index: number; publicKey: string }) => ({
      index: m.index,
      publicKey: fromHex(m.publicKey, 96, 'publicKey'),
    })),
  });
  const fields = (d: Parameters<typeof dealingProblems>[0]) => dealingProblems(d).map((p) => p.field);

  it('the published dealing is consistent; each way of breaking it is named', () => {
    expect(dealingProblems(published())).toEqual([]);
    const swapped = published();
    [swapped.members[0]!.publicKey, swapped.members[3]!.publicKey] = [swapped.members[3]!.publicKey, swapped.members[0]!.publicKey];
    expect(fields(swapped)).toEqual(['members[0].publicKey', 'members[3].publicKey']);
    expect(fields({ ...published(), groupPublicKey: published().commitments[1]! })).toEqual(['groupPublicKey']);
    expect(fields({ ...published(), threshold: 2 })).toEqual(['commitments']);
    expect(fields({ ...published(), commitments: [...published().commitments, published().commitments[0]!], threshold: 4 })).toEqual([
      'members[0].publicKey',
      'members[1].publicKey',
      'members[2].publicKey',
      'members[3].publicKey',
    ]);
    const infinity = published();
    infinity.commitments[2] = G2_INFINITY;
    expect(dealingProblems(infinity)).toEqual([{ field: 'commitments[2]', reason: 'point at infinity' }]);
  });

  it('recovers the published commitments from any t of the vector shares, and refuses fewer', () => {
    const shares = tv.members.map((m: { index: number; secretShare: string }) => ({
      index: m.index,
      secretKey: fromHex(m.secretShare, 32, 'secretShare'),
    }));
    for (const subset of [shares.slice(0, 3), shares.slice(1), [shares[3], shares[0], shares[2]]])
      expect(commitmentsFromShares(subset, tv.t).map(toHex)).toEqual(tv.feldmanCommitments);
    expectCode(() => commitmentsFromShares(shares.slice(0, 2), tv.t), 'NOT_ENOUGH_SHARES');
    expectCode(() => commitmentsFromShares([shares[0], { ...shares[1], index: 1 }, shares[2]], tv.t), 'DUPLICATE_MEMBER');
  });

  it("property: a random dealing passes; exchanging two members' keys names exactly those two", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            t: fc.integer({ min: 2, max: n }), // t = 1: every member holds the group key, a swap changes nothing
            pair: fc.uniqueArray(fc.nat(n - 1), { minLength: 2, maxLength: 2 }),
            seed: fc.string(),
          }),
        ),
        ({ n, t, pair: [a, b], seed }) => {
          const d = deal(n, t, { randomBytes: seededRandom(`dp-${seed}`) });
          const members = d.shares.map((s) => ({ index: s.index, publicKey: s.publicKey }));
          const ok = dealingProblems({ threshold: t, groupPublicKey: d.groupPublicKey, commitments: d.commitments, members });
          const swapped = members.map((m) => ({ ...m }));
          [swapped[a!]!.publicKey, swapped[b!]!.publicKey] = [swapped[b!]!.publicKey, swapped[a!]!.publicKey];
          const bad = dealingProblems({ threshold: t, groupPublicKey: d.groupPublicKey, commitments: d.commitments, members: swapped });
          const recovered = commitmentsFromShares(d.shares.slice(n - t), t);
          return (
            ok.length === 0 &&
            bad.map((p) => p.field).join() ===
              [a!, b!]
                .sort((x, y) => x - y)
                .map((i) => `members[${i}].publicKey`)
                .join() &&
            recovered.map(toHex).join() === d.commitments.map(toHex).join()
          );
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('contract vectors: partial and group signatures on the vote', () => {
  const tv = v.threshold;
  const d = deal(tv.n, tv.t, { coefficients: vectorCoefficients(tv.t) });
  const message = fromHex(v.vote.signingBytes, 195, 'signingBytes');
  const partials: PartialSignature[] = v.vote.partials.map((p: { index: number; signature: string }) => ({
    index: p.index,
    signature: fromHex(p.signature, 48, 'signature'),
  }));
  const pick = (indices: number[]) => partials.filter((p) => indices.includes(p.index));

  it('each member signs the vote signing bytes exactly as the vector', () => {
    for (const p of partials) expect(toHex(signShare(d.shares[p.index - 1]!.secretKey, message))).toBe(toHex(p.signature));
  });

  it('each partial verifies under its own member key only, and only for this message', () => {
    const other = message.slice();
    other[194] = other[194]! ^ 1;
    for (const p of partials) {
      expect(verifySignature(d.shares[p.index - 1]!.publicKey, message, p.signature)).toBe(true);
      expect(verifySignature(d.shares[p.index % tv.n]!.publicKey, message, p.signature)).toBe(false);
      expect(verifySignature(d.shares[p.index - 1]!.publicKey, other, p.signature)).toBe(false);
    }
  });

  it('both listed 3-subsets combine to the group signature, which verifies under the group key', () => {
    for (const subset of v.vote.combinedFrom as number[][]) {
      const sig = combine(pick(subset), tv.t);
      expect(toHex(sig)).toBe(v.vote.groupSignature);
    }
    expect(verifySignature(d.groupPublicKey, message, fromHex(v.vote.groupSignature, 48, 'groupSignature'))).toBe(true);
  });

  it('combine uses the t lowest indices, in any input order', () => {
    expect(toHex(combine([...partials].reverse(), tv.t))).toBe(v.vote.groupSignature);
  });

  it('two shares, or a swapped partial, do not give a valid group signature', () => {
    const two = combine(pick([1, 2]), 2);
    expect(verifySignature(d.groupPublicKey, message, two)).toBe(false);
    const swapped = pick([1, 2, 4]).map((p) => (p.index === 4 ? { index: 4, signature: partials[2]!.signature } : p));
    const bad = combine(swapped, tv.t);
    expect(toHex(bad)).not.toBe(v.vote.groupSignature);
    expect(verifySignature(d.groupPublicKey, message, bad)).toBe(false);
  });

  it('certify and certifyNaive both produce the group signature from all four partials', () => {
    for (const f of [certify, certifyNaive]) {
      const res = f(message, partials, paramsOf(d));
      expect(res).toMatchObject({ ok: true, signers: [1, 2, 3], rejected: [] });
      if (res.ok) expect(toHex(res.signature)).toBe(v.vote.groupSignature);
    }
  });
});

describe('round trips', () => {
  const cases: [number, number][] = [
    [1, 1],
    [2, 3],
    [3, 4],
    [5, 7],
    [11, 16],
  ];
  for (const [t, n] of cases) {
    it(`t = ${t}, n = ${n}: shares pass Feldman, certification gives a group-verifiable signature`, () => {
      const d = deal(n, t, { randomBytes: seededRandom(`rt-${t}-${n}`) });
      expect(d.commitments).toHaveLength(t);
      expect(d.shares.map((s) => s.index)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      for (const s of d.shares) expect(verifyShare(s.index, s.secretKey, d.commitments)).toBe(true);
      const message = ascii(`round trip ${t}/${n}`);
      const partials = signAll(d, message);
      const res = certify(message, partials, paramsOf(d));
      expect(res).toMatchObject({ ok: true, signers: Array.from({ length: t }, (_, i) => i + 1), rejected: [] });
      if (!res.ok) return;
      expect(verifySignature(d.groupPublicKey, message, res.signature)).toBe(true);
      expect(verifySignature(d.groupPublicKey, ascii('another message'), res.signature)).toBe(false);
      // the highest t members give the same signature
      expect(toHex(combine(partials.slice(n - t), t))).toBe(toHex(res.signature));
    });
  }

  it('the default dealer draws fresh coefficients; a seeded one is reproducible', () => {
    expect(toHex(deal(3, 2).groupPublicKey)).not.toBe(toHex(deal(3, 2).groupPublicKey));
    expect(toHex(deal(3, 2, { randomBytes: seededRandom('x') }).groupPublicKey)).toBe(
      toHex(deal(3, 2, { randomBytes: seededRandom('x') }).groupPublicKey),
    );
  });
});

describe('properties (3-of-5)', () => {
  const d = deal(5, 3, { randomBytes: seededRandom('prop') });
  const subsetOf = (size: number) => fc.shuffledSubarray([1, 2, 3, 4, 5], { minLength: size, maxLength: size });

  it('any t-subset gives the same group signature, and it verifies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), subsetOf(3), subsetOf(3), (message, a, b) => {
        const partials = signAll(d, message);
        const sa = combine(
          partials.filter((p) => a.includes(p.index)),
          3,
        );
        const sb = combine(
          partials.filter((p) => b.includes(p.index)),
          3,
        );
        expect(toHex(sa)).toBe(toHex(sb));
        expect(verifySignature(d.groupPublicKey, message, sa)).toBe(true);
      }),
      { numRuns: 6 },
    );
  });

  it('no t-1 subset yields a valid group signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), subsetOf(2), (message, a) => {
        const partials = signAll(d, message).filter((p) => a.includes(p.index));
        expect(verifySignature(d.groupPublicKey, message, combine(partials, 2))).toBe(false);
        expectCode(() => combine(partials, 3), 'NOT_ENOUGH_SHARES');
        expectCode(() => certify(message, partials.concat(partials), paramsOf(d)), 'NOT_ENOUGH_SHARES');
      }),
      { numRuns: 6 },
    );
  });
});

describe('tampered partials', () => {
  const d = deal(7, 5, { randomBytes: seededRandom('tamper') });
  const message = ascii('vote under attack');
  const honest = signAll(d, message);

  /** Replaces the partials of `bad` members with something wrong of the given kind. */
  function tamper(bad: number[], kind: 'other-message' | 'other-member' | 'garbage' | 'off-subgroup'): PartialSignature[] {
    return honest.map((p) => {
      if (!bad.includes(p.index)) return p;
      const share = d.shares[p.index - 1]!;
      const signature =
        kind === 'other-message'
          ? signShare(share.secretKey, ascii('something else'))
          : kind === 'other-member'
            ? honest[p.index % 7]!.signature
            : kind === 'garbage'
              ? offCurveG1()
              : offSubgroupG1();
      return { index: p.index, signature };
    });
  }

  for (const kind of ['other-message', 'other-member', 'garbage', 'off-subgroup'] as const) {
    it(`${kind}: with t honest left, certify succeeds and names exactly the tampered members`, () => {
      const partials = tamper([2, 5], kind);
      const res = certify(message, partials, paramsOf(d));
      expect(res).toMatchObject({ ok: true, signers: [1, 3, 4, 6, 7], rejected: [2, 5] });
      if (res.ok) expect(verifySignature(d.groupPublicKey, message, res.signature)).toBe(true);
      expect(certifyNaive(message, partials, paramsOf(d))).toEqual(res);
    });
  }

  it('honest partials take the optimistic path: nothing rejected, lowest t signers', () => {
    expect(certify(message, honest, paramsOf(d))).toMatchObject({ ok: true, signers: [1, 2, 3, 4, 5], rejected: [] });
  });

  it('with fewer than t valid, certification fails and lists valid and rejected members', () => {
    const partials = tamper([1, 4, 6], 'other-message');
    const expected: CertifyResult = { ok: false, reason: 'NOT_ENOUGH_VALID_SHARES', valid: [2, 3, 5, 7], rejected: [1, 4, 6] };
    expect(certify(message, partials, paramsOf(d))).toEqual(expected);
    expect(certifyNaive(message, partials, paramsOf(d))).toEqual(expected);
  });

  it('property: naive names exactly the tampered set; optimistic too once any of the t lowest is bad', () => {
    fc.assert(
      fc.property(fc.subarray([1, 2, 3, 4, 5, 6, 7], { maxLength: 4 }), (bad) => {
        const partials = tamper(bad, 'other-message');
        const enough = 7 - bad.length >= 5;
        const naive = certifyNaive(message, partials, paramsOf(d));
        expect(naive.rejected).toEqual(bad);
        expect(naive.ok).toBe(enough);
        const optimistic = certify(message, partials, paramsOf(d));
        // Partials above the t lowest are not looked at when the optimistic check passes.
        if (bad.some((i) => i <= 5)) expect(optimistic).toEqual(naive);
        else expect(optimistic).toMatchObject({ ok: true, signers: [1, 2, 3, 4, 5], rejected: [] });
      }),
      { numRuns: 6, examples: [[[6, 7]], [[1]]] },
    );
  });

  it('member keys inconsistent with the group key are an invariant break (BAD_SHARE)', () => {
    const other = deal(7, 5, { randomBytes: seededRandom('other dealing') });
    const params = { ...paramsOf(d), memberPublicKey: (i: number) => other.shares[i - 1]?.publicKey };
    const partials = other.shares.map((s) => ({ index: s.index, signature: signShare(s.secretKey, message) }));
    expectCode(() => certify(message, partials, params), 'BAD_SHARE');
  });
});

describe('malformed input is refused with a typed error', () => {
  const d = deal(4, 3, { randomBytes: seededRandom('malformed') });
  const message = ascii('m');
  const partials = signAll(d, message);
  const pk = d.shares[0]!.publicKey;
  const sig = partials[0]!.signature;

  it('verifySignature: valid is true, wrong is false, undecodable throws BAD_POINT naming the input', () => {
    expect(verifySignature(pk, message, sig)).toBe(true);
    expect(verifySignature(pk, message, partials[1]!.signature)).toBe(false);
    const flipped = pk.slice();
    flipped[10] = flipped[10]! ^ 0xff;
    for (const bad of [pk.subarray(1), G2_INFINITY, flipped, new Uint8Array(96)])
      expectCode(() => verifySignature(bad, message, sig), 'BAD_POINT', 'publicKey');
    for (const bad of [sig.subarray(0, 47), G1_INFINITY, offCurveG1(), offSubgroupG1(), new Uint8Array(48)])
      expectCode(() => verifySignature(pk, message, bad), 'BAD_POINT', 'signature');
    expectCode(() => verifySignature(pk, message, 'ab' as unknown as Uint8Array), 'BAD_POINT', 'signature');
  });

  it('secret keys: wrong length, zero and >= r give BAD_SHARE', () => {
    const good = d.shares[0]!.secretKey;
    expect(toHex(publicKeyOf(good))).toBe(toHex(pk));
    const tooBig = numberToBytesBE(Fr.ORDER, 32);
    for (const bad of [good.subarray(1), new Uint8Array(32), tooBig]) {
      expectCode(() => publicKeyOf(bad), 'BAD_SHARE', 'secretKey');
      expectCode(() => signShare(bad, message), 'BAD_SHARE', 'secretKey');
      expectCode(() => verifyShare(1, bad, d.commitments), 'BAD_SHARE', 'secretKey');
    }
  });

  it('combine: duplicates, too few, bad indices and bad points', () => {
    expect(toHex(combine(partials.slice(0, 3), 3))).toBe(toHex(combine([...partials.slice(0, 3), partials[0]!], 3))); // identical copy collapses
    expectCode(() => combine([...partials.slice(0, 3), { index: 1, signature: partials[3]!.signature }], 3), 'DUPLICATE_MEMBER');
    expect(() => combine([...partials.slice(0, 3), { index: 2, signature: sig }], 3)).toThrow(
      expect.objectContaining({ meta: { members: [2] } }),
    );
    expectCode(() => combine(partials.slice(0, 2), 3), 'NOT_ENOUGH_SHARES');
    expectCode(() => combine([partials[0]!, partials[0]!, partials[1]!], 3), 'NOT_ENOUGH_SHARES');
    for (const index of [0, -1, 1.5, Number.NaN])
      expectCode(() => combine([{ index, signature: sig }, ...partials.slice(1)], 3), 'UNKNOWN_MEMBER');
    expectCode(() => combine([{ index: 1, signature: offSubgroupG1() }, ...partials.slice(1)], 3), 'BAD_POINT');
    expectCode(() => combine([{ index: 1, signature: G1_INFINITY }, ...partials.slice(1)], 3), 'BAD_POINT');
    expectCode(() => combine(partials, 0), 'INVALID_INPUT', 'threshold');
    expectCode(() => combine([{ index: 1, signature: 'x' as unknown as Uint8Array }], 1), 'INVALID_INPUT', 'partials[0].signature');
  });

  it('certify: unknown member, duplicate, too few, bad group key', () => {
    const params = paramsOf(d);
    expect(certify(message, partials, params).ok).toBe(true);
    const outsider = { index: 5, signature: sig };
    expectCode(() => certify(message, [...partials, outsider], params), 'UNKNOWN_MEMBER');
    expectCode(() => certify(message, [{ index: 0, signature: sig }, ...partials], params), 'UNKNOWN_MEMBER');
    expectCode(() => certify(message, [...partials, { index: 4, signature: sig }], params), 'DUPLICATE_MEMBER');
    expectCode(() => certifyNaive(message, partials.slice(0, 2), params), 'NOT_ENOUGH_SHARES');
    expectCode(() => certify(message, partials, { ...params, groupPublicKey: G2_INFINITY }), 'BAD_POINT', 'groupPublicKey');
    expectCode(() => certify(message, partials, { ...params, threshold: 1.5 }), 'INVALID_INPUT', 'threshold');
    expectCode(
      () =>
        certify(
          message,
          [
            { index: 1, signature: sig },
            { index: 2, signature: sig },
            { index: 3, signature: sig },
          ],
          { ...params, memberPublicKey: () => G2_INFINITY },
        ),
      'BAD_POINT',
    );
  });

  it('dealer: n, t and coefficients out of range name the field', () => {
    expectCode(() => deal(0, 1), 'INVALID_INPUT', 'n');
    expectCode(() => deal(3, 4), 'INVALID_INPUT', 't');
    expectCode(() => deal(3, 0), 'INVALID_INPUT', 't');
    expectCode(() => deal(3, 2, { coefficients: [1n] }), 'INVALID_INPUT', 'coefficients');
    expectCode(() => deal(3, 2, { coefficients: [1n, 0n] }), 'INVALID_INPUT', 'coefficients[1]');
    expectCode(() => deal(3, 2, { coefficients: [1n, Fr.ORDER] }), 'INVALID_INPUT', 'coefficients[1]');
    // f(x) = (r - 1) + x makes member 1's share zero
    expectCode(() => deal(3, 2, { coefficients: [Fr.ORDER - 1n, 1n] }), 'INVALID_INPUT', 'coefficients');
    expectCode(() => deal(3, 2, { randomBytes: () => new Uint8Array(8) }), 'INVALID_INPUT', 'randomBytes()');
    expect(deal(3, 2, { coefficients: [1n, 2n] }).shares[2]!.secretKey).toEqual(numberToBytesBE(7n, 32));
  });

  it('commitments: infinity, empty or bad index are refused', () => {
    expect(verifyShare(2, d.shares[1]!.secretKey, d.commitments)).toBe(true);
    expectCode(() => verifyShare(2, d.shares[1]!.secretKey, [d.commitments[0]!, G2_INFINITY]), 'BAD_POINT', 'commitments[1]');
    expectCode(() => groupPublicKeyFromCommitments([]), 'INVALID_INPUT', 'commitments');
    expectCode(() => memberPublicKeyFromCommitments(d.commitments, 0), 'UNKNOWN_MEMBER', 'index');
    expectCode(() => verifyShare(0, d.shares[0]!.secretKey, d.commitments), 'UNKNOWN_MEMBER', 'index');
  });
});
