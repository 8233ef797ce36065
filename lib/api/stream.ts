/**
 * GET /v1/finality/stream: finalized checkpoints as server-sent events (DESIGN.md section 4).
 *
 * One event per finalized checkpoint, in height order, never skipping or repeating one:
 * `id: <height>`, `event: finalized`, `data:` the JSON that GET /v1/checkpoints/{height} answers
 * for it. A stream resumes after a height (Last-Event-ID, or ?from=H) and first replays what the
 * client missed; a comment line keeps an idle connection open.
 *
 * The query service is the source of truth. One FinalityFeed per API instance reads the
 * finalized head every `pollMs` while at least one stream is open, and every stream walks the
 * checkpoint heights from its last event + K up to that head, reading each one through
 * `checkpoint(h)`. Polling is a local liveness aid of the server process: no protocol rule reads
 * a clock, and the order of events comes from heights alone.
 */
import { ConfigError } from '../core/errors.js';
import { checkpointAtOrBelow } from '../core/ffg.js';
import { NotHeld, type QueryService } from '../pipeline/query.js';

/** What a stream reads: the finalized head and per-height checkpoint answers (a QueryService). */
export type FinalitySource = Pick<QueryService, 'finality' | 'checkpoint'>;

/** A checkpoint answer as GET /v1/checkpoints/{height} gives it. */
export type CheckpointAnswer = Awaited<ReturnType<QueryService['checkpoint']>>;

/** Tuning of the stream route. Every field has a default; see DEFAULT_STREAM_OPTIONS. */
export interface StreamOptions {
  /** Streams this API instance serves at once; the next one is refused with 503. 1..10000. */
  readonly maxStreams?: number;
  /** How often the finalized head is read while a stream is open, in ms. 10..60000. */
  readonly pollMs?: number;
  /** A comment line is sent after this long without an event, in ms. 100..300000. */
  readonly keepAliveMs?: number;
  /** The reconnection delay announced to clients (the SSE `retry:` field), in ms. 0..600000. */
  readonly retryMs?: number;
  /** Retry-After (seconds) of a refused stream. 1..3600. */
  readonly retryAfterSeconds?: number;
}

export const DEFAULT_STREAM_OPTIONS: Required<StreamOptions> = {
  maxStreams: 64,
  pollMs: 250,
  keepAliveMs: 15_000,
  retryMs: 1000,
  retryAfterSeconds: 5,
};

const LIMITS: Record<keyof StreamOptions, [number, number]> = {
  maxStreams: [1, 10_000],
  pollMs: [10, 60_000],
  keepAliveMs: [100, 300_000],
  retryMs: [0, 600_000],
  retryAfterSeconds: [1, 3600],
};

/**
 * Fills in defaults and checks ranges.
 * @throws ConfigError naming the option (`stream.<name>`) when a value is not an integer in its range
 */
export function streamOptions(opts: StreamOptions = {}): Required<StreamOptions> {
  const out = { ...DEFAULT_STREAM_OPTIONS };
  for (const key of Object.keys(LIMITS) as (keyof StreamOptions)[]) {
    const value = opts[key];
    if (value === undefined) continue;
    const [min, max] = LIMITS[key];
    if (!Number.isInteger(value) || value < min || value > max)
      throw new ConfigError(`stream.${key}`, `expected an integer in [${min}, ${max}], got ${value}`);
    out[key] = value;
  }
  return out;
}

/** The SSE text of one finalized checkpoint. JSON.stringify never emits a newline, so `data` is one line. */
export function finalizedEvent(answer: CheckpointAnswer): string {
  return `id: ${answer.height}\nevent: finalized\ndata: ${JSON.stringify(answer)}\n\n`;
}

/** Finalized checkpoint answers never change; the last few are shared by every stream. */
const CACHED_ANSWERS = 256;

/**
 * Follows the finalized head of one region for every open stream of an API instance: one read of
 * `source.finality()` per poll, whatever the number of streams, and a small cache of finalized
 * checkpoint answers (identical for every stream). Polls only while someone is subscribed.
 */
export class FinalityFeed {
  /** The highest finalized height seen, -1 before the first read. */
  private headHeight = -1;
  private subscribers = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polling: Promise<void> | undefined;
  private waiters = new Set<() => void>();
  private readonly answers = new Map<number, CheckpointAnswer>();

  constructor(
    private readonly source: FinalitySource,
    private readonly pollMs: number,
    /** Receives a failed head read (the feed keeps its last head and tries again at the next poll). */
    readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** The last finalized height read (-1 before any read). */
  get head(): number {
    return this.headHeight;
  }

  /** Registers a stream; the first one starts polling. Returns the function that unregisters it. */
  subscribe(): () => void {
    this.subscribers++;
    if (this.subscribers === 1) this.schedule(0);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.subscribers--;
      if (this.subscribers === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Reads the head now (shared with a poll already under way) and returns it. */
  async refresh(): Promise<number> {
    this.polling ??= this.poll().finally(() => {
      this.polling = undefined;
    });
    await this.polling;
    return this.headHeight;
  }

  /**
   * Waits until a poll has completed (and, when `above` is given, the head is above it), or
   * `timeoutMs` passed, or `signal` aborted. Resolves to true when the condition was met.
   */
  wait(signal: AbortSignal, timeoutMs: number, above?: number): Promise<boolean> {
    if (above !== undefined && this.headHeight > above) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (met: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(onPoll);
        resolve(met);
      };
      const onPoll = () => {
        if (above === undefined || this.headHeight > above) finish(true);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(onPoll);
      if (signal.aborted) finish(false);
    });
  }

  /** The checkpoint answer at `height`, from the cache when it is a finalized one read before. */
  async checkpoint(height: number): Promise<CheckpointAnswer> {
    const cached = this.answers.get(height);
    if (cached) return cached;
    const answer = await this.source.checkpoint(height);
    if (answer.status === 'finalized') {
      this.answers.set(height, answer);
      if (this.answers.size > CACHED_ANSWERS) this.answers.delete(this.answers.keys().next().value!);
    }
    return answer;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh().finally(() => {
        if (this.subscribers > 0 && !this.timer) this.schedule(this.pollMs);
      });
    }, delay);
    // A process (test, CLI, local cluster) may exit with streams still subscribed.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async poll(): Promise<void> {
    try {
      const { finalized } = await this.source.finality();
      if (finalized.height > this.headHeight) this.headHeight = finalized.height;
    } catch (e) {
      this.onError(e);
    }
    for (const wake of [...this.waiters]) wake();
  }
}

