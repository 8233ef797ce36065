/**
 * Following finality from a browser or Node: `watchFinality` reads GET /v1/finality/stream and
 * yields each finalized checkpoint only after checking it with the group public key alone.
 *
 * Per event: the certificate verifies (lib/core/verifier.ts) and its source is exactly the
 * checkpoint shown (height, hash, state root); the event id is the checkpoint's height; and the
 * heights run K apart with nothing skipped or repeated, across reconnections. A dropped
 * connection (network error, 5xx, 429, or the server ending the stream) is reopened after a
 * delay with Last-Event-ID set to the last verified height, so nothing is missed; anything that
 * breaks the rules above throws a WatchError and ends the watch.
 *
 * Browser-safe: fetch, TextDecoder, timers and the eventsource-parser package; no node:*.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { toHex } from '../core/bytes.js';
import { AfgError, InputError } from '../core/errors.js';
import { checkpointAtOrBelow, isCheckpointHeight } from '../core/ffg.js';
import { type VerifyFailure, verifyCertificate } from '../core/verifier.js';
import type { CertificateJson } from '../core/wire.js';

export type WatchErrorCode =
  /** An event skipped at least one checkpoint height. */
  | 'GAP'
  /** An event repeated a height already yielded (or went back). */
  | 'REPEAT'
  /** The certificate does not verify, or does not certify the checkpoint it came with. */
  | 'BAD_CERTIFICATE'
  /** An event that is not a finalized checkpoint answer (id, type, JSON shape, status). */
  | 'BAD_EVENT'
  /** The server refused the stream for good (a 4xx other than 429, or not an event stream). */
  | 'REFUSED'
  /** `maxAttempts` connections in a row failed before a single event. */
  | 'UNREACHABLE';

/** Why a watch ended. `height` is the offending event's, `expected` the height that was due. */
export class WatchError extends AfgError<
  WatchErrorCode,
  { height?: number; expected?: number; status?: number; failures?: VerifyFailure[] }
> {}

/** A finalized checkpoint whose certificate has been verified. Fields as GET /v1/checkpoints/{height} answers them. */
export interface VerifiedCheckpoint {
  readonly height: number;
  readonly hash: string;
  readonly stateRoot: string;
  readonly status: 'finalized';
  /** The certificate on the link from this checkpoint to the next one, which finalized it. */
  readonly certificate: CertificateJson;
}

export interface WatchOptions {
  /** The 96-byte group public key. Pin it: do not take it from the server being watched. */
  readonly groupPublicKey: Uint8Array;
  /** The 32-byte chain id. */
  readonly chainId: Uint8Array;
  /** K: checkpoints are K blocks apart. */
  readonly checkpointInterval: number;
  /** When given, a certificate must carry at least this many distinct signers. */
  readonly threshold?: number;
  /** Resume after this height (the first event is the next checkpoint above it). Default: the server's current finalized checkpoint. */
  readonly from?: number;
  /** Ends the watch: the iterator returns without an error. */
  readonly signal?: AbortSignal;
  /** Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** First reconnection delay in ms (the server's `retry:` field overrides it); doubles per failure up to maxRetryMs. Default 1000. */
  readonly retryMs?: number;
  /** Longest reconnection delay, ms. Default 30000. */
  readonly maxRetryMs?: number;
  /** Connections in a row that may fail before a single event arrives, then UNREACHABLE. Default 10. */
  readonly maxAttempts?: number;
  /** Told about each reconnection (for logs and UIs). */
  readonly onReconnect?: (info: { attempt: number; delayMs: number; reason: string; after: number | undefined }) => void;
}

/** The parser's buffer bound: an event is ~1.5 KB, so anything near this is not our server. */
const MAX_EVENT_CHARS = 64 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks one SSE message against the rules above and returns the verified checkpoint.
 * `expected` is the height that must come next (undefined before the first event of a watch
 * started without `from`: any checkpoint height above 0). Throws WatchError.
 */
