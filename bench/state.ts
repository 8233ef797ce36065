/**
 * State-commitment benchmark (npx tsx bench/state.ts [maxAccounts]): builds ledger states of 1e3..1e6
 * accounts in a MemoryNodeStore, then executes blocks of 100 signed transfers (100 distinct senders to
 * 100 random existing accounts, so about 200 touched keys) and reports, per state size:
 *   - build time and stored nodes;
 *   - execute() time per block (includes 100 native ed25519 verifications) and nodes written per block;
 *   - tree-only update time for the same number of touched keys;
 *   - mean path depth of a touched key, to show written ~= touched x (depth + 1) with depth ~ log2 N;
 *   - proof size and single-account read/prove+verify latency.
 * A second table varies the number of touched keys at the largest size (writes grow linearly).
 * A third, `smallBlocks`, gives at every size the nodes and node bytes written per block of 1, 10 and 30
 * transfers between random accounts (2 touched keys each, what the cost bench's blocks hold): the
 * input of the state-layout cost figures in docs/benchmarks.md (one DynamoDB item, 1 write unit, per
 * node today; bytes per transfer is what a layout packing a block's nodes into few items would pay).
 */
import { loadavg } from 'node:os';
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii, concatBytes, u64 } from '../lib/core/bytes.js';
import { LOCAL_CHAIN_ID } from '../lib/core/chain.js';
import { ed25519PublicKey } from '../lib/core/ed25519.js';
import { accountKey, encodeAccount, type GenesisAccount, signTransfer, TransferLedger } from '../lib/core/ledger.js';
import { type Hash, MemoryNodeStore, type NodeStore, SparseMerkleTree, verifyProof } from '../lib/core/smt.js';
import type { Transaction } from '../lib/core/types.js';
import { reportBench } from './report.js';

