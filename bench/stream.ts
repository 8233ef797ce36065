/**
 * Stream delivery lag after finality (npm run bench:stream [-- --events 40 --polls 50,250 --clients 1,50]):
 * the time from the finalized head moving in a region's store to the event arriving at a client
 * of GET /v1/finality/stream, over real HTTP (node:http server, fetch clients, one process).
 *
 * The store is the in-memory finality store behind a real QueryService; the bench plays the
 * finalizer: for each height it writes the finalized record and raises the head (t0), with a
 * random 50-150 ms between heights so the writes do not lock into step with the server's poll.
 * `clients` raw SSE readers (eventsource-parser) stamp each event's arrival; one more client runs
 * watchFinality, so its figure includes verifying the certificate (a BLS pairing) in the client.
 * Certificates are real threshold signatures (3 of 4) on links between made-up checkpoints.
 *
 * Expected shape: lag ~ uniform(0, pollMs) plus the HTTP write; the server reads the head once
 * per poll whatever the number of streams, so more clients cost fan-out writes, not store reads.
 */
import { loadavg } from 'node:os';
import { createParser } from 'eventsource-parser';
import { createApi } from '../lib/api/app.js';
import { startApiServer } from '../lib/api/node-server.js';
import { watchFinality } from '../lib/client/watch.js';
import { certify, deal, signShare } from '../lib/core/bls.js';
import { LOCAL_CHAIN_ID } from '../lib/core/chain.js';
import { voteSigningBytes } from '../lib/core/codec.js';
import { blsCrypto } from '../lib/core/crypto.js';
import { TransferLedger } from '../lib/core/ledger.js';
import { MemoryNodeStore, SparseMerkleTree } from '../lib/core/smt.js';
import type { Certificate, Checkpoint, ValidatorSet } from '../lib/core/types.js';
import { createChainContext } from '../lib/pipeline/context.js';
import { MemoryAppliedStore, MemoryBlockStore, MemoryFinalityStore } from '../lib/pipeline/memory.js';
import { QueryService } from '../lib/pipeline/query.js';
import { reportBench } from './report.js';

interface Flags {
  events: number;
  polls: number[];
  clients: number[];
}

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = { events: 40, polls: [50, 250], clients: [1, 50] };
  const ints = (flag: string, v: string | undefined, min: number, max: number) => {
    const list = (v ?? '').split(',').map(Number);
    if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < min || n > max))
      throw new Error(`${flag}: expected comma-separated integers in [${min}, ${max}], got ${v}`);
    return list;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--events') flags.events = ints(a, argv[++i], 5, 10_000)[0]!;
    else if (a === '--polls') flags.polls = ints(a, argv[++i], 10, 60_000);
    else if (a === '--clients') flags.clients = ints(a, argv[++i], 1, 500);
    else throw new Error(`unknown flag ${a} (known: --events, --polls, --clients)`);
  }
  return flags;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const summary = (lags: number[]) => {
  const s = [...lags].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.at(-1)!, mean };
};

const flags = parseFlags(process.argv.slice(2));
const K = 1;
const dealing = deal(4, 3);
const set: ValidatorSet = {
  chainId: LOCAL_CHAIN_ID,
  era: 0n,
  n: 4,
  threshold: 3,
  checkpointInterval: K,
  groupPublicKey: dealing.groupPublicKey,
  members: dealing.shares.map((s) => ({ index: s.index, region: 'us-east-1', publicKey: s.publicKey })),
};
const chain = await createChainContext(
  set,
  new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(new MemoryNodeStore()) }),
  blsCrypto,
);

const bytes = (seed: number) => new Uint8Array(32).map((_, i) => (seed * 131 + i * 17 + 7) & 0xff);
const cp = (h: number): Checkpoint => (h === 0 ? chain.genesis : { height: h, hash: bytes(h), stateRoot: bytes(h + 100_000) });

