/**
 * Follower bootstrap benchmark (`npm run bench:follower [-- --accounts 10000,100000 --blocks 10,1000 --repeat 3]`):
 * how long a region with no key share takes to start from a snapshot, and how many bytes it
 * fetches, as the state grows and as the chain grows.
 *
 * For each (accounts, blocks): a chain whose genesis holds `accounts` funded accounts (the ten dev
 * accounts plus 32-byte keys sha256("afg-bench-account" || i), not spendable) in a TransferLedger over
 * a MemoryNodeStore; `blocks` blocks of one transfer each; the last checkpoint finalized by a real
 * 3-of-4 threshold certificate. That region's API (the real createApi on node:http) serves it;
 * `--repeat` fresh followers (in-memory stores) run bootstrapFromSnapshot against it over real HTTP: the
 * certificate verified with the group key, every state node fetched and checked against its hash.
 * Server and follower share this process (one event loop), as on a small machine; the figures
 * include both sides' CPU.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { createApi } from '../lib/api/app.js';
import { startApiServer } from '../lib/api/node-server.js';
import { certify, deal, signShare } from '../lib/core/bls.js';
import { ascii, concatBytes, u64 } from '../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../lib/core/chain.js';
import { voteSigningBytes } from '../lib/core/codec.js';
import { blsCrypto } from '../lib/core/crypto.js';
import { devGenesis, type GenesisAccount, signTransfer, TransferLedger, transferApplication } from '../lib/core/ledger.js';
import { MemoryNodeStore, SparseMerkleTree } from '../lib/core/smt.js';
import type { ApplicationDefinition } from '../lib/core/state-machine.js';
import type { Block, Checkpoint, Link, Transaction, ValidatorSet } from '../lib/core/types.js';
import { createChainContext, hashBlock } from '../lib/pipeline/context.js';
import { MemoryAppliedStore, MemoryBlockStore, MemoryFinalityStore, memoryRegionStores } from '../lib/pipeline/memory.js';
import { HttpPeer } from '../lib/pipeline/peers.js';
import { QueryService } from '../lib/pipeline/query.js';
import { bootstrapFromSnapshot, type SnapshotResult } from '../lib/pipeline/snapshot.js';
import { reportBench } from './report.js';

function listFlag(name: string, fallback: number[]): number[] {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const values = (process.argv[at + 1] ?? '').split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v < 1))
    throw new Error(`${name}: expected a comma-separated list of positive integers`);
  return values;
}
const ACCOUNTS = listFlag('--accounts', [10_000, 100_000]);
const BLOCKS = listFlag('--blocks', [10, 1000]);
const REPEAT = listFlag('--repeat', [3])[0]!;
const dealing = deal(4, 3);

const MB = 1024 * 1024;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** A finalized chain of `blocks` blocks over a genesis of `accounts` accounts, served over HTTP. */
async function sourceRegion(accounts: number, blocks: number) {
  const set: ValidatorSet = {
    chainId: LOCAL_CHAIN_ID,
    era: 0n,
    n: 4,
    threshold: 3,
    checkpointInterval: 1,
    groupPublicKey: dealing.groupPublicKey,
    members: dealing.shares.map((s) => ({ index: s.index, region: 'us-east-1', publicKey: s.publicKey })),
  };
  const others = Array.from({ length: Math.max(0, accounts - 10) }, (_, i) => sha256(concatBytes(ascii('afg-bench-account'), u64(i))));
  const genesis: GenesisAccount[] = [...devGenesis(), ...others.map((account) => ({ account, balance: 1_000_000_000n }))];
  const application: ApplicationDefinition = {
    ...(transferApplication as ApplicationDefinition),
    create: (ctx) => new TransferLedger({ ...ctx, genesis }),
  };
  const nodes = new MemoryNodeStore();
  const ledger = new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(nodes), genesis });
  const chain = await createChainContext(set, ledger, blsCrypto);
  const store = new MemoryBlockStore();
  let parent: Checkpoint = chain.genesis;
  const checkpoints: Checkpoint[] = [chain.genesis];
  for (let height = 1; height <= blocks + 1; height++) {
    const tx: Transaction = signTransfer(LOCAL_CHAIN_ID, devSecretKey(0), {
      to: others[height % others.length] ?? devGenesis()[1]!.account,
      amount: 1n,
      nonce: BigInt(height - 1),
    });
    const block: Block<Transaction> = { height, parentHash: parent.hash, transactions: [tx] };
    const hash = hashBlock(chain, block);
    const { root } = await ledger.execute(parent.stateRoot, block.transactions);
    await store.putBlock(hash, block);
    parent = { height, hash, stateRoot: root };
    checkpoints.push(parent);
  }
  // The last block but one is finalized by the certificate on the link to the last one.
  const link: Link = { era: 0n, source: checkpoints[blocks]!, target: checkpoints[blocks + 1]! };
  const message = voteSigningBytes(LOCAL_CHAIN_ID, link);
  const partials = [1, 2, 3].map((index) => ({ index, signature: signShare(dealing.shares[index - 1]!.secretKey, message) }));
  const out = certify(message, partials, {
    threshold: 3,
    groupPublicKey: dealing.groupPublicKey,
    memberPublicKey: (i) => dealing.shares[i - 1]?.publicKey,
  });
  if (!out.ok) throw new Error('certification failed');
  const certificate = { ...link, signers: out.signers, signature: out.signature };
  const finality = new MemoryFinalityStore(chain.genesis);
  // Stored as a region stores it: justified at its target, which finalizes its source (lib/pipeline/tally.ts).
  await finality.certify(certificate, true);
  await finality.raiseHead({ justified: link.target, justification: certificate, finalized: link.source, finalization: certificate });
  const applied = new MemoryAppliedStore();
  await applied.advanceApplied(chain.genesis, { ...link.source });
  const query = new QueryService({ chain, region: 'us-east-1', blocks: store, finality, applied, nodes });
  const server = await startApiServer(createApi({ query, transport: { send: async () => {} }, chain, maxLagBlocks: 50 }), { port: 0 });
  return { set, application, server, storedNodes: nodes.size, finalized: link.source.height };
}

