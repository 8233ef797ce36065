/**
 * GET /v1/finality/stream over real HTTP, fed by the whole in-memory pipeline (lib/sim's
 * MemoryCluster): real blocks, votes and threshold certificates finalized while clients listen.
 * The stream must deliver every finalized checkpoint exactly once and in order, across dropped
 * connections (a TCP proxy cuts them) resumed with Last-Event-ID or ?from, and bound its streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import { type VerifiedCheckpoint, watchFinality } from '../../lib/client/watch.js';
import { deal } from '../../lib/core/bls.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { readStream, startProxy } from '../helpers/sse.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const K = 2;
const dealing = deal(4, 3);
const payee = ed25519PublicKey(devSecretKey(1));

let cluster: MemoryCluster;
let server: ApiServer;
let nonce = 0n;

const node = () => cluster.node('eu-west-1');
const finalizedHeight = async () => (await node().query.finality()).finalized.height;

/** Submits `n` transfers and runs the pipeline until nothing is pending: finality moves up. */
async function grow(n: number): Promise<number> {
  for (let i = 0; i < n; i++) cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(0), { to: payee, amount: 1n, nonce: nonce++ }));
  await cluster.run();
  return finalizedHeight();
}

const heightsUpTo = (top: number) => Array.from({ length: top / K }, (_, i) => (i + 1) * K);
const watchOptions = () => ({ groupPublicKey: dealing.groupPublicKey, chainId: cluster.set.chainId, checkpointInterval: K, threshold: 3 });

beforeAll(async () => {
  cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: K, seed: 11, dealing, maxBlockTransactions: 1 });
  const n = node();
  const api = createApi({
    query: n.query,
    transport: cluster.transport,
    chain: n.chain,
    maxLagBlocks: 50,
    stream: { pollMs: 10, keepAliveMs: 200, retryMs: 20, maxStreams: 8 },
  });
  server = await startApiServer(api, { port: 0 });
});

afterAll(async () => {
  await server?.close();
});

