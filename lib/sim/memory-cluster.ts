/**
 * The whole pipeline in one process over the in-memory stores: every region's sequencer,
 * validators, finalizer and state function, with queues that keep SQS's at-least-once,
 * unordered delivery. Delivery order comes from a seeded generator, so a run replays exactly.
 * Used by the pipeline tests and as the base of the deterministic simulation.
 */
import { deal, type Dealing } from '../core/bls.js';
import { LOCAL_CHAIN_ID } from '../core/chain.js';
import { TransferLedger } from '../core/ledger.js';
import { MemoryNodeStore, SparseMerkleTree } from '../core/smt.js';
import type { Transaction, ValidatorSet } from '../core/types.js';
import { applyFinalized } from '../pipeline/applier.js';
import { type ChainContext, createChainContext } from '../pipeline/context.js';
import { handleVote } from '../pipeline/finalizer.js';
import { decodeMessage, encodeMessage, type QueueMessage } from '../pipeline/messages.js';
import {
  MemoryAppliedStore,
  MemoryBlockStore,
  MemoryFinalityStore,
  MemorySequencerStore,
  MemorySlashingProtectionStore,
} from '../pipeline/memory.js';
import type { Destination, PeerBlocks, Transport } from '../pipeline/ports.js';
import { QueryService } from '../pipeline/query.js';
import { sequence } from '../pipeline/sequencer.js';
import { handleInbox } from '../pipeline/validator.js';

export interface MemoryClusterOptions {
  readonly regions: readonly string[];
  /** Members per region, round-robin over `regions` when omitted (one each). */
  readonly members?: number;
  readonly threshold?: number;
  readonly checkpointInterval?: number;
  readonly maxBlockTransactions?: number;
  readonly seed?: number;
  /** A dealing to reuse (dealing is slow-ish); must match members/threshold. */
  readonly dealing?: Dealing;
}

export interface RegionNode {
  readonly region: string;
  readonly chain: ChainContext;
  readonly blocks: MemoryBlockStore;
  readonly finality: MemoryFinalityStore;
  readonly applied: MemoryAppliedStore;
  readonly protection: MemorySlashingProtectionStore;
  readonly query: QueryService;
}

interface Envelope {
  readonly queue: string;
  readonly body: string;
  receives: number;
}

