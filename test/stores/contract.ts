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
import { EVIDENCE_SLOTS } from '../../lib/core/ids.js';
import { exportInterchange, minifyInterchange, parseInterchange } from '../../lib/core/interchange.js';
import { type Evidence, sameLink, type Watermark, watermarkAllows, watermarkOf } from '../../lib/core/slashing.js';
import type { NodeStore } from '../../lib/core/smt.js';
import type { Block, Certificate, Checkpoint, Link, Transaction, Vote } from '../../lib/core/types.js';
import type { ViewCertificate, ViewChange } from '../../lib/core/views.js';
import { DEFAULT_POOL_LANES, INCLUDED_KEEP_BLOCKS } from '../../lib/pipeline/pool.js';
import type {
  AdmissionView,
  AppliedHead,
  AppliedStore,
  BlockStore,
  FinalityStore,
  PendingTransaction,
  PoolLimits,
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
const head = (height: number): SequencerHead => ({ height, hash: bytes(32), stateRoot: bytes(32) });
/** A random sender; with `lane`, one the pool puts on that lane (lib/pipeline/pool.ts laneOf). */
const sender = (lane?: number): Uint8Array => {
  const key = bytes(32);
  if (lane !== undefined) [key[0], key[1]] = [0, lane];
  return key;
};
/** A pool entry: a transfer of `spend` from `from` at `sequence` (the store does not check signatures). */
const pendingTx = (from: Uint8Array, sequence: bigint, spend = 1n): PendingTransaction => ({
  hash: bytes(32),
  tx: { from, to: bytes(32), amount: spend, nonce: sequence, signature: bytes(64) } as Transaction,
  sender: from,
  sequence,
  spend,
});
const appliedAt = (height: number): AppliedHead => ({ height, hash: bytes(32), stateRoot: bytes(32) });
const hexes = (list: Uint8Array[]) => list.map(toHex).sort();

/**
 * Registers the contract tests for one implementation. `makeStores` is called once per test and
 * must return empty stores.
 */
export function describeStoreContract(name: string, makeStores: () => Promise<StoreSet>): void {
  describe(`store contract: ${name}`, () => {
    describe('BlockStore', () => {
      it('stores a block idempotently under its height and hash', async () => {
        const { blocks, genesis } = await makeStores();
        const b = block(1, genesis.hash, 3);
        const hash = bytes(32);
        await blocks.putBlock(hash, b);
        await blocks.putBlock(hash, b);
        expect(await blocks.getBlock(1, hash)).toEqual(b);
        expect(hexes(await blocks.hashesAt(1))).toEqual([toHex(hash)]);
        expect(await blocks.getBlock(1, bytes(32))).toBeUndefined();
        expect(await blocks.getBlock(2, hash)).toBeUndefined();
        expect(await blocks.hashesAt(2)).toEqual([]);
      });

      it('lists every block at a height (two proposals at one height)', async () => {
        const { blocks, genesis } = await makeStores();
        const [h1, h2] = [bytes(32), bytes(32)];
        await blocks.putBlock(h1, block(1, genesis.hash));
        await blocks.putBlock(h2, block(1, genesis.hash));
        expect(hexes(await blocks.hashesAt(1))).toEqual(hexes([h1, h2]));
      });

      it('indexes finalized hashes by height, idempotently, across batches of any size', async () => {
        const { blocks } = await makeStores();
        expect(await blocks.finalizedHash(3)).toBeUndefined();
        const entries = Array.from({ length: 60 }, (_, i) => ({ height: i + 1, hash: bytes(32) }));
        await blocks.indexFinalized(entries);
        await blocks.indexFinalized(entries.slice(10, 20));
        await blocks.indexFinalized([]);
        for (const e of [entries[0]!, entries[29]!, entries[59]!])
          expect(toHex((await blocks.finalizedHash(e.height))!)).toBe(toHex(e.hash));
        expect(await blocks.finalizedHash(61)).toBeUndefined();
        expect(await blocks.hashesAt(1)).toEqual([]); // the index is not a block
      });

      it('finds the tip by probing up from a height, within the span', async () => {
        const { blocks, genesis } = await makeStores();
        expect(await blocks.tip(1, 8)).toBeUndefined();
        const hashes = [1, 2, 3].map(() => bytes(32));
        for (const [i, hash] of hashes.entries()) await blocks.putBlock(hash, block(i + 1, i === 0 ? genesis.hash : hashes[i - 1]!));
        expect(await blocks.tip(1, 8)).toEqual({ height: 3, hash: hashes[2] });
        expect(await blocks.tip(2, 1)).toEqual({ height: 2, hash: hashes[1] }); // the span bounds the probe
        expect(await blocks.tip(4, 8)).toBeUndefined();
      });

      it('round-trips a block larger than a DynamoDB item (400 KB)', async () => {
        const { blocks, genesis } = await makeStores();
        const big = block(1, genesis.hash, 3_000); // about 1 MB of wire JSON
        const hash = bytes(32);
        await blocks.putBlock(hash, big);
        await blocks.putBlock(hash, big);
        expect(await blocks.getBlock(1, hash)).toEqual(big);
        expect(hexes(await blocks.hashesAt(1))).toEqual([toHex(hash)]);
      });
    });

    describe('SequencerStore', () => {
      it('moves the head by compare-and-set from genesis (no head yet)', async () => {
        const { sequencer, genesis } = await makeStores();
        expect(await sequencer.head()).toBeUndefined();
        const h1 = head(1);
        expect(await sequencer.swapHead(genesis, h1)).toBe(true);
        expect(await sequencer.head()).toEqual(h1);
        expect(await sequencer.swapHead(genesis, head(1))).toBe(false); // stale: the head moved
        const h2 = head(2);
        expect(await sequencer.swapHead(h1, h2)).toBe(true);
        expect(await sequencer.head()).toEqual(h2);
      });

      it('lets exactly one of concurrent swaps from the same head win', async () => {
        const { sequencer, genesis } = await makeStores();
        const nexts = [head(1), head(1), head(1), head(1)];
        const won = await Promise.all(nexts.map((n) => sequencer.swapHead(genesis, n)));
        expect(won.filter(Boolean)).toHaveLength(1);
        expect(await sequencer.head()).toEqual(nexts[won.indexOf(true)]);
      });

      it('advances the pacemaker generation by compare-and-set; exactly one of concurrent arms wins', async () => {
        const { sequencer } = await makeStores();
        expect(await sequencer.pacemaker()).toBe(0);
        expect(await sequencer.swapPacemaker(0, 1)).toBe(true);
        expect(await sequencer.swapPacemaker(0, 1)).toBe(false);
        const won = await Promise.all([1, 1, 1].map((g) => sequencer.swapPacemaker(g, g + 1)));
        expect(won.filter(Boolean)).toHaveLength(1);
        expect(await sequencer.pacemaker()).toBe(2);
      });
    });

    describe('PoolStore (the transaction pool)', () => {
      const limits: PoolLimits = { capacity: 100, perSender: 4, nonceWindow: 8 };
      const view = (next = 0n, budget = 1_000n): AdmissionView => ({ next, budget, height: 1 });
      const ids = (list: readonly { hash: Uint8Array }[]) => list.map((p) => toHex(p.hash));

      it('admits a transaction durably, answers a resubmission as known, and serves it', async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const t = pendingTx(s, 0n, 10n);
        expect(await pool.status(t.hash)).toBeUndefined();
        expect(await pool.admit(t, view(), limits)).toEqual({ kind: 'admitted' });
        expect(await pool.status(t.hash)).toEqual({ status: 'pending' });
        expect(await pool.admit(t, view(), limits)).toEqual({ kind: 'known', status: { status: 'pending' } });
        const [served] = await pool.pending(10);
        expect(served).toEqual(t);
      });

      it('refuses by the rules, writing nothing: taken, too far, gap, sender cap, budget', async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const first = pendingTx(s, 5n, 400n);
        expect(await pool.admit(first, view(5n), limits)).toEqual({ kind: 'admitted' });
        const rival = pendingTx(s, 5n, 1n);
        expect(await pool.admit(rival, view(5n), limits)).toEqual({ kind: 'refused', refusal: { kind: 'taken', holder: first.hash } });
        expect(await pool.admit(pendingTx(s, 13n, 1n), view(5n), limits)).toEqual({
          kind: 'refused',
          refusal: { kind: 'too-far', next: 5n, window: 8 },
        });
        expect(await pool.admit(pendingTx(s, 7n, 1n), view(5n), limits)).toEqual({
          kind: 'refused',
          refusal: { kind: 'gap', missing: 6n },
        });
        expect(await pool.admit(pendingTx(s, 6n, 601n), view(5n), limits)).toEqual({
          kind: 'refused',
          refusal: { kind: 'over-budget', budget: 1_000n, committed: 400n },
        });
        for (const n of [6n, 7n, 8n]) expect((await pool.admit(pendingTx(s, n, 1n), view(5n), limits)).kind).toBe('admitted');
        expect(await pool.admit(pendingTx(s, 9n, 1n), view(5n), limits)).toEqual({
          kind: 'refused',
          refusal: { kind: 'sender-full', pending: 4, cap: 4 },
        });
        expect(await pool.status(rival.hash)).toBeUndefined();
        expect((await pool.pending(100)).map((p) => p.sequence)).toEqual([5n, 6n, 7n, 8n]);
      });

      it('refuses with full when the lane has no room, and makes room when transactions leave', async () => {
        const { sequencer: pool } = await makeStores();
        const tight: PoolLimits = { ...limits, capacity: DEFAULT_POOL_LANES }; // one pending transaction per lane
        const [a, b] = [sender(3), sender(3)]; // same lane
        const ta = pendingTx(a, 0n);
        expect(await pool.admit(ta, view(), tight)).toEqual({ kind: 'admitted' });
        const tb = pendingTx(b, 0n);
        expect(await pool.admit(tb, view(), tight)).toEqual({ kind: 'refused', refusal: { kind: 'full', capacity: DEFAULT_POOL_LANES } });
        expect((await pool.admit(pendingTx(sender(4), 0n), view(), tight)).kind).toBe('admitted'); // another lane
        await pool.removePending([{ entry: ta, status: 'included', height: 3 }]);
        expect(await pool.admit(tb, view(), tight)).toEqual({ kind: 'admitted' });
      });

      it('lets exactly one of concurrent admissions into the last place of a lane', async () => {
        const { sequencer: pool } = await makeStores();
        const tight: PoolLimits = { ...limits, capacity: DEFAULT_POOL_LANES };
        const outcomes = await Promise.all([0, 1, 2, 3].map(() => pool.admit(pendingTx(sender(5), 0n), view(), tight)));
        expect(outcomes.filter((o) => o.kind === 'admitted')).toHaveLength(1);
        expect(outcomes.filter((o) => o.kind === 'refused' && o.refusal.kind === 'full')).toHaveLength(3);
        expect(await pool.pending(10)).toHaveLength(1);
      });

      it('admits concurrent copies of one transaction once', async () => {
        const { sequencer: pool } = await makeStores();
        const t = pendingTx(sender(), 0n);
        const outcomes = await Promise.all([0, 1, 2].map(() => pool.admit(t, view(), limits)));
        expect(outcomes.filter((o) => o.kind === 'admitted')).toHaveLength(1);
        for (const o of outcomes.filter((x) => x.kind !== 'admitted')) expect(o).toEqual({ kind: 'known', status: { status: 'pending' } });
        expect(ids(await pool.pending(10))).toEqual(ids([t]));
      });

      it('serves senders round-robin, the longest waiting first, each in sequence order, never by hash', async () => {
        const { sequencer: pool } = await makeStores();
        const [a, b, c] = [sender(), sender(), sender()];
        // Hashes sort opposite to arrival, so an order by hash would put c first.
        const hash = (rank: number) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 255 - rank : 0));
        const a0 = { ...pendingTx(a, 0n), hash: hash(0) };
        await pool.admit(a0, view(), limits);
        const bs = [0n, 1n].map((n, i) => ({ ...pendingTx(b, n), hash: hash(1 + i) }));
        for (const t of bs) await pool.admit(t, view(), limits);
        const as = [1n, 2n, 3n].map((n, i) => ({ ...pendingTx(a, n), hash: hash(3 + i) }));
        for (const t of as) await pool.admit(t, view(), limits);
        const c0 = { ...pendingTx(c, 0n), hash: hash(6) };
        await pool.admit(c0, view(), limits);
        expect(ids(await pool.pending(100))).toEqual(ids([a0, bs[0]!, c0, as[0]!, bs[1]!, as[1]!, as[2]!]));
        expect(ids(await pool.pending(3))).toEqual(ids([a0, bs[0]!, c0]));
        // Waiting: a0 cannot be included yet, so a goes behind the others.
        await pool.removePending([{ entry: a0, status: 'waiting' }]);
        expect(ids(await pool.pending(3))).toEqual(ids([bs[0]!, c0, a0]));
      });

      it('keeps included transactions for the gap rule and the budget until well below finality', async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const t0 = pendingTx(s, 0n, 600n);
        await pool.admit(t0, view(), limits);
        await pool.removePending([{ entry: t0, status: 'included', height: 7 }]);
        expect(await pool.status(t0.hash)).toEqual({ status: 'included', height: 7 });
        expect(await pool.pending(10)).toEqual([]);
        expect(await pool.admit(t0, view(), limits)).toEqual({ kind: 'known', status: { status: 'included', height: 7 } });
        // Admitted against the state before t0 was final: t0 still counts for the budget and fills the gap.
        expect(await pool.admit(pendingTx(s, 1n, 401n), view(), limits)).toEqual({
          kind: 'refused',
          refusal: { kind: 'over-budget', budget: 1_000n, committed: 600n },
        });
        const t1 = pendingTx(s, 1n, 400n);
        expect(await pool.admit(t1, view(), limits)).toEqual({ kind: 'admitted' });
        await pool.removePending([{ entry: t1, status: 'included', height: 8 }]);
        await pool.pending(10, { finalizedHeight: 8 + INCLUDED_KEEP_BLOCKS });
        // Both dropped: against a stale view (next 0), nonce 2 now has no predecessor in the pool.
        expect(await pool.admit(pendingTx(s, 2n), view(), limits)).toEqual({ kind: 'refused', refusal: { kind: 'gap', missing: 1n } });
        expect((await pool.admit(pendingTx(s, 2n), view(2n), limits)).kind).toBe('admitted');
        expect(await pool.status(t1.hash)).toEqual({ status: 'included', height: 8 });
      });

      it('rejects with a reason, evicts the admitted transactions behind it, and never overwrites an included status', async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const ts = [0n, 1n, 2n].map((n) => pendingTx(s, n));
        for (const t of ts) await pool.admit(t, view(), limits);
        await pool.removePending([{ entry: ts[0]!, status: 'rejected', reason: 'INSUFFICIENT_BALANCE', message: 'balance 0 < amount 1' }]);
        expect(await pool.status(ts[0]!.hash)).toEqual({
          status: 'rejected',
          reason: 'INSUFFICIENT_BALANCE',
          message: 'balance 0 < amount 1',
        });
        for (const t of ts.slice(1)) expect(await pool.status(t.hash)).toMatchObject({ status: 'rejected', reason: 'NONCE_GAP' });
        expect(await pool.pending(10)).toEqual([]);
        // A rejected transaction may come again (e.g. once funded).
        expect(await pool.admit(ts[0]!, view(), limits)).toEqual({ kind: 'admitted' });
        await pool.removePending([{ entry: ts[0]!, status: 'included', height: 2 }]);
        await pool.removePending([{ entry: ts[0]!, status: 'rejected', reason: 'BAD_NONCE', message: 'stale', sequenceUsed: true }]);
        expect(await pool.status(ts[0]!.hash)).toEqual({ status: 'included', height: 2 });
      });

      it('keeps the transactions behind a stale one (its sequence number is used)', async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const ts = [0n, 1n].map((n) => pendingTx(s, n));
        for (const t of ts) await pool.admit(t, view(), limits);
        await pool.removePending([{ entry: ts[0]!, status: 'rejected', reason: 'BAD_NONCE', message: 'stale', sequenceUsed: true }]);
        expect(ids(await pool.pending(10))).toEqual(ids([ts[1]!]));
      });

      it('adds ingress transactions without limits, idempotent by hash, never over a known one', async () => {
        const { sequencer: pool } = await makeStores();
        const txs = Array.from({ length: 30 }, (_, i) => pendingTx(sender(), BigInt(i), BigInt(i) + (1n << 60n)));
        await pool.addPending(txs);
        await pool.addPending(txs.slice(0, 5)); // a redelivered batch
        const served = await pool.pending(1000);
        expect(served).toHaveLength(30);
        expect(served.find((p) => toHex(p.hash) === toHex(txs[7]!.hash))).toEqual(txs[7]);
        expect(await pool.pending(10)).toHaveLength(10);
        await pool.removePending(txs.slice(0, 26).map((entry) => ({ entry, status: 'included' as const, height: 1 })));
        await pool.addPending(txs.slice(0, 2)); // redelivered after inclusion: stays included
        expect(ids(await pool.pending(1000)).sort()).toEqual(ids(txs.slice(26)).sort());
        expect(await pool.status(txs[0]!.hash)).toEqual({ status: 'included', height: 1 });
      });

      it('holds backup copies as admitted ones: a rejection below them evicts them with NONCE_GAP', async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const ts = [0n, 1n].map((n) => pendingTx(s, n));
        await pool.addPending(ts, { admitted: true });
        await pool.removePending([{ entry: ts[0]!, status: 'rejected', reason: 'INSUFFICIENT_BALANCE', message: 'balance 0 < amount 1' }]);
        expect(await pool.status(ts[1]!.hash)).toMatchObject({ status: 'rejected', reason: 'NONCE_GAP' });
        expect(await pool.pending(10)).toEqual([]);
      });

      it("settles a final block's transactions it knows as included there, correcting other statuses, and writes nothing for the rest", async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const [copy, stale, done, other] = [pendingTx(s, 0n), pendingTx(s, 1n), pendingTx(s, 2n), pendingTx(sender(), 0n)] as const;
        await pool.addPending([copy, stale, done], { admitted: true });
        // A sequencer that took over dropped one as stale before the block that used its sequence number was final here.
        await pool.removePending([{ entry: stale, status: 'rejected', reason: 'BAD_NONCE', message: 'stale', sequenceUsed: true }]);
        await pool.removePending([{ entry: done, status: 'included', height: 9 }]);
        await pool.settle([copy, stale, done, other], 9);
        for (const t of [copy, stale, done]) expect(await pool.status(t.hash)).toEqual({ status: 'included', height: 9 });
        expect(await pool.status(other.hash)).toBeUndefined();
        expect(await pool.pending(10)).toEqual([]);
        await pool.settle([copy, stale, done, other], 9); // idempotent
        expect(await pool.status(copy.hash)).toEqual({ status: 'included', height: 9 });
        expect(await pool.status(other.hash)).toBeUndefined();
        // The lane's room came back: a full lane of one admits again.
        const tight: PoolLimits = { ...limits, capacity: DEFAULT_POOL_LANES };
        const next = pendingTx(s, 3n);
        expect(await pool.admit(next, view(3n), tight)).toEqual({ kind: 'admitted' });
      });

      it('reopens what it marked included above a height (blocks a new view superseded), counting it in the lane again', async () => {
        const { sequencer: pool } = await makeStores();
        const s = sender();
        const [final, superseded, later, rejected] = [
          pendingTx(s, 0n),
          pendingTx(s, 1n),
          pendingTx(s, 2n),
          pendingTx(sender(), 0n),
        ] as const;
        await pool.addPending([final, superseded, later, rejected]);
        await pool.removePending([
          { entry: final, status: 'included', height: 5 },
          { entry: superseded, status: 'included', height: 6 },
          { entry: later, status: 'included', height: 7 },
          { entry: rejected, status: 'rejected', reason: 'BAD_SIGNATURE', message: 'bad' },
        ]);
        await pool.reopen(5);
        expect(await pool.status(final.hash)).toEqual({ status: 'included', height: 5 });
        for (const t of [superseded, later]) expect(await pool.status(t.hash)).toEqual({ status: 'pending' });
        expect(await pool.status(rejected.hash)).toMatchObject({ status: 'rejected' });
        expect(ids(await pool.pending(10))).toEqual(ids([superseded, later]));
        await pool.reopen(5); // idempotent
        expect(ids(await pool.pending(10))).toEqual(ids([superseded, later]));
        // Both count against the lane again: a lane of one has no room for another sender's transfer there.
        const tight: PoolLimits = { ...limits, capacity: DEFAULT_POOL_LANES };
        expect(await pool.admit(pendingTx(s, 3n), view(0n), tight)).toEqual({
          kind: 'refused',
          refusal: { kind: 'full', capacity: DEFAULT_POOL_LANES },
        });
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

    describe('TallyStore', () => {
      it('gives each member one slot per target height: the first verified vote holds it, a repeat finds itself', async () => {
        const { finality, genesis } = await makeStores();
        const l = link(genesis, checkpoint(1));
        const v1 = vote(l, 1);
        const first = await finality.recordVote(v1);
        expect(first).toMatchObject({ kind: 'recorded', fresh: true });
        const again = await finality.recordVote(v1);
        expect(again).toMatchObject({ kind: 'recorded', fresh: false });
        if (again.kind === 'recorded') expect(again.tally.votes.get(1)).toEqual(v1);
        // Another vote of member 1 at the same target height never replaces the first.
        const other = vote(link(genesis, checkpoint(1)), 1);
        const taken = await finality.recordVote(other);
        expect(taken.kind).toBe('slot-taken');
        if (taken.kind === 'slot-taken') expect(taken.existing).toEqual(v1);
        const v2 = vote(l, 2);
        const second = await finality.recordVote(v2);
        if (second.kind !== 'recorded') throw new Error('expected recorded');
        expect([...second.tally.votes.keys()].sort()).toEqual([1, 2]);
        expect((await finality.tally(1))?.votes.size).toBe(2);
        expect(await finality.tally(2)).toBeUndefined();
      });

      it('counts every member of concurrent votes', async () => {
        const { finality, genesis } = await makeStores();
        const l = link(genesis, checkpoint(1));
        await Promise.all([1, 2, 3, 4].map((m) => finality.recordVote(vote(l, m))));
        expect([...(await finality.tally(1))!.votes.keys()].sort()).toEqual([1, 2, 3, 4]);
      });

      it('notes a spanning vote at each height once per member and returns those tallies', async () => {
        const { finality, genesis } = await makeStores();
        const inner = vote(link(checkpoint(1), checkpoint(2)), 3);
        await finality.recordVote(inner);
        const span = vote(link(genesis, checkpoint(4)), 3);
        const tallies = await finality.recordSpan(span, [2, 3]);
        expect(tallies.map((t) => t.height)).toEqual([2, 3]);
        expect(tallies[0]!.votes.get(3)).toEqual(inner);
        expect(tallies[0]!.spans).toEqual([span]);
        await finality.recordSpan(vote(link(genesis, checkpoint(5)), 3), [2]); // a second span of member 3 is not kept
        expect((await finality.tally(2))!.spans).toEqual([span]);
      });

      it('refuses the slot to a vote surrounded by a spanning vote of its member noted at its height (issue 15, item 11)', async () => {
        const { finality, genesis } = await makeStores();
        const span = vote(link(checkpoint(1), checkpoint(5)), 3);
        await finality.recordSpan(span, [3, 4]);
        // Member 3's adjacent vote 3->4 is surrounded by 1->5: never counted, and the store says why.
        const inner = vote(link(checkpoint(3), checkpoint(4)), 3);
        const refused = await finality.recordVote(inner);
        expect(refused.kind).toBe('surrounded');
        if (refused.kind === 'surrounded') expect(refused.existing).toEqual(span);
        expect((await finality.tally(4))!.votes.has(3)).toBe(false);
        // Not surrounded: another member's vote, and member 3's vote 1->4 (same source as the span).
        expect((await finality.recordVote(vote(link(checkpoint(3), checkpoint(4)), 2))).kind).toBe('recorded');
        expect((await finality.recordVote(vote(link(checkpoint(1), checkpoint(3)), 3))).kind).toBe('recorded');
        expect((await finality.recordVote(vote(link(genesis, checkpoint(4)), 3))).kind).toBe('recorded');
      });

      it('keeps the first certificate of a height, also under concurrent writers, and reports who created it', async () => {
        const { finality, genesis } = await makeStores();
        const l = link(genesis, checkpoint(1));
        const certs = [1, 2, 3].map(() => certificate(l));
        const outcomes = await Promise.all(certs.map((c) => finality.certify(c, false)));
        expect(outcomes.filter((o) => o.created)).toHaveLength(1);
        const winner = outcomes.find((o) => o.created)!.certificate;
        for (const o of outcomes) expect(o.certificate).toEqual(winner);
        const late = await finality.certify(certificate(link(genesis, checkpoint(1))), true);
        expect(late).toMatchObject({ created: false, justifiedNow: false });
        expect((await finality.tally(1))!.justified).toBe(false);
      });

      it('justifies the stored certificate once (exactly one of concurrent callers), never another link', async () => {
        const { finality, genesis } = await makeStores();
        const c = certificate(link(genesis, checkpoint(1)));
        await finality.certify(c, false);
        expect(await finality.markJustified(certificate(link(genesis, checkpoint(1))))).toBeUndefined(); // not the stored one
        const won = await Promise.all([c, c, c].map((x) => finality.markJustified(x)));
        expect(won.filter(Boolean)).toHaveLength(1);
        expect(won.find(Boolean)).toMatchObject({ height: 1, justified: true, certificate: c });
        expect((await finality.tally(1))!.justified).toBe(true);
        const direct = certificate(link(genesis, checkpoint(2)));
        const stored = await finality.certify(direct, true);
        expect(stored).toMatchObject({ created: true, justifiedNow: true });
        expect(stored.tally).toMatchObject({ height: 2, justified: true, certificate: direct });
        expect(await finality.markJustified(direct)).toBeUndefined();
      });

      it("notes a link waiting on its source in the source height's tally, returning that tally from the same write", async () => {
        const { finality, genesis } = await makeStores();
        const c1 = certificate(link(genesis, checkpoint(1)));
        await finality.certify(c1, false);
        const [a, b] = [certificate(link(c1.target, checkpoint(2))), certificate(link(c1.target, checkpoint(4)))];
        await finality.awaitSource(a);
        await finality.awaitSource(a); // idempotent: the link names its place
        const seen = await finality.awaitSource(b);
        expect(seen.justified).toBe(false);
        expect(seen.waiting.map((c) => c.target.height).sort()).toEqual([2, 4]);
        // The justifier's own write returns the waiting links.
        const justified = await finality.markJustified(c1);
        expect(justified?.waiting.map((c) => c.target.height).sort()).toEqual([2, 4]);
        // A link noted after the justification sees it in its own write.
        expect((await finality.awaitSource(certificate(link(c1.target, checkpoint(3))))).justified).toBe(true);
      });

      it('never loses a waiting link to a concurrent justification: one of the two writes sees the other', async () => {
        for (let round = 0; round < 10; round++) {
          const { finality, genesis } = await makeStores();
          const c1 = certificate(link(genesis, checkpoint(1)));
          await finality.certify(c1, false);
          const waiting = certificate(link(c1.target, checkpoint(2)));
          const [noted, justified] = await Promise.all([finality.awaitSource(waiting), finality.markJustified(c1)]);
          const seenByJustifier = justified?.waiting.some((c) => c.target.height === 2) ?? false;
          expect(noted.justified || seenByJustifier, `round ${round}`).toBe(true);
        }
      });

      it('holds genesis as justified from the start', async () => {
        const { finality } = await makeStores();
        expect(await finality.tally(0)).toMatchObject({ height: 0, justified: true });
      });

      it('reads several tallies at once, leaving out heights with nothing recorded', async () => {
        const { finality, genesis } = await makeStores();
        await finality.recordVote(vote(link(genesis, checkpoint(1)), 1));
        await finality.recordVote(vote(link(checkpoint(2), checkpoint(3)), 2));
        expect((await finality.tallies([1, 2, 3])).map((t) => t.height)).toEqual([1, 3]);
      });
    });

    describe('EvidenceStore', () => {
      it('stores evidence once per member, kind and pair of links', async () => {
        const { finality } = await makeStores();
        const l1 = link(checkpoint(0), checkpoint(2));
        const e: Evidence = { kind: 'double', member: 3, first: vote(l1, 3), second: vote(link(l1.source, checkpoint(2)), 3) };
        await finality.putEvidence(e);
        await finality.putEvidence(e);
        await finality.putEvidence({ ...e, first: e.second, second: e.first });
        expect(await finality.listEvidence(10)).toHaveLength(1);
      });

      it('keeps at most EVIDENCE_SLOTS items per member, whatever it signs', async () => {
        const { finality } = await makeStores();
        for (let i = 0; i < 3 * EVIDENCE_SLOTS; i++) {
          const l = link(checkpoint(0), checkpoint(2));
          await finality.putEvidence({ kind: 'double', member: 4, first: vote(l, 4), second: vote(link(l.source, checkpoint(2)), 4) });
        }
        const list = await finality.listEvidence(1000);
        expect(list.length).toBeGreaterThan(1);
        expect(list.length).toBeLessThanOrEqual(EVIDENCE_SLOTS);
      });

      it('counts votes dropped for a bad signature', async () => {
        const { finality } = await makeStores();
        expect(await finality.invalidVotes()).toBe(0);
        await Promise.all([1, 2, 3].map(() => finality.countInvalidVote()));
        expect(await finality.invalidVotes()).toBe(3);
      });
    });

    describe('HeadStore', () => {
      it('starts at genesis and raises justified and finalized independently with their certificates, never down', async () => {
        const { finality, genesis } = await makeStores();
        expect(await finality.head()).toEqual({ justified: genesis, finalized: genesis, view: 0 });
        const [c2, c4] = [checkpoint(2), checkpoint(4)];
        const j4 = certificate(link(c2, c4));
        await finality.raiseHead({ justified: c4, justification: j4 });
        await finality.raiseHead({ justified: c2, finalized: c2, finalization: j4 });
        expect(await finality.head()).toEqual({ justified: c4, justification: j4, finalized: c2, finalization: j4, view: 0 });
      });

      it('never keeps a certificate that belongs to an older checkpoint', async () => {
        const { finality } = await makeStores();
        const c = certificate(link(checkpoint(1), checkpoint(2)));
        await finality.raiseHead({ finalized: c.source, finalization: c, justified: c.target, justification: c });
        const [f2, j3] = [checkpoint(2), checkpoint(3)];
        await finality.raiseHead({ finalized: f2, justified: j3 });
        expect(await finality.head()).toEqual({ justified: j3, finalized: f2, view: 0 });
      });

      it('ends at the highest of concurrent raises', async () => {
        const { finality } = await makeStores();
        const cps = [3, 7, 5, 6, 4].map(checkpoint);
        await Promise.all(cps.map((c) => finality.raiseHead({ justified: c, finalized: c })));
        const head = await finality.head();
        expect(head.justified.height).toBe(7);
        expect(head.finalized.height).toBe(7);
      });
    });

    describe('ViewStore', () => {
      const change = (view: number, member: number, lastTarget = 0): ViewChange => ({
        era: 0n,
        view,
        member,
        signature: bytes(48),
        state: { justified: checkpoint(2), lastTarget },
        stateSignature: bytes(48),
        justification: certificate(link(checkpoint(1), checkpoint(2))),
      });
      const viewCertificate = (view: number, changes: ViewChange[]): ViewCertificate => ({
        era: 0n,
        view,
        signers: changes.map((c) => c.member),
        signature: bytes(48),
        states: changes.map((c) => ({ member: c.member, state: c.state, signature: c.stateSignature })),
        justification: changes[0]!.justification!,
      });

      it("keeps each member's first view change per view and returns the tally after the write", async () => {
        const { finality } = await makeStores();
        const first = change(1, 2, 4);
        expect((await finality.recordViewChange(first)).fresh).toBe(true);
        const again = await finality.recordViewChange(change(1, 2, 6));
        expect(again.fresh).toBe(false);
        expect(again.tally.changes.get(2)).toEqual(first);
        const other = await finality.recordViewChange(change(1, 3));
        expect([...other.tally.changes.keys()].sort()).toEqual([2, 3]);
        expect((await finality.recordViewChange(change(2, 2))).tally.changes.size).toBe(1);
      });

      it('stores the first certificate of a view only, and raises the head view only upwards', async () => {
        const { finality } = await makeStores();
        const changes = [1, 2, 3].map((m) => change(3, m));
        const a = viewCertificate(3, changes);
        const b = viewCertificate(3, changes);
        const results = await Promise.all([finality.certifyView(a), finality.certifyView(b)]);
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(results[0]!.certificate).toEqual(results[1]!.certificate);
        expect((await finality.recordViewChange(change(3, 4))).tally.certificate).toEqual(results[0]!.certificate);
        await finality.raiseHead({ view: a });
        await finality.raiseHead({ view: viewCertificate(2, changes) });
        const head = await finality.head();
        expect(head.view).toBe(3);
        expect(head.viewCertificate).toEqual(a);
      });

      it("answers a raise with the head's view as the write saw it, raised or refused", async () => {
        const { finality } = await makeStores();
        const c = certificate(link(checkpoint(2), checkpoint(4)));
        expect(await finality.raiseHead({ justified: c.target, justification: c })).toBe(0);
        const changes = [1, 2, 3].map((m) => change(2, m));
        // Another invocation records view 2: a justification raised after it reports view 2.
        expect(await finality.raiseHead({ view: viewCertificate(2, changes) })).toBe(2);
        expect(
          await finality.raiseHead({
            view: viewCertificate(
              1,
              [1, 2, 3].map((m) => change(1, m)),
            ),
          }),
        ).toBe(2);
        expect(await finality.raiseHead({ justified: checkpoint(6), finalized: checkpoint(4) })).toBe(2);
        // A raise refused by its condition (not higher) still reports the view it found.
        expect(await finality.raiseHead({ justified: checkpoint(6) })).toBe(2);
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