export function checkEvent(message: EventSourceMessage, expected: number | undefined, opts: WatchOptions): VerifiedCheckpoint {
  const K = opts.checkpointInterval;
  if (message.event !== 'finalized') throw new WatchError('BAD_EVENT', `event type ${JSON.stringify(message.event)}: expected "finalized"`);
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    throw new WatchError('BAD_EVENT', `event ${message.id ?? '(no id)'}: data is not JSON`);
  }
  if (!isObject(data) || !Number.isSafeInteger(data.height) || (data.height as number) <= 0)
    throw new WatchError('BAD_EVENT', `event ${message.id ?? '(no id)'}: data.height is not a positive integer`);
  const height = data.height as number;
  if (message.id !== String(height))
    throw new WatchError('BAD_EVENT', `event id ${JSON.stringify(message.id)} does not match data.height ${height}`, { height });
  if (!isCheckpointHeight(height, K)) throw new WatchError('BAD_EVENT', `height ${height} is not a checkpoint (interval ${K})`, { height });
  if (expected !== undefined && height > expected)
    throw new WatchError('GAP', `height ${height} skips checkpoint ${expected}`, { height, expected });
  if (expected !== undefined && height < expected)
    throw new WatchError('REPEAT', `height ${height} was already delivered (expected ${expected})`, { height, expected });
  if (data.status !== 'finalized')
    throw new WatchError('BAD_EVENT', `height ${height}: status ${JSON.stringify(data.status)}, expected "finalized"`, { height });
  if (typeof data.hash !== 'string' || typeof data.stateRoot !== 'string')
    throw new WatchError('BAD_EVENT', `height ${height}: hash and stateRoot must be hex strings`, { height });
  const verdict = verifyCertificate(data.certificate, {
    groupPublicKey: opts.groupPublicKey,
    chainId: opts.chainId,
    checkpointInterval: K,
    ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
  });
  if (!verdict.ok)
    throw new WatchError('BAD_CERTIFICATE', `height ${height}: ${verdict.failures.map((f) => `[${f.check}] ${f.message}`).join('; ')}`, {
      height,
      failures: verdict.failures,
    });
  const source = verdict.certificate.source;
  const mismatch = [
    source.height !== height && `height (certificate ${source.height})`,
    toHex(source.hash) !== data.hash && 'hash',
    toHex(source.stateRoot) !== data.stateRoot && 'stateRoot',
  ].filter(Boolean);
  if (mismatch.length > 0)
    throw new WatchError(
      'BAD_CERTIFICATE',
      `height ${height}: the certificate's source differs from the checkpoint in ${mismatch.join(', ')}`,
      {
        height,
        failures: [{ check: 'answer.checkpoint', message: `certificate source differs in ${mismatch.join(', ')}` }],
      },
    );
  return { height, hash: data.hash, stateRoot: data.stateRoot, status: 'finalized', certificate: data.certificate as CertificateJson };
}

