import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeAccount } from '../../lib/core/account.js';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import type { TransferLedger } from '../../lib/core/ledger.js';
import { encodeProof } from '../../lib/core/smt.js';
import {
  type AccountVerifyOptions,
  type VerifyFailure,
  type VerifyOptions,
  verifyAccountAnswer,
  verifyCertificate,
  verifyCheckpointAnswer,
  verifyFinalityAnswer,
} from '../../lib/core/verifier.js';
import { certificateToJson, checkpointToJson } from '../../lib/core/wire.js';
import { buildFixture, certifyLink, DEV_PK, type Fixture } from '../helpers/fixture.js';

let fx: Fixture;
let opts: VerifyOptions;
let certJson: any; // the finalizing certificate 2 -> 4
let known: any; // account answer of dev 1
let unknown: any; // account answer of a never-credited key
let genesisAnswer: any; // dev 1 at height 0 (the genesis state), under the certificate 0 -> 2 that finalizes genesis
const UNKNOWN_KEY = new Uint8Array(32).fill(0xab);
/** Options for a question about `account` (dev 1 unless given). */
const ask = (account: Uint8Array = DEV_PK[1]!, extra: Partial<AccountVerifyOptions> = {}): AccountVerifyOptions => ({
  ...opts,
  account,
  ...extra,
});

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const checks = (failures: VerifyFailure[]) => [...new Set(failures.map((f) => f.check))].sort();
const flipHex = (hex: string, at = 0) => hex.slice(0, at) + (Number.parseInt(hex[at]!, 16) ^ 1).toString(16) + hex.slice(at + 1);

function expectCertFailure(c: unknown, expected: VerifyFailure['check'][], o: VerifyOptions = opts, message?: RegExp) {
  const v = verifyCertificate(c, o);
  expect(v.ok).toBe(false);
  if (v.ok) return;
  expect(checks(v.failures)).toEqual([...expected].sort());
  if (message) expect(v.failures.map((f) => f.message).join(' | ')).toMatch(message);
}

function expectAnswerFailure(a: unknown, expected: VerifyFailure['check'][], message?: RegExp, o: AccountVerifyOptions = ask()) {
  const v = verifyAccountAnswer(a, o);
  expect(v.ok).toBe(false);
  if (v.ok) return;
  expect(checks(v.failures)).toEqual([...expected].sort());
  if (message) expect(v.failures.map((f) => f.message).join(' | ')).toMatch(message);
}

beforeAll(async () => {
  fx = await buildFixture();
  opts = { groupPublicKey: fx.dealing.groupPublicKey, chainId: fx.chain.set.chainId, checkpointInterval: 2, threshold: 3 };
  certJson = certificateToJson(fx.chain.set.chainId, fx.certificates[1]!);
  known = await fx.query.state(DEV_PK[1]!);
  unknown = await fx.query.state(UNKNOWN_KEY);
  const { genesis } = fx.chain;
  const { account, proof } = await (fx.chain.app as TransferLedger).proveAccount(genesis.stateRoot, DEV_PK[1]!);
  genesisAnswer = {
    account: toHex(DEV_PK[1]!),
    balance: account!.balance.toString(),
    nonce: account!.nonce.toString(),
    height: 0,
    stateRoot: toHex(genesis.stateRoot),
    proof: encodeProof(proof),
    certificate: certificateToJson(fx.chain.set.chainId, fx.certificates[0]!),
  };
});

