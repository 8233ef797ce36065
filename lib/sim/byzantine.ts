/**
 * Byzantine actors for the simulation: one equivocating member (Twins-style: a second copy of the
 * member with the same key but its own watermark and view, plus crafted double and surround votes
 * and garbage, or a split member showing one face to half the regions and another to the rest), a
 * Byzantine sequencer (an alternative chain with an invalid transaction, sent to some or all
 * validators, optionally with forged "justified" notices; once replaced by a view change it keeps
 * proposing in view 0, a valid rival beside every block of the later views), and a notice forger (anyone who can write
 * to the queues: forged "justified" notices to validators and "finalized" notices to state functions).
 *
 * Everything they do is logged, so the invariants can check that each equivocation ends up as
 * evidence and each piece of garbage is refused.
 */
import { equalBytes, toHex } from '../core/bytes.js';
import { voteSigningBytes } from '../core/codec.js';
import { isCheckpointHeight } from '../core/ffg.js';
import type { Block, Certificate, Checkpoint, Link, Transaction, Vote } from '../core/types.js';
import { voteToJson } from '../core/wire.js';
import { hashBlock, proposerRegion } from '../pipeline/context.js';
import { MemoryBlockStore, MemorySlashingProtectionStore } from '../pipeline/memory.js';
import { MAX_MESSAGE_BYTES, type QueueMessage } from '../pipeline/messages.js';
import type { Transport } from '../pipeline/ports.js';
import type { InboxMessage, ValidatorDeps, ValidatorOutcome } from '../pipeline/validator.js';
import { type MemoryCluster, mulberry32 } from './memory-cluster.js';

export type MemberAttack =
  /** After each vote, also sign the same source with another target at the same height. */
  | 'double'
  /** After each vote with a source above genesis, also sign genesis -> (target + K): it surrounds the vote. */
  | 'surround'
  /** Send malformed, oversized, unknown-member, wrong-era, backwards and badly signed votes to random regions. */
  | 'garbage'
  /** Send forged copies of real votes (same member and link, another signature; also under honest indices). */
  | 'forge'
  /** Never vote (a crashed member). */
  | 'silent'
  /** Run a second copy of the member (same key, own watermark and block view) that follows the alternative chain. */
  | 'twins'
  /**
   * Split double vote: the member's honest votes reach only half the regions (SPLIT_FACE_A); each is
   * shadowed by a vote from the same source to another block at the same height, sent only to the
   * other half. No region's finalizer holds both: only the cross-region audit can pair them.
   */
  | 'split-double'
  /**
   * Split surround vote: as 'split-double', but the shadow of an honest vote s -> s+K is the link
   * (s-2K) -> s+K, which surrounds the member's previous honest vote (s-K) -> s.
   */
  | 'split-surround';

/** The attacks a seed may draw (scenarioForSeed); the split attacks are run by their own scenarios (test/sim/trust.test.ts). */
export const MEMBER_ATTACKS: readonly MemberAttack[] = ['double', 'surround', 'garbage', 'forge', 'silent', 'twins'];
/** The attacks that split the member across regions. */
export const SPLIT_ATTACKS: readonly MemberAttack[] = ['split-double', 'split-surround'];

/** What a garbage message must lead to: a decode refusal (InputError), a refused vote, or a vote that can never count. */
export type GarbageExpectation = 'decode' | 'refused' | 'uncounted';

export interface ByzantineLog {
  /** Every validly signed vote of the Byzantine member, in signing order. */
  readonly signed: Vote[];
  /** Garbage bodies sent to vote queues and what each must lead to. */
  readonly garbage: Map<string, GarbageExpectation>;
}

const HUGE_BODY = `{"v":1,"kind":"vote","vote":"${'A'.repeat(2 * MAX_MESSAGE_BYTES)}"}`;

/**
 * Made-up bytes come from a small fixed pool (one fixed generator), so the same crafted votes recur
 * across seeds and the simulation's crypto cache stays warm; which one is used is still seeded.
 */
const POOL = (() => {
  const r = mulberry32(0xbad5eed);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  const offCurve = Array.from({ length: 3 }, () => {
    const b = bytes(48);
    b[0] = (b[0]! & 0x1f) | 0x80; // compressed flag, random x: almost surely not on the curve
    return b;
  });
  return { hashes: Array.from({ length: 3 }, () => bytes(32)), signatures: Array.from({ length: 3 }, () => bytes(48)), offCurve };
})();

