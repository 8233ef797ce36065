/**
 * The store contract: one suite run against every implementation of the pipeline's store ports
 * (in-memory in test/stores/memory.test.ts, DynamoDB Local in test/integration/dynamo-stores.test.ts),
 * so both keep the same semantics: idempotent puts, compare-and-set, monotone heads, first writer wins.
 * Concurrency cases fire the calls together with Promise.all and assert that exactly one wins.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { exportInterchange, minifyInterchange, parseInterchange } from '../../lib/core/interchange.js';
import { type Evidence, sameLink, type Watermark, watermarkAllows, watermarkOf } from '../../lib/core/slashing.js';
import type { NodeStore } from '../../lib/core/smt.js';
import type { Block, Certificate, Checkpoint, Link, Transaction, Vote } from '../../lib/core/types.js';
import type {
  AppliedHead,
  AppliedStore,
  BlockStore,
  FinalityStore,
  SequencerHead,
  SequencerStore,
  SlashingProtectionStore,
  WatermarkStore,
} from '../../lib/pipeline/ports.js';

/** A fresh, empty set of stores (one region). */
export interface StoreSet {
  readonly genesis: Checkpoint;
  readonly blocks: BlockStore;
  readonly sequencer: SequencerStore;
  readonly protection: SlashingProtectionStore & WatermarkStore;
  readonly finality: FinalityStore;
  readonly applied: AppliedStore;
  readonly nodes: NodeStore;
}

// ---------------------------------------------------------------- fixtures

export const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
export const checkpoint = (height: number): Checkpoint => ({ height, hash: bytes(32), stateRoot: bytes(32) });
export const link = (source: Checkpoint, target: Checkpoint, era = 0n): Link => ({ era, source, target });
export const vote = (l: Link, member: number): Vote => ({ ...l, member, signature: bytes(48) });
export const certificate = (l: Link, signers: number[] = [1, 2, 3]): Certificate => ({ ...l, signers, signature: bytes(48) });
const tx = (): Transaction => ({ from: bytes(32), to: bytes(32), amount: 1_000n, nonce: 7n, signature: bytes(64) });
export const block = (height: number, parentHash: Uint8Array, txs = 1): Block => ({
  height,
  parentHash,
  transactions: Array.from({ length: txs }, tx),
});
const head = (height: number, announced = false): SequencerHead => ({ height, hash: bytes(32), stateRoot: bytes(32), announced });
const appliedAt = (height: number): AppliedHead => ({ height, hash: bytes(32), stateRoot: bytes(32) });
const hexes = (list: Uint8Array[]) => list.map(toHex).sort();

/**
 * Registers the contract tests for one implementation. `makeStores` is called once per test and
 * must return empty stores.
 */
