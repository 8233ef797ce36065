/**
 * In-memory implementations of the ports with the same semantics as the DynamoDB ones
 * (idempotent puts, compare-and-set, first writer wins, monotone heads), checked by the same store
 * contract suite. Used by unit tests and the simulation.
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { evidenceId, evidenceSlot, linkId } from '../core/ids.js';
import { mergeWatermarks } from '../core/interchange.js';
import { type Evidence, sameLink, type Watermark, watermarkAllows } from '../core/slashing.js';
import { MemoryNodeStore } from '../core/smt.js';
import type { Block, Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import type { ViewCertificate, ViewChange } from '../core/views.js';
import {
  admissionRefusal,
  DEFAULT_POOL_LANES,
  fairOrder,
  gapFollowers,
  INCLUDED_KEEP_BLOCKS,
  laneCapacity,
  laneOf,
  POOL_REJECTIONS,
} from './pool.js';
import type {
  AdmissionView,
  AdmitOutcome,
  AppliedHead,
  AppliedStore,
  BlockStore,
  FinalityHead,
  FinalityStore,
  HeightTally,
  PendingTransaction,
  PoolLimits,
  PoolOutcome,
  PoolStatus,
  PoolStore,
  RecordOutcome,
  RegionStores,
  SequencerHead,
  SequencerStore,
  SignOutcome,
  SlashingProtectionStore,
  ViewTally,
  WatermarkStore,
} from './ports.js';
import { slotRefusal } from './tally.js';

export class MemoryBlockStore implements BlockStore {
  private readonly byHeight = new Map<number, Map<string, Block>>();
  private readonly finalized = new Map<number, Uint8Array>();

  async indexFinalized(entries: readonly { height: number; hash: Uint8Array }[]): Promise<void> {
    for (const e of entries) this.finalized.set(e.height, e.hash);
  }
  async finalizedHash(height: number): Promise<Uint8Array | undefined> {
    return this.finalized.get(height);
  }

  async putBlock(hash: Uint8Array, block: Block): Promise<void> {
    const at = this.byHeight.get(block.height) ?? new Map<string, Block>();
    this.byHeight.set(block.height, at);
    if (!at.has(toHex(hash))) at.set(toHex(hash), block);
  }
  async getBlock(height: number, hash: Uint8Array): Promise<Block | undefined> {
    return this.byHeight.get(height)?.get(toHex(hash));
  }
  async hashesAt(height: number): Promise<Uint8Array[]> {
    return [...(this.byHeight.get(height)?.keys() ?? [])].map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
  }
  async tip(from: number, span: number): Promise<{ height: number; hash: Uint8Array } | undefined> {
    let found: { height: number; hash: Uint8Array } | undefined;
    for (let h = from; h < from + span; h++) {
      const [hash] = await this.hashesAt(h);
      if (!hash) break;
      found = { height: h, hash };
    }
    return found;
  }
}

interface MemoryPoolEntry extends PendingTransaction {
  /** Admission order (fair order serves the sender waiting longest first). */
  readonly arrival: number;
  /** Came through admit() (the gap rule held when it joined); ingress `tx` messages add entries without it. */
  readonly admitted: boolean;
  /** Height of the block that included it; such entries are kept for the gap rule, not served. */
  included?: number;
}

/** The transaction pool in memory (same rules as the DynamoDB one: lib/pipeline/pool.ts). */
export class MemoryPoolStore implements PoolStore {
  private readonly bySender = new Map<string, Map<bigint, MemoryPoolEntry>>();
  private readonly statuses = new Map<string, PoolStatus>();
  private arrivals = 0;

  /** `lanes`: how the pool's capacity is split (each lane holds ceil(capacity / lanes)), as on DynamoDB. */
  constructor(private readonly lanes = DEFAULT_POOL_LANES) {}

  async admit(entry: PendingTransaction, view: AdmissionView, limits: PoolLimits): Promise<AdmitOutcome> {
    const id = toHex(entry.hash);
    const known = this.statuses.get(id);
    if (known && known.status !== 'rejected') return { kind: 'known', status: known };
    const mine = [...(this.bySender.get(toHex(entry.sender))?.values() ?? [])];
    const refusal = admissionRefusal(
      entry,
      view,
      limits,
      mine.map((e) => ({ ...e, included: e.included !== undefined })),
    );
    if (refusal) return { kind: 'refused', refusal };
    const lane = laneOf(entry.sender, this.lanes);
    if (this.pendingIn(lane) >= laneCapacity(limits.capacity, this.lanes))
      return { kind: 'refused', refusal: { kind: 'full', capacity: limits.capacity } };
    this.insert(entry, true);
    return { kind: 'admitted' };
  }