/** The Byzantine member: replaces its inbox handling (ClusterHooks.inbox). */
export class ByzantineMember {
  readonly log: ByzantineLog = { signed: [], garbage: new Map() };
  private readonly twin = { blocks: new MemoryBlockStore(), protection: new MemorySlashingProtectionStore() };
  private cluster!: MemoryCluster;
  /** The last link the member signed honestly (the split surround shadows the next one around it). */
  private lastHonest: Link | undefined;

  constructor(
    readonly member: number,
    readonly attacks: ReadonlySet<MemberAttack>,
    private readonly random: () => number,
    private readonly sequencer?: ByzantineSequencer,
  ) {}

  bind(cluster: MemoryCluster): void {
    this.cluster = cluster;
  }

  async inbox(ctx: {
    deps: ValidatorDeps;
    message: InboxMessage;
    honest: (deps?: ValidatorDeps) => Promise<ValidatorOutcome>;
  }): Promise<ValidatorOutcome> {
    if (this.attacks.has('silent')) return { kind: 'waiting', reason: 'silent' };
    const route = this.sequencer?.route(ctx.message) ?? 'both';
    const outcomes: ValidatorOutcome[] = [];
    // A split member's own votes reach only face A (each shadow goes to face B in misbehave).
    const deps = this.splits() ? { ...ctx.deps, transport: this.onlyFaceA(ctx.deps.transport) } : ctx.deps;
    if (route !== 'alt') outcomes.push(await ctx.honest(deps));
    if (this.attacks.has('twins') && route !== 'main')
      outcomes.push(await ctx.honest({ ...deps, blocks: this.twin.blocks, protection: this.twin.protection }));
    for (const outcome of outcomes) {
      if (outcome.kind !== 'voted') continue;
      this.logSigned(outcome.link);
      if (!outcome.repeat) await this.misbehave(outcome.link);
    }
    return outcomes[0] ?? { kind: 'waiting', reason: 'this twin does not follow the chain of this proposal' };
  }

  private sign(link: Link): Vote {
    const { set } = this.cluster;
    const secretKey = this.cluster.dealing.shares[this.member - 1]!.secretKey;
    return { ...link, member: this.member, signature: this.cluster.crypto.signShare(secretKey, voteSigningBytes(set.chainId, link)) };
  }

  private logSigned(link: Link): Vote {
    const vote = this.sign(link);
    const known = this.log.signed.some((v) => sameVote(v, vote));
    if (!known) this.log.signed.push(vote);
    return vote;
  }

  private fromPool(pool: readonly Uint8Array[]): Uint8Array {
    return pool[Math.floor(this.random() * pool.length)]!;
  }

  /** Sends `vote` to every region, or (Twins-style partition) to a random non-empty subset. */
  private async sendVote(vote: Vote): Promise<void> {
    const regions = [...this.cluster.nodes.keys()];
    const chosen = this.random() < 0.5 ? regions : regions.filter(() => this.random() < 0.5);
    for (const region of chosen.length ? chosen : regions.slice(0, 1))
      await this.cluster.transport.send({ queue: 'votes', region }, [{ kind: 'vote', vote, ancestry: [] }]);
  }

  private splits(): boolean {
    return SPLIT_ATTACKS.some((a) => this.attacks.has(a));
  }

  /** The member's transport with its votes to face B regions dropped. */
  private onlyFaceA(inner: Transport): Transport {
    const faceA = new Set(splitFaces(this.cluster).a);
    return {
      send: (to, messages, options) =>
        to.queue === 'votes' && !faceA.has(to.region) ? Promise.resolve() : inner.send(to, messages, options),
    };
  }

  /** Sends a shadow vote to face B only. */
  private async sendToFaceB(vote: Vote): Promise<void> {
    for (const region of splitFaces(this.cluster).b)
      await this.cluster.transport.send({ queue: 'votes', region }, [{ kind: 'vote', vote, ancestry: [] }]);
  }