/** Builds one source and bootstraps REPEAT fresh followers from it; returns the table row. */
async function measure(accounts: number, blocks: number): Promise<Record<string, unknown>> {
  const t = performance.now();
  const source = await sourceRegion(accounts, blocks);
  const buildS = (performance.now() - t) / 1000;
  const runs: { seconds: number; cpuS: number; bytes: number; result: Extract<SnapshotResult, { kind: 'bootstrapped' }> }[] = [];
  for (let r = 0; r < REPEAT; r++) {
    // A fresh follower of the same chain, in memory (its genesis state is written first, as every region's is).
    const nodes = new MemoryNodeStore();
    const followerChain = await createChainContext(
      source.set,
      source.application.create({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(nodes) }),
      blsCrypto,
    );
    const stores = { ...memoryRegionStores(followerChain.genesis), nodes };
    const peer = new HttpPeer(source.server.url, source.application.codec(LOCAL_CHAIN_ID), 30_000);
    const c0 = cpuMs();
    const t0 = performance.now();
    const result = await bootstrapFromSnapshot({ chain: followerChain, stores, blockPeers: [peer] }, [peer]);
    const seconds = (performance.now() - t0) / 1000;
    const cpuS = (cpuMs() - c0) / 1000;
    if (result.kind !== 'bootstrapped') throw new Error(`not bootstrapped: ${result.reason}`);
    if (result.checkpoint.height !== source.finalized) throw new Error('bootstrapped at the wrong height');
    runs.push({ seconds, cpuS, bytes: peer.bytesReceived, result });
  }
  await source.server.close();
  runs.sort((a, b) => a.seconds - b.seconds);
  const median = runs[Math.floor(runs.length / 2)]!;
  const { result } = median;
  console.error(
    `${accounts} accounts, ${blocks} blocks (built in ${buildS.toFixed(1)} s, ${source.storedNodes} nodes stored at the source): ` +
      `bootstrap median ${median.seconds.toFixed(2)} s of ${REPEAT}, ${result.nodes} nodes, ${(median.bytes / MB).toFixed(1)} MB over HTTP, ` +
      `load ${loadavg()[0]!.toFixed(1)}`,
  );
  return {
    accounts,
    blocks,
    'bootstrap s': median.seconds,
    'min s': runs[0]!.seconds,
    'cpu s': median.cpuS,
    nodes: result.nodes,
    'node MB': result.nodeBytes / MB,
    'HTTP MB': median.bytes / MB,
    requests: result.requests,
    'nodes/s': Math.round(result.nodes / median.seconds),
    'bytes/account': Math.round(median.bytes / accounts),
  };
}

const child = process.argv.indexOf('--child');
if (child >= 0) {
  // One configuration in its own process, so one run's heap never slows the next: prints its row as JSON.
  const [accounts, blocks] = (process.argv[child + 1] ?? '').split(',').map(Number);
  console.log(JSON.stringify(await measure(accounts!, blocks!)));
  process.exit(0);
}

const rows: Record<string, unknown>[] = [];
const loadStart = loadavg();
for (const accounts of ACCOUNTS)
  for (const blocks of BLOCKS) {
    // The chain-length axis is measured at the largest state only.
    if (blocks !== BLOCKS[0] && accounts !== ACCOUNTS[ACCOUNTS.length - 1]) continue;
    const run = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), '--child', `${accounts},${blocks}`, '--repeat', String(REPEAT)],
      { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env: process.env },
    );
    if (run.status !== 0) throw new Error(`the run for ${accounts} accounts, ${blocks} blocks failed (${run.status ?? run.signal})`);
    rows.push(JSON.parse(run.stdout.trim().split('\n').pop()!));
  }

reportBench('follower', rows, {
  method:
    'one source region (TransferLedger genesis of N accounts over a MemoryNodeStore, a chain of B one-transfer blocks, the last ' +
    'checkpoint finalized by a 3-of-4 threshold certificate) served by the real API on node:http; a fresh follower (in-memory ' +
    'stores) runs bootstrapFromSnapshot against it: the finality answer verified with the group key, the state tree under the ' +
    'certified root fetched with POST /v1/state/nodes (up to 200 subtree roots per request, 4 requests in flight, up to 4096 ' +
    'nodes or 1 MiB per answer) and every node checked against its hash. Median of --repeat runs (min shown too), each into ' +
    'a fresh follower; each configuration runs in its own process. Server and follower share that process. "nodes" = state nodes fetched (the whole tree at the ' +
    'snapshot, nothing else: no block is replayed); "HTTP MB" = response bodies (hex in JSON, about twice the node bytes).',
  loadAverage: { start: loadStart, end: loadavg() },
});
