/**
 * Safety invariants of the whole system, checked by the simulation after every delivery (and the
 * evidence and liveness ones at the end of a run). A violation is a value, so a run can report
 * every broken rule with the step it was first seen at.
 */
import { toHex } from '../core/bytes.js';
import { voteSigningBytes } from '../core/codec.js';
import { checkpointId, linkId } from '../core/ids.js';
import { evidenceOf } from '../core/slashing.js';
import type { Certificate, Vote } from '../core/types.js';
import { type ViewCertificate, viewBase, viewCertificateProblem, viewTargetHeight } from '../core/views.js';
import type { AppliedHead, AppliedStore, HeightTally } from '../pipeline/ports.js';
import { finalizationOf } from '../pipeline/tally.js';
import type { MemoryCluster } from './memory-cluster.js';

export type ViolationKind =
  | 'conflicting-finality'
  | 'bad-certificate'
  | 'apply-order'
  | 'state-divergence'
  | 'missing-evidence'
  | 'evidence-against-honest'
  | 'garbage-accepted'
  | 'invalid-tx-applied'
  | 'unexpected-error'
  | 'unbounded-work'
  | 'vote-from-unjustified'
  | 'watermark-ahead'
  | 'applied-not-final'
  | 'audit-missed-evidence'
  | 'liveness'
  /** A transfer answered as accepted (202) was not finalized in a live region after the faults. */
  | 'accepted-lost';

export interface Violation {
  readonly kind: ViolationKind;
  readonly step: number;
  readonly message: string;
}

/** Records every successful advance of a region's applied pointer (the "exactly once, in order" check). */
export class AppliedRecorder implements AppliedStore {
  constructor(
    private readonly inner: AppliedStore,
    private readonly onAdvance: (expected: AppliedHead, next: AppliedHead) => void,
  ) {}
  applied(): Promise<AppliedHead | undefined> {
    return this.inner.applied();
  }
  async advanceApplied(expected: AppliedHead, next: AppliedHead): Promise<boolean> {
    const ok = await this.inner.advanceApplied(expected, next);
    if (ok) this.onAdvance(expected, next);
    return ok;
  }
}