  /** The split attacks' shadow of an honest `link`, if any (see MemberAttack). */
  private async split(link: Link): Promise<void> {
    const K = this.cluster.set.checkpointInterval;
    const previous = this.lastHonest;
    this.lastHonest = link;
    if (this.attacks.has('split-double')) {
      const shadow: Link = { era: link.era, source: link.source, target: { ...link.target, hash: this.fromPool(POOL.hashes) } };
      await this.sendToFaceB(this.logSigned(shadow));
    }
    if (this.attacks.has('split-surround') && previous?.target.height === link.source.height && link.source.height >= 2 * K) {
      const below = { height: link.source.height - 2 * K, hash: this.fromPool(POOL.hashes), stateRoot: this.fromPool(POOL.hashes) };
      await this.sendToFaceB(this.logSigned({ era: link.era, source: below, target: link.target }));
    }
  }

  private async misbehave(link: Link): Promise<void> {
    if (this.splits()) await this.split(link);
    const K = this.cluster.set.checkpointInterval;
    if (this.attacks.has('double')) {
      const other: Link = { era: link.era, source: link.source, target: { ...link.target, hash: this.fromPool(POOL.hashes) } };
      await this.sendVote(this.logSigned(other));
    }
    if (this.attacks.has('surround') && link.source.height >= K) {
      const genesis = (this.cluster.nodes.values().next().value as { chain: { genesis: Checkpoint } }).chain.genesis;
      const outer: Link = {
        era: link.era,
        source: genesis,
        target: { height: link.target.height + K, hash: this.fromPool(POOL.hashes), stateRoot: this.fromPool(POOL.hashes) },
      };
      await this.sendVote(this.logSigned(outer));
    }
    if (this.attacks.has('garbage') || this.attacks.has('forge'))
      for (const [body, expect] of this.garbage(this.sign(link))) this.sendRaw(body, expect);
  }

  private sendRaw(body: string, expect: GarbageExpectation): void {
    const regions = [...this.cluster.nodes.keys()];
    const region = regions[Math.floor(this.random() * regions.length)]!;
    this.log.garbage.set(body, expect);
    this.cluster.pending.push({ queue: `votes:${region}`, body, receives: 0 });
  }

  /** Malformed variants ('garbage') and forged copies ('forge') of a real vote `v` of this member. */
  private garbage(v: Vote): [string, GarbageExpectation][] {
    const { n } = this.cluster.set;
    const honest = 1 + ((this.member + Math.floor(this.random() * (n - 1))) % n);
    const json = (vote: object) => JSON.stringify({ v: 1, kind: 'vote', vote, ancestry: [] });
    const base = voteToJson(v);
    // Another target than any real vote: a badly signed vote here cannot hide a real one.
    const elsewhere = { ...base.target, hash: toHex(this.fromPool(POOL.hashes)) };
    const all: [string, GarbageExpectation][] = [];
    if (this.attacks.has('garbage'))
      all.push(
        [this.cluster.encode({ kind: 'vote', vote: v, ancestry: [] }).slice(0, 40), 'decode'],
        [json({ ...base, signature: toHex(this.fromPool(POOL.signatures).slice(1)) }), 'decode'],
        [json({ ...base, member: 0 }), 'decode'],
        [json({ ...base, extra: 1 }), 'decode'],
        [HUGE_BODY, 'decode'],
        [json({ ...base, member: n + 1 + Math.floor(this.random() * 100) }), 'refused'],
        [json({ ...base, era: 7 }), 'refused'],
        [json({ ...base, target: base.source }), 'refused'],
        [json({ ...base, target: elsewhere, signature: toHex(this.fromPool(POOL.signatures)) }), 'uncounted'],
        [json({ ...base, target: elsewhere, member: honest, signature: toHex(this.fromPool(POOL.offCurve)) }), 'uncounted'],
      );
    if (this.attacks.has('forge'))
      all.push(
        // This member's valid signature under an honest member's index, and bad signatures on its own real link.
        [json({ ...base, member: honest }), 'uncounted'],
        [json({ ...base, member: honest, signature: toHex(this.fromPool(POOL.offCurve)) }), 'uncounted'],
        [json({ ...base, signature: toHex(this.fromPool(POOL.signatures)) }), 'uncounted'],
      );
    return all.filter(() => this.random() < 0.25);
  }
}

const sameVote = (a: Vote, b: Vote) => a.member === b.member && equalBytes(a.signature, b.signature);