export function describeStoreContract(name: string, makeStores: () => Promise<StoreSet>): void {
  describe(`store contract: ${name}`, () => {
    describe('BlockStore', () => {
      it('stores a block idempotently under its hash and indexes it by height', async () => {
        const { blocks, genesis } = await makeStores();
        const b = block(1, genesis.hash, 3);
        const hash = bytes(32);
        await blocks.putBlock(hash, b);
        await blocks.putBlock(hash, b);
        expect(await blocks.getBlock(hash)).toEqual(b);
        expect(hexes(await blocks.hashesAt(1))).toEqual([toHex(hash)]);
        expect(await blocks.getBlock(bytes(32))).toBeUndefined();
        expect(await blocks.hashesAt(2)).toEqual([]);
      });

      it('lists every block at a height (two proposals at one height)', async () => {
        const { blocks, genesis } = await makeStores();
        const [h1, h2] = [bytes(32), bytes(32)];
        await blocks.putBlock(h1, block(1, genesis.hash));
        await blocks.putBlock(h2, block(1, genesis.hash));
        expect(hexes(await blocks.hashesAt(1))).toEqual(hexes([h1, h2]));
      });

      it('keeps the tip monotone: a lower block does not lower it, concurrent puts end at the highest', async () => {
        const { blocks, genesis } = await makeStores();
        expect(await blocks.tip()).toBeUndefined();
        const h3 = bytes(32);
        await blocks.putBlock(h3, block(3, bytes(32)));
        await blocks.putBlock(bytes(32), block(1, genesis.hash));
        expect(await blocks.tip()).toEqual({ height: 3, hash: h3 });
        const more = [4, 9, 5, 8, 6].map((height) => ({ height, hash: bytes(32) }));
        await Promise.all(more.map((m) => blocks.putBlock(m.hash, block(m.height, bytes(32)))));
        expect(await blocks.tip()).toEqual(more.find((m) => m.height === 9));
      });

      it('round-trips a block larger than a DynamoDB item (400 KB)', async () => {
        const { blocks, genesis } = await makeStores();
        const big = block(1, genesis.hash, 3_000); // about 1 MB of wire JSON
        const hash = bytes(32);
        await blocks.putBlock(hash, big);
        await blocks.putBlock(hash, big);
        expect(await blocks.getBlock(hash)).toEqual(big);
        expect(await blocks.tip()).toEqual({ height: 1, hash });
      });

      it('stores execution roots', async () => {
        const { blocks } = await makeStores();
        const [hash, root] = [bytes(32), bytes(32)];
        expect(await blocks.getExecution(hash)).toBeUndefined();
        await blocks.putExecution(hash, root);
        await blocks.putExecution(hash, root);
        expect(await blocks.getExecution(hash)).toEqual(root);
      });
    });

    describe('SequencerStore', () => {
      it('moves the head by compare-and-set from genesis (no head yet)', async () => {
        const { sequencer, genesis } = await makeStores();
        expect(await sequencer.head()).toBeUndefined();
        const start: SequencerHead = { ...genesis, announced: true };
        const h1 = head(1);
        expect(await sequencer.swapHead(start, h1)).toBe(true);
        expect(await sequencer.head()).toEqual(h1);
        expect(await sequencer.swapHead(start, head(1))).toBe(false); // stale: the head moved
        const announced = { ...h1, announced: true };
        expect(await sequencer.swapHead(h1, announced)).toBe(true);
        expect(await sequencer.head()).toEqual(announced);
      });

      it('lets exactly one of concurrent swaps from the same head win', async () => {
        const { sequencer, genesis } = await makeStores();
        const nexts = [head(1), head(1), head(1), head(1)];
        const won = await Promise.all(nexts.map((n) => sequencer.swapHead({ ...genesis, announced: true }, n)));
        expect(won.filter(Boolean)).toHaveLength(1);
        expect(await sequencer.head()).toEqual(nexts[won.indexOf(true)]);
      });

      it('keeps pending transactions durably, idempotent by hash, until removed', async () => {
        const { sequencer } = await makeStores();
        const txs = Array.from({ length: 30 }, (_, i) => ({
          hash: bytes(32),
          tx: { from: bytes(32), to: bytes(32), amount: BigInt(i) + (1n << 60n), nonce: BigInt(i), signature: bytes(64) } as Transaction,
        }));
        await sequencer.addPending(txs);
        await sequencer.addPending(txs.slice(0, 5)); // a redelivered batch
        const pool = await sequencer.pending(1000);
        expect(pool).toHaveLength(30);
        const byHash = new Map(pool.map((p) => [toHex(p.hash), p.tx]));
        expect(byHash.get(toHex(txs[7]!.hash))).toEqual(txs[7]!.tx);
        expect(await sequencer.pending(10)).toHaveLength(10);
        await sequencer.removePending(txs.slice(0, 26).map((t) => t.hash));
        expect((await sequencer.pending(1000)).map((p) => toHex(p.hash)).sort()).toEqual(
          txs
            .slice(26)
            .map((t) => toHex(t.hash))
            .sort(),
        );
      });
    });

    describe('SlashingProtectionStore', () => {
      it('signs a first link, and returns the stored signature for an identical retry', async () => {
        const { protection } = await makeStores();
        const l = link(checkpoint(0), checkpoint(1));
        const sig = bytes(48);
        expect(await protection.recordSignature(1, l, sig)).toEqual({ kind: 'signed', signature: sig });
        expect(await protection.recordSignature(1, l, bytes(48))).toEqual({ kind: 'identical', signature: sig });
      });

      const [c0, c2, c3, c4, c5, c6] = [0, 2, 3, 4, 5, 6].map(checkpoint) as [
        Checkpoint,
        Checkpoint,
        Checkpoint,
        Checkpoint,
        Checkpoint,
        Checkpoint,
      ];
      const prior = link(c2, c5);
      const cases: { name: string; next: Link; kind: 'signed' | 'refused' }[] = [
        { name: 'double vote (same target height, other checkpoint)', next: link(c2, checkpoint(5)), kind: 'refused' },
        { name: 'double vote from another source', next: link(c3, checkpoint(5)), kind: 'refused' },
        { name: 'surrounding vote (lower source, higher target)', next: link(c0, c6), kind: 'refused' },
        { name: 'surrounded vote (higher source, lower target)', next: link(c3, c4), kind: 'refused' },
        { name: 'lower target', next: link(c2, c4), kind: 'refused' },
        { name: 'next target from the same source', next: link(c2, c6), kind: 'signed' },
        { name: 'next target from a higher source', next: link(c5, c6), kind: 'signed' },
      ];
      for (const c of cases) {
        it(`${c.kind === 'signed' ? 'signs' : 'refuses'} after ${linkName(prior)}: ${c.name}`, async () => {
          const { protection } = await makeStores();
          await protection.recordSignature(2, prior, bytes(48));
          const outcome = await protection.recordSignature(2, c.next, bytes(48));
          expect(outcome.kind).toBe(c.kind);
          if (outcome.kind === 'refused') expect(outcome.last).toEqual(prior);
        });
      }

      it('keeps each member separate', async () => {
        const { protection } = await makeStores();
        const l = link(checkpoint(0), checkpoint(1));
        expect((await protection.recordSignature(1, l, bytes(48))).kind).toBe('signed');
        expect((await protection.recordSignature(2, link(l.source, checkpoint(1)), bytes(48))).kind).toBe('signed');
      });

      it('property: the store signs exactly when watermarkAllows says (generated link sequences)', async () => {
        // The DynamoDB store restates the watermark rule as a condition expression; this proves both
        // stores agree with the one rule in lib/core/slashing.ts on generated cases.
        const heights = fc.integer({ min: 0, max: 12 });
        const links = fc.array(
          fc
            .tuple(heights, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 }))
            .map(([s, span, variant]) => ({ s, t: s + span, variant })),
          { minLength: 1, maxLength: 6 },
        );
        let member = 100;
        await fc.assert(
          fc.asyncProperty(links, async (seq) => {
            const { protection } = await makeStores();
            const m = member++;
            // A small pool of checkpoints per height, so identical retries and same-height conflicts both occur.
            const pool = new Map<string, Checkpoint>();
            const cp = (h: number, v: number) => {
              const key = `${h}/${v}`;
              if (!pool.has(key)) pool.set(key, checkpoint(h));
              return pool.get(key)!;
            };
            let last: Link | undefined;
            for (const { s, t, variant } of seq) {
              const l = link(cp(s, 0), cp(t, variant));
              const outcome = await protection.recordSignature(m, l, bytes(48));
              const identical = last !== undefined && sameLink(last, l);
              const expected = identical ? 'identical' : !last || watermarkAllows(watermarkOf(last), l) ? 'signed' : 'refused';
              expect(outcome.kind).toBe(expected);
              if (outcome.kind === 'signed') last = l;
            }
          }),
          { numRuns: 25 },
        );
      });

      it('lets exactly one of concurrent conflicting signatures through', async () => {
        const { protection, genesis } = await makeStores();
        const links = Array.from({ length: 5 }, () => link(genesis, checkpoint(1)));
        const outcomes = await Promise.all(links.map((l) => protection.recordSignature(3, l, bytes(48))));
        expect(outcomes.filter((o) => o.kind === 'signed')).toHaveLength(1);
        expect(outcomes.filter((o) => o.kind === 'refused')).toHaveLength(4);
        const winner = links[outcomes.findIndex((o) => o.kind === 'signed')]!;
        for (const o of outcomes) if (o.kind === 'refused') expect(o.last).toEqual(winner);
      });
    });

    describe('WatermarkStore (slashing-protection interchange)', () => {
      const wm = (s: number, t: number): Watermark => ({ lastSourceHeight: s, lastTargetHeight: t });
      const at = (s: number, t: number) => link(checkpoint(s), checkpoint(t));

      it('reads no watermark for a new member, then the heights of what it signed', async () => {
        const { protection } = await makeStores();
        expect(await protection.watermark(1)).toBeUndefined();
        await protection.recordSignature(1, at(2, 3), bytes(48));
        expect(await protection.watermark(1)).toEqual(wm(2, 3));
        expect(await protection.watermark(2)).toBeUndefined();
      });

      it('an imported watermark has no link: lastSigned stays empty, and signing obeys the imported heights', async () => {
        const { protection } = await makeStores();
        expect(await protection.mergeWatermark(1, wm(4, 6))).toEqual(wm(4, 6));
        expect(await protection.lastSigned(1)).toBeUndefined();
        for (const [s, t] of [
          [4, 6], // same target height
          [5, 6],
          [3, 7], // lower source
          [4, 5], // lower target
        ] as const) {
          const outcome = await protection.recordSignature(1, at(s, t), bytes(48));
          expect(outcome, `${s}->${t}`).toEqual({ kind: 'refused', watermark: wm(4, 6) });
        }
        const next = at(4, 7);
        const sig = bytes(48);
        expect(await protection.recordSignature(1, next, sig)).toEqual({ kind: 'signed', signature: sig });
        expect(await protection.lastSigned(1)).toEqual({ link: next, signature: sig });
        expect(await protection.watermark(1)).toEqual(wm(4, 7));
      });

      it('a merge never lowers a height, keeps the signed link, and a retry of that link stays identical', async () => {
        const { protection } = await makeStores();
        const signed = at(2, 5);
        const sig = bytes(48);
        await protection.recordSignature(1, signed, sig);
        expect(await protection.mergeWatermark(1, wm(1, 3))).toEqual(wm(2, 5));
        expect(await protection.mergeWatermark(1, wm(4, 3))).toEqual(wm(4, 5));
        expect(await protection.watermark(1)).toEqual(wm(4, 5));
        expect(await protection.lastSigned(1)).toEqual({ link: signed, signature: sig });
        expect(await protection.recordSignature(1, signed, bytes(48))).toEqual({ kind: 'identical', signature: sig });
        expect(await protection.recordSignature(1, at(3, 6), bytes(48))).toEqual({ kind: 'refused', last: signed, watermark: wm(4, 5) });
        expect((await protection.recordSignature(1, at(4, 6), bytes(48))).kind).toBe('signed');
      });

      it('concurrent merges and a signature end at the pointwise maximum', async () => {
        const { protection } = await makeStores();
        const floors = [wm(1, 9), wm(5, 3), wm(2, 7), wm(4, 4), wm(0, 1)];
        const signed = at(6, 10);
        const [outcome] = await Promise.all([
          protection.recordSignature(2, signed, bytes(48)),
          ...floors.map((f) => protection.mergeWatermark(2, f)),
        ]);
        expect(outcome.kind).toBe('signed'); // no floor forbids 6->10
        expect(await protection.watermark(2)).toEqual(wm(6, 10));
        expect((await protection.lastSigned(2))?.link).toEqual(signed);
      });

      it('a merge racing a signature it forbids: whichever lands first, the watermark ends at the merge or above', async () => {
        const { protection } = await makeStores();
        const racing = at(3, 8);
        const [outcome] = await Promise.all([protection.recordSignature(3, racing, bytes(48)), protection.mergeWatermark(3, wm(5, 9))]);
        expect(await protection.watermark(3)).toEqual(wm(5, 9));
        if (outcome.kind === 'signed') expect((await protection.lastSigned(3))?.link).toEqual(racing);
        else expect(outcome).toEqual({ kind: 'refused', watermark: wm(5, 9) });
        expect((await protection.recordSignature(3, at(4, 10), bytes(48))).kind).toBe('refused');
      });

      it('restore hazard (issue 15, item 8): a rewound watermark signs a double vote; importing the export taken before refuses it', async () => {
        const chainId = bytes(32);
        const pubkey = bytes(96);
        const before = await makeStores();
        const signed = at(2, 3);
        await before.protection.recordSignature(1, signed, bytes(48));
        const exported = exportInterchange({
          chainId,
          pubkey,
          watermark: (await before.protection.watermark(1))!,
          last: (await before.protection.lastSigned(1))!.link,
        });
        const conflicting = at(2, 3); // same target height, another block: a double vote

        // A point-in-time restore to before the signature: the member's item is gone.
        const rewound = await makeStores();
        expect((await rewound.protection.recordSignature(1, conflicting, bytes(48))).kind).toBe('signed');

        const restored = await makeStores();
        const floors = minifyInterchange(parseInterchange(JSON.parse(JSON.stringify(exported))), chainId);
        await restored.protection.mergeWatermark(1, floors.get(toHex(pubkey))!);
        expect(await restored.protection.recordSignature(1, conflicting, bytes(48))).toEqual({ kind: 'refused', watermark: wm(2, 3) });
        expect((await restored.protection.recordSignature(1, at(3, 4), bytes(48))).kind).toBe('signed');
      });
    });

    describe('VoteLog and EvidenceStore', () => {
      it("records a vote once and lists a member's votes from a target height", async () => {
        const { finality } = await makeStores();
        const [c0, c1, c2] = [checkpoint(0), checkpoint(1), checkpoint(2)];
        const v1 = vote(link(c0, c1), 4);
        const v2 = vote(link(c1, c2), 4);
        expect(await finality.recordVote(v1)).toBe('new');
        expect(await finality.recordVote(v1)).toBe('duplicate');
        // Another copy with other signature bytes is kept apart (a forged copy must not hide the genuine vote).
        const copy = { ...v1, signature: bytes(48) };
        expect(await finality.recordVote(copy)).toBe('new');
        expect(await finality.recordVote(copy)).toBe('duplicate');
        expect(await finality.recordVote(v2)).toBe('new');
        expect(await finality.recordVote({ ...v2, member: 5 })).toBe('new');
        expect(await finality.votesOf(4, 0)).toHaveLength(3);
        expect(await finality.votesOf(4, 2)).toEqual([v2]);
        expect(await finality.votesOf(4, 3)).toEqual([]);
        expect(await finality.votesOf(6, 0)).toEqual([]);
      });

      it('stores evidence once per member, kind and pair of links', async () => {
        const { finality } = await makeStores();
        const c0 = checkpoint(0);
        const first = vote(link(c0, checkpoint(1)), 2);
        const second = vote(link(c0, checkpoint(1)), 2);
        const e: Evidence = { kind: 'double', member: 2, first, second };
        await finality.putEvidence(e);
        await finality.putEvidence(e);
        expect(await finality.listEvidence(10)).toEqual([e]);
        await finality.putEvidence({ ...e, member: 3, first: { ...first, member: 3 }, second: { ...second, member: 3 } });
        expect(await finality.listEvidence(10)).toHaveLength(2);
        expect(await finality.listEvidence(1)).toHaveLength(1);
      });
    });

    describe('TallyStore', () => {
      it("adds a member's partial once (the first one counts)", async () => {
        const { finality } = await makeStores();
        const l = link(checkpoint(0), checkpoint(1));
        const v = vote(l, 1);
        const t1 = await finality.addPartial(v);
        expect(t1.link).toEqual(l);
        expect(t1.certificate).toBeUndefined();
        expect([...t1.partials]).toEqual([[1, v.signature]]);
        const t2 = await finality.addPartial({ ...v, signature: bytes(48) });
        expect([...t2.partials]).toEqual([[1, v.signature]]);
      });

      it('counts every member of concurrent adds', async () => {
        const { finality } = await makeStores();
        const l = link(checkpoint(0), checkpoint(1));
        const votes = [1, 2, 3, 4, 5, 6, 7].map((m) => vote(l, m));
        const tallies = await Promise.all(votes.map((v) => finality.addPartial(v)));
        expect(Math.max(...tallies.map((t) => t.partials.size))).toBe(7);
        const after = await finality.addPartial(votes[0]!);
        expect(new Map(after.partials)).toEqual(new Map(votes.map((v) => [v.member, v.signature])));
      });

      it('removes only partials that still have the same bytes', async () => {
        const { finality } = await makeStores();
        const l = link(checkpoint(0), checkpoint(1));
        const [v1, v2, v3] = [vote(l, 1), vote(l, 2), vote(l, 3)];
        for (const v of [v1, v2, v3]) await finality.addPartial(v);
        await finality.removePartials(l, [
          { member: 1, signature: bytes(48) }, // not the stored bytes: kept
          { member: 2, signature: v2.signature },
          { member: 9, signature: bytes(48) }, // never added
        ]);
        await finality.removePartials(link(checkpoint(0), checkpoint(1)), [{ member: 1, signature: v1.signature }]); // unknown link
        const t = await finality.addPartial(v3);
        expect([...t.partials.keys()].sort()).toEqual([1, 3]);
        const readded = await finality.addPartial({ ...v2, signature: bytes(48) });
        expect(readded.partials.size).toBe(3);
      });

      it('keeps the first certificate of a link, also under concurrent writers', async () => {
        const { finality } = await makeStores();
        const l = link(checkpoint(0), checkpoint(1));
        const first = certificate(l, [1, 2, 3]);
        expect(await finality.setCertificate(first)).toEqual(first);
        expect(await finality.setCertificate(certificate(l, [2, 3, 4]))).toEqual(first);
        expect((await finality.addPartial(vote(l, 1))).certificate).toEqual(first);

        const other = link(checkpoint(0), checkpoint(1));
        const racing = [certificate(other, [1, 2, 3]), certificate(other, [1, 2, 4]), certificate(other, [2, 3, 4])];
        const stored = await Promise.all(racing.map((c) => finality.setCertificate(c)));
        expect(racing).toContainEqual(stored[0]);
        for (const s of stored) expect(s).toEqual(stored[0]);
      });
    });

    describe('CheckpointStore', () => {
      it('holds genesis as finalized from the start', async () => {
        const { finality, genesis } = await makeStores();
        expect(await finality.checkpointsAt(0)).toEqual([{ checkpoint: genesis, status: 'finalized' }]);
        expect(await finality.markJustified(genesis, undefined)).toBe(false);
        expect(await finality.markFinalized(genesis, undefined)).toBe(false);
        expect(await finality.checkpointsAt(0)).toEqual([{ checkpoint: genesis, status: 'finalized' }]);
      });

      it('justifies once, then finalizes once, keeping the justification', async () => {
        const { finality, genesis } = await makeStores();
        const c1 = checkpoint(1);
        const justification = certificate(link(genesis, c1));
        const finalization = certificate(link(c1, checkpoint(2)));
        expect(await finality.checkpointsAt(1)).toEqual([]);
        expect(await finality.markJustified(c1, justification)).toBe(true);
        expect(await finality.markJustified(c1, certificate(link(genesis, c1)))).toBe(false);
        expect(await finality.checkpointsAt(1)).toEqual([{ checkpoint: c1, status: 'justified', justification }]);
        expect(await finality.markFinalized(c1, finalization)).toBe(true);
        expect(await finality.markFinalized(c1, certificate(link(c1, checkpoint(2))))).toBe(false);
        expect(await finality.checkpointsAt(1)).toEqual([{ checkpoint: c1, status: 'finalized', justification, finalization }]);
      });

      it('never downgrades a finalized checkpoint', async () => {
        const { finality } = await makeStores();
        const c2 = checkpoint(2);
        expect(await finality.markFinalized(c2, undefined)).toBe(true);
        expect(await finality.markJustified(c2, certificate(link(checkpoint(0), c2)))).toBe(false);
        expect(await finality.checkpointsAt(2)).toEqual([{ checkpoint: c2, status: 'finalized' }]);
      });

      it('reports exactly one caller as the one that justified or finalized', async () => {
        const { finality, genesis } = await makeStores();
        const c1 = checkpoint(1);
        const justified = await Promise.all([1, 2, 3, 4].map(() => finality.markJustified(c1, certificate(link(genesis, c1)))));
        expect(justified.filter(Boolean)).toHaveLength(1);
        const finalized = await Promise.all([1, 2, 3, 4].map(() => finality.markFinalized(c1, certificate(link(c1, checkpoint(2))))));
        expect(finalized.filter(Boolean)).toHaveLength(1);
      });

      it('keeps two checkpoints at one height apart', async () => {
        const { finality } = await makeStores();
        const [a, b] = [checkpoint(3), checkpoint(3)];
        expect(await finality.markJustified(a, undefined)).toBe(true);
        expect(await finality.markJustified(b, undefined)).toBe(true);
        const records = await finality.checkpointsAt(3);
        expect(records.map((r) => toHex(r.checkpoint.hash)).sort()).toEqual(hexes([a.hash, b.hash]));
      });

      it('lists the certified links waiting on a source', async () => {
        const { finality } = await makeStores();
        const [a, b] = [checkpoint(1), checkpoint(1)];
        const fromA = [certificate(link(a, checkpoint(2))), certificate(link(a, checkpoint(3)))];
        const fromB = certificate(link(b, checkpoint(2)));
        for (const c of [...fromA, fromB, fromA[0]!]) await finality.awaitSource(c);
        const listed = await finality.linksFrom(a);
        expect(listed).toHaveLength(2);
        for (const c of fromA) expect(listed).toContainEqual(c);
        expect(await finality.linksFrom(b)).toEqual([fromB]);
        expect(await finality.linksFrom(checkpoint(1))).toEqual([]);
      });
    });

    describe('HeadStore', () => {
      it('starts at genesis and raises justified and finalized independently, never down', async () => {
        const { finality, genesis } = await makeStores();
        expect(await finality.head()).toEqual({ justified: genesis, finalized: genesis });
        const [c1, c2, c3] = [checkpoint(1), checkpoint(2), checkpoint(3)];
        const cert12 = certificate(link(c1, c2));
        expect(await finality.raiseHead({ justified: c2 })).toEqual({ justified: c2, finalized: genesis });
        expect(await finality.raiseHead({ finalized: c1, finalization: cert12 })).toEqual({
          justified: c2,
          finalized: c1,
          finalization: cert12,
        });
        // Lower or equal updates are ignored, each field on its own.
        expect(await finality.raiseHead({ justified: c1, finalized: c1, finalization: certificate(link(c1, c2)) })).toEqual({
          justified: c2,
          finalized: c1,
          finalization: cert12,
        });
        expect(await finality.raiseHead({ justified: c3 })).toEqual({ justified: c3, finalized: c1, finalization: cert12 });
        expect(await finality.head()).toEqual({ justified: c3, finalized: c1, finalization: cert12 });
      });

      it('never keeps a finalization certificate that belongs to an older finalized checkpoint', async () => {
        const { finality, genesis } = await makeStores();
        const [c1, c2] = [checkpoint(1), checkpoint(2)];
        await finality.raiseHead({ finalized: c1, finalization: certificate(link(c1, c2)) });
        expect(await finality.raiseHead({ finalized: c2 })).toEqual({ justified: genesis, finalized: c2 });
      });

      it('ends at the highest of concurrent raises', async () => {
        const { finality } = await makeStores();
        const cps = [5, 2, 9, 7, 3].map(checkpoint);
        await Promise.all(
          cps.map((c) => finality.raiseHead({ justified: c, finalized: c, finalization: certificate(link(c, checkpoint(c.height + 1))) })),
        );
        const h = await finality.head();
        const top = cps.find((c) => c.height === 9)!;
        expect(h.justified).toEqual(top);
        expect(h.finalized).toEqual(top);
        expect(h.finalization?.source).toEqual(top);
      });
    });

    describe('AppliedStore', () => {
      it('advances the pointer by compare-and-set from genesis (no pointer yet)', async () => {
        const { applied, genesis } = await makeStores();
        expect(await applied.applied()).toBeUndefined();
        const a1 = appliedAt(1);
        expect(await applied.advanceApplied(genesis, a1)).toBe(true);
        expect(await applied.applied()).toEqual(a1);
        expect(await applied.advanceApplied(genesis, appliedAt(1))).toBe(false);
        expect(await applied.advanceApplied(appliedAt(2), appliedAt(3))).toBe(false);
        const a2 = appliedAt(2);
        expect(await applied.advanceApplied(a1, a2)).toBe(true);
        expect(await applied.applied()).toEqual(a2);
      });

      it('lets exactly one of concurrent advancers win', async () => {
        const { applied, genesis } = await makeStores();
        const nexts = [1, 2, 3, 4, 5].map(() => appliedAt(1));
        const won = await Promise.all(nexts.map((n) => applied.advanceApplied(genesis, n)));
        expect(won.filter(Boolean)).toHaveLength(1);
        expect(await applied.applied()).toEqual(nexts[won.indexOf(true)]);
      });
    });

    describe('NodeStore', () => {
      it('round-trips more nodes than one batch write holds, duplicates included', async () => {
        const { nodes } = await makeStores();
        const list = Array.from({ length: 60 }, () => ({ hash: bytes(32), bytes: bytes(1 + Math.floor(Math.random() * 100)) }));
        await nodes.putMany([...list, list[0]!, list[59]!]);
        await nodes.putMany(list.slice(10, 40));
        for (const n of list) expect(await nodes.get(n.hash)).toEqual(n.bytes);
        expect(await nodes.get(bytes(32))).toBeUndefined();
        await nodes.putMany([]);
      });
    });
  });
}

const linkName = (l: Link) => `${l.source.height}->${l.target.height}`;