describe('verifyCertificate', () => {
  it('accepts an honest certificate and returns the decoded link', () => {
    const v = verifyCertificate(certJson, opts);
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(v.certificate.source.height).toBe(2);
      expect(v.certificate.signers).toEqual([2, 3, 4]);
    }
    // Without a threshold the signer count is not checked; with threshold 3 it passes (3 signers).
    expect(verifyCertificate(certJson, { ...opts, threshold: undefined }).ok).toBe(true);
  });

  it('rejects a signature bit flip', () => {
    const c = clone(certJson);
    c.signature = flipHex(c.signature, 95); // last nibble: still a valid encoding, wrong point or off-curve
    expectCertFailure(c, ['certificate.signature']);
  });

  it('rejects shown fields that the message does not encode (and the signature then fails over them)', () => {
    const c = clone(certJson);
    c.target.stateRoot = flipHex(c.target.stateRoot, 10);
    expectCertFailure(c, ['certificate.message', 'certificate.signature'], opts, /target\.stateRoot/);
    const e = clone(certJson);
    e.era = 1;
    expectCertFailure(e, ['certificate.message', 'certificate.signature'], opts, /era \(shown 1, signed 0\)/);
  });

  it('rejects a message that was changed to match tampered fields (signature fails)', () => {
    const c = clone(certJson);
    c.source.hash = 'cd'.repeat(32);
    c.message = c.message.slice(0, 22 + 64 + 16 + 16) + 'cd'.repeat(32) + c.message.slice(22 + 64 + 16 + 16 + 64);
    expectCertFailure(c, ['certificate.signature']);
  });

  it('rejects a certificate for another chain', () => {
    const otherChain = sha256(new TextEncoder().encode('afg-other'));
    expectCertFailure(certJson, ['certificate.message', 'certificate.signature'], { ...opts, chainId: otherChain }, /message is for chain/);
    // Even a correctly signed certificate of another chain (same key) is refused.
    const foreign = certificateToJson(otherChain, certifyLink(fx.dealing, otherChain, fx.certificates[1]!));
    expect(verifyCertificate(foreign, { ...opts, chainId: otherChain }).ok).toBe(true);
    expectCertFailure(foreign, ['certificate.message', 'certificate.signature'], opts);
  });

  it('rejects a wrong interval (a link that does not finalize its source)', () => {
    expectCertFailure(certJson, ['certificate.link'], { ...opts, checkpointInterval: 1 }, /not source height 2 \+ checkpoint interval 1/);
    // A correctly signed link that skips a checkpoint (0 -> 4 with K = 2) is refused too.
    const skip = certificateToJson(
      fx.chain.set.chainId,
      certifyLink(fx.dealing, fx.chain.set.chainId, { era: 0n, source: fx.checkpoints.get(0)!, target: fx.checkpoints.get(4)! }),
    );
    expectCertFailure(skip, ['certificate.link'], opts);
  });

  it('rejects a wrong group key', () => {
    const other = deal(4, 3);
    expectCertFailure(certJson, ['certificate.signature'], { ...opts, groupPublicKey: other.groupPublicKey });
    expectCertFailure(certJson, ['certificate.signature'], { ...opts, groupPublicKey: new Uint8Array(96) }, /does not decode/);
  });

  it('rejects duplicate signers and too few signers', () => {
    const dup = clone(certJson);
    dup.signers = [2, 2, 4];
    expectCertFailure(dup, ['certificate.signers'], opts, /not distinct.*2 distinct signers, threshold is 3/);
    const few = clone(certJson);
    few.signers = [2, 3];
    expectCertFailure(few, ['certificate.signers'], opts, /threshold is 3/);
    expect(verifyCertificate(few, { ...opts, threshold: 2 }).ok).toBe(true);
  });

  it('reports malformed input as shape, never throws', () => {
    for (const bad of [null, 7, {}, { ...certJson, extra: 1 }, { ...certJson, signature: 'zz' }, { ...certJson, message: 'ab' }]) {
      const v = verifyCertificate(bad, opts);
      expect(v.ok).toBe(false);
    }
    expectCertFailure({ ...certJson, extra: 1 }, ['shape'], opts, /extra: unknown field/);
    // The fields are intact and signed, so only the message is wrong.
    expectCertFailure({ ...certJson, message: 'ab' }, ['certificate.message'], opts, /not vote signing bytes/);
  });
});