/** The two faces of a split member: the first half of the cluster's regions, and the rest. */
export function splitFaces(cluster: Pick<MemoryCluster, 'regions'>): { a: readonly string[]; b: readonly string[] } {
  const half = Math.ceil(cluster.regions.length / 2);
  return { a: cluster.regions.slice(0, half), b: cluster.regions.slice(half) };
}

export type SequencerAttack =
  /** Every validator gets the alternative chain (an extra invalid transaction at the fork height). */
  | 'alt-chain'
  /** Some validators get the alternative chain, the others the real one. */
  | 'split'
  /** Every validator gets both chains, plus forged "justified" notices for the alternative checkpoints. */
  | 'confuse';

export type InvalidTxKind = 'bad-signature' | 'overspend' | 'future-nonce';

/**
 * Intercepts the sequencer's proposals (ClusterHooks.wrapTransport): from `forkHeight` on, each
 * block has an alternative with the same transactions on the alternative parent; the one at the
 * fork height also carries `invalid`.
 */
export class ByzantineSequencer {
  private readonly alt = new Map<string, { block: Block; hash: Uint8Array; stateRoot: Uint8Array }>();
  private readonly altHashes = new Set<string>();
  private readonly forked = new Set<string>();
  private readonly altAt = new Map<number, { block: Block; hash: Uint8Array; stateRoot: Uint8Array }>();
  private cluster!: MemoryCluster;

  constructor(
    readonly mode: SequencerAttack,
    readonly forkHeight: number,
    readonly invalid: Transaction,
    /** Members that get the alternative chain in 'split' mode. */
    readonly altMembers: ReadonlySet<number>,
    /** The Byzantine member, whose two twins get one chain each. */
    readonly twinsMember?: number,
  ) {}

  bind(cluster: MemoryCluster): void {
    this.cluster = cluster;
  }

  /** The home region's speculative executor (the sequencer's), so nothing is persisted. */
  private executor() {
    return this.cluster.node(this.cluster.homeRegion).runtime.sequencer().executor;
  }

  /** The post-state root of a block on the real chain, executed from genesis along its parents (memoized). */
  private readonly realRoots = new Map<string, Uint8Array>();
  private async realRoot(height: number, hash: Uint8Array): Promise<Uint8Array> {
    const { genesis } = this.cluster.node(this.cluster.homeRegion).chain;
    if (height === genesis.height) return genesis.stateRoot;
    const known = this.realRoots.get(toHex(hash));
    if (known) return known;
    const block = await this.cluster.node(this.cluster.homeRegion).raw.blocks.getBlock(height, hash);
    const parentRoot = await this.realRoot(height - 1, block!.parentHash);
    const { root } = await this.executor().execute(parentRoot, block!.transactions);
    this.realRoots.set(toHex(hash), root);
    return root;
  }

  /** Which twin of the Byzantine member handles `message`: the real chain, the alternative one, or both. */
  route(message: InboxMessage): 'main' | 'alt' | 'both' {
    if (message.kind !== 'proposal') return 'both';
    const id = toHex(message.hash);
    return this.altHashes.has(id) ? 'alt' : this.forked.has(id) ? 'main' : 'both';
  }

  wrap(inner: Transport): Transport {
    return {
      send: async (to, messages) => {
        if (to.queue !== 'inbox') return inner.send(to, messages);
        const out: QueueMessage[] = [];
        for (const m of messages) {
          // Replaced, it keeps proposing in view 0: a competing valid block beside each later view's.
          if (m.kind === 'proposal' && (m.view ?? 0) > 0) {
            const zombie = await this.staleRival(m.height, m.hash, m.view!, m.block);
            if (zombie) out.push(zombie);
          }
          // The Byzantine one is the sequencer of view 0 (the home region's); later views' sequencers are honest.
          if (m.kind !== 'proposal' || !m.block || m.height < this.forkHeight || (m.view ?? 0) > 0) {
            out.push(m);
            continue;
          }
          const alt = await this.alternative(m.block, m.hash);
          const altMessage: QueueMessage = { kind: 'proposal', height: m.height, hash: alt.hash, block: alt.block };
          const both = to.member === this.twinsMember || this.mode === 'confuse';
          const altOnly = !both && (this.mode === 'alt-chain' || this.altMembers.has(to.member));
          if (both || !altOnly) out.push(m);
          if (both || altOnly) out.push(altMessage);
          if (this.mode === 'confuse') {
            // Forged notices for this alternative checkpoint and the one below it, so a validator that
            // trusted notices could be talked into the alternative link: the sequencer holds no key,
            // so the certificate is made up (validators must verify it and ignore the notice).
            const K = this.cluster.set.checkpointInterval;
            for (const c of [this.altAt.get(m.height - K), isCheckpointHeight(m.height, K) ? alt : undefined])
              if (c && isCheckpointHeight(c.block.height, K)) {
                const target = { height: c.block.height, hash: c.hash, stateRoot: c.stateRoot };
                const source = this.altAt.get(c.block.height - K) ?? undefined;
                out.push({
                  kind: 'justified',
                  certificate: {
                    era: this.cluster.set.era,
                    source: source ? { height: source.block.height, hash: source.hash, stateRoot: source.stateRoot } : target,
                    target,
                    signers: [1, 2, 3],
                    signature: POOL.signatures[c.block.height % POOL.signatures.length]!,
                  },
                });
              }
          }
        }
        await inner.send(to, out);
      },
    };
  }

