/**
 * In-memory implementations of the ports with the same semantics as the DynamoDB ones
 * (idempotent puts, compare-and-set, monotone heads). Used by unit tests and the simulation.
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { checkpointId, linkId, padHeight } from '../core/ids.js';
import { mergeWatermarks } from '../core/interchange.js';
import { type Evidence, type Watermark, watermarkAllows } from '../core/slashing.js';
import { MemoryNodeStore } from '../core/smt.js';
import type { Block, Certificate, Checkpoint, Link, Vote } from '../core/types.js';
import type {
  AppliedHead,
  AppliedStore,
  BlockStore,
  CheckpointRecord,
  FinalityHead,
  FinalityStore,
  LinkTally,
  PendingTransaction,
  RegionStores,
  SequencerHead,
  SequencerStore,
  SignOutcome,
  SlashingProtectionStore,
  WatermarkStore,
} from './ports.js';

export class MemoryBlockStore implements BlockStore {
  private readonly blocks = new Map<string, Block>();
  private readonly byHeight = new Map<number, Uint8Array[]>();
  private readonly executions = new Map<string, Uint8Array>();
  private highest: { height: number; hash: Uint8Array } | undefined;

  async putBlock(hash: Uint8Array, block: Block): Promise<void> {
    const id = toHex(hash);
    if (this.blocks.has(id)) return;
    this.blocks.set(id, block);
    this.byHeight.set(block.height, [...(this.byHeight.get(block.height) ?? []), hash]);
    if (!this.highest || block.height > this.highest.height) this.highest = { height: block.height, hash };
  }
  async tip(): Promise<{ height: number; hash: Uint8Array } | undefined> {
    return this.highest;
  }
  async getBlock(hash: Uint8Array): Promise<Block | undefined> {
    return this.blocks.get(toHex(hash));
  }
  async hashesAt(height: number): Promise<Uint8Array[]> {
    return [...(this.byHeight.get(height) ?? [])];
  }
  async putExecution(hash: Uint8Array, stateRoot: Uint8Array): Promise<void> {
    this.executions.set(toHex(hash), stateRoot);
  }
  async getExecution(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return this.executions.get(toHex(hash));
  }
}

export class MemorySequencerStore implements SequencerStore {
  private current: SequencerHead | undefined;
  private readonly pool = new Map<string, PendingTransaction>();
  async addPending(txs: readonly PendingTransaction[]): Promise<void> {
    for (const t of txs) this.pool.set(toHex(t.hash), t);
  }
  async pending(limit: number): Promise<PendingTransaction[]> {
    return [...this.pool.values()].slice(0, limit);
  }
  async removePending(hashes: readonly Uint8Array[]): Promise<void> {
    for (const h of hashes) this.pool.delete(toHex(h));
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

/** One member's watermark item: heights always; the link and signature only once it signed here. */
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
  link: Link;
  partials: Map<number, Uint8Array>;
  certificate?: Certificate;
}

/** One region's finality table in memory. */
export class MemoryFinalityStore implements FinalityStore {
  private readonly votes = new Map<number, Map<string, Vote>>();
  private readonly evidence = new Map<string, Evidence>();
  private readonly tallies = new Map<string, MutableTally>();
  private readonly checkpoints = new Map<string, CheckpointRecord>();
  private readonly waiting = new Map<string, Map<string, Certificate>>();
  private current: FinalityHead;

  constructor(genesis: Checkpoint) {
    this.current = { justified: genesis, finalized: genesis };
    this.checkpoints.set(checkpointId(genesis), { checkpoint: genesis, status: 'finalized' });
  }