describe('GET /v1/finality/stream (real HTTP, in-memory pipeline)', () => {
  it('delivers every finalized checkpoint exactly once, in order, across forced disconnects (watchFinality resumes with Last-Event-ID)', async () => {
    const proxy = await startProxy(server.url);
    const controller = new AbortController();
    const got: VerifiedCheckpoint[] = [];
    const reconnects: (number | undefined)[] = [];
    let waiter: { height: number; resolve: () => void; reject: (e: unknown) => void } | undefined;
    let failure: unknown;
    /** Resolves once `height` was delivered; rejects as soon as the watch throws (a gap, a repeat, a bad certificate). */
    const reached = (height: number) =>
      new Promise<void>((resolve, reject) => {
        if (failure) reject(failure);
        else if (got.at(-1)?.height === height) resolve();
        else waiter = { height, resolve, reject };
      });
    const watching = (async () => {
      for await (const c of watchFinality(proxy.url, {
        ...watchOptions(),
        from: 0,
        signal: controller.signal,
        retryMs: 20,
        onReconnect: (r) => reconnects.push(r.after),
      })) {
        got.push(c);
        if (waiter && c.height === waiter.height) waiter.resolve();
      }
    })().catch((e) => {
      failure = e;
      waiter?.reject(e);
    });

    let head = await grow(3);
    expect(head).toBeGreaterThanOrEqual(2 * K);
    await reached(head);
    proxy.cut(); // dropped while idle
    head = await grow(4); // finality moves on while the client is away
    await reached(head);
    const before = got.length;
    head = await grow(4);
    proxy.cut(); // dropped while the new checkpoints are (maybe) being sent
    await reached(head);
    controller.abort();
    await watching;
    await proxy.close();

    expect(got.length).toBeGreaterThan(before);
    expect(got.map((c) => c.height)).toEqual(heightsUpTo(head));
    // Each reconnection resumed after the last verified height.
    expect(reconnects.length).toBeGreaterThanOrEqual(2);
    expect(proxy.connections).toBeGreaterThanOrEqual(3);
    // The events are exactly GET /v1/checkpoints/{height}.
    for (const c of [got[0]!, got.at(-1)!]) {
      const answer = await (await fetch(`${server.url}/v1/checkpoints/${c.height}`)).json();
      expect(c).toEqual(answer);
    }
  });

  it('resumes after Last-Event-ID (which wins over ?from) or ?from, replaying what was missed, and starts at the head without either', async () => {
    const head = await grow(2);
    const open = async (query: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${server.url}/v1/finality/stream${query}`, { headers });
      expect(res.status).toBe(200);
      return { res, stream: readStream(res) };
    };
    const ids = async (query: string, headers: Record<string, string>, n: number) => {
      const { stream } = await open(query, headers);
      const events = await stream.events(n);
      await stream.cancel();
      expect(events.every((e) => e.event === 'finalized' && JSON.parse(e.data).height === Number(e.id))).toBe(true);
      return events.map((e) => Number(e.id));
    };
    expect(await ids('?from=2', {}, head / K - 1)).toEqual(heightsUpTo(head).slice(1));
    expect(await ids('?from=0', { 'last-event-id': String(head - 2 * K) }, 2)).toEqual([head - K, head]);
    expect(await ids('?from=3', {}, 1)).toEqual([4]); // not a checkpoint height: after it means from the next one

    const { res, stream } = await open('');
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const [first] = await stream.events(1);
    expect(Number(first!.id)).toBe(head); // the current finalized checkpoint
    expect(JSON.parse(first!.data)).toEqual(await (await fetch(`${server.url}/v1/checkpoints/${head}`)).json());
    expect(stream.retries).toEqual([20]);
    await stream.comment('keep-alive'); // idle: the head does not move
    await stream.cancel();
  });

  it('refuses a malformed resume point with 400 naming it', async () => {
    for (const [query, headers, field] of [
      ['', { 'last-event-id': 'abc' }, 'Last-Event-ID'],
      ['?from=-1', {}, 'from'],
    ] as const) {
      const res = await fetch(`${server.url}/v1/finality/stream${query}`, { headers });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(new RegExp(`^${field}:`)) });
    }
  });

  it('serves at most maxStreams at once: one more gets 503 with Retry-After and the error body; a closed stream frees its slot', async () => {
    const n = node();
    const bounded = await startApiServer(
      createApi({ query: n.query, transport: cluster.transport, chain: n.chain, maxLagBlocks: 50, stream: { pollMs: 10, maxStreams: 2 } }),
      { port: 0 },
    );
    try {
      const clients = [new AbortController(), new AbortController()];
      for (const c of clients) {
        const res = await fetch(`${bounded.url}/v1/finality/stream`, { signal: c.signal });
        expect(res.status).toBe(200);
        await readStream(res).events(1);
      }
      const refused = await fetch(`${bounded.url}/v1/finality/stream`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(await refused.json()).toEqual({
        error: { code: 'UNAVAILABLE', message: expect.stringContaining('2 finality streams are open') },
      });
      // Other routes are not affected by open streams.
      expect((await fetch(`${bounded.url}/v1/finality`)).status).toBe(200);

      clients[0]!.abort(); // the client goes away: the server notices and frees the slot
      await expect
        .poll(
          async () => {
            const res = await fetch(`${bounded.url}/v1/finality/stream`);
            await res.body?.cancel();
            return res.status;
          },
          { timeout: 10_000 },
        )
        .toBe(200);
      clients[1]!.abort();
    } finally {
      await bounded.close();
    }
  });

  it('refuses out-of-range stream options when the API is built, naming the option', () => {
    const n = node();
    const build = (stream: Record<string, number>) => () =>
      createApi({ query: n.query, transport: cluster.transport, chain: n.chain, maxLagBlocks: 50, stream });
    expect(build({ pollMs: 1 })).toThrow(/^stream\.pollMs: expected an integer in \[10, 60000\], got 1$/);
    expect(build({ maxStreams: 0 })).toThrow(/^stream\.maxStreams:/);
    expect(build({ keepAliveMs: 100, retryMs: 0 })).not.toThrow();
  });

  it('redirects to the stream endpoint when configured to (API Gateway buffers responses)', async () => {
    const n = node();
    const api = createApi({
      query: n.query,
      transport: cluster.transport,
      chain: n.chain,
      maxLagBlocks: 50,
      stream: { redirectTo: 'https://abc.lambda-url.eu-west-1.on.aws/' },
    });
    const res = await api({ method: 'GET', path: '/v1/finality/stream', query: {}, headers: { 'last-event-id': '8' }, body: undefined });
    expect(res.status).toBe(307);
    expect(res.headers.location).toBe('https://abc.lambda-url.eu-west-1.on.aws/v1/finality/stream?from=8');
    expect(res.stream).toBeUndefined();
  });
});
