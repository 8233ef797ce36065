/**
 * Follower regions (issue 17, part 4), over real HTTP: a region with no key share bootstraps from
 * a snapshot of peer regions (certificate checked with the group key, every state node against its
 * hash), refusing peers that lie (a certificate that does not verify, a root that is not the
 * certified one, node bytes that do not hash right), then follows a peer's finality stream, leaving
 * a peer whose stream lies, and serves the same finalized answers as the regions it follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import { watchFinality } from '../../lib/client/watch.js';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { type FollowerEvent, follow } from '../../lib/handlers/follower.js';
import { genesisCheckpoint } from '../../lib/pipeline/context.js';
import { memoryRegionStores } from '../../lib/pipeline/memory.js';
import { HttpPeer } from '../../lib/pipeline/peers.js';
import type { Transport } from '../../lib/pipeline/ports.js';
import { createRegion, type Region } from '../../lib/pipeline/region.js';
import { bootstrapFromSnapshot, SnapshotError } from '../../lib/pipeline/snapshot.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { DEV_PK, DEV_SK } from '../helpers/fixture.js';
import { flipHex, type LyingPeer, startLyingPeer } from '../helpers/liar.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const FOLLOWER = 'eu-central-1';
const K = 2;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are compared field by field
type Json = any;

let cluster: MemoryCluster;
const servers: ApiServer[] = [];
const liars: LyingPeer[] = [];
let honest: { a: string; b: string };
let liar: { certificate: string; root: string; nodes: string; stream: string };
let nonce = 0;

/** One transfer from dev account 0 to account (1 + nonce % 5), delivered until the pipeline is idle. */
async function transfer(): Promise<void> {
  const n = nonce++;
  cluster.submit(signTransfer(cluster.set.chainId, DEV_SK[0]!, { to: DEV_PK[1 + (n % 5)]!, amount: 10n + BigInt(n), nonce: BigInt(n) }));
  await cluster.run();
}

async function serve(region: Region | ReturnType<MemoryCluster['node']>): Promise<string> {
  const query = 'query' in region ? region.query : (region as Region).query;
  const chain = 'chain' in region ? region.chain : (region as Region).chain;
  const server = await startApiServer(
    createApi({ query, transport: cluster.transport, chain, maxLagBlocks: 50, stream: { pollMs: 20, keepAliveMs: 1000, retryMs: 50 } }),
    { port: 0 },
  );
  servers.push(server);
  return server.url;
}

const flipSignature = (o: Json) => ({ ...o, certificate: { ...o.certificate, signature: flipHex(o.certificate.signature) } });

beforeAll(async () => {
  cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: K, seed: 5, dealing: deal(4, 3), maxBlockTransactions: 1 });
  for (let i = 0; i < 5; i++) await transfer();
  honest = { a: await serve(cluster.node('eu-west-1')), b: await serve(cluster.node('ap-northeast-1')) };
  const lying = async (lies: Parameters<typeof startLyingPeer>[1]) => {
    const peer = await startLyingPeer(honest.a, lies);
    liars.push(peer);
    return peer.url;
  };
  liar = {
    // A certificate whose signature does not verify (on /v1/finality and on every stream event).
    certificate: await lying({ finality: flipSignature, stream: flipSignature }),
    // A valid certificate, but the finalized state root shown is not the certified one.
    root: await lying({ finality: (a) => ({ ...a, finalized: { ...a.finalized, stateRoot: flipHex(a.finalized.stateRoot) } }) }),
    // An honest head, but node bytes that do not hash to what they are served for.
    nodes: await lying({
      nodes: (a) => ({ nodes: a.nodes.map((n: string, i: number) => (i === a.nodes.length - 1 ? flipHex(n, 40) : n)) }),
    }),
    // Honest everywhere except the stream, whose events carry a broken certificate.
    stream: await lying({ stream: flipSignature }),
  };
});
afterAll(async () => {
  await Promise.all([...servers.map((s) => s.close()), ...liars.map((l) => l.close())]);
});

const peersOf = (urls: string[]) => urls.map((u) => new HttpPeer(u, cluster.application.codec(cluster.set.chainId)));

/**
 * A follower region over in-memory stores: no member hosted, the same config as the cluster. Its
 * finality notices are delivered to its own state function through the region's SQS handler.
 */