  async recordVote(vote: Vote): Promise<'new' | 'duplicate'> {
    const mine = this.votes.get(vote.member) ?? new Map<string, Vote>();
    this.votes.set(vote.member, mine);
    const key = `${padHeight(vote.target.height)}|${linkId(vote)}|${toHex(vote.signature)}`;
    if (mine.has(key)) return 'duplicate';
    mine.set(key, vote);
    return 'new';
  }
  async votesOf(member: number, fromTargetHeight: number): Promise<Vote[]> {
    return [...(this.votes.get(member)?.values() ?? [])].filter((v) => v.target.height >= fromTargetHeight);
  }
  async putEvidence(e: Evidence): Promise<void> {
    const [a, b] = [linkId(e.first), linkId(e.second)].sort();
    this.evidence.set(`${e.member}|${e.kind}|${a}|${b}`, e);
  }
  async listEvidence(limit: number): Promise<Evidence[]> {
    return [...this.evidence.values()].slice(0, limit);
  }
  async addPartial(vote: Vote): Promise<LinkTally> {
    const id = linkId(vote);
    const t: MutableTally = this.tallies.get(id) ?? {
      link: { era: vote.era, source: vote.source, target: vote.target },
      partials: new Map(),
    };
    this.tallies.set(id, t);
    if (!t.partials.has(vote.member)) t.partials.set(vote.member, vote.signature);
    return { link: t.link, partials: new Map(t.partials), ...(t.certificate ? { certificate: t.certificate } : {}) };
  }
  async removePartials(link: Link, bad: readonly { member: number; signature: Uint8Array }[]): Promise<void> {
    const t = this.tallies.get(linkId(link));
    if (!t) return;
    for (const b of bad) {
      const cur = t.partials.get(b.member);
      if (cur && equalBytes(cur, b.signature)) t.partials.delete(b.member);
    }
  }
  async setCertificate(c: Certificate): Promise<Certificate> {
    const id = linkId(c);
    const t: MutableTally = this.tallies.get(id) ?? { link: { era: c.era, source: c.source, target: c.target }, partials: new Map() };
    this.tallies.set(id, t);
    t.certificate ??= c;
    return t.certificate;
  }
  async checkpointsAt(height: number): Promise<CheckpointRecord[]> {
    return [...this.checkpoints.values()].filter((r) => r.checkpoint.height === height);
  }
  async markJustified(checkpoint: Checkpoint, justification: Certificate | undefined): Promise<boolean> {
    const id = checkpointId(checkpoint);
    if (this.checkpoints.has(id)) return false;
    this.checkpoints.set(id, { checkpoint, status: 'justified', ...(justification ? { justification } : {}) });
    return true;
  }
  async markFinalized(checkpoint: Checkpoint, finalization: Certificate | undefined): Promise<boolean> {
    const id = checkpointId(checkpoint);
    const cur = this.checkpoints.get(id);
    if (cur?.status === 'finalized') return false;
    this.checkpoints.set(id, {
      checkpoint,
      status: 'finalized',
      ...(cur?.justification ? { justification: cur.justification } : {}),
      ...(finalization ? { finalization } : {}),
    });
    return true;
  }
  async awaitSource(c: Certificate): Promise<void> {
    const id = checkpointId(c.source);
    const m = this.waiting.get(id) ?? new Map<string, Certificate>();
    this.waiting.set(id, m);
    m.set(linkId(c), c);
  }
  async linksFrom(source: Checkpoint): Promise<Certificate[]> {
    return [...(this.waiting.get(checkpointId(source))?.values() ?? [])];
  }
  async head(): Promise<FinalityHead> {
    return this.current;
  }
  async raiseHead(u: { justified?: Checkpoint; finalized?: Checkpoint; finalization?: Certificate }): Promise<FinalityHead> {
    const cur = this.current;
    const justified = u.justified && u.justified.height > cur.justified.height ? u.justified : cur.justified;
    const raiseFinal = u.finalized && u.finalized.height > cur.finalized.height;
    this.current = {
      justified,
      finalized: raiseFinal ? u.finalized! : cur.finalized,
      // The finalization certificate belongs to `finalized`: a raise without one must not keep the old checkpoint's.
      ...(raiseFinal
        ? u.finalization
          ? { finalization: u.finalization }
          : {}
        : cur.finalization
          ? { finalization: cur.finalization }
          : {}),
    };
    return this.current;
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
