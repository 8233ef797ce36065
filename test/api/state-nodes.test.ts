/**
 * State nodes for a snapshot bootstrap, over real HTTP: GET /v1/state/nodes/{hash} (one subtree)
 * and POST /v1/state/nodes (several roots: each subtree breadth-first, one after the other), their
 * input validated and their answer bounded, always a prefix of that order.
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

/**
 * Walks an answer for `roots` (each subtree breadth-first, one after the other), checking each node
 * against the hash the walk expects; returns the roots of what was not sent.
 */
function walk(roots: Uint8Array[], nodes: string[]): Uint8Array[] {
  let sent = 0;
  for (const [r, root] of roots.entries()) {
    const queue = [root];
    for (let w = 0; w < queue.length; w++) {
      if (sent === nodes.length) return [...queue.slice(w), ...roots.slice(r + 1)];
      for (const child of nodeChildren(queue[w]!, fromHex(nodes[sent++]!, undefined, 'node'))) queue.push(child);
    }
  }
  expect(sent).toBe(nodes.length);
  return [];
}

async function post(
  base: string,
  body: unknown,
): Promise<{ status: number; body: { nodes: string[]; error: { code: string; message: string } } }> {
  const res = await fetch(`${base}/v1/state/nodes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('GET /v1/state/nodes/{hash}', () => {
  it('serves the whole (small) tree under a finalized state root breadth-first, each node matching the hash its parent names', async () => {
    const root = fx.checkpoints.get(2)!.stateRoot;
    const { status, body } = await get(server.url, `/v1/state/nodes/${toHex(root)}`);
    expect(status).toBe(200);
    expect(check('getStateNodes', 200, body)).toBeUndefined();
    expect(walk([root], body.nodes)).toEqual([]);
    expect(body.nodes.length).toBeGreaterThan(10); // ten accounts: ten leaves and their internal nodes
    // A limit cuts the answer to a prefix of the same order.
    const two = await get(server.url, `/v1/state/nodes/${toHex(root)}?limit=2`);
    expect(two.body.nodes).toEqual(body.nodes.slice(0, 2));
    expect(walk([root], two.body.nodes).length).toBeGreaterThan(0);
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

  it('POST serves several subtrees in the order asked, each breadth-first, and a limit cuts it anywhere', async () => {
    const root = fx.checkpoints.get(2)!.stateRoot;
    const whole = (await get(server.url, `/v1/state/nodes/${toHex(root)}`)).body.nodes;
    // The root's two children as roots: their subtrees are the whole tree minus the root.
    const children = nodeChildren(root, fromHex(whole[0]!, undefined, 'root'));
    const both = await post(server.url, { roots: children.map(toHex) });
    expect(both.status).toBe(200);
    expect(check('postStateNodes', 200, both.body)).toBeUndefined();
    expect(walk(children, both.body.nodes)).toEqual([]);
    expect(both.body.nodes.length).toBe(whole.length - 1);
    for (const limit of [1, 3, 7]) {
      const cut = await post(server.url, { roots: children.map(toHex), limit });
      expect(cut.body.nodes).toEqual(both.body.nodes.slice(0, limit));
      expect(walk(children, cut.body.nodes).length).toBeGreaterThan(0);
    }
    // A root the region lacks ends the answer before it (404 when it is the first).
    const unknown = 'cd'.repeat(32);
    const partial = await post(server.url, { roots: [toHex(children[0]!), unknown, toHex(children[1]!)] });
    expect(walk([children[0]!], partial.body.nodes)).toEqual([]);
    expect((await post(server.url, { roots: [unknown, toHex(root)] })).status).toBe(404);
  });

  it('POST refuses a malformed body with 400 naming the field, and an oversized one with 413', async () => {
    const cases: [unknown, RegExp][] = [
      [{ roots: [] }, /^roots: must NOT have fewer than 1 items/],
      [{ roots: Array.from({ length: 201 }, () => 'ab'.repeat(32)) }, /^roots: must NOT have more than 200 items/],
      [{ roots: ['xyz'] }, /^roots\[0\]: expected hash: 32 bytes as lowercase hex/],
      [{ roots: ['ab'.repeat(32)], limit: 0 }, /^limit:/],
      [{ roots: ['ab'.repeat(32)], extra: 1 }, /^extra: unknown field/],
      [{}, /^roots: missing/],
    ];
    for (const [body, message] of cases) {
      const r = await post(server.url, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.error.message).toMatch(message);
    }
    const huge = await post(server.url, { roots: Array.from({ length: 300 }, () => 'ab'.repeat(32)) });
    expect(huge.status).toBe(413);
  });

  it('bounds an answer to about 1 MiB of node bytes, always a prefix of the order', async () => {
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
    const first = await query.stateNodes([root]);
    const bytes = first.nodes.reduce((sum, hex) => sum + hex.length / 2, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_STATE_NODE_BYTES);
    const left = walk([root], first.nodes);
    expect(left.length).toBeGreaterThan(0);
    // Asking again for what is left gets the rest: every leaf exactly once.
    let leaves = first.nodes.filter((n) => n.startsWith('00')).length;
    while (left.length > 0) {
      const roots = left.splice(-200);
      const answer = await query.stateNodes(roots);
      leaves += answer.nodes.filter((n) => n.startsWith('00')).length;
      left.push(...walk(roots, answer.nodes));
    }
    expect(leaves).toBe(40);
  });
});