const idOf = (c: { height: number; hash: Uint8Array; stateRoot: Uint8Array }) => checkpointId(c);

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** Finalized checkpoint id by height, over all regions. */
  private readonly finalizedAt = new Map<number, string>();
  /** Applied (hash, state root) by height, over all regions. */
  private readonly appliedAt = new Map<number, string>();
  private readonly lastApplied = new Map<string, number>();
  private readonly checkedCertificates = new Set<string>();
  /** Stored certificate objects already checked (records keep their identity between steps). */
  private readonly checkedObjects = new WeakSet<Certificate>();
  private readonly seen = new Set<string>();
  /** First step at which each Byzantine vote was seen recorded at a height (`${height}|${partialId}`): a slot vote or a span note. */
  private readonly recordedAt = new Map<string, number>();
  /** The step at which each region applied each height (`${region}|${height}`). */
  private readonly appliedStep = new Map<string, number>();
  step = 0;
  private cluster!: MemoryCluster;
  /** Per stored certificate: the inputs (region, flags, the certificate below) its tally was last checked with. */
  private readonly checkedTallies = new WeakMap<Certificate, { inputs: string; below: Certificate | undefined }>();
  /** Heights at which each stored Byzantine vote object was already noted (noteRecorded). */
  private readonly notedVotes = new WeakMap<Vote, Set<number>>();

  constructor(
    /** Member indices that are Byzantine (evidence against them is expected). */
    private readonly byzantine: ReadonlySet<number>,
  ) {}

  /** The cluster to check (its stores are wrapped with `recorder` while it is built, hence the late binding). */
  attach(cluster: MemoryCluster): void {
    this.cluster = cluster;
  }

  report(kind: ViolationKind, message: string): void {
    const key = `${kind}|${message}`;
    if (this.seen.has(key)) return; // one report per distinct fact
    this.seen.add(key);
    this.violations.push({ kind, step: this.step, message });
  }

  /** An AppliedStore wrapper for `region` that feeds the order and agreement checks. */
  recorder(region: string, inner: AppliedStore): AppliedStore {
    return new AppliedRecorder(inner, (expected, next) => {
      const last = this.lastApplied.get(region) ?? 0;
      if (expected.height !== last || next.height !== last + 1)
        this.report(
          'apply-order',
          `${region}: applied ${expected.height} -> ${next.height} after ${last} (each block exactly once, in order)`,
        );
      this.lastApplied.set(region, Math.max(last, next.height));
      this.appliedStep.set(`${region}|${next.height}`, this.step + 1); // during the delivery in progress
      const value = `${toHex(next.hash)}:${toHex(next.stateRoot)}`;
      const other = this.appliedAt.get(next.height);
      if (other === undefined) this.appliedAt.set(next.height, value);
      else if (other !== value) this.report('state-divergence', `applied block or state root at ${next.height} differs between regions`);
    });
  }

  /** Highest applied height recorded for `region`. */
  appliedHeight(region: string): number {
    return this.lastApplied.get(region) ?? 0;
  }

  /** Every checkpoint any region has marked justified so far. */
  private readonly justifiedAnywhere = new Set<string>();

  /** Agreement and certificate checks over every region's finality table. */
  async check(): Promise<void> {
    const K = this.cluster.set.checkpointInterval;
    for (const node of this.cluster.nodes.values()) {
      const head = await node.raw.finality.head();
      const top = ((await node.raw.blocks.tip(head.justified.height, 16))?.height ?? head.justified.height) + K;
      const heights: number[] = [];
      for (let h = K; h <= top; h += K) heights.push(h);
      const tallies = new Map((await node.raw.finality.tallies(heights)).map((t) => [t.height, t]));
      for (const t of tallies.values()) {
        const h = t.height;
        this.noteRecorded(t);
        if (!t.certificate) continue;
        // A justified tally whose inputs to the checks below are the ones checked at an earlier step
        // (same certificate objects, same flags) gives the same answers: skip it (the checks run every step).
        const below = tallies.get(h - K);
        const inputs = `${node.region}|${t.justified}|${below?.justified}`;
        const checked = this.checkedTallies.get(t.certificate);
        if (checked?.inputs === inputs && checked.below === below?.certificate) continue;
        this.checkedTallies.set(t.certificate, { inputs, below: below?.certificate });
        this.certificate(t.certificate, `${node.region}: certificate at ${h}`);
        if (!t.justified) continue;
        this.justifiedAnywhere.add(idOf(t.certificate.target));
        // A link is justified only once its source is: genesis or the justified checkpoint at its height,
        // here or (an imported certificate: its signers saw the source justified) in some region before.
        const source = t.certificate.source;
        const sourceTally = tallies.get(source.height);
        const sourceJustified =
          source.height === 0 ||
          (sourceTally?.justified === true &&
            sourceTally.certificate !== undefined &&
            idOf(sourceTally.certificate.target) === idOf(source)) ||
          this.justifiedAnywhere.has(idOf(source));
        if (!sourceJustified)
          this.report('bad-certificate', `${node.region}: ${h} is justified but its source ${source.height} is not, in any region`);
        const finalization = finalizationOf(below, t, K);
        if (finalization && finalization.source.height > 0) this.finalized(node.region, finalization.source);
      }
      if (head.finalized.height > 0) {
        this.finalized(node.region, head.finalized);
        if (!head.finalization || idOf(head.finalization.source) !== idOf(head.finalized))
          this.report('bad-certificate', `${node.region}: head finalized ${head.finalized.height} without its certificate`);
      }
    }
    await this.checkTrust();
  }

  /**
   * Notices are hints (issue 15, item 4): whatever forged "justified" or "finalized" notices arrive,
   * - no region has applied a block above its own finalized height (the state function follows the
   *   region's finality records, never a notice);
   * - no honest member has signed a target more than one interval above the highest checkpoint any
   *   region has justified (a validator votes J -> J+K only for a J it verified): a watermark run
   *   ahead of justification would refuse the real votes for good.
   */
  private viewFloor = 0;
  /** View certificates already noted (a view's group signature is one for every signer set: the statements tell them apart). */
  private readonly notedViewCertificates = new Set<string>();

  /**
   * A view certificate on its way to a member (a `view` notice, or a proposal that carries one). Regions
   * may certify one view from different statements (each combines the first t changes it received, and a
   * member that asks again restates what it signed since), and a region's head keeps the first it
   * recorded, so heads alone miss floors that members legitimately adopt. Invalid ones are ignored: no
   * member adopts them.
   */
  noteViewCertificate(certificate: ViewCertificate): void {
    const id = `${certificate.view}|${certificate.states.map((s) => toHex(s.signature)).join(',')}`;
    if (this.notedViewCertificates.has(id)) return;
    this.notedViewCertificates.add(id);
    const { chain } = this.cluster.nodes.values().next().value!;
    if (viewCertificateProblem(this.cluster.set, this.cluster.crypto, chain.genesis, certificate)) return;
    const base = viewBase(certificate);
    this.viewFloor = Math.max(this.viewFloor, viewTargetHeight(base.justified, base.lastTarget, this.cluster.set.checkpointInterval));
  }

  private async checkTrust(): Promise<void> {
    const K = this.cluster.set.checkpointInterval;
    let justified = 0;
    // A new view's first target may lie further up: above every signer's last signed target (views.ts).
    // The highest floor of any view certified so far (a later view's signers may state lower targets).
    for (const node of this.cluster.nodes.values()) {
      const head = await node.raw.finality.head();
      justified = Math.max(justified, head.justified.height);
      if (head.viewCertificate) {
        const base = viewBase(head.viewCertificate);
        this.viewFloor = Math.max(this.viewFloor, viewTargetHeight(base.justified, base.lastTarget, K));
      }
      const applied = (await node.raw.applied.applied())?.height ?? 0;
      if (applied > head.finalized.height)
        this.report(
          'applied-not-final',
          `${node.region}: applied height ${applied} is above its finalized height ${head.finalized.height}`,
        );
    }
    for (const m of this.cluster.set.members) {
      if (this.byzantine.has(m.index)) continue;
      const last = await this.cluster.node(m.region).raw.protection.lastSigned(m.index);
      if (last && last.link.target.height > Math.max(justified + K, this.viewFloor))
        this.report(
          'watermark-ahead',
          `member ${m.index} signed target ${last.link.target.height}, beyond the highest justified checkpoint ${justified} + ${K}`,
        );
    }
  }

  /** Notes the first step at which each Byzantine vote is recorded in `t` (its slot, or a span note). */
  private noteRecorded(t: HeightTally): void {
    if (this.byzantine.size === 0) return;
    for (const v of [...t.votes.values(), ...t.spans]) {
      if (!this.byzantine.has(v.member)) continue;
      // Stored votes keep their identity between steps: each (vote, height) is keyed once.
      const heights = this.notedVotes.get(v) ?? new Set<number>();
      if (heights.has(t.height)) continue;
      heights.add(t.height);
      this.notedVotes.set(v, heights);
      const key = `${t.height}|${partialId(v)}`;
      if (!this.recordedAt.has(key)) this.recordedAt.set(key, this.step);
    }
  }

  /**
   * Cross-region evidence (issue 15, item 6): every slashable pair among the Byzantine member's signed
   * votes meets at one height h (a double vote at its target height, a surround at the inner vote's
   * target, where the outer one is noted as a span). A region audits h as it applies h (whether or not
   * a notice names h: a jump link finalizes heights only as ancestors), and again as it applies
   * h + horizon. So once
   * both votes were recorded at h in any regions before a region applied h or h + horizon, that region
   * must end the run holding evidence against the member, whether or not it holds either vote (unless
   * its finality notices are still pending or dead-lettered when the run ends). Returns how many
   * (region, pair) cases demanded evidence, and how many no audit could cover (the votes recorded only
   * after both, or never).
   */
  async checkAuditEvidence(signed: readonly Vote[], horizon: number): Promise<{ required: number; uncovered: number }> {
    const K = this.cluster.set.checkpointInterval;
    let required = 0;
    let uncovered = 0;
    const evidenceBy = new Map<string, Set<number>>();
    for (const node of this.cluster.nodes.values())
      evidenceBy.set(node.region, new Set((await node.raw.finality.listEvidence(100_000)).map((e) => e.member)));
    const unfinished = new Set([...this.cluster.pending, ...this.cluster.deadLetters].map((e) => e.queue));
    for (let i = 0; i < signed.length; i++)
      for (let j = i + 1; j < signed.length; j++) {
        const e = evidenceOf(signed[i]!, signed[j]!);
        if (!e) continue;
        // The height the pair meets at: a double vote's target, a surround's inner (lower) target.
        const h = Math.min(e.first.target.height, e.second.target.height);
        const a = this.recordedAt.get(`${h}|${partialId(e.first)}`);
        const b = this.recordedAt.get(`${h}|${partialId(e.second)}`);
        for (const region of this.cluster.nodes.keys()) {
          const audits = [h, h + horizon * K].map((x) => this.appliedStep.get(`${region}|${x}`)).filter((x) => x !== undefined);
          const after = a !== undefined && b !== undefined ? audits.filter((x) => x > Math.max(a, b)) : [];
          if (after.length === 0 || unfinished.has(`finalized:${region}`)) {
            uncovered++;
            continue;
          }
          required++;
          if (!evidenceBy.get(region)!.has(e.member))
            this.report(
              'audit-missed-evidence',
              `${region}: applied ${h} or ${h + horizon * K} at step ${Math.max(...after)}, after member ${e.member}'s ${e.kind} votes were recorded at ${h} (steps ${a}, ${b}), yet holds no evidence against it`,
            );
        }
      }
    return { required, uncovered };
  }

  /**
   * Honest validators never vote from an unjustified source (issue 15, item 4): the source of every
   * honest member's recorded vote is genesis or the target of a certificate some region stored (each
   * stored certificate is checked against the group key by check()).
   */
  async checkVoteSources(): Promise<void> {
    const K = this.cluster.set.checkpointInterval;
    const certified = new Set<string>();
    const votes: { region: string; vote: Vote }[] = [];
    for (const node of this.cluster.nodes.values()) {
      const head = await node.raw.finality.head();
      const top = ((await node.raw.blocks.tip(head.justified.height, 16))?.height ?? head.justified.height) + K;
      const heights: number[] = [];
      for (let h = K; h <= top; h += K) heights.push(h);
      for (const t of await node.raw.finality.tallies(heights)) {
        if (t.certificate) certified.add(idOf(t.certificate.target));
        for (const v of t.votes.values()) if (!this.byzantine.has(v.member)) votes.push({ region: node.region, vote: v });
      }
    }
    for (const { region, vote } of votes) {
      if (vote.source.height === 0 || certified.has(idOf(vote.source))) continue;
      this.report(
        'vote-from-unjustified',
        `${region}: member ${vote.member} voted ${vote.source.height} -> ${vote.target.height} from a source no region certified`,
      );
    }
  }

  private finalized(region: string, c: { height: number; hash: Uint8Array; stateRoot: Uint8Array }): void {
    const id = idOf(c);
    const other = this.finalizedAt.get(c.height);
    if (other === undefined) this.finalizedAt.set(c.height, id);
    else if (other !== id) this.report('conflicting-finality', `${region}: two different checkpoints finalized at height ${c.height}`);
  }

  private certificate(c: Certificate, what: string): void {
    if (this.checkedObjects.has(c)) return;
    this.checkedObjects.add(c);
    const id = `${linkId(c)}|${toHex(c.signature)}`;
    if (this.checkedCertificates.has(id)) return;
    this.checkedCertificates.add(id);
    const { set } = this.cluster;
    const signers = [...new Set(c.signers)];
    const wellFormed = signers.length === set.threshold && signers.every((s) => Number.isInteger(s) && s >= 1 && s <= set.n);
    let valid = false;
    try {
      // The cluster's crypto (wasm, memoized per input across seeds; checked against the RFC 9380 and drand vectors).
      valid = this.cluster.crypto.verify(set.groupPublicKey, voteSigningBytes(set.chainId, c), c.signature);
    } catch {
      valid = false;
    }
    if (!wellFormed || !valid)
      this.report('bad-certificate', `${what}: ${wellFormed ? 'group signature does not verify' : 'signers are not t distinct members'}`);
  }

  /**
   * Every slashable pair among the Byzantine member's signed votes must leave evidence against that
   * member in at least one region that handled both votes (the member is exposed there; which of its
   * pairs is kept is the store's choice, since evidence is capped per member); no evidence may name an
   * honest member.
   * `handled` maps region -> keys (voteKey) of the real votes its finalizer processed; `forged`
   * the keys of forged copies (same member and link, another signature) it processed. Returns the
   * number of slashable pairs whose regions also saw a forged copy (they must hold evidence too).
   */
  async checkEvidence(
    signed: readonly Vote[],
    handled: ReadonlyMap<string, ReadonlySet<string>>,
    forged: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<number> {
    const evidenceBy = new Map<string, Set<number>>();
    for (const node of this.cluster.nodes.values()) {
      const evidence = await node.raw.finality.listEvidence(100_000);
      for (const e of evidence)
        if (!this.byzantine.has(e.member))
          this.report('evidence-against-honest', `${node.region}: evidence (${e.kind}) against honest member ${e.member}`);
      evidenceBy.set(node.region, new Set(evidence.map((e) => e.member)));
    }
    let masked = 0;
    for (let i = 0; i < signed.length; i++)
      for (let j = i + 1; j < signed.length; j++) {
        const e = evidenceOf(signed[i]!, signed[j]!);
        if (!e) continue;
        const keys = [voteKey(signed[i]!), voteKey(signed[j]!)];
        const both = [...this.cluster.nodes.keys()].filter((r) => keys.every((k) => handled.get(r)?.has(k)));
        // Forged copies no longer hide a genuine vote (copies are kept apart by signature), so every
        // region that handled both votes counts; `masked` only reports how many saw a forged copy too.
        if (both.length === 0) continue;
        if (both.some((r) => keys.some((k) => forged.get(r)?.has(k)))) masked++;
        if (!both.some((r) => evidenceBy.get(r)!.has(e.member)))
          this.report(
            'missing-evidence',
            `${e.kind} vote of member ${e.member} (targets ${e.first.target.height}, ${e.second.target.height}) is in no region's evidence (handled by ${both.join(', ')})`,
          );
      }
    return masked;
  }
}

/** Identity of a member's vote on a link (what the vote log de-duplicates on). */
export const voteKey = (v: Vote): string => `${v.member}|${linkId(v)}`;

/** Identity of one partial signature: member, link and signature bytes. */
const partialId = (v: Vote): string => `${voteKey(v)}|${toHex(v.signature)}`;
