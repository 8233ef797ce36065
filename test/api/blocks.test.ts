/**
 * GET /v1/blocks/{h} on the finalized chain costs O(1) reads whatever the height (issue 13: it used
 * to walk back from the finalized head, one read per block, so a region far behind could not catch
 * up): checkpoint heights come from the finality tallies, others from the state function's index.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { signTransfer } from '../../lib/core/ledger.js';
import type { BlockStore, FinalityStore } from '../../lib/pipeline/ports.js';
import { QueryService } from '../../lib/pipeline/query.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { DEV_PK, DEV_SK } from '../helpers/fixture.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const K = 4;

let cluster: MemoryCluster;

beforeAll(async () => {
  cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: K, seed: 5, dealing: deal(4, 3), maxBlockTransactions: 1 });
  for (let i = 0; i < 9; i++) {
    cluster.submit(signTransfer(cluster.set.chainId, DEV_SK[0]!, { to: DEV_PK[1]!, amount: 1n, nonce: BigInt(i) }));
    await cluster.run();
  }
}, 120_000);

/** A query service over the region's stores whose reads are counted. */
function countedQuery(region: string) {
  const node = cluster.node(region);
  let reads = 0;
  const count = <T extends object>(inner: T): T =>
    new Proxy(inner, {
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          reads++;
          return value.apply(obj, args);
        };
      },
    });
  const query = new QueryService({
    chain: node.chain,
    region,
    blocks: count<BlockStore>(node.raw.blocks),
    finality: count<FinalityStore>(node.raw.finality),
    applied: node.raw.applied,
  });
  return { query, reads: () => reads, reset: () => (reads = 0) };
}

describe('GET /v1/blocks/{h} on the finalized chain', () => {
  it('answers every finalized height with the same constant number of reads, lowest or highest', async () => {
    const node = cluster.node('ap-northeast-1');
    const finalized = (await node.query.finality()).finalized.height;
    const applied = (await node.raw.applied.applied())!.height;
    expect(finalized).toBeGreaterThanOrEqual(3 * K);
    expect(applied).toBe(finalized);
    const q = countedQuery('ap-northeast-1');
    const costs = new Map<number, number>();
    for (let h = 1; h <= finalized; h++) {
      q.reset();
      const block = await q.query.block(h);
      expect(block).toMatchObject({ height: h, finalized: true });
      costs.set(h, q.reads());
    }
    // head + index + block for any height, head + two tallies + block at a checkpoint: never a walk.
    expect(Math.max(...costs.values())).toBeLessThanOrEqual(3);
    expect(costs.get(1)).toBe(costs.get(finalized - 1));
  });

  it('serves the same finalized blocks in every region', async () => {
    const finalized = Math.min(...(await Promise.all(REGIONS.map(async (r) => (await cluster.node(r).query.finality()).finalized.height))));
    for (let h = 1; h <= finalized; h++) {
      const hashes = await Promise.all(REGIONS.map(async (r) => (await cluster.node(r).query.block(h)).hash));
      expect(new Set(hashes).size, `height ${h}`).toBe(1);
    }
  });
});
