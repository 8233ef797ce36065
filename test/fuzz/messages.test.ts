/**
 * Bad input at the queue boundary: decodeMessage refuses anything malformed with an InputError
 * naming the field (never another error), and the finalizer refuses or safely ignores bad votes
 * (unknown members, wrong era, backwards links, 48 random bytes, off-curve points) while a valid
 * quorum arriving in the middle of the garbage still certifies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/core/errors.js';
import { transferApplication } from '../../lib/core/ledger.js';
import type { Link, Vote } from '../../lib/core/types.js';
import { voteToJson } from '../../lib/core/wire.js';
import { FinalizerCache, handleVote } from '../../lib/pipeline/finalizer.js';
import { MemoryFinalityStore } from '../../lib/pipeline/memory.js';
import { decodeMessage, encodeMessage, type MessageKind, type QueueMessage } from '../../lib/pipeline/messages.js';
import { ancestryOf, buildFixture, RecordingTransport, voteOn } from '../helpers/fixture.js';

const codec = transferApplication.codec(new Uint8Array(32));
const encode = (m: QueueMessage) => encodeMessage(m, codec);

const KINDS: MessageKind[] = ['tx', 'tick', 'proposal', 'justified', 'vote', 'finalized'];

/** Decodes or throws InputError with a field name; any other throw fails the property. */
function decodeOrRefuse(body: string): QueueMessage | InputError {
  try {
    return decodeMessage(body, KINDS, codec);
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(InputError);
    expect((e as InputError).meta.field.length).toBeGreaterThan(0);
    return e as InputError;
  }
}

describe('decodeMessage under bad input', async () => {
  const f = await buildFixture({ checkpointInterval: 1 });
  const link: Link = { era: 0n, source: f.checkpoints.get(0)!, target: f.checkpoints.get(1)! };
  const vote = voteOn(f.dealing, f.chain.set.chainId, link, 1);
  const valid: QueueMessage[] = [
    { kind: 'vote', vote, ancestry: await ancestryOf(f, link) },
    { kind: 'vote', vote, ancestry: [], justification: { certificate: f.certificates[0]!, ancestry: [] }, resent: true },
    { kind: 'tick', height: 3 },
    { kind: 'tick', height: 3, pacemaker: 7 },
    { kind: 'finalized', height: 2 },
    { kind: 'finalized', height: 0, certificate: f.certificates[0]! },
    { kind: 'justified', certificate: f.certificates[0]! },
    { kind: 'proposal', height: 1, hash: f.hashes.get(1)!, block: (await f.blocks.getBlock(1, f.hashes.get(1)!))! },
    { kind: 'proposal', height: 1, hash: f.hashes.get(1)!, justification: f.certificates[0]!, rebroadcast: true },
  ];

  it('round-trips every valid message', () => {
    for (const m of valid) expect(encode(decodeMessage(encode(m), KINDS, codec) as QueueMessage)).toBe(encode(m));
  });

  it('property: arbitrary strings and JSON decode or are refused with InputError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 500 }),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
        ),
        (body) => {
          decodeOrRefuse(body);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: a valid message with one field replaced, removed or truncated decodes or is refused by name', () => {
    const paths = (o: unknown, prefix: string[] = []): string[][] =>
      o && typeof o === 'object' ? Object.entries(o).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]) : [];
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.nat(),
        fc.oneof(fc.jsonValue(), fc.constant(undefined)),
        fc.nat(400),
        (m, pick, value, cut) => {
          const raw = JSON.parse(encode(m));
          const all = paths(raw);
          const path = all[pick % all.length]!;
          let at = raw;
          for (const k of path.slice(0, -1)) at = at[k];
          if (value === undefined) delete at[path.at(-1)!];
          else at[path.at(-1)!] = value;
          const body = JSON.stringify(raw);
          decodeOrRefuse(body);
          decodeOrRefuse(body.slice(0, cut));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses wrong lengths and oversized bodies naming the field', () => {
    const v = voteToJson(vote);
    const body = (o: object) => JSON.stringify({ v: 1, kind: 'vote', vote: o, ancestry: [] });
    expect(() => decodeMessage(body({ ...v, signature: v.signature.slice(2) }), ['vote'], codec)).toThrow(/vote\.signature/);
    expect(() => decodeMessage(body({ ...v, source: { ...v.source, hash: 'ab' } }), ['vote'], codec)).toThrow(/vote\.source\.hash/);
    expect(() => decodeMessage(body({ ...v, member: 0 }), ['vote'], codec)).toThrow(/vote\.member/);
    expect(() => decodeMessage('x'.repeat(500 * 1024), ['vote'], codec)).toThrow(/body/);
    expect(() => decodeMessage(encode({ kind: 'tick', height: 1 }), ['vote'], codec)).toThrow(/kind/);
  });
});

describe('finalizer under bad votes', () => {
  it('refuses or never counts garbage, and a valid quorum in the middle still certifies', async () => {
    const f = await buildFixture({ checkpointInterval: 1 });
    const store = new MemoryFinalityStore(f.chain.genesis);
    const deps = {
      chain: f.chain,
      region: f.region,
      homeRegion: f.region,
      store,
      transport: new RecordingTransport(),
      members: [1, 3],
      cache: new FinalizerCache(),
    };
    const link: Link = { era: 0n, source: f.checkpoints.get(0)!, target: f.checkpoints.get(1)! };
    const real = (m: number) => voteOn(f.dealing, f.chain.set.chainId, link, m);
    const offCurve = new Uint8Array(48).fill(0x11);
    offCurve[0] = 0x80 | 0x11;
    const garbage: [Vote, string][] = [
      [{ ...real(1), member: 5 }, 'UNKNOWN_MEMBER'],
      [{ ...real(1), member: 1000 }, 'UNKNOWN_MEMBER'],
      [{ ...real(1), era: 9n }, 'WRONG_ERA'],
      [{ ...real(1), target: link.source }, 'BAD_LINK'],
    ];
    const ancestry = await ancestryOf(f, link);
    for (const [v, reason] of garbage) expect(await handleVote(deps, v, { ancestry })).toMatchObject({ kind: 'refused', reason });
    // Signatures that do not verify (off the curve, random bytes, another member's) are dropped and counted, never stored.
    for (const [m, signature] of [
      [4, offCurve],
      [4, fc.sample(fc.uint8Array({ minLength: 48, maxLength: 48 }), { seed: 1, numRuns: 1 })[0]!],
      [4, real(2).signature],
    ] as const)
      expect(await handleVote(deps, { ...link, member: m, signature }, { ancestry })).toMatchObject({
        kind: 'refused',
        reason: 'BAD_SIGNATURE',
      });
    expect(await store.invalidVotes()).toBe(3);
    expect(await store.tally(1)).toBeUndefined();
    // The valid quorum, with a duplicate and more garbage in between.
    await handleVote(deps, real(2), { ancestry });
    await handleVote(deps, real(2), { ancestry });
    expect(await handleVote(deps, { ...real(3), member: 77 }, { ancestry })).toMatchObject({ kind: 'refused' });
    await handleVote(deps, real(3), { ancestry });
    const last = await handleVote(deps, real(4), { ancestry });
    expect(last).toMatchObject({ kind: 'counted', certified: true, justified: [1] });
    expect(await store.listEvidence(10)).toEqual([]);
  });
});