  /** View-0 proposals sent after the sequencer was replaced (a validator must refuse each once it knows the view). */
  readonly stale = { proposals: 0 };

  /**
   * The replaced sequencer's rival to a later view's block at `height`: same parent, all its transactions
   * but the last, so it is valid on that parent and conflicts with the block; sent as a view-0 proposal.
   * A member still in view 0 may vote for it (its watermark then rules out the later view's block at
   * that height), and its transactions sit in a superseded block the new sequencer must not count as
   * included. Nothing when the later block has no transaction to drop.
   */
  private async staleRival(height: number, hash: Uint8Array, view: number, sent: Block | undefined): Promise<QueueMessage | undefined> {
    const { set } = this.cluster;
    const block = sent ?? (await this.cluster.node(proposerRegion(set, this.cluster.homeRegion, view)).raw.blocks.getBlock(height, hash));
    if (!block || block.transactions.length === 0) return undefined;
    const rival: Block = { height, parentHash: block.parentHash, transactions: block.transactions.slice(0, -1) };
    this.stale.proposals++;
    return { kind: 'proposal', height, hash: hashBlock(this.cluster.node(this.cluster.homeRegion).chain, rival), block: rival };
  }

  private async alternative(block: Block, hash: Uint8Array): Promise<{ block: Block; hash: Uint8Array; stateRoot: Uint8Array }> {
    const id = toHex(hash);
    const known = this.alt.get(id);
    if (known) return known;
    const home = this.cluster.node(this.cluster.homeRegion).raw;
    const { chain } = this.cluster.node(this.cluster.homeRegion);
    let parentHash: Uint8Array;
    let parentRoot: Uint8Array;
    const txs = [...block.transactions];
    if (block.height === this.forkHeight) {
      parentHash = block.parentHash;
      parentRoot = await this.realRoot(block.height - 1, parentHash);
      txs.push(this.invalid);
    } else {
      const parent = await home.blocks.getBlock(block.height - 1, block.parentHash);
      const altParent = await this.alternative(parent!, block.parentHash);
      parentHash = altParent.hash;
      parentRoot = altParent.stateRoot;
    }
    const altBlock: Block = { height: block.height, parentHash, transactions: txs };
    const altHash = hashBlock(chain, altBlock);
    const { root } = await this.executor().execute(parentRoot, txs);
    const result = { block: altBlock, hash: altHash, stateRoot: root };
    this.alt.set(id, result);
    this.altAt.set(block.height, result);
    this.altHashes.add(toHex(altHash));
    this.forked.add(id);
    return result;
  }
}

/** What a notice forger sends: forged "justified" notices to validators, forged "finalized" notices to state functions. */
export type NoticeForgery = 'justified' | 'finalized';

/**
 * Anyone who can write to the queues (a compromised sender, a buggy peer): each time a real
 * "justified" notice is sent, it sends validators forged ones built from it, and each time a real
 * "finalized" notice is sent, forged ones to a state function. Forged "justified" certificates either
 * do not verify (a link to a real checkpoint further up, or a backwards one, under the real group
 * signature of another link; signers outside the set or too few) or are real certificates with their
 * `signers` list reordered (the group signature does not bind it). Forged "finalized" notices name
 * heights far above finality, with or without a made-up certificate. Honest roles must treat notices
 * as hints: validators learn justification only from certificates they verify, the state function
 * only from its region's own records.
 */
