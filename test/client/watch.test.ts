/**
 * watchFinality against a scripted server over real HTTP: honest events across reconnections,
 * and a lying server (changed state root, skipped or repeated height, forged signature, a
 * certificate of another group, a mismatched id) that must make it throw a typed WatchError.
 * Certificates are real threshold signatures (the fixture's dealing) on links between made-up
 * checkpoints: the client checks signatures and heights, not where the blocks came from.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { finalizedEvent } from '../../lib/api/stream.js';
import { checkEvent, WatchError, type WatchOptions, watchFinality } from '../../lib/client/watch.js';
import { deal } from '../../lib/core/bls.js';
import { LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import type { Checkpoint } from '../../lib/core/types.js';
import { certificateToJson, checkpointToJson } from '../../lib/core/wire.js';
import { certifyLink } from '../helpers/fixture.js';
import { type ScriptedServer, startScriptedServer } from '../helpers/sse.js';

const K = 2;
const dealing = deal(4, 3);
const bytes = (seed: number) => new Uint8Array(32).map((_, i) => (seed * 31 + i * 7) & 0xff);
const cp = (h: number): Checkpoint => ({ height: h, hash: bytes(h), stateRoot: bytes(h + 1000) });

type Answer = ReturnType<typeof answerAt>;
function answerAt(h: number, d = dealing) {
  const cert = certifyLink(d, LOCAL_CHAIN_ID, { era: 0n, source: cp(h), target: cp(h + K) });
  return { ...checkpointToJson(cp(h)), status: 'finalized' as const, certificate: certificateToJson(LOCAL_CHAIN_ID, cert) };
}
const answers = new Map([2, 4, 6, 8, 10].map((h) => [h, answerAt(h)]));
const event = (h: number) => finalizedEvent(answers.get(h)!);
const raw = (id: string, data: unknown) => `id: ${id}\nevent: finalized\ndata: ${JSON.stringify(data)}\n\n`;
const opts = (more: Partial<WatchOptions> = {}): WatchOptions => ({
  groupPublicKey: dealing.groupPublicKey,
  chainId: LOCAL_CHAIN_ID,
  checkpointInterval: K,
  threshold: 3,
  retryMs: 5,
  maxRetryMs: 20,
  ...more,
});

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function serve(...script: Parameters<typeof startScriptedServer>[0]) {
  const s = await startScriptedServer(script);
  servers.push(s);
  return s;
}

/** Runs a watch until `count` checkpoints arrived (then aborts) or it throws. */
async function collect(url: string, o: WatchOptions, count = Number.POSITIVE_INFINITY) {
  const controller = new AbortController();
  const heights: number[] = [];
  try {
    const signal = o.signal ? AbortSignal.any([o.signal, controller.signal]) : controller.signal;
    for await (const c of watchFinality(url, { ...o, signal })) {
      heights.push(c.height);
      if (heights.length >= count) controller.abort();
    }
    return { heights, error: undefined };
  } catch (error) {
    return { heights, error: error as WatchError };
  }
}

