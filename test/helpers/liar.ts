/**
 * A lying peer for follower tests: an HTTP proxy in front of an honest region API that rewrites
 * chosen JSON answers (the finality answer, state node answers) and the data of finality stream
 * events, so a client sees a region that lies in exactly one way.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// biome-ignore lint/suspicious/noExplicitAny: answers are rewritten field by field
type Json = Record<string, any>;

export interface Lies {
  /** Rewrites the GET /v1/finality answer. */
  readonly finality?: (answer: Json) => Json;
  /** Rewrites state node answers (GET and POST /v1/state/nodes). */
  readonly nodes?: (answer: Json) => Json;
  /** Rewrites the data (a checkpoint answer) of each finality stream event. */
  readonly stream?: (event: Json) => Json;
}

export interface LyingPeer {
  readonly url: string;
  /** Requests received, by path prefix (`/v1/finality`, `/v1/state/nodes`, ...). */
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

/** Changes one hex digit (keeps the string valid hex of the same length). */
export const flipHex = (hex: string, at = 0): string => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);

export async function startLyingPeer(target: string, lies: Lies): Promise<LyingPeer> {
  const requests = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const prefix = path.split('?')[0]!.split('/').slice(0, 4).join('/');
    requests.set(prefix, (requests.get(prefix) ?? 0) + 1);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const upstream = await fetch(`${target}${path}`, {
        method: req.method ?? 'GET',
        headers: {
          ...(req.headers['last-event-id'] ? { 'last-event-id': String(req.headers['last-event-id']) } : {}),
          ...(req.headers['content-type'] ? { 'content-type': String(req.headers['content-type']) } : {}),
        },
        ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
        signal: abort.signal,
      });
      const type = upstream.headers.get('content-type') ?? '';
      if (type.startsWith('text/event-stream') && upstream.body) {
        res.writeHead(upstream.status, { 'content-type': type, 'cache-control': 'no-cache' });
        const decoder = new TextDecoder();
        let carry = '';
        for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
          carry += decoder.decode(chunk, { stream: true });
          const lines = carry.split('\n');
          carry = lines.pop()!;
          const out = lines.map((line) =>
            line.startsWith('data: ') && lies.stream ? `data: ${JSON.stringify(lies.stream(JSON.parse(line.slice(6))))}` : line,
          );
          if (out.length > 0) res.write(`${out.join('\n')}\n`);
        }
        res.end();
        return;
      }
      let body = await upstream.text();
      if (upstream.ok && path.startsWith('/v1/finality') && !path.includes('stream') && lies.finality)
        body = JSON.stringify(lies.finality(JSON.parse(body)));
      if (upstream.ok && path.startsWith('/v1/state/nodes') && lies.nodes) body = JSON.stringify(lies.nodes(JSON.parse(body)));
      res.writeHead(upstream.status, { 'content-type': type || 'application/json' });
      res.end(body);
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
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
