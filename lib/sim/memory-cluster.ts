/**
 * The whole pipeline in one process over the in-memory stores: every region's sequencer,
 * validators, finalizer and state function, with queues that keep SQS's at-least-once,
 * unordered delivery. Delivery order comes from a seeded generator, so a run replays exactly.
 * Used by the pipeline tests and as the base of the deterministic simulation.
 */
import { type Dealing, deal } from '../core/bls.js';
import { LOCAL_CHAIN_ID } from '../core/chain.js';
import { type GenesisAccount, TransferLedger } from '../core/ledger.js';
import { MemoryNodeStore, SparseMerkleTree } from '../core/smt.js';
import type { Transaction, ValidatorSet } from '../core/types.js';
import { type ApplierDeps, applyFinalized } from '../pipeline/applier.js';
import { type ChainContext, createChainContext } from '../pipeline/context.js';
import { type FinalizerDeps, handleVote } from '../pipeline/finalizer.js';
import {
  MemoryAppliedStore,
  MemoryBlockStore,
  MemoryFinalityStore,
  MemorySequencerStore,
  MemorySlashingProtectionStore,
} from '../pipeline/memory.js';
import { decodeMessage, encodeMessage, type QueueMessage } from '../pipeline/messages.js';
import type {
  AppliedStore,
  BlockStore,
  Destination,
  FinalityStore,
  PeerBlocks,
  SequencerStore,
  SlashingProtectionStore,
  Transport,
} from '../pipeline/ports.js';
import { QueryService } from '../pipeline/query.js';
import { type SequencerDeps, sequence } from '../pipeline/sequencer.js';
import { handleInbox, type ValidatorDeps } from '../pipeline/validator.js';

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
  /** Genesis balances to reuse (default: the dev accounts, whose public keys take a while to derive). */
  readonly genesis?: readonly GenesisAccount[];
  /** Deliveries of one message before it is dead-lettered (SQS maxReceiveCount); default 50. */
  readonly maxReceives?: number;
  /** Simulation hooks; every one is optional and the defaults are the honest pipeline. */
  readonly hooks?: ClusterHooks;
}

/** The stores the roles of one region use (the simulation may wrap them). */
export interface RegionPorts {
  readonly blocks: BlockStore;
  readonly finality: FinalityStore;
  readonly applied: AppliedStore;
  readonly protection: SlashingProtectionStore;
}

/** One handled message: its queue, the role's result (undefined for roles that return nothing useful). */
export interface DeliveryOutcome {
  readonly queue: string;
  readonly result: unknown;
}

/**
 * Extension points for the deterministic simulation (lib/sim/simulation.ts): wrap stores and the
 * transport (fault injection, recording), replace a role's dependencies (planted bugs, Byzantine
 * members) and observe outcomes. Hooks are called synchronously while the cluster is built or a
 * message is dispatched.
 */
export interface ClusterHooks {
  /** Wraps a region's stores once, at creation; the roles use the returned ones, the query service the raw ones. */
  wrapPorts?(region: string, ports: RegionPorts): RegionPorts;
  wrapSequencerStore?(store: SequencerStore): SequencerStore;
  /** Wraps the transport every role sends through. */
  wrapTransport?(transport: Transport): Transport;
  finalizerDeps?(deps: FinalizerDeps): FinalizerDeps;
  applierDeps?(deps: ApplierDeps): ApplierDeps;
  sequencerDeps?(deps: SequencerDeps): SequencerDeps;
  /**
   * Replaces one validator's inbox handling (a Byzantine member). `honest` runs the honest
   * validator over `deps`; the default hook just calls it.
   */
  inbox?(ctx: {
    region: string;
    member: number;
    deps: ValidatorDeps;
    message: InboxMessage;
    honest: (deps?: ValidatorDeps) => Promise<unknown>;
  }): Promise<unknown>;
  /** Called after a message was handled without throwing. */
  onDelivered?(outcome: DeliveryOutcome): void;
}

export type InboxMessage = Extract<QueueMessage, { kind: 'proposal' | 'justified' }>;

export interface RegionNode {
  readonly region: string;
  readonly chain: ChainContext;
  readonly blocks: MemoryBlockStore;
  readonly finality: MemoryFinalityStore;
  readonly applied: MemoryAppliedStore;
  readonly protection: MemorySlashingProtectionStore;
  readonly query: QueryService;
  /** What the roles use: the stores above, or the hooks' wrappers of them. */
  readonly ports: RegionPorts;
}

/** A message on a queue; `receives` counts deliveries (like SQS ApproximateReceiveCount). */
export interface Envelope {
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
  /** Messages dropped after `maxReceives` deliveries (a DLQ). */
  readonly deadLetters: Envelope[] = [];
  delivered = 0;
  private readonly random: () => number;
  private sequencerPort: SequencerStore = this.sequencerStore;
  private wrappedTransport: Transport | undefined;

