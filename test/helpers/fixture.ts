/**
 * A small finalized chain in memory, for API, verifier and CLI tests (reusable by others):
 * a real 3-of-4 dealing, a TransferLedger over a MemoryNodeStore, blocks 1..5 with transfers,
 * checkpoints every `checkpointInterval` blocks, real threshold certificates (signShare + certify),
 * and the in-memory finality / applied stores marked as a finalizer and state function would.
 *
 * Default layout (K = 2): checkpoints 0, 2, 4. Link 0 -> 2 justifies 2, link 2 -> 4 justifies 4
 * and finalizes 2. Applied up to 2. Block 5 is stored but above finality. One double-vote
 * evidence item from member 4.
 */
import { certify, type Dealing, deal, signShare } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { type BlockHeader, blockHeader, voteSigningBytes } from '../../lib/core/codec.js';
import { blsCrypto } from '../../lib/core/crypto.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer, TransferLedger } from '../../lib/core/ledger.js';
import { MemoryNodeStore, SparseMerkleTree } from '../../lib/core/smt.js';
import type { Block, Certificate, Checkpoint, Link, Transaction, ValidatorSet, Vote } from '../../lib/core/types.js';
import { type ChainContext, createChainContext, hashBlock } from '../../lib/pipeline/context.js';
import { MemoryAppliedStore, MemoryBlockStore, MemoryFinalityStore } from '../../lib/pipeline/memory.js';
import type { QueueMessage } from '../../lib/pipeline/messages.js';
import type { Destination, Transport } from '../../lib/pipeline/ports.js';
import { QueryService } from '../../lib/pipeline/query.js';

export const DEV_SK = Array.from({ length: 10 }, (_, i) => devSecretKey(i));
export const DEV_PK = DEV_SK.map((sk) => ed25519PublicKey(sk));

/** A Transport that records what it sent; `fail` makes the next sends throw. */
export class RecordingTransport implements Transport {
  readonly sent: { to: Destination; messages: readonly QueueMessage[] }[] = [];
  fail = false;
  async send(to: Destination, messages: readonly QueueMessage[]): Promise<void> {
    if (this.fail) throw new Error('queue unavailable (test)');
    this.sent.push({ to, messages });
  }
}

export interface Fixture {
  readonly chain: ChainContext;
  readonly dealing: Dealing;
  readonly region: string;
  readonly blocks: MemoryBlockStore;
  readonly finality: MemoryFinalityStore;
  readonly applied: MemoryAppliedStore;
  readonly query: QueryService;
  readonly transport: RecordingTransport;
  /** Checkpoints by height (0, K, 2K). */
  readonly checkpoints: Map<number, Checkpoint>;
  /** Certificates on links 0 -> K and K -> 2K. */
  readonly certificates: Certificate[];
  /** Block hashes by height (1..5). */
  readonly hashes: Map<number, Uint8Array>;
}

/** Certificate on `link` from members `signers` (default the first t), through the real certify(). */
export function certifyLink(dealing: Dealing, chainId: Uint8Array, link: Link, signers?: number[]): Certificate {
  const message = voteSigningBytes(chainId, link);
  const members = signers ?? dealing.shares.slice(0, dealing.threshold).map((s) => s.index);
  const partials = members.map((index) => ({ index, signature: signShare(dealing.shares[index - 1]!.secretKey, message) }));
  const out = certify(message, partials, {
    threshold: dealing.threshold,
    groupPublicKey: dealing.groupPublicKey,
    memberPublicKey: (i) => dealing.shares[i - 1]?.publicKey,
  });
  if (!out.ok) throw new Error('fixture: certification failed');
  return { ...link, signers: out.signers, signature: out.signature };
}

/** The headers proving `link.target` descends from `link.source` (target first), from the fixture's blocks. */
export async function ancestryOf(f: Pick<Fixture, 'blocks' | 'chain'>, link: Link): Promise<BlockHeader[]> {
  const headers: BlockHeader[] = [];
  let hash = link.target.hash;
  for (let h = link.target.height; h > link.source.height; h--) {
    const block = (await f.blocks.getBlock(h, hash))!;
    headers.push(blockHeader(block, (tx) => f.chain.app.hash(tx)));
    hash = block.parentHash;
  }
  return headers;
}

/** A member's partial-signed vote on `link`. */
export function voteOn(dealing: Dealing, chainId: Uint8Array, link: Link, member: number): Vote {
  return { ...link, member, signature: signShare(dealing.shares[member - 1]!.secretKey, voteSigningBytes(chainId, link)) };
}

/**
 * The JSON form of a cluster config for `dealing` (as `parseClusterConfig` reads it): members
 * placed round-robin over `regions`, the dealing's group key and Feldman commitments. `overrides`
 * replaces any key, e.g. `{ prefix: 'it-1' }`.
 */