describe('verifyAccountAnswer', () => {
  it('accepts an honest inclusion answer', () => {
    const v = verifyAccountAnswer(known, ask());
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(v.balance).toBe(1_000_000_150n);
      expect(v.nonce).toBe(1n);
      expect(v.height).toBe(2);
      expect(v.account).toBe(toHex(DEV_PK[1]!));
    }
  });

  it('accepts an honest absence answer for an unknown account', () => {
    const v = verifyAccountAnswer(unknown, ask(UNKNOWN_KEY));
    expect(v.ok).toBe(true);
    if (v.ok) expect([v.balance, v.nonce]).toEqual([0n, 0n]);
  });

  it('rejects a changed balance or nonce', () => {
    expectAnswerFailure({ ...known, balance: '2000000000' }, ['proof'], /balance 2000000000/);
    expectAnswerFailure({ ...known, nonce: '0' }, ['proof']);
    // Claiming a known account is empty fails: the proof shows its leaf.
    expectAnswerFailure({ ...known, balance: '0', nonce: '0' }, ['proof'], /absence proof/);
    // Claiming a balance for an absent account fails too.
    expectAnswerFailure({ ...unknown, balance: '5' }, ['proof'], undefined, ask(UNKNOWN_KEY));
  });

  it('rejects a tampered proof', () => {
    const a = clone(known);
    a.proof.siblings[0] = flipHex(a.proof.siblings[0]);
    expectAnswerFailure(a, ['proof']);
    const b = clone(known);
    b.proof.leaf.valueHash = toHex(sha256(encodeAccount({ balance: 1n, nonce: 1n })));
    expectAnswerFailure(b, ['proof']);
    const c = clone(known);
    c.proof.siblings.pop();
    expectAnswerFailure(c, ['proof']);
  });

  it('rejects an answer whose checkpoint is not the certificate source', () => {
    expectAnswerFailure({ ...known, height: 4 }, ['answer.checkpoint'], /not the certificate's source/);
    // A forged state root with a matching forged proof still fails: the proof is checked against the certified root.
    expectAnswerFailure({ ...known, stateRoot: 'ee'.repeat(32) }, ['answer.checkpoint']);
    // Swapping in the justification certificate (0 -> 2) does not finalize height 2.
    expectAnswerFailure({ ...known, certificate: certificateToJson(fx.chain.set.chainId, fx.certificates[0]!) }, [
      'answer.checkpoint',
      'proof',
    ]);
  });

  it('passes certificate failures through, e.g. a wrong group key', () => {
    const v = verifyAccountAnswer(known, ask(DEV_PK[1], { groupPublicKey: deal(4, 3).groupPublicKey }));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(checks(v.failures)).toEqual(['certificate.signature']);
  });

  it('reports genesis answers (no certificate) and malformed answers clearly', () => {
    expectAnswerFailure({ ...known, certificate: null }, ['answer.checkpoint'], /no certificate/);
    expectAnswerFailure({ ...known, balance: 12 }, ['shape'], /answer\.balance/);
    expectAnswerFailure({ ...known, proof: { key: 'x' } }, ['shape'], /proof\.key/);
    expectAnswerFailure('nope', ['shape']);
  });
});