describe('watchFinality over real HTTP', () => {
  it('yields verified checkpoints in order and reconnects with Last-Event-ID after the connection ends', async () => {
    const s = await serve({ events: event(2) + event(4) }, { status: 503 }, { events: `: keep-alive\n\n${event(6)}${event(8)}` });
    const reconnects: unknown[] = [];
    const { heights, error } = await collect(`${s.url}/`, opts({ from: 0, onReconnect: (r) => reconnects.push(r) }), 4);
    expect(error).toBeUndefined();
    expect(heights).toEqual([2, 4, 6, 8]);
    expect(s.requests).toEqual([
      { lastEventId: '0', from: '0' },
      { lastEventId: '4', from: '0' },
      { lastEventId: '4', from: '0' },
    ]);
    expect(reconnects).toMatchObject([
      { attempt: 1, reason: 'the server ended the stream', after: 4 },
      { attempt: 2, reason: 'HTTP 503', after: 4 },
    ]);
  });

  it('starts anywhere without `from`, and yields exactly what the server sent', async () => {
    const s = await serve({ events: event(6) + event(8) });
    const controller = new AbortController();
    const got: Answer[] = [];
    for await (const c of watchFinality(s.url, opts({ signal: controller.signal }))) {
      got.push(c as Answer);
      if (got.length === 2) controller.abort();
    }
    expect(got).toEqual([answers.get(6), answers.get(8)]);
    expect(s.requests[0]).toEqual({ lastEventId: undefined, from: null });
  });

  const tampered: [string, string, string, RegExp][] = [
    [
      'a changed stateRoot',
      raw('4', { ...answers.get(4), stateRoot: 'ab'.repeat(32) }),
      'BAD_CERTIFICATE',
      /certificate's source differs from the checkpoint in stateRoot/,
    ],
    ['a skipped height', event(6), 'GAP', /height 6 skips checkpoint 4/],
    [
      'a forged signature (another valid certificate’s)',
      raw('4', { ...answers.get(4), certificate: { ...answers.get(4)!.certificate, signature: answers.get(6)!.certificate.signature } }),
      'BAD_CERTIFICATE',
      /\[certificate\.signature\]/,
    ],
    ['a certificate of another group', finalizedEvent(answerAt(4, deal(4, 3))), 'BAD_CERTIFICATE', /\[certificate\.signature\]/],
    ['a repeated height', event(2), 'REPEAT', /height 2 was already delivered/],
    ['an id that is not the height', raw('5', answers.get(4)), 'BAD_EVENT', /event id "5" does not match data\.height 4/],
    ['a pending checkpoint', raw('4', { ...answers.get(4), status: 'justified' }), 'BAD_EVENT', /status "justified"/],
    [
      "another checkpoint's certificate",
      raw('4', { ...answers.get(4), certificate: answers.get(2)!.certificate }),
      'BAD_CERTIFICATE',
      /source differs from the checkpoint in height/,
    ],
  ];
  for (const [name, bad, code, message] of tampered)
    it(`throws ${code} on ${name}, after yielding the honest events before it`, async () => {
      const s = await serve({ events: event(2) + bad + event(8) });
      const { heights, error } = await collect(s.url, opts({ from: 0 }));
      expect(heights).toEqual([2]);
      expect(error).toBeInstanceOf(WatchError);
      expect(error!.code).toBe(code);
      expect(error!.message).toMatch(message);
    });

  it('throws REPEAT when a resumed stream replays the last event', async () => {
    const s = await serve({ events: event(2) + event(4) }, { events: event(4) + event(6) });
    const { heights, error } = await collect(s.url, opts({ from: 0 }));
    expect(heights).toEqual([2, 4]);
    expect(error?.code).toBe('REPEAT');
    expect(s.requests[1]!.lastEventId).toBe('4');
  });

  it('throws REFUSED on a lasting refusal, UNREACHABLE after maxAttempts failed connections, BAD_EVENT on an oversized event', async () => {
    const notFound = await serve({ status: 404 });
    expect((await collect(notFound.url, opts())).error?.code).toBe('REFUSED');
    const down = await serve({ status: 503 });
    const unreachable = await collect(down.url, opts({ maxAttempts: 3 }));
    expect(unreachable.error?.code).toBe('UNREACHABLE');
    expect(down.requests).toHaveLength(3);
    const huge = await serve({ events: `data: ${'x'.repeat(100_000)}\n\n` });
    expect((await collect(huge.url, opts())).error?.code).toBe('BAD_EVENT');
  });

  it('ends without an error when the signal aborts while waiting to reconnect', async () => {
    const s = await serve({ status: 503, headers: { 'retry-after': '60' } });
    const controller = new AbortController();
    const watching = collect(s.url, opts({ signal: controller.signal, onReconnect: () => controller.abort() }));
    expect(await watching).toEqual({ heights: [], error: undefined });
  });
});

describe('options', () => {
  it('refuses a bad interval or resume point, naming it', async () => {
    const first = (o: WatchOptions) => watchFinality('http://127.0.0.1:1', o).next();
    await expect(first(opts({ checkpointInterval: 0 }))).rejects.toThrow(/^checkpointInterval: expected a positive integer/);
    await expect(first(opts({ from: -1 }))).rejects.toThrow(/^from: expected a non-negative integer/);
  });
});

describe('checkEvent', () => {
  it('accepts an honest event and refuses a non-checkpoint height and an unknown event type', () => {
    const ok = checkEvent({ id: '4', event: 'finalized', data: JSON.stringify(answers.get(4)) }, 4, opts());
    expect(ok.height).toBe(4);
    expect(() =>
      checkEvent({ id: '3', event: 'finalized', data: JSON.stringify({ ...answers.get(4), height: 3 }) }, undefined, opts()),
    ).toThrow(/not a checkpoint/);
    expect(() => checkEvent({ id: '4', event: 'message', data: '{}' }, 4, opts())).toThrow(/expected "finalized"/);
  });
});