  async status(hash: Uint8Array): Promise<PoolStatus | undefined> {
    return this.statuses.get(toHex(hash));
  }

  async addPending(txs: readonly PendingTransaction[], options: { admitted?: boolean } = {}): Promise<void> {
    for (const t of txs) if (!this.statuses.has(toHex(t.hash))) this.insert(t, options.admitted ?? false);
  }

  async reopen(above: number): Promise<void> {
    for (const entries of this.bySender.values())
      for (const e of entries.values()) {
        if (e.included === undefined || e.included <= above) continue;
        e.included = undefined;
        this.statuses.set(toHex(e.hash), { status: 'pending' });
      }
  }

  async settle(txs: readonly PendingTransaction[], height: number): Promise<void> {
    const known = txs.filter((t) => {
      const s = this.statuses.get(toHex(t.hash));
      return s !== undefined && !(s.status === 'included' && s.height === height);
    });
    await this.removePending(known.map((entry) => ({ entry, status: 'included' as const, height })));
  }

  async pending(limit: number, options: { finalizedHeight?: number } = {}): Promise<PendingTransaction[]> {
    const out: MemoryPoolEntry[] = [];
    for (const [sender, entries] of this.bySender) {
      for (const [sequence, e] of entries) {
        if (e.included === undefined) out.push(e);
        else if (options.finalizedHeight !== undefined && e.included + INCLUDED_KEEP_BLOCKS <= options.finalizedHeight)
          entries.delete(sequence);
      }
      if (entries.size === 0) this.bySender.delete(sender);
    }
    return fairOrder(out)
      .slice(0, limit)
      .map(({ hash, tx, sender, sequence, spend }) => ({ hash, tx, sender, sequence, spend }));
  }

  async removePending(outcomes: readonly PoolOutcome[]): Promise<void> {
    for (const o of outcomes) {
      const id = toHex(o.entry.hash);
      const entries = this.bySender.get(toHex(o.entry.sender));
      const held = entries?.get(o.entry.sequence);
      const ours = held !== undefined && toHex(held.hash) === id;
      if (o.status === 'waiting') {
        if (ours && held.included === undefined) entries!.set(o.entry.sequence, { ...held, arrival: ++this.arrivals });
        continue;
      }
      if (o.status === 'included') {
        if (ours) held.included = o.height;
        this.statuses.set(id, { status: 'included', height: o.height });
        continue;
      }
      if (this.statuses.get(id)?.status === 'included') continue; // never overwritten by a (repeated) rejection
      if (ours && held.included === undefined) entries!.delete(o.entry.sequence);
      this.statuses.set(id, { status: 'rejected', reason: o.reason, message: o.message });
      if (o.sequenceUsed || !ours) continue;
      for (const f of gapFollowers(
        o.entry.sequence,
        [...entries!.values()].map((e) => ({ ...e, included: e.included !== undefined })),
      )) {
        entries!.delete(f.sequence);
        this.statuses.set(toHex(f.hash), {
          status: 'rejected',
          reason: POOL_REJECTIONS.gap,
          message: `sequence ${o.entry.sequence} of this sender was rejected (${o.reason}); resubmit from there`,
        });
      }
    }
  }

  private insert(t: PendingTransaction, admitted: boolean): void {
    const key = toHex(t.sender);
    const entries = this.bySender.get(key) ?? new Map<bigint, MemoryPoolEntry>();
    this.bySender.set(key, entries);
    // One transaction per (sender, sequence); an unadmitted duplicate of a held number waits for its turn elsewhere.
    if (entries.has(t.sequence) && !admitted) return;
    entries.set(t.sequence, {
      hash: t.hash,
      tx: t.tx,
      sender: t.sender,
      sequence: t.sequence,
      spend: t.spend,
      arrival: ++this.arrivals,
      admitted,
    });
    this.statuses.set(toHex(t.hash), { status: 'pending' });
  }

  private pendingIn(lane: number): number {
    let n = 0;
    for (const entries of this.bySender.values())
      for (const e of entries.values()) if (e.included === undefined && laneOf(e.sender, this.lanes) === lane) n++;
    return n;
  }
}