describe('binding to the question: the account asked about, freshness, era', () => {
  it("rejects another account's valid answer (issue 15: a server answering about dev 1 when asked about dev 5)", () => {
    const asked = toHex(DEV_PK[5]!);
    expectAnswerFailure(
      known,
      ['answer.account'],
      new RegExp(`answer is for account ${toHex(DEV_PK[1]!)}, not the requested ${asked}`),
      ask(DEV_PK[5]),
    );
    // Relabelling the answer does not help: the proof's key is still dev 1's.
    expectAnswerFailure(
      { ...known, account: asked },
      ['answer.account'],
      /proof is for key [0-9a-f]{64}, not the requested account's key/,
      ask(DEV_PK[5]),
    );
    // An absence proof for another key does not prove the requested account absent.
    expectAnswerFailure({ ...unknown, account: asked }, ['answer.account'], /proof is for key/, ask(DEV_PK[5]));
  });

  it('a certificate 0 -> K over the genesis state verifies when no freshness bound is asked (issue 15)', () => {
    const v = verifyAccountAnswer(genesisAnswer, ask());
    expect(v.ok).toBe(true);
    if (v.ok) expect([v.height, v.balance]).toEqual([0, 1_000_000_000n]);
  });

  it('minHeight refuses an answer read below it', () => {
    expectAnswerFailure(
      genesisAnswer,
      ['answer.freshness'],
      /read at height 0, below the minimum height 2/,
      ask(DEV_PK[1], { minHeight: 2 }),
    );
    expect(verifyAccountAnswer(known, ask(DEV_PK[1], { minHeight: 2 })).ok).toBe(true);
    expectAnswerFailure(known, ['answer.freshness'], /below the minimum height 3/, ask(DEV_PK[1], { minHeight: 3 }));
  });

  it('maxAge counts checkpoints behind the reference height the caller supplies', () => {
    // K = 2: height 0 is one checkpoint behind a reference of 2, two behind 4.
    const at = (checkpoints: number, referenceHeight: number) => ask(DEV_PK[1], { maxAge: { checkpoints, referenceHeight } });
    expect(verifyAccountAnswer(genesisAnswer, at(1, 2)).ok).toBe(true);
    expectAnswerFailure(genesisAnswer, ['answer.freshness'], /1 checkpoint\(s\) behind height 2, at most 0 allowed/, at(0, 2));
    expectAnswerFailure(genesisAnswer, ['answer.freshness'], /2 checkpoint\(s\) behind height 4, at most 1 allowed/, at(1, 4));
    // An answer above the reference is not stale.
    expect(verifyAccountAnswer(known, at(0, 0)).ok).toBe(true);
  });

  it('era: a certificate of another era is refused when an era is expected', () => {
    expect(verifyAccountAnswer(known, ask(DEV_PK[1], { era: 0n })).ok).toBe(true);
    expectAnswerFailure(known, ['certificate.era'], /certificate is for era 0, expected era 1/, ask(DEV_PK[1], { era: 1n }));
    expectCertFailure(certJson, ['certificate.era'], { ...opts, era: 3n }, /expected era 3/);
  });

  it('refuses options that cannot be met (programming errors throw InputError naming the option)', () => {
    expect(() => verifyAccountAnswer(known, ask(DEV_PK[1], { minHeight: -1 }))).toThrow(/minHeight/);
    expect(() => verifyAccountAnswer(known, ask(DEV_PK[1], { maxAge: { checkpoints: 1.5, referenceHeight: 2 } }))).toThrow(
      /maxAge\.checkpoints/,
    );
    expect(() => verifyAccountAnswer(known, { ...opts, account: new Uint8Array(31) } as AccountVerifyOptions)).toThrow(/account/);
  });
});