export function clusterConfigJson(
  dealing: Pick<Dealing, 'threshold' | 'groupPublicKey' | 'commitments'> & { shares: { index: number; publicKey: Uint8Array }[] },
  overrides: Record<string, unknown> = {},
  regions: readonly string[] = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'],
): Record<string, unknown> {
  return {
    prefix: 'afg-test',
    chainId: toHex(LOCAL_CHAIN_ID),
    era: 0,
    checkpointInterval: 1,
    threshold: dealing.threshold,
    homeRegion: regions[0],
    regions: [...regions],
    members: dealing.shares.map((s, i) => ({ index: s.index, region: regions[i % regions.length], publicKey: toHex(s.publicKey) })),
    groupPublicKey: toHex(dealing.groupPublicKey),
    commitments: dealing.commitments.map(toHex),
    maxBlockTransactions: 100,
    maxBlockBytes: 200_000,
    ...overrides,
  };
}

let cachedDealing: Dealing | undefined;

/** Builds the default fixture. `checkpointInterval` is 1 or 2 (checkpoints up to 2K must exist); default 2. */
export async function buildFixture(opts: { checkpointInterval?: number; region?: string } = {}): Promise<Fixture> {
  const K = opts.checkpointInterval ?? 2;
  if (K !== 1 && K !== 2) throw new Error('fixture: checkpointInterval must be 1 or 2');
  const region = opts.region ?? 'eu-west-1';
  cachedDealing ??= deal(4, 3);
  const dealing = cachedDealing;
  const chainId = LOCAL_CHAIN_ID;
  const set: ValidatorSet = {
    chainId,
    era: 0n,
    n: 4,
    threshold: 3,
    checkpointInterval: K,
    groupPublicKey: dealing.groupPublicKey,
    members: dealing.shares.map((s) => ({ index: s.index, region: s.index % 2 ? 'eu-west-1' : 'us-east-1', publicKey: s.publicKey })),
  };
  const ledger = new TransferLedger({ chainId, tree: new SparseMerkleTree(new MemoryNodeStore()) });
  const chain = await createChainContext(set, ledger, blsCrypto);
  const blocks = new MemoryBlockStore();
  const finality = new MemoryFinalityStore(chain.genesis);
  const applied = new MemoryAppliedStore();

  const txs: Transaction[][] = [
    [signTransfer(chainId, DEV_SK[0]!, { to: DEV_PK[1]!, amount: 250n, nonce: 0n })],
    [
      signTransfer(chainId, DEV_SK[1]!, { to: DEV_PK[2]!, amount: 100n, nonce: 0n }),
      signTransfer(chainId, DEV_SK[0]!, { to: DEV_PK[2]!, amount: 1n, nonce: 1n }),
    ],
    [],
    [signTransfer(chainId, DEV_SK[2]!, { to: DEV_PK[3]!, amount: 7n, nonce: 0n })],
    [signTransfer(chainId, DEV_SK[3]!, { to: DEV_PK[4]!, amount: 1n, nonce: 0n })],
  ];
  const hashes = new Map<number, Uint8Array>();
  const roots = new Map<number, Uint8Array>([[0, chain.genesis.stateRoot]]);
  let parentHash = chain.genesis.hash;
  for (let height = 1; height <= txs.length; height++) {
    const block: Block<Transaction> = { height, parentHash, transactions: txs[height - 1]! };
    const hash = hashBlock(chain, block);
    const { root } = await ledger.execute(roots.get(height - 1)!, block.transactions);
    await blocks.putBlock(hash, block);
    hashes.set(height, hash);
    roots.set(height, root);
    parentHash = hash;
  }
  const cp = (h: number): Checkpoint => (h === 0 ? chain.genesis : { height: h, hash: hashes.get(h)!, stateRoot: roots.get(h)! });
  const checkpoints = new Map([0, K, 2 * K].map((h) => [h, cp(h)]));
  const link1: Link = { era: 0n, source: cp(0), target: cp(K) };
  const link2: Link = { era: 0n, source: cp(K), target: cp(2 * K) };
  const c1 = certifyLink(dealing, chainId, link1);
  const c2 = certifyLink(dealing, chainId, link2, [2, 3, 4]);
  // As the finalizer records them: votes in their slots, each certificate at its target height
  // (justified, its source being so): c2, adjacent and justified, finalizes K.
  for (const member of [1, 2, 3]) await finality.recordVote(voteOn(dealing, chainId, link1, member));
  for (const member of [2, 3, 4]) await finality.recordVote(voteOn(dealing, chainId, link2, member));
  await finality.certify(c1, true);
  await finality.certify(c2, true);
  await finality.raiseHead({ justified: cp(2 * K), justification: c2, finalized: cp(K), finalization: c2 });
  await applied.advanceApplied(
    { height: 0, hash: chain.genesis.hash, stateRoot: chain.genesis.stateRoot },
    { height: K, hash: hashes.get(K)!, stateRoot: roots.get(K)! },
  );
  // Member 4 double-votes at height K: a second target with a different hash.
  const conflicting: Link = { era: 0n, source: cp(0), target: { height: K, hash: new Uint8Array(32).fill(9), stateRoot: roots.get(K)! } };
  await finality.putEvidence({
    kind: 'double',
    member: 4,
    first: voteOn(dealing, chainId, link1, 4),
    second: voteOn(dealing, chainId, conflicting, 4),
  });

  const query = new QueryService({ chain, region, blocks, finality, applied });
  return {
    chain,
    dealing,
    region,
    blocks,
    finality,
    applied,
    query,
    transport: new RecordingTransport(),
    checkpoints,
    certificates: [c1, c2],
    hashes,
  };
}
