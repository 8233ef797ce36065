/**
 * Helpers for event-stream tests over real HTTP: a TCP proxy whose connections can be cut (a
 * dropped connection as a client sees it), a reader that parses server-sent events from a fetch
 * response, and a small server that plays a scripted event stream (a lying region).
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface CuttableProxy {
  /** Base URL of the proxy, e.g. http://127.0.0.1:port */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroys every open connection (both sides), as a network failure would. */
  cut(): void;
  close(): Promise<void>;
}

/** A TCP proxy to `target` (an http://host:port URL). */
export async function startProxy(target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    get connections() {
      return connections;
    },
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Parsed events and comments read from one event-stream response. */
export interface StreamReader {
  /** Resolves with the next `n` events (waiting for them). */
  events(n: number): Promise<EventSourceMessage[]>;
  /** Resolves once a comment containing `text` arrived. */
  comment(text: string): Promise<void>;
  /** The `retry:` values seen. */
  readonly retries: number[];
  cancel(): Promise<void>;
}

/** Reads a fetch Response body as server-sent events. */
export function readStream(res: Response): StreamReader {
  const queue: EventSourceMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  let wake: () => void = () => {};
  let ended = false;
  const parser = createParser({
    onEvent: (m) => queue.push(m),
    onComment: (c) => comments.push(c),
    onRetry: (r) => retries.push(r),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        wake();
      }
    } catch {
      // cancelled or cut
    }
    ended = true;
    wake();
  })();
  const until = async (ready: () => boolean, what: string) => {
    while (!ready()) {
      if (ended) throw new Error(`stream ended before ${what}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  return {
    async events(n) {
      await until(() => queue.length >= n, `${n} events`);
      return queue.splice(0, n);
    },
    async comment(text) {
      await until(() => comments.some((c) => c.includes(text)), `a comment "${text}"`);
    },
    retries,
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/** One scripted answer: an SSE body (sent at once, then the connection ends), or an HTTP status. */
export type Scripted = { readonly events: string } | { readonly status: number; readonly headers?: Record<string, string> };

export interface ScriptedServer {
  readonly url: string;
  /** Last-Event-ID and ?from of every request, in order. */
  readonly requests: { lastEventId: string | undefined; from: string | null }[];
  close(): Promise<void>;
}

/** Serves `script[i]` to the i-th request (the last one again once the script runs out). */
export async function startScriptedServer(script: readonly Scripted[]): Promise<ScriptedServer> {
  const requests: ScriptedServer['requests'] = [];
  const server: HttpServer = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ lastEventId: req.headers['last-event-id'] as string | undefined, from: url.searchParams.get('from') });
    const step = script[Math.min(requests.length - 1, script.length - 1)]!;
    if ('status' in step) {
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'scripted' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(step.events);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