/** Small deterministic PRNG (mulberry32): the only source of choice in a run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const queueId = (d: Destination): string =>
  d.queue === 'ingress' ? 'ingress' : d.queue === 'inbox' ? `inbox:${d.region}:${d.member}` : `${d.queue}:${d.region}`;

export class MemoryCluster {
  readonly nodes = new Map<string, RegionNode>();
  readonly pending: Envelope[] = [];
  readonly sequencerStore = new MemorySequencerStore();
  readonly errors: { queue: string; error: unknown }[] = [];
  delivered = 0;
  private readonly random: () => number;

  private constructor(
    readonly set: ValidatorSet,
    readonly dealing: Dealing,
    readonly homeRegion: string,
    readonly maxBlockTransactions: number,
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  static async create(opts: MemoryClusterOptions): Promise<MemoryCluster> {
    const n = opts.members ?? opts.regions.length;
    const threshold = opts.threshold ?? n - Math.floor((n - 1) / 3);
    const dealing = opts.dealing ?? deal(n, threshold);
    const set: ValidatorSet = {
      chainId: LOCAL_CHAIN_ID,
      era: 0n,
      n,
      threshold,
      checkpointInterval: opts.checkpointInterval ?? 1,
      groupPublicKey: dealing.groupPublicKey,
      members: dealing.shares.map((s, i) => ({ index: s.index, region: opts.regions[i % opts.regions.length]!, publicKey: s.publicKey })),
    };
    const cluster = new MemoryCluster(set, dealing, opts.regions[0]!, opts.maxBlockTransactions ?? 100, opts.seed ?? 1);
    for (const region of opts.regions) {
      const ledger = new TransferLedger({ chainId: set.chainId, tree: new SparseMerkleTree(new MemoryNodeStore()) });
      const chain = await createChainContext(set, ledger);
      const blocks = new MemoryBlockStore();
      const finality = new MemoryFinalityStore(chain.genesis);
      const applied = new MemoryAppliedStore();
      const query = new QueryService({ chain, region, blocks, finality, applied });
      cluster.nodes.set(region, { region, chain, blocks, finality, applied, protection: new MemorySlashingProtectionStore(), query });
    }
    return cluster;
  }

  node(region: string): RegionNode {
    const node = this.nodes.get(region);
    if (!node) throw new Error(`unknown region ${region}`);
    return node;
  }

  /** The transport every role sends through: bodies are encoded, as on a real queue. */
  readonly transport: Transport = {
    send: async (to, messages) => {
      for (const m of messages) this.pending.push({ queue: queueId(to), body: encodeMessage(m), receives: 0 });
    },
  };

  submit(tx: Transaction): void {
    this.pending.push({ queue: 'ingress', body: encodeMessage({ kind: 'tx', tx }), receives: 0 });
  }

  /** Delivers one message chosen by the seeded generator. Returns false when nothing is pending. */
  async step(): Promise<boolean> {
    if (this.pending.length === 0) return false;
    const index = Math.floor(this.random() * this.pending.length);
    const [envelope] = this.pending.splice(index, 1);
    await this.deliver(envelope!);
    return true;
  }

  /** Runs until no message is pending or `maxSteps` deliveries happened. Returns the number of steps. */
  async run(maxSteps = 100_000): Promise<number> {
    let steps = 0;
    while (steps < maxSteps && (await this.step())) steps++;
    return steps;
  }

  async deliver(envelope: Envelope): Promise<void> {
    envelope.receives++;
    this.delivered++;
    try {
      await this.dispatch(envelope.queue, envelope.body);
    } catch (error) {
      this.errors.push({ queue: envelope.queue, error });
      // Like a visibility timeout expiring: the message comes back later.
      if (envelope.receives < 50) this.pending.push(envelope);
    }
  }

  peersOf(region: string): PeerBlocks[] {
    return [...this.nodes.values()]
      .filter((n) => n.region !== region)
      .map((peer) => ({ fetchBlock: async (height: number) => blockAt(peer, height) }));
  }

  private async dispatch(queue: string, body: string): Promise<void> {
    const [kind, region, member] = queue.split(':');
    const home = this.node(this.homeRegion);
    switch (kind) {
      case 'ingress': {
        const msg = decodeMessage(body, ['tx', 'tick']);
        await sequence(
          { chain: home.chain, blocks: home.blocks, store: this.sequencerStore, finality: home.finality, transport: this.transport, maxBlockTransactions: this.maxBlockTransactions, maxBlockBytes: 200_000 },
          [msg],
        );
        return;
      }
      case 'inbox': {
        const node = this.node(region!);
        const index = Number(member);
        await handleInbox(
          {
            chain: node.chain,
            member: index,
            secretKey: this.dealing.shares[index - 1]!.secretKey,
            blocks: node.blocks,
            homeBlocks: home.blocks,
            finality: node.finality,
            protection: node.protection,
            transport: this.transport,
          },
          decodeMessage(body, ['proposal', 'justified']),
        );
        return;
      }
      case 'votes': {
        const node = this.node(region!);
        const { vote } = decodeMessage(body, ['vote']);
        await handleVote({ chain: node.chain, region: node.region, homeRegion: this.homeRegion, store: node.finality, transport: this.transport }, vote);
        return;
      }
      case 'finalized': {
        const node = this.node(region!);
        decodeMessage(body, ['finalized']);
        await applyFinalized({ chain: node.chain, blocks: node.blocks, finality: node.finality, applied: node.applied, peers: this.peersOf(node.region) });
        return;
      }
      default:
        throw new Error(`unknown queue ${queue}`);
    }
  }
}

async function blockAt(node: RegionNode, height: number) {
  for (const hash of await node.blocks.hashesAt(height)) {
    const block = await node.blocks.getBlock(hash);
    if (block) return block;
  }
  return undefined;
}

export type { QueueMessage };