export class MemorySequencerStore extends MemoryPoolStore implements SequencerStore {
  private current: SequencerHead | undefined;
  private generation = 0;
  async pacemaker(): Promise<number> {
    return this.generation;
  }
  async swapPacemaker(expected: number, next: number): Promise<boolean> {
    if (this.generation !== expected) return false;
    this.generation = next;
    return true;
  }
  async head(): Promise<SequencerHead | undefined> {
    return this.current;
  }
  async swapHead(expected: SequencerHead, next: SequencerHead): Promise<boolean> {
    const cur = this.current;
    const same = cur === undefined ? expected.height === 0 : cur.height === expected.height && equalBytes(cur.hash, expected.hash);
    if (!same) return false;
    this.current = next;
    return true;
  }
}

interface WatermarkRecord {
  readonly watermark: Watermark;
  readonly signed?: { readonly link: Link; readonly signature: Uint8Array };
}

export class MemorySlashingProtectionStore implements SlashingProtectionStore, WatermarkStore {
  private readonly records = new Map<number, WatermarkRecord>();
  async lastSigned(member: number): Promise<{ link: Link; signature: Uint8Array } | undefined> {
    return this.records.get(member)?.signed;
  }
  async recordSignature(member: number, link: Link, signature: Uint8Array): Promise<SignOutcome> {
    const cur = this.records.get(member);
    if (cur?.signed && linkId(cur.signed.link) === linkId(link)) return { kind: 'identical', signature: cur.signed.signature };
    const w = cur?.watermark;
    if (w && !watermarkAllows(w, link)) return { kind: 'refused', watermark: w, ...(cur.signed ? { last: cur.signed.link } : {}) };
    this.records.set(member, {
      watermark: { lastSourceHeight: link.source.height, lastTargetHeight: link.target.height },
      signed: { link, signature },
    });
    return { kind: 'signed', signature };
  }
  async watermark(member: number): Promise<Watermark | undefined> {
    return this.records.get(member)?.watermark;
  }
  async mergeWatermark(member: number, floor: Watermark): Promise<Watermark> {
    const cur = this.records.get(member);
    const watermark = mergeWatermarks(cur?.watermark, floor);
    this.records.set(member, { ...cur, watermark });
    return watermark;
  }
}

interface MutableTally {
  height: number;
  votes: Map<number, Vote>;
  certificate?: Certificate;
  justified: boolean;
  waiting: Map<string, Certificate>;
  spans: Map<number, Vote>;
}

const snapshot = (t: MutableTally): HeightTally => ({
  height: t.height,
  votes: new Map(t.votes),
  ...(t.certificate ? { certificate: t.certificate } : {}),
  justified: t.justified,
  waiting: [...t.waiting.values()],
  spans: [...t.spans.values()],
});

/** One region's finality table in memory. */
export class MemoryFinalityStore implements FinalityStore {
  private readonly items = new Map<number, MutableTally>();
  private readonly evidence = new Map<string, Evidence>(); // `${member}#${slot}` -> evidence
  private invalid = 0;
  private current: FinalityHead;

  constructor(private readonly genesis: Checkpoint) {
    this.current = { justified: genesis, finalized: genesis, view: 0 };
  }

  private item(height: number): MutableTally {
    let t = this.items.get(height);
    if (!t) {
      t = { height, votes: new Map(), justified: false, waiting: new Map(), spans: new Map() };
      this.items.set(height, t);
    }
    return t;
  }

  async recordVote(vote: Vote): Promise<RecordOutcome> {
    const t = this.item(vote.target.height);
    const existing = t.votes.get(vote.member);
    const refusal = slotRefusal(snapshot(t), vote);
    if (refusal) return refusal;
    t.votes.set(vote.member, vote);
    return { kind: 'recorded', fresh: !existing, tally: snapshot(t) };
  }

  async recordSpan(vote: Vote, heights: readonly number[]): Promise<HeightTally[]> {
    return heights.map((h) => {
      const t = this.item(h);
      if (!t.spans.has(vote.member)) t.spans.set(vote.member, vote);
      return snapshot(t);
    });
  }

  async tally(height: number): Promise<HeightTally | undefined> {
    // Genesis is justified and finalized by definition; no certificate names it as a target.
    if (height === this.genesis.height) return { ...snapshot(this.item(height)), justified: true };
    const t = this.items.get(height);
    return t && snapshot(t);
  }

  async tallies(heights: readonly number[]): Promise<HeightTally[]> {
    const out: HeightTally[] = [];
    for (const h of heights) {
      const t = await this.tally(h);
      if (t) out.push(t);
    }
    return out;
  }