/** A 3-of-4 certificate on cp(h) -> cp(h + K). */
function certificate(h: number): Certificate {
  const link = { era: 0n, source: cp(h), target: cp(h + K) };
  const message = voteSigningBytes(LOCAL_CHAIN_ID, link);
  const partials = [1, 2, 3].map((index) => ({ index, signature: signShare(dealing.shares[index - 1]!.secretKey, message) }));
  const out = certify(message, partials, {
    threshold: 3,
    groupPublicKey: dealing.groupPublicKey,
    memberPublicKey: (i) => dealing.shares[i - 1]?.publicKey,
  });
  if (!out.ok) throw new Error('bench: certification failed');
  return { ...link, signers: out.signers, signature: out.signature };
}

const totalEvents = flags.events * flags.polls.length * flags.clients.length;
console.error(`certifying ${totalEvents} checkpoints…`);
const certificates = Array.from({ length: totalEvents + 1 }, (_, h) => certificate(h));

const finality = new MemoryFinalityStore(chain.genesis);
const query = new QueryService({ chain, region: 'us-east-1', blocks: new MemoryBlockStore(), finality, applied: new MemoryAppliedStore() });
let head = 0;

const rows: Record<string, unknown>[] = [];
const load = loadavg()[0]!;
for (const pollMs of flags.polls)
  for (const clients of flags.clients) {
    const server = await startApiServer(
      createApi({
        query,
        transport: { send: async () => {} },
        chain,
        maxLagBlocks: 1_000_000,
        stream: { pollMs, maxStreams: clients + 1 },
      }),
      { port: 0 },
    );
    const first = head + K;
    const last = head + flags.events * K;
    const moved = new Map<number, number>();
    const raw: number[] = [];
    const verified: number[] = [];
    const stop = new AbortController();
    // Raw readers: stamp each event as the parser sees it.
    const readers = Array.from({ length: clients }, async () => {
      const res = await fetch(`${server.url}/v1/finality/stream?from=${head}`, { signal: stop.signal });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let done = false;
      const parser = createParser({
        onEvent: (e) => {
          const h = Number(e.id);
          raw.push(performance.now() - moved.get(h)!);
          if (h === last) done = true;
        },
      });
      while (!done) {
        const chunk = await reader.read();
        if (chunk.done) break;
        parser.feed(decoder.decode(chunk.value, { stream: true }));
      }
      await reader.cancel().catch(() => {});
    });
    const watcher = (async () => {
      for await (const c of watchFinality(server.url, {
        groupPublicKey: dealing.groupPublicKey,
        chainId: LOCAL_CHAIN_ID,
        checkpointInterval: K,
        threshold: 3,
        from: head,
        signal: stop.signal,
      })) {
        verified.push(performance.now() - moved.get(c.height)!);
        if (c.height === last) break;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300)); // every stream open and idle
    for (let h = first; h <= last; h += K) {
      // The finalizer's writes: the checkpoint's justification, then the link from it that finalizes it,
      // then the head (what a stream follows).
      await finality.certify(certificates[h - K]!, true);
      await finality.certify(certificates[h]!, true);
      moved.set(h, performance.now());
      await finality.raiseHead({ justified: cp(h + K), finalized: cp(h), finalization: certificates[h] });
      head = h;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
    }
    await Promise.all([...readers, watcher]);
    stop.abort();
    await server.close();
    const r = summary(raw);
    const v = summary(verified);
    rows.push({
      'poll ms': pollMs,
      clients,
      events: flags.events,
      'p50 ms': r.p50,
      'p90 ms': r.p90,
      'p99 ms': r.p99,
      'max ms': r.max,
      'mean ms': r.mean,
      'verified p50 ms': v.p50,
      'verified p99 ms': v.p99,
    });
    console.error(`poll ${pollMs} ms, ${clients} client(s): p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
  }

reportBench('stream', rows, {
  method:
    'lag = event arrival at a client minus the moment the finalized head moved in the store (in-memory store, real QueryService, ' +
    'node:http server, fetch clients, one process); heights finalized 50-150 ms apart; "verified" columns: one watchFinality ' +
    'client, including its BLS verification',
  loadAverage1m: load,
});
