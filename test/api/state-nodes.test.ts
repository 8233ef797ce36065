/**
 * GET /v1/state/nodes/{hash} (snapshot bootstrap): the node and a breadth-first prefix of its
 * descendants, over real HTTP, with its input validated and its answer bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import { responseChecker } from '../../lib/api/validate.js';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import type { TransferLedger } from '../../lib/core/ledger.js';
import { EMPTY_ROOT, MemoryNodeStore, nodeChildren, SparseMerkleTree } from '../../lib/core/smt.js';
import { MAX_STATE_NODE_BYTES, QueryService } from '../../lib/pipeline/query.js';
import { buildFixture, type Fixture } from '../helpers/fixture.js';

const check = responseChecker();
let fx: Fixture;
let server: ApiServer;
let withoutNodes: ApiServer;

beforeAll(async () => {
  fx = await buildFixture();
  const nodes = (fx.chain.app as TransferLedger).tree.store;
  const query = new QueryService({
    chain: fx.chain,
    region: fx.region,
    blocks: fx.blocks,
    finality: fx.finality,
    applied: fx.applied,
    nodes,
  });
  server = await startApiServer(createApi({ query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }), { port: 0 });
  withoutNodes = await startApiServer(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }), {
    port: 0,
  });
});
afterAll(async () => {
  await server.close();
  await withoutNodes.close();
});

async function get(
  base: string,
  path: string,
): Promise<{ status: number; body: { nodes: string[]; error: { code: string; message: string } } }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.json() };
}

/** Walks an answer breadth-first from `root`, checking each node against the hash the walk expects; returns the hashes left. */
function walk(root: Uint8Array, nodes: string[]): Uint8Array[] {
  const queue = [root];
  nodes.forEach((hex, i) => {
    for (const child of nodeChildren(queue[i]!, fromHex(hex, undefined, 'node'))) queue.push(child);
  });
  return queue.slice(nodes.length);
}

describe('GET /v1/state/nodes/{hash}', () => {
  it('serves the whole (small) tree under a finalized state root breadth-first, each node matching the hash its parent names', async () => {
    const root = fx.checkpoints.get(2)!.stateRoot;
    const { status, body } = await get(server.url, `/v1/state/nodes/${toHex(root)}`);
    expect(status).toBe(200);
    expect(check('getStateNodes', 200, body)).toBeUndefined();
    expect(walk(root, body.nodes)).toEqual([]);
    expect(body.nodes.length).toBeGreaterThan(10); // ten accounts: ten leaves and their internal nodes
    // A limit cuts the answer to a prefix of the same order.
    const two = await get(server.url, `/v1/state/nodes/${toHex(root)}?limit=2`);
    expect(two.body.nodes).toEqual(body.nodes.slice(0, 2));
    expect(walk(root, two.body.nodes).length).toBeGreaterThan(0);
  });

  it('refuses bad input (400) and answers 404 for a hash it does not hold', async () => {
    for (const [path, message] of [
      ['/v1/state/nodes/xyz', /^hash: expected hash: 32 bytes as lowercase hex/],
      [`/v1/state/nodes/${'AB'.repeat(32)}`, /^hash:/],
      [`/v1/state/nodes/${'ab'.repeat(31)}`, /^hash:/],
      [`/v1/state/nodes/${'ab'.repeat(32)}?limit=0`, /^limit:/],
      [`/v1/state/nodes/${'ab'.repeat(32)}?limit=4097`, /^limit:/],
    ] as const) {
      const { status, body } = await get(server.url, path);
      expect(status, path).toBe(400);
      expect(body.error.message).toMatch(message);
    }
    for (const [base, hash] of [
      [server.url, 'ab'.repeat(32)],
      [server.url, toHex(EMPTY_ROOT)],
      [withoutNodes.url, toHex(fx.checkpoints.get(2)!.stateRoot)],
    ] as const) {
      const { status, body } = await get(base, `/v1/state/nodes/${hash}`);
      expect(status).toBe(404);
      expect(body.error.message).toMatch(/no state node .* in this region/);
      expect(check('getStateNodes', 404, body)).toBeUndefined();
    }
  });

  it('bounds an answer to about 1 MiB of node bytes, always a breadth-first prefix', async () => {
    // 40 leaves of 64 KiB each (an application may store large values): 2.5 MiB under one root.
    const store = new MemoryNodeStore();
    const tree = new SparseMerkleTree(store);
    const changes = Array.from({ length: 40 }, (_, i) => ({
      key: new Uint8Array(32).fill(i + 1),
      value: new Uint8Array(64 * 1024).fill(i),
    }));
    const { root } = await tree.update(EMPTY_ROOT, changes);
    const query = new QueryService({
      chain: fx.chain,
      region: fx.region,
      blocks: fx.blocks,
      finality: fx.finality,
      applied: fx.applied,
      nodes: store,
    });
    const first = await query.stateNodes(root);
    const bytes = first.nodes.reduce((sum, hex) => sum + hex.length / 2, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_STATE_NODE_BYTES);
    const left = walk(root, first.nodes);
    expect(left.length).toBeGreaterThan(0);
    // Asking again for what is left, root by root, gets the rest: every leaf exactly once.
    let leaves = first.nodes.filter((n) => n.startsWith('00')).length;
    while (left.length > 0) {
      const next = left.pop()!;
      const answer = await query.stateNodes(next);
      leaves += answer.nodes.filter((n) => n.startsWith('00')).length;
      left.push(...walk(next, answer.nodes));
    }
    expect(leaves).toBe(40);
  });
});