async function createFollower(peers: HttpPeer[]): Promise<Region> {
  const stores = memoryRegionStores(await genesisCheckpoint(cluster.set, cluster.application));
  let region: Region | undefined;
  const transport: Transport = {
    send: async (to, messages) => {
      if (to.queue !== 'finalized' || to.region !== FOLLOWER)
        throw new Error(`a follower sends only its own finality notices, not ${to.queue}`);
      for (const m of messages) {
        const result = await region!.dispatch({ kind: 'finalized' }, cluster.encode(m));
        if (!result.ok) throw result.error;
      }
    },
  };
  region = await createRegion({
    config: {
      set: cluster.set,
      region: FOLLOWER,
      homeRegion: REGIONS[0]!,
      application: cluster.application,
      maxBlockTransactions: 100,
      maxBlockBytes: 200_000,
    },
    stores,
    blocksOf: (other) => cluster.node(other).stores.blocks,
    transport,
    peers,
  });
  expect(region.members).toEqual([]);
  return region;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** An answer without its certificate's signer set and signature (regions combine their own t partials). */
const withoutSigners = (answer: Json) =>
  answer?.certificate ? { ...answer, certificate: { ...answer.certificate, signers: undefined, signature: undefined } } : answer;

async function getJson(url: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe('snapshot bootstrap', () => {
  it('refuses lying peers, converges from an honest one, and answers like the region it came from, without replaying blocks', async () => {
    const source = cluster.node('eu-west-1');
    const finalized = (await source.query.finality()).finalized.height;
    expect(finalized).toBeGreaterThanOrEqual(2 * K);
    const peers = peersOf([liar.certificate, liar.root, liar.nodes, honest.a]);
    const follower = await createFollower(peers);

    const result = await bootstrapFromSnapshot({ chain: follower.chain, stores: follower.stores, blockPeers: peers }, peers);
    if (result.kind !== 'bootstrapped') throw new Error(`not bootstrapped: ${result.reason}`);
    expect(result.checkpoint.height).toBe(finalized);
    expect(result.source).toBe(liar.nodes); // its head verified; its nodes did not
    const refused = Object.fromEntries(result.problems.map((p) => [p.peer, p]));
    expect(refused[liar.certificate]).toMatchObject({ lied: true, reason: expect.stringMatching(/\[certificate\.signature\]/) });
    expect(refused[liar.root]).toMatchObject({ lied: true, reason: expect.stringMatching(/\[checkpoint\.mismatch\]/) });
    expect(refused[liar.nodes]).toMatchObject({ lied: true, reason: expect.stringMatching(/does not match hash/) });
    expect(refused[honest.a]).toBeUndefined();
    expect(result.nodes).toBeGreaterThan(10);
    expect(peers.reduce((sum, p) => sum + p.bytesReceived, 0)).toBeGreaterThan(result.nodeBytes);

    // The same answers as the source region at the snapshot, proofs and certificate included.
    for (const pk of DEV_PK) expect(await follower.query.state(pk)).toEqual(await source.query.state(pk));
    expect((await follower.query.finality()).finalized).toEqual((await source.query.finality()).finalized);
    expect(await follower.query.checkpoint(finalized)).toEqual(await source.query.checkpoint(finalized));
    // No replay: nothing below the snapshot is held, and history there is refused as such.
    expect(await follower.stores.blocks.hashesAt(1)).toEqual([]);
    await expect(follower.query.state(DEV_PK[1]!, { height: K })).rejects.toThrow(
      /checkpoint 2 is not recorded as finalized in this region/,
    );
    await expect(follower.query.checkpoint(K)).rejects.toThrow(/not held by this region/);
  });

  it('fails with a typed error, writing nothing, when only lying peers answer', async () => {
    const peers = peersOf([liar.nodes]);
    const follower = await createFollower(peers);
    const error = await bootstrapFromSnapshot({ chain: follower.chain, stores: follower.stores }, peers).catch((e) => e);
    expect(error).toBeInstanceOf(SnapshotError);
    expect(error.code).toBe('STATE_UNAVAILABLE');
    expect(await follower.stores.applied.applied()).toBeUndefined();
    expect((await follower.stores.finality.head()).finalized.height).toBe(0);

    const noHead = peersOf([liar.certificate, liar.root]);
    const other = await createFollower(noHead);
    await expect(bootstrapFromSnapshot({ chain: other.chain, stores: other.stores }, noHead)).rejects.toMatchObject({
      code: 'NO_VERIFIED_CHECKPOINT',
    });
  });
});

describe('following finality', () => {
  it('leaves a peer whose stream lies, follows an honest one and serves the same finalized answers', async () => {
    const peers = peersOf([liar.stream, honest.a, honest.b]);
    const follower = await createFollower(peers);
    const url = await serve(follower);
    const events: FollowerEvent[] = [];
    const stop = new AbortController();
    const running = follow({ region: follower, peers, signal: stop.signal, retryMs: 50, onEvent: (e) => events.push(e) });
    try {
      const snapshot = await until('the snapshot', async () => events.find((e) => e.kind === 'snapshot'));
      if (snapshot.kind !== 'snapshot' || snapshot.result.kind !== 'bootstrapped') throw new Error('expected a bootstrap');
      const start = snapshot.result.checkpoint.height;

      // The chain moves on; the follower learns each new checkpoint from the stream.
      for (let i = 0; i < 4; i++) await transfer();
      const source = cluster.node('eu-west-1');
      const target = (await source.query.finality()).finalized.height;
      expect(target).toBeGreaterThan(start);
      await until('the follower to apply the source region finality', async () => {
        const f = await follower.query.finality();
        return f.applied.height >= target && f.finalized.height >= target ? f : undefined;
      });
      const left = events.find((e) => e.kind === 'peer-left');
      expect(left).toMatchObject({ peer: liar.stream, reason: expect.stringMatching(/\[certificate\.signature\]/) });

      // The same finalized answers over HTTP as the region it followed (eu-west-1). Another region
      // certified the same links with its own set of t signers: the same answers up to that.
      for (const [peerUrl, same] of [
        [honest.a, (x: Json) => x],
        [honest.b, withoutSigners],
      ] as const) {
        const [mine, theirs] = await Promise.all([getJson(`${url}/v1/finality`), getJson(`${peerUrl}/v1/finality`)]);
        expect(mine.body.finalized).toEqual(theirs.body.finalized);
        expect(same(mine.body).certificate).toEqual(same(theirs.body).certificate);
        expect(mine.body.applied).toEqual(theirs.body.applied);
        for (let h = start; h <= target; h += K) {
          expect(same((await getJson(`${url}/v1/checkpoints/${h}`)).body)).toEqual(
            same((await getJson(`${peerUrl}/v1/checkpoints/${h}`)).body),
          );
          for (const pk of DEV_PK.slice(0, 6)) {
            const path = `/v1/accounts/${toHex(pk)}?height=${h}`;
            expect(same((await getJson(`${url}${path}`)).body)).toEqual(same((await getJson(`${peerUrl}${path}`)).body));
          }
        }
        const latest = `/v1/accounts/${toHex(DEV_PK[2]!)}`;
        expect(same((await getJson(`${url}${latest}`)).body)).toEqual(same((await getJson(`${peerUrl}${latest}`)).body));
      }

      // Its own stream serves what it holds, verified by a client with the group key alone...
      const seen: number[] = [];
      for await (const c of watchFinality(url, {
        groupPublicKey: cluster.set.groupPublicKey,
        chainId: cluster.set.chainId,
        checkpointInterval: K,
        from: start,
        signal: AbortSignal.timeout(10_000),
      })) {
        seen.push(c.height);
        if (c.height >= target - K) break;
      }
      expect(seen[0]).toBe(start + K);
      // ...and refuses a resume point below its snapshot instead of skipping what it does not hold.
      const below = await fetch(`${url}/v1/finality/stream?from=0`);
      expect(below.status).toBe(404);
      expect((await below.json()).error.message).toMatch(/checkpoint 2 is not held by this region: its history starts later/);
    } finally {
      stop.abort();
      await running;
    }
  });
});

describe('following a follower', () => {
  it('takes a newer snapshot when its peers hold no history at its height (their streams answer 404)', async () => {
    const early = await createFollower(peersOf([honest.a]));
    const first = await bootstrapFromSnapshot({ chain: early.chain, stores: early.stores }, peersOf([honest.a]));
    if (first.kind !== 'bootstrapped') throw new Error('expected a bootstrap');
    for (let i = 0; i < 2; i++) await transfer();
    // Another follower starts later: its history begins above the first one's height.
    const later = await createFollower(peersOf([honest.a]));
    const second = await bootstrapFromSnapshot({ chain: later.chain, stores: later.stores }, peersOf([honest.a]));
    if (second.kind !== 'bootstrapped') throw new Error('expected a bootstrap');
    expect(second.checkpoint.height).toBeGreaterThan(first.checkpoint.height);
    const laterUrl = await serve(later);

    const events: FollowerEvent[] = [];
    const stop = new AbortController();
    const running = follow({ region: early, peers: peersOf([laterUrl]), signal: stop.signal, retryMs: 50, onEvent: (e) => events.push(e) });
    try {
      await until('a newer snapshot', async () => {
        const f = await early.query.finality();
        return f.applied.height >= second.checkpoint.height ? f : undefined;
      });
      expect(events.find((e) => e.kind === 'peer-left')).toMatchObject({ reason: expect.stringMatching(/HTTP 404/) });
      const snapshots = events.filter((e) => e.kind === 'snapshot' && e.result.kind === 'bootstrapped');
      expect(snapshots).toHaveLength(1);
      expect((await early.query.finality()).finalized.height).toBe(second.checkpoint.height);
    } finally {
      stop.abort();
      await running;
    }
  });
});
