/**
 * GET /v1/checkpoints/{height}/votes and its client (HttpPeerBlocks.votesAt) over real HTTP, and the
 * cross-region evidence audit run through the region APIs: a member that equivocates across regions
 * is found by every region reading its peers' votes over HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import { responseChecker } from '../../lib/api/validate.js';
import { voteSigningBytes } from '../../lib/core/codec.js';
import { voteFromJson } from '../../lib/core/wire.js';
import { auditAll, heightVotesToJson } from '../../lib/pipeline/audit.js';
import { HttpPeerBlocks, PeerAnswerError } from '../../lib/pipeline/peers.js';
import type { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { expectEvidenceEverywhere, expectNoEvidence, M, REGIONS, runHoldingNotices, splitCluster } from '../helpers/split.js';

const check = responseChecker();
const K = 2;
let cluster: MemoryCluster;
let servers: ApiServer[];

beforeAll(async () => {
  // Member M equivocates across regions; the finality notices are held, so no region has audited yet.
  ({ cluster } = await splitCluster('double', 11, { checkpointInterval: K }));
  await runHoldingNotices(cluster);
  servers = await Promise.all(
    REGIONS.map((region) => {
      const node = cluster.node(region);
      return startApiServer(createApi({ query: node.query, transport: node.runtime.transport, chain: node.chain, maxLagBlocks: 50 }), {
        port: 0,
      });
    }),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('GET /v1/checkpoints/{height}/votes', () => {
  it("answers the region's tally at a checkpoint height: every vote verifies under its member's key", async () => {
    const node = cluster.node(REGIONS[0]!);
    const { status, body } = await get(`${servers[0]!.url}/v1/checkpoints/${K}/votes`);
    expect(status).toBe(200);
    expect(check('getCheckpointVotes', 200, body)).toBeUndefined();
    expect(body).toEqual(heightVotesToJson(K, await node.raw.finality.tally(K)));
    const votes = (body.votes as unknown[]).map((v, i) => voteFromJson(v, `votes[${i}]`));
    expect(votes.map((v) => v.member)).toEqual([1, 2, 3, 4].slice(0, votes.length));
    expect(votes.length).toBeGreaterThanOrEqual(3);
    for (const v of votes)
      expect(
        cluster.crypto.verify(cluster.set.members[v.member - 1]!.publicKey, voteSigningBytes(cluster.set.chainId, v), v.signature),
      ).toBe(true);
  });

  it('answers empty lists where nothing is recorded, 404 off the checkpoint grid, 400 for a bad height', async () => {
    const url = servers[0]!.url;
    const empty = await get(`${url}/v1/checkpoints/${1000 * K}/votes`);
    expect(empty).toEqual({ status: 200, body: { height: 1000 * K, votes: [], spans: [] } });
    const off = await get(`${url}/v1/checkpoints/${K + 1}/votes`);
    expect(off.status).toBe(404);
    expect(check('getCheckpointVotes', 404, off.body)).toBeUndefined();
    expect(JSON.stringify(off.body)).toMatch(/not a checkpoint height/);
    const bad = await get(`${url}/v1/checkpoints/-1/votes`);
    expect(bad.status).toBe(400);
    expect(check('getCheckpointVotes', 400, bad.body)).toBeUndefined();
  });
});

describe('the evidence audit over HTTP', () => {
  it('every region, reading its peers through their APIs, stores verifiable evidence against the split member', async () => {
    await expectNoEvidence(cluster);
    for (const [i, region] of REGIONS.entries()) {
      const node = cluster.node(region);
      const codec = node.runtime.config.application.codec(cluster.set.chainId);
      const peers = servers.filter((_, j) => j !== i).map((s) => new HttpPeerBlocks(s.url, codec));
      const deps = { ...node.runtime.auditor()!, peers };
      const finalized = (await node.raw.finality.head()).finalized.height;
      const heights = Array.from({ length: finalized / K }, (_, j) => (j + 1) * K);
      const reports = await auditAll(deps, heights);
      expect(reports.every((r) => r.peersRead === 3 && r.peerFailures.length === 0)).toBe(true);
    }
    await expectEvidenceEverywhere(cluster, 'double');
    for (const region of REGIONS) expect((await cluster.node(region).raw.finality.listEvidence(10))[0]!.member).toBe(M);
  });
});

describe('HttpPeerBlocks.votesAt', () => {
  let stub: Server;
  let base: string;
  beforeAll(async () => {
    stub = createServer((req, res) => {
      const kind = req.url!.split('/')[3];
      if (kind === '1') res.writeHead(500).end('{"error":{"code":"INTERNAL","message":"internal error"}}');
      else if (kind === '2') res.writeHead(200).end('not json');
      else if (kind === '3') res.writeHead(200).end(JSON.stringify({ height: 3, votes: [{ member: 1 }], spans: [] }));
      else if (kind === '4') res.writeHead(200).end(`{"height":4,"votes":[],"spans":[],"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`);
      else res.writeHead(200).end(JSON.stringify({ height: 5, votes: [], spans: [] }));
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => stub.close(() => resolve())));

  it('refuses an error status, a body that is not JSON, a malformed vote and an oversized answer', async () => {
    const peer = new HttpPeerBlocks(base, cluster.application.codec(cluster.set.chainId));
    await expect(peer.votesAt(1)).rejects.toThrow(/answered 500/);
    await expect(peer.votesAt(2)).rejects.toThrow(PeerAnswerError);
    await expect(peer.votesAt(3)).rejects.toThrow(/answer\.votes\[0\]/);
    await expect(peer.votesAt(4)).rejects.toThrow(/larger than/);
    expect(await peer.votesAt(5)).toEqual({ height: 5, votes: [], spans: [] });
    expect(peer.name).toBe(base);
  });
});