describe('witness answers: verifyCheckpointAnswer and verifyFinalityAnswer', () => {
  const failuresOf = (v: { ok: boolean; failures?: VerifyFailure[] }) => (v.ok ? [] : checks(v.failures!));

  it('a finalized checkpoint with the same hash and root under a valid certificate confirms; genesis needs no certificate', async () => {
    const cp2 = await fx.query.checkpoint(2);
    expect(verifyCheckpointAnswer(cp2, fx.checkpoints.get(2)!, opts).ok).toBe(true);
    expect(verifyCheckpointAnswer(await fx.query.checkpoint(0), fx.checkpoints.get(0)!, opts).ok).toBe(true);
  });

  it('each way a witness can disagree is a named failure', async () => {
    const cp2: any = await fx.query.checkpoint(2);
    const expected = fx.checkpoints.get(2)!;
    const flip = (hex: string) => flipHex(hex, 5);
    expect(failuresOf(verifyCheckpointAnswer({ ...cp2, stateRoot: flip(cp2.stateRoot) }, expected, opts))).toEqual(['checkpoint.mismatch']);
    expect(failuresOf(verifyCheckpointAnswer({ ...cp2, hash: flip(cp2.hash) }, expected, opts))).toEqual(['checkpoint.mismatch']);
    // Justified but not finalized (checkpoint 4 in the fixture), asked about as if it were 2.
    const cp4 = await fx.query.checkpoint(4);
    expect(failuresOf(verifyCheckpointAnswer(cp4, fx.checkpoints.get(4)!, opts))).toEqual(['checkpoint.status']);
    expect(failuresOf(verifyCheckpointAnswer({ ...cp2, certificate: undefined }, expected, opts))).toEqual(['checkpoint.status']);
    // The certificate that justified 2 (0 -> 2) does not finalize it: its source is another checkpoint.
    const c1 = certificateToJson(fx.chain.set.chainId, fx.certificates[0]!);
    expect(failuresOf(verifyCheckpointAnswer({ ...cp2, certificate: c1 }, expected, opts))).toEqual(['checkpoint.mismatch']);
    expect(failuresOf(verifyCheckpointAnswer(cp2, expected, { ...opts, groupPublicKey: deal(4, 3).groupPublicKey }))).toEqual([
      'certificate.signature',
    ]);
    expect(failuresOf(verifyCheckpointAnswer({ ...cp2, extra: 1 }, expected, opts))).toEqual(['shape']);
    expect(failuresOf(verifyCheckpointAnswer(cp2, fx.checkpoints.get(4)!, opts))).toContain('checkpoint.mismatch');
  });

  it('verifyFinalityAnswer proves the finalized height only with its certificate', async () => {
    const f: any = await fx.query.finality();
    const v = verifyFinalityAnswer(f, opts);
    expect(v.ok && v.checkpoint.height).toBe(2);
    // Claiming a higher finalized height without a certificate for it proves nothing.
    expect(failuresOf(verifyFinalityAnswer({ ...f, finalized: { ...f.finalized, height: 40 } }, opts))).toEqual(['checkpoint.mismatch']);
    expect(failuresOf(verifyFinalityAnswer({ ...f, finalized: { ...f.finalized, height: 40 }, certificate: null }, opts))).toEqual([
      'checkpoint.status',
    ]);
    const genesis = { ...f, finalized: checkpointToJson(fx.chain.genesis), certificate: null };
    expect(verifyFinalityAnswer(genesis, opts).ok).toBe(true);
  });
});

describe('property: any single-character change to a signed or proven field is caught', () => {
  /** Paths of every hex string of 32 bytes or more in the answer: keys, hashes, roots, proof, signature, message. */
  function hexPaths(x: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
    if (typeof x === 'string' && /^[0-9a-f]+$/.test(x) && x.length >= 64) out.push(path);
    else if (x && typeof x === 'object')
      for (const [k, v] of Object.entries(x)) hexPaths(v, [...path, Array.isArray(x) ? Number(k) : k], out);
    return out;
  }

  it('flipping one bit of one nibble anywhere in a hex field makes the answer fail', () => {
    const paths = hexPaths(known);
    expect(paths.length).toBeGreaterThan(10);
    fc.assert(
      fc.property(fc.nat(paths.length - 1), fc.nat(), fc.integer({ min: 0, max: 3 }), (which, pos, bit) => {
        const a = clone(known);
        const path = paths[which]!;
        const parent = path.slice(0, -1).reduce((o: any, k) => o[k], a);
        const key = path[path.length - 1]!;
        const hex: string = parent[key];
        const at = pos % hex.length;
        parent[key] = hex.slice(0, at) + (Number.parseInt(hex[at]!, 16) ^ (1 << bit)).toString(16) + hex.slice(at + 1);
        return verifyAccountAnswer(a, ask()).ok === false;
      }),
      { numRuns: 30 },
    );
  });
});

describe('browser safety', () => {
  it('imports no node: modules and no Buffer', () => {
    const src = readFileSync(new URL('../../lib/core/verifier.ts', import.meta.url), 'utf8');
    expect(src).not.toMatch(/from 'node:|Buffer\.(from|alloc|concat)|ledger\.js|ed25519\.js/);
    // Its imports are browser-safe core modules only.
    const imports = [...src.matchAll(/from '\.\/([\w-]+)\.js'/g)].map((m) => m[1]).sort();
    expect(imports).toEqual(['account', 'bls', 'bytes', 'codec', 'ffg', 'smt', 'types', 'wire']);
    for (const mod of imports) {
      const dep = readFileSync(new URL(`../../lib/core/${mod}.ts`, import.meta.url), 'utf8');
      expect(dep, mod).not.toMatch(/from 'node:|Buffer\.(from|alloc|concat)|ed25519\.js/);
    }
  });
});