  async certify(c: Certificate, justified: boolean) {
    const t = this.item(c.target.height);
    if (t.certificate) return { certificate: t.certificate, created: false, justifiedNow: false };
    t.certificate = c;
    t.justified = justified;
    return { certificate: c, created: true, justifiedNow: justified, ...(justified ? { tally: snapshot(t) } : {}) };
  }

  async markJustified(c: Certificate): Promise<HeightTally | undefined> {
    const t = this.items.get(c.target.height);
    if (!t?.certificate || !sameLink(t.certificate, c) || t.justified) return undefined;
    t.justified = true;
    return snapshot(t);
  }

  async awaitSource(c: Certificate): Promise<HeightTally> {
    const t = this.item(c.source.height);
    t.waiting.set(linkId(c), c);
    return this.tally(c.source.height) as Promise<HeightTally>;
  }

  async putEvidence(e: Evidence): Promise<void> {
    const key = `${e.member}#${evidenceSlot(e)}`;
    const cur = this.evidence.get(key);
    if (cur && evidenceId(cur) === evidenceId(e)) return;
    this.evidence.set(key, e);
  }
  async listEvidence(limit: number): Promise<Evidence[]> {
    return [...this.evidence.values()].slice(0, limit);
  }
  async countInvalidVote(): Promise<void> {
    this.invalid++;
  }
  async invalidVotes(): Promise<number> {
    return this.invalid;
  }

  async head(): Promise<FinalityHead> {
    return this.current;
  }
  async raiseHead(u: {
    justified?: Checkpoint;
    justification?: Certificate;
    finalized?: Checkpoint;
    finalization?: Certificate;
    view?: ViewCertificate;
  }): Promise<number | undefined> {
    const cur = this.current;
    const raiseView = u.view !== undefined && u.view.view > cur.view;
    const view = raiseView
      ? { view: u.view!.view, viewCertificate: u.view! }
      : { view: cur.view, ...(cur.viewCertificate ? { viewCertificate: cur.viewCertificate } : {}) };
    const raiseJustified = u.justified !== undefined && u.justified.height > cur.justified.height;
    const raiseFinal = u.finalized !== undefined && u.finalized.height > cur.finalized.height;
    // Each certificate belongs to its checkpoint: a raise without one must not keep the old checkpoint's.
    const justified = raiseJustified
      ? { justified: u.justified!, ...(u.justification ? { justification: u.justification } : {}) }
      : { justified: cur.justified, ...(cur.justification ? { justification: cur.justification } : {}) };
    const finalized = raiseFinal
      ? { finalized: u.finalized!, ...(u.finalization ? { finalization: u.finalization } : {}) }
      : { finalized: cur.finalized, ...(cur.finalization ? { finalization: cur.finalization } : {}) };
    this.current = { ...justified, ...finalized, ...view };
    return this.current.view;
  }

  private readonly views = new Map<number, { changes: Map<number, ViewChange>; certificate?: ViewCertificate }>();

  async recordViewChange(change: ViewChange): Promise<{ fresh: boolean; tally: ViewTally }> {
    let v = this.views.get(change.view);
    if (!v) {
      v = { changes: new Map() };
      this.views.set(change.view, v);
    }
    const fresh = !v.changes.has(change.member);
    if (fresh) v.changes.set(change.member, change);
    return { fresh, tally: { view: change.view, changes: new Map(v.changes), ...(v.certificate ? { certificate: v.certificate } : {}) } };
  }

  async certifyView(certificate: ViewCertificate): Promise<{ certificate: ViewCertificate; created: boolean }> {
    let v = this.views.get(certificate.view);
    if (!v) {
      v = { changes: new Map() };
      this.views.set(certificate.view, v);
    }
    if (v.certificate) return { certificate: v.certificate, created: false };
    v.certificate = certificate;
    return { certificate, created: true };
  }
}

export class MemoryAppliedStore implements AppliedStore {
  private current: AppliedHead | undefined;
  async applied(): Promise<AppliedHead | undefined> {
    return this.current;
  }
  async advanceApplied(expected: AppliedHead, next: AppliedHead): Promise<boolean> {
    if ((this.current?.height ?? 0) !== expected.height) return false;
    this.current = next;
    return true;
  }
}

/** Every store of one region, in memory (simulation and unit tests). */
export function memoryRegionStores(genesis: Checkpoint): RegionStores {
  return {
    blocks: new MemoryBlockStore(),
    sequencer: new MemorySequencerStore(),
    finality: new MemoryFinalityStore(genesis),
    protection: new MemorySlashingProtectionStore(),
    applied: new MemoryAppliedStore(),
    nodes: new MemoryNodeStore(),
  };
}