/** Where a stream starts: the first event is the first checkpoint above `after` (or the current head). */
export interface StreamStart {
  /** Resume point: events start at the first checkpoint height above it. Undefined: start with the current finalized checkpoint. */
  readonly after?: number;
}

/**
 * The event stream of one client, as text chunks: first the `retry:` field and a comment, then
 * every finalized checkpoint above the start in height order, a keep-alive comment whenever
 * `keepAliveMs` pass without an event. Ends when `signal` aborts.
 *
 * A checkpoint below the finalized head whose record is not finalized yet (a concurrent finalizer
 * invocation has raised the head but not written that record) is waited for, never skipped:
 * every honest certificate links a checkpoint to the next one, so each checkpoint height below
 * the head becomes finalized. A checkpoint the region does not hold (NotHeld: its history starts
 * later, from a snapshot) ends the stream with a comment saying so, rather than skip it.
 */
export async function* finalityEvents(
  feed: FinalityFeed,
  checkpointInterval: number,
  start: StreamStart,
  opts: Required<StreamOptions>,
  signal: AbortSignal,
): AsyncGenerator<string, void, undefined> {
  const K = checkpointInterval;
  const head = await feed.refresh();
  // Genesis (height 0) is final by definition and has no certificate: it is never an event.
  let last = start.after !== undefined ? checkpointAtOrBelow(start.after, K) : Math.max(0, checkpointAtOrBelow(head, K) - K);
  yield `retry: ${opts.retryMs}\n: finalized checkpoints after height ${last}\n\n`;
  while (!signal.aborted) {
    let blocked = false;
    while (last + K <= feed.head && !signal.aborted) {
      let answer: CheckpointAnswer;
      try {
        answer = await feed.checkpoint(last + K);
      } catch (e) {
        // This region's history starts later (a snapshot): the stream cannot go on without a gap, so it ends.
        if (e instanceof NotHeld) {
          yield `: ${e.message}\n\n`;
          return;
        }
        // A failed read (a store hiccup) is retried at the next poll; the stream stays open.
        feed.onError(e);
        blocked = true;
        break;
      }
      if (answer.status !== 'finalized') {
        blocked = true;
        break;
      }
      yield finalizedEvent(answer);
      last += K;
    }
    if (signal.aborted) return;
    // Blocked: wait for the next poll to read the record again; otherwise wait for the head to pass `last`.
    const moved = await feed.wait(signal, opts.keepAliveMs, blocked ? undefined : last + K - 1);
    if (!moved && !signal.aborted) yield ': keep-alive\n\n';
  }
}

/** An open stream: an async iterable of SSE text chunks. Iterate it to the end or call `return()`, which frees its slot. */
export type EventStream = AsyncIterable<string>;

/**
 * The stream route's state in one API instance: the shared feed and the count of open streams,
 * bounded by `maxStreams`.
 */
export class FinalityStreams {
  readonly options: Required<StreamOptions>;
  private readonly feed: FinalityFeed;
  private open = 0;

  /**
   * @param onError receives failed store reads (streams retry them at the next poll)
   * @throws ConfigError naming a bad option
   */
  constructor(
    source: FinalitySource,
    private readonly checkpointInterval: number,
    options: StreamOptions = {},
    onError: (error: unknown) => void = () => {},
  ) {
    this.options = streamOptions(options);
    this.feed = new FinalityFeed(source, this.options.pollMs, onError);
  }

  /** Streams open right now. */
  get active(): number {
    return this.open;
  }

  /**
   * Opens a stream, or returns undefined when `maxStreams` are already open. The stream ends
   * when `signal` aborts (the client went away); its slot is freed when it ends, throws, or is
   * closed with `return()` (even before its first chunk).
   */
  tryOpen(start: StreamStart, signal: AbortSignal): EventStream | undefined {
    if (this.open >= this.options.maxStreams) return undefined;
    this.open++;
    const unsubscribe = this.feed.subscribe();
    let closed = false;
    const release = () => {
      if (closed) return;
      closed = true;
      this.open--;
      unsubscribe();
    };
    const events = finalityEvents(this.feed, this.checkpointInterval, start, this.options, signal);
    const iterator: AsyncIterator<string, void, undefined> = {
      next: async () => {
        try {
          const step = await events.next();
          if (step.done) release();
          return step;
        } catch (e) {
          release();
          throw e;
        }
      },
      return: async () => {
        release();
        await events.return(undefined);
        return { done: true, value: undefined };
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }
}