/** The stream URL of an API base URL (or the stream URL itself). */
function streamUrl(url: string, from: number | undefined): string {
  const u = new URL(url);
  if (!u.pathname.endsWith('/v1/finality/stream')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/finality/stream`;
  if (from !== undefined) u.searchParams.set('from', String(from));
  return u.href;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows the finalized checkpoints of an afg region, verified. `url` is the region's API base
 * URL (or its /v1/finality/stream URL, e.g. the stream function URL on AWS).
 *
 * Yields every finalized checkpoint in height order, exactly once, across reconnections; returns
 * when `opts.signal` aborts. Throws WatchError: GAP, REPEAT, BAD_CERTIFICATE or BAD_EVENT when the
 * server breaks the rules, REFUSED for a lasting refusal (4xx other than 429), UNREACHABLE after
 * `maxAttempts` failed connections in a row; an InputError naming a bad option.
 * @example
 * for await (const c of watchFinality('https://api.example', { groupPublicKey, chainId, checkpointInterval: 1 }))
 *   console.log(c.height, c.stateRoot);
 */
export async function* watchFinality(url: string, opts: WatchOptions): AsyncGenerator<VerifiedCheckpoint, void, undefined> {
  const K = opts.checkpointInterval;
  if (!Number.isSafeInteger(K) || K < 1) throw new InputError('checkpointInterval', `expected a positive integer, got ${K}`);
  if (opts.from !== undefined && (!Number.isSafeInteger(opts.from) || opts.from < 0))
    throw new InputError('from', `expected a non-negative integer, got ${opts.from}`);
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const maxAttempts = opts.maxAttempts ?? 10;
  const maxRetryMs = opts.maxRetryMs ?? 30_000;
  let retryMs = opts.retryMs ?? 1000;
  const first = streamUrl(url, opts.from);
  /** The last height yielded (or the resume point); undefined until the first event of a watch without `from`. */
  let last = opts.from === undefined ? undefined : checkpointAtOrBelow(opts.from, K);
  let failures = 0;

  while (!opts.signal?.aborted) {
    let reason: string;
    let retryAfterMs: number | undefined;
    const connection = new AbortController();
    const stop = () => connection.abort();
    opts.signal?.addEventListener('abort', stop, { once: true });
    try {
      const res = await doFetch(first, {
        headers: { accept: 'text/event-stream', ...(last !== undefined ? { 'last-event-id': String(last) } : {}) },
        cache: 'no-store',
        signal: connection.signal,
      });
      const type = res.headers.get('content-type') ?? '';
      if (res.ok && type.startsWith('text/event-stream') && res.body) {
        const received: EventSourceMessage[] = [];
        let overflow = false;
        const parser = createParser({
          onEvent: (m) => received.push(m),
          onError: (e) => {
            if (e.type === 'max-buffer-size-exceeded') overflow = true;
          },
          onRetry: (ms) => {
            retryMs = Math.min(ms, maxRetryMs);
          },
          maxBufferSize: MAX_EVENT_CHARS,
        });
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        try {
          for (;;) {
            const chunk = await reader.read();
            if (chunk.done) break;
            parser.feed(decoder.decode(chunk.value, { stream: true }));
            // A line or event beyond the bound is not our server talking SSE.
            if (overflow) throw new WatchError('BAD_EVENT', `an event longer than ${MAX_EVENT_CHARS} characters`);
            for (const message of received.splice(0)) {
              const checkpoint = checkEvent(message, last === undefined ? undefined : last + K, opts);
              last = checkpoint.height;
              failures = 0;
              yield checkpoint;
            }
          }
          reason = 'the server ended the stream';
        } finally {
          connection.abort(); // also cancels the body when the consumer stops early
          reader.releaseLock();
        }
      } else {
        await res.body?.cancel().catch(() => {});
        if (res.status === 429 || res.status >= 500) {
          reason = `HTTP ${res.status}`;
          const after = Number(res.headers.get('retry-after'));
          if (Number.isFinite(after) && after > 0) retryAfterMs = after * 1000;
        } else if (res.ok)
          throw new WatchError('REFUSED', `${first}: answered ${type || 'no content type'}, not text/event-stream`, { status: res.status });
        else throw new WatchError('REFUSED', `${first}: answered HTTP ${res.status}`, { status: res.status });
      }
    } catch (e) {
      if (e instanceof WatchError) throw e;
      if (opts.signal?.aborted) return;
      reason = e instanceof Error ? e.message : String(e);
    } finally {
      opts.signal?.removeEventListener('abort', stop);
    }
    if (opts.signal?.aborted) return;
    failures++;
    if (failures >= maxAttempts) throw new WatchError('UNREACHABLE', `${first}: ${failures} connections in a row failed (last: ${reason})`);
    const delayMs = retryAfterMs ?? Math.min(maxRetryMs, retryMs * 2 ** Math.max(0, failures - 1));
    opts.onReconnect?.({ attempt: failures, delayMs, reason, after: last });
    await pause(delayMs, opts.signal);
  }
}