const SIZES = [1e3, 1e4, 1e5, 1e6].filter((n) => n <= Number(process.argv[2] ?? 1e6));
const SENDERS = 100;
const BLOCKS = 10;
const TX_PER_BLOCK = 100;
const started = performance.now();
/** Process CPU milliseconds (user + system): steadier than wall time on a shared machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const seed = (tag: string, i: number) => sha256(concatBytes(ascii(tag), u64(i)));
const senderKeys = Array.from({ length: SENDERS }, (_, i) => seed('bench-sender', i));
const senderPks = senderKeys.map((sk) => ed25519PublicKey(sk));

/** Deterministic pseudo-random index stream (xorshift32), so runs are comparable. */
function rng(s: number) {
  let x = s | 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

const rows: Record<string, unknown>[] = [];
const touchedRows: Record<string, unknown>[] = [];
const smallBlockRows: Record<string, unknown>[] = [];

/** A MemoryNodeStore that also counts the encoded bytes written (node bytes only, no keys). */
class CountingStore implements NodeStore {
  readonly inner = new MemoryNodeStore();
  bytes = 0;
  get size(): number {
    return this.inner.size;
  }
  get(hash: Hash): Promise<Uint8Array | undefined> {
    return this.inner.get(hash);
  }
  async putMany(nodes: { hash: Hash; bytes: Uint8Array }[]): Promise<void> {
    for (const n of nodes) this.bytes += n.bytes.length;
    await this.inner.putMany(nodes);
  }
}

for (const n of SIZES) {
  const store = new CountingStore();
  const tree = new SparseMerkleTree(store);
  // Accounts: the senders (known keys) plus n - SENDERS arbitrary 32-byte recipients.
  const others = Array.from({ length: n - SENDERS }, (_, i) => seed('bench-account', i));
  const genesis: GenesisAccount[] = [...senderPks, ...others].map((account) => ({ account, balance: 1_000_000_000n }));
  const ledger = new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree, genesis });
  let t0 = performance.now();
  let c0 = cpuMs();
  let root = await ledger.genesis();
  const buildMs = performance.now() - t0;
  const buildCpuMs = cpuMs() - c0;
  const builtNodes = store.size;

  // Pre-sign all blocks (signing is not what we measure).
  const pick = rng(n);
  const blocks: Transaction[][] = Array.from({ length: BLOCKS }, (_, b) =>
    senderKeys.map((sk, i) =>
      signTransfer(LOCAL_CHAIN_ID, sk, { to: others[pick(others.length)]!, amount: 1n + BigInt(i), nonce: BigInt(b) }),
    ),
  );

  const execMs: number[] = [];
  const execCpu: number[] = [];
  const written: number[] = [];
  let depthSum = 0;
  let depthCount = 0;
  let proofBytes = 0;
  for (const block of blocks) {
    for (const tx of block.slice(0, 20)) {
      const { proof } = await tree.prove(root, accountKey(tx.to));
      depthSum += proof.siblings.length;
      depthCount++;
      proofBytes += 32 * proof.siblings.length + (proof.leaf ? 64 : 0) + 32;
    }
    t0 = performance.now();
    c0 = cpuMs();
    const out = await ledger.execute(root, block);
    execMs.push(performance.now() - t0);
    execCpu.push(cpuMs() - c0);
    if (out.applied !== TX_PER_BLOCK) throw new Error(`expected ${TX_PER_BLOCK} applied, got ${out.applied}`);
    written.push(out.written);
    root = out.root;
  }

  // Tree-only: the same count of touched keys (200), fresh random values, on the current root.
  const updPick = rng(n * 7 + 3);
  const updMs: number[] = [];
  const updCpu: number[] = [];
  const updWritten: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    const changes = Array.from({ length: 2 * TX_PER_BLOCK }, (_, i) => ({
      key: accountKey(others[updPick(others.length)]!),
      value: encodeAccount({ balance: BigInt(b * 1000 + i), nonce: 1n }),
    }));
    t0 = performance.now();
    c0 = cpuMs();
    const out = await tree.update(root, changes);
    updMs.push(performance.now() - t0);
    updCpu.push(cpuMs() - c0);
    updWritten.push(out.written);
    root = out.root;
  }

  // Single reads and proofs.
  const reads = 200;
  t0 = performance.now();
  for (let i = 0; i < reads; i++) await ledger.account(root, others[updPick(others.length)]!);
  const readUs = ((performance.now() - t0) / reads) * 1000;
  t0 = performance.now();
  for (let i = 0; i < reads; i++) {
    const pk = others[updPick(others.length)]!;
    const { account, proof } = await ledger.proveAccount(root, pk);
    if (!verifyProof(root, accountKey(pk), account && encodeAccount(account), proof)) throw new Error('proof failed');
  }
  const proveVerifyUs = ((performance.now() - t0) / reads) * 1000;

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const depth = depthSum / depthCount;
  const touched = 2 * TX_PER_BLOCK; // 100 senders + 100 recipients (a recipient may repeat; ~200)
  rows.push({
    accounts: n,
    buildS: buildMs / 1000,
    buildCpuS: buildCpuMs / 1000,
    nodes: builtNodes,
    log2N: Math.log2(n),
    meanDepth: depth,
    blockExecMs: mean(execMs),
    blockExecCpuMs: mean(execCpu),
    writtenPerBlock: mean(written),
    writtenPerTouched: mean(written) / touched,
    update200Ms: mean(updMs),
    update200CpuMs: mean(updCpu),
    update200Written: mean(updWritten),
    proofBytes: proofBytes / depthCount,
    readUs,
    proveVerifyUs,
  });
  // Small blocks: T transfers between random accounts (2 T touched keys), tree writes only.
  const smallPick = rng(n * 13 + 5);
  for (const perBlock of [1, 10, 30]) {
    let nodesWritten = 0;
    let bytesWritten = 0;
    for (let b = 0; b < BLOCKS; b++) {
      const changes = Array.from({ length: 2 * perBlock }, (_, i) => ({
        key: accountKey(others[smallPick(others.length)]!),
        value: encodeAccount({ balance: BigInt(b * 100 + i + 7), nonce: 3n }),
      }));
      const before = store.bytes;
      const out = await tree.update(root, changes);
      nodesWritten += out.written;
      bytesWritten += store.bytes - before;
      root = out.root;
    }
    smallBlockRows.push({
      accounts: n,
      transfersPerBlock: perBlock,
      nodesPerBlock: nodesWritten / BLOCKS,
      nodesPerTransfer: nodesWritten / BLOCKS / perBlock,
      nodeBytesPerTransfer: bytesWritten / BLOCKS / perBlock,
    });
  }
  console.error(`n=${n} done at ${((performance.now() - started) / 1000).toFixed(1)}s`);

  if (n === SIZES.at(-1)) {
    for (const k of [10, 100, 1000, 10000]) {
      const changes = Array.from({ length: k }, (_, i) => ({
        key: accountKey(others[updPick(others.length)]!),
        value: encodeAccount({ balance: BigInt(i), nonce: 2n }),
      }));
      t0 = performance.now();
      c0 = cpuMs();
      const out = await tree.update(root, changes);
      touchedRows.push({
        accounts: n,
        touchedKeys: k,
        ms: performance.now() - t0,
        cpuMs: cpuMs() - c0,
        written: out.written,
        writtenPerKey: out.written / k,
        // Paths share their top levels, so per-key writes fall below depth + 1 as k grows.
        bound: k * (depth + 1),
      });
    }
  }
}

reportBench('state', rows, {
  description:
    'Ledger state as a content-addressed compact sparse Merkle tree in a MemoryNodeStore. Blocks: 100 signed transfers ' +
    '(100 senders -> random existing accounts, ~200 touched keys); blockExecMs includes 100 native ed25519 verifications. ' +
    'update200 = tree-only batch update of 200 keys. meanDepth = mean proof length of a touched key (~log2 N + 1.3).',
  byTouchedKeys: touchedRows,
  smallBlocks: smallBlockRows,
  totalSeconds: (performance.now() - started) / 1000,
  loadAverage: loadavg(),
});