export class NoticeForger {
  readonly log = { justified: 0, finalized: 0 };
  private cluster!: MemoryCluster;

  constructor(
    readonly kinds: ReadonlySet<NoticeForgery>,
    private readonly random: () => number,
  ) {}

  bind(cluster: MemoryCluster): void {
    this.cluster = cluster;
  }

  wrap(inner: Transport): Transport {
    return {
      send: async (to, messages, options) => {
        await inner.send(to, messages, options);
        for (const m of messages) {
          if (m.kind === 'justified' && this.kinds.has('justified')) await this.forgeJustified(inner, m.certificate);
          if (m.kind === 'finalized' && m.certificate && this.kinds.has('finalized')) await this.forgeFinalized(inner, m.certificate);
        }
      },
    };
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }

  /**
   * The real checkpoint at `height` (a block the sequencer stored, with the state root its execution
   * gives: anyone can compute it) when there is one, else a made-up one.
   */
  private async checkpointAt(height: number): Promise<Checkpoint> {
    const home = this.cluster.node(this.cluster.homeRegion).raw.blocks;
    const [hash] = await home.hashesAt(height);
    if (!hash) return { height, hash: this.pick(POOL.hashes), stateRoot: this.pick(POOL.hashes) };
    return { height, hash, stateRoot: await this.rootOf(height, hash) };
  }

  private readonly roots = new Map<string, Uint8Array>();

  /** The post-state root of block (height, hash), executed from genesis along its parents (memoized). */
  private async rootOf(height: number, hash: Uint8Array): Promise<Uint8Array> {
    const home = this.cluster.node(this.cluster.homeRegion);
    if (height === home.chain.genesis.height) return home.chain.genesis.stateRoot;
    const known = this.roots.get(toHex(hash));
    if (known) return known;
    const block = (await home.raw.blocks.getBlock(height, hash))!;
    const parent = await this.rootOf(height - 1, block.parentHash);
    const { root } = await home.runtime.sequencer().executor.execute(parent, block.transactions);
    this.roots.set(toHex(hash), root);
    return root;
  }

  private async forgeJustified(inner: Transport, real: Certificate): Promise<void> {
    const K = this.cluster.set.checkpointInterval;
    const { n } = this.cluster.set;
    const ahead = await this.checkpointAt(real.target.height + K * (1 + Math.floor(this.random() * 3)));
    const forgeries: Certificate[] = [
      // A link from the real target to a real checkpoint further up, under the real certificate's signature.
      { ...real, source: real.target, target: ahead },
      // A skip link from the real source past the real target.
      { ...real, target: await this.checkpointAt(real.target.height + K) },
      // Backwards.
      { ...real, source: real.target, target: real.source },
      // Signers the group signature does not bind: outside the set, too few, none.
      { ...real, signers: [1, 2, n + 1 + Math.floor(this.random() * 90)] },
      { ...real, signers: real.signers.slice(1) },
      { ...real, signers: [] },
      // A real certificate with its signers reordered: it still verifies, and says nothing new.
      { ...real, signers: [...real.signers].reverse() },
    ];
    const members = this.cluster.set.members;
    for (const certificate of forgeries.filter(() => this.random() < 0.5)) {
      const m = this.pick(members);
      this.log.justified++;
      await inner.send({ queue: 'inbox', region: m.region, member: m.index }, [{ kind: 'justified', certificate }]);
    }
  }

  private async forgeFinalized(inner: Transport, real: Certificate): Promise<void> {
    const K = this.cluster.set.checkpointInterval;
    const region = this.pick(this.cluster.regions);
    const height = real.source.height + K * (1 + Math.floor(this.random() * 5));
    const far = { ...real, source: await this.checkpointAt(height), target: await this.checkpointAt(height + K) };
    const notices: QueueMessage[] = [
      { kind: 'finalized', height, certificate: far },
      { kind: 'finalized', height: height + 1_000_000 * K },
      { kind: 'finalized', height: 0 },
    ];
    for (const notice of notices.filter(() => this.random() < 0.5)) {
      this.log.finalized++;
      await inner.send({ queue: 'finalized', region }, [notice]);
    }
  }
}