  private constructor(
    readonly set: ValidatorSet,
    readonly dealing: Dealing,
    readonly homeRegion: string,
    readonly maxBlockTransactions: number,
    seed: number,
    readonly hooks: ClusterHooks = {},
    readonly maxReceives = 50,
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
    const hooks = opts.hooks ?? {};
    const cluster = new MemoryCluster(
      set,
      dealing,
      opts.regions[0]!,
      opts.maxBlockTransactions ?? 100,
      opts.seed ?? 1,
      hooks,
      opts.maxReceives,
    );
    for (const region of opts.regions) {
      const tree = new SparseMerkleTree(new MemoryNodeStore());
      const ledger = new TransferLedger({ chainId: set.chainId, tree, ...(opts.genesis ? { genesis: opts.genesis } : {}) });
      const chain = await createChainContext(set, ledger);
      const blocks = new MemoryBlockStore();
      const finality = new MemoryFinalityStore(chain.genesis);
      const applied = new MemoryAppliedStore();
      const protection = new MemorySlashingProtectionStore();
      const query = new QueryService({ chain, region, blocks, finality, applied });
      const raw: RegionPorts = { blocks, finality, applied, protection };
      const ports = hooks.wrapPorts ? hooks.wrapPorts(region, raw) : raw;
      cluster.nodes.set(region, { region, chain, blocks, finality, applied, protection, query, ports });
    }
    if (hooks.wrapSequencerStore) cluster.sequencerPort = hooks.wrapSequencerStore(cluster.sequencerStore);
    if (hooks.wrapTransport) cluster.wrappedTransport = hooks.wrapTransport(cluster.transport);
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

  /** Handles one envelope; on a throw it records the error and puts the message back (or dead-letters it). Returns whether it succeeded. */
  async deliver(envelope: Envelope): Promise<boolean> {
    envelope.receives++;
    this.delivered++;
    try {
      const result = await this.dispatch(envelope.queue, envelope.body, envelope.receives > 1);
      this.hooks.onDelivered?.({ queue: envelope.queue, result });
      return true;
    } catch (error) {
      this.errors.push({ queue: envelope.queue, error });
      // Like a visibility timeout expiring: the message comes back later.
      if (envelope.receives < this.maxReceives) this.pending.push(envelope);
      else this.deadLetters.push(envelope);
      return false;
    }
  }

  peersOf(region: string): PeerBlocks[] {
    return [...this.nodes.values()]
      .filter((n) => n.region !== region)
      .map((peer) => ({ fetchBlock: async (height: number) => blockAt(peer, height) }));
  }

  /** `redelivered` mirrors SQS's ApproximateReceiveCount > 1, as the Lambda handlers pass it on. */
  private async dispatch(queue: string, body: string, redelivered: boolean): Promise<unknown> {
    const [kind, region, member] = queue.split(':');
    const home = this.node(this.homeRegion);
    const transport = this.wrappedTransport ?? this.transport;
    const hooks = this.hooks;
    switch (kind) {
      case 'ingress': {
        const msg = decodeMessage(body, ['tx', 'tick']);
        const deps: SequencerDeps = {
          chain: home.chain,
          blocks: home.ports.blocks,
          store: this.sequencerPort,
          finality: home.ports.finality,
          transport,
          maxBlockTransactions: this.maxBlockTransactions,
          maxBlockBytes: 200_000,
        };
        return sequence(hooks.sequencerDeps ? hooks.sequencerDeps(deps) : deps, [msg]);
      }
      case 'inbox': {
        const node = this.node(region!);
        const index = Number(member);
        const deps: ValidatorDeps = {
          chain: node.chain,
          member: index,
          secretKey: this.dealing.shares[index - 1]!.secretKey,
          blocks: node.ports.blocks,
          homeBlocks: home.ports.blocks,
          finality: node.ports.finality,
          protection: node.ports.protection,
          transport,
        };
        const message = decodeMessage(body, ['proposal', 'justified']);
        const honest = (d: ValidatorDeps = deps) => handleInbox(d, message, { resendIdentical: redelivered });
        return hooks.inbox ? hooks.inbox({ region: region!, member: index, deps, message, honest }) : honest();
      }
      case 'votes': {
        const node = this.node(region!);
        const { vote, justification } = decodeMessage(body, ['vote']);
        const deps: FinalizerDeps = {
          chain: node.chain,
          region: node.region,
          homeRegion: this.homeRegion,
          store: node.ports.finality,
          transport,
        };
        return handleVote(hooks.finalizerDeps ? hooks.finalizerDeps(deps) : deps, vote, {
          redelivered,
          ...(justification ? { justification } : {}),
        });
      }
      case 'finalized': {
        const node = this.node(region!);
        decodeMessage(body, ['finalized']);
        const deps: ApplierDeps = {
          chain: node.chain,
          blocks: node.ports.blocks,
          finality: node.ports.finality,
          applied: node.ports.applied,
          peers: this.peersOf(node.region),
        };
        return applyFinalized(hooks.applierDeps ? hooks.applierDeps(deps) : deps);
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
