/**
 * A region that missed blocks catches up from a peer region's API: every fetched block is checked
 * against the certified chain (hash links down from the finalized checkpoint) before use.
 */
import { describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { startApiServer } from '../../lib/api/node-server.js';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer, transferApplication } from '../../lib/core/ledger.js';
import type { Block } from '../../lib/core/types.js';
import { MemoryAppliedStore, MemoryBlockStore } from '../../lib/pipeline/memory.js';
import { HttpPeerBlocks } from '../../lib/pipeline/peers.js';
import type { PeerBlocks } from '../../lib/pipeline/ports.js';
import { applyFinalized } from '../../lib/pipeline/state-function.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];

let shared: Promise<MemoryCluster> | undefined;
/** One finalized cluster for the file (readers only). */
function finalizedCluster(): Promise<MemoryCluster> {
  shared ??= build();
  return shared;
}

async function build() {
  const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 4, dealing: deal(4, 3), maxBlockTransactions: 1 });
  for (let i = 0; i < 3; i++)
    cluster.submit(
      signTransfer(cluster.set.chainId, devSecretKey(0), { to: ed25519PublicKey(devSecretKey(2)), amount: 10n, nonce: BigInt(i) }),
    );
  await cluster.run();
  return cluster;
}

describe('catch-up from a peer region', () => {
  it('fetches missing finalized blocks over HTTP, refuses a forged one, and reaches the same state', async () => {
    const cluster = await finalizedCluster();
    const source = cluster.node('eu-west-1');
    const head = await source.raw.finality.head();
    expect(head.finalized.height).toBeGreaterThanOrEqual(3);

    const api = createApi({ query: source.query, transport: cluster.transport, chain: source.chain, maxLagBlocks: 50 });
    const server = await startApiServer(api, { port: 0, host: '127.0.0.1' });
    try {
      // A lying peer answers first with a block whose hash does not match the certified chain.
      const liar: PeerBlocks = {
        fetchBlock: async (height: number): Promise<Block> => ({ height, parentHash: new Uint8Array(32).fill(1), transactions: [] }),
      };
      const lagging = { blocks: new MemoryBlockStore(), applied: new MemoryAppliedStore() };
      const result = await applyFinalized({
        chain: source.chain,
        blocks: lagging.blocks,
        finality: source.raw.finality,
        applied: lagging.applied,
        peers: [liar, new HttpPeerBlocks(server.url, transferApplication.codec(cluster.set.chainId))],
        transport: cluster.transport,
        region: 'lagging',
      });
      expect(result.applied).toEqual(Array.from({ length: head.finalized.height }, (_, i) => i + 1));
      expect(result.fetched.sort((a: number, b: number) => a - b)).toEqual(result.applied);
      const applied = await lagging.applied.applied();
      expect(toHex(applied!.stateRoot)).toBe(toHex(head.finalized.stateRoot));
      // Applying again is a no-op: nothing is applied twice.
      const again = await applyFinalized({
        chain: source.chain,
        blocks: lagging.blocks,
        finality: source.raw.finality,
        applied: lagging.applied,
        peers: [],
        transport: cluster.transport,
        region: 'lagging',
      });
      expect(again.applied).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('hands each pass to beforeApply (the evidence audit) before it applies any block of it', async () => {
    const cluster = await finalizedCluster();
    const source = cluster.node('ap-northeast-1');
    const head = await source.raw.finality.head();
    // A region with every block (the source's block store) whose state function has applied nothing yet.
    const lagging = { applied: new MemoryAppliedStore() };
    const calls: { from: number; to: number; applied: number | undefined }[] = [];
    const result = await applyFinalized({
      chain: source.chain,
      blocks: source.raw.blocks,
      finality: source.raw.finality,
      applied: lagging.applied,
      peers: [],
      transport: cluster.transport,
      region: 'lagging',
      beforeApply: async (from, to) => {
        calls.push({ from, to, applied: (await lagging.applied.applied())?.height });
      },
    });
    expect(result.applied.length).toBe(head.finalized.height);
    expect(calls).toEqual([{ from: 0, to: head.finalized.height, applied: undefined }]);
  });

  it('applies nothing when beforeApply fails (the retried pass audits again before applying)', async () => {
    const cluster = await finalizedCluster();
    const source = cluster.node('us-east-1');
    const applied = new MemoryAppliedStore();
    const deps = {
      chain: source.chain,
      blocks: source.raw.blocks,
      finality: source.raw.finality,
      applied,
      peers: [],
      transport: cluster.transport,
      region: 'lagging',
    };
    await expect(
      applyFinalized({
        ...deps,
        beforeApply: async () => {
          throw new Error('tally table unavailable');
        },
      }),
    ).rejects.toThrow(/tally table unavailable/);
    expect(await applied.applied()).toBeUndefined();
    const ranges: [number, number][] = [];
    const result = await applyFinalized({ ...deps, beforeApply: async (from, to) => void ranges.push([from, to]) });
    expect(ranges).toEqual([[0, result.to]]);
    expect(result.applied.length).toBe(result.to);
  });

  it('stops with a clear error when no peer serves a matching block', async () => {
    const cluster = await finalizedCluster();
    const source = cluster.node('sa-east-1');
    const deps = {
      chain: source.chain,
      blocks: new MemoryBlockStore(),
      finality: source.raw.finality,
      applied: new MemoryAppliedStore(),
      transport: cluster.transport,
      region: 'lagging',
    };
    await expect(applyFinalized({ ...deps, peers: [{ fetchBlock: async () => undefined }] })).rejects.toThrow(
      /missing here and no peer served a matching one/,
    );
    expect(await deps.applied.applied()).toBeUndefined();
  });
});
