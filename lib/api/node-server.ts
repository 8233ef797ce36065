/**
 * node:http adapter for the API core (local cluster, tests). Bodies are read up to the limit
 * only: a declared or streamed size beyond it is answered 413 without buffering the rest.
 * Streamed answers (the finality event stream) are written chunk by chunk with backpressure and
 * end when the client goes away.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Api, ApiResponse } from './app.js';
import { errorResponse } from './app.js';
import { ApiError } from './errors.js';
import { MAX_BODY_BYTES } from './openapi.js';

export interface ApiServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1: the local API is not exposed beyond the machine unless asked. */
  readonly host?: string;
  readonly maxBodyBytes?: number;
}

export interface ApiServer {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  close(): Promise<void>;
}

class TooLarge extends Error {}

/** Reads the body as UTF-8, refusing (TooLarge) as soon as it exceeds `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        reject(new TooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function write(res: ServerResponse, r: ApiResponse, close = false): void {
  res.writeHead(r.status, { ...r.headers, ...(close ? { connection: 'close' } : {}) });
  res.end(r.body);
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes a streamed answer: headers at once, then each chunk as it comes, waiting for the socket
 * to drain when the client reads slowly. Stops (and closes the stream) when the client goes away.
 */
async function writeStream(res: ServerResponse, r: ApiResponse & { stream: AsyncIterable<string> }, gone: AbortSignal): Promise<void> {
  res.writeHead(r.status, r.headers);
  res.flushHeaders();
  const iterator = r.stream[Symbol.asyncIterator]();
  try {
    while (!gone.aborted) {
      const step = await iterator.next();
      if (step.done || gone.aborted) break;
      if (!res.write(step.value)) await drainedOrClosed(res);
    }
  } finally {
    await iterator.return?.();
    if (!res.writableEnded) res.end();
  }
}

/**
 * Serves `api` over HTTP. Resolves once listening.
 * @example const server = await startApiServer(api, { port: 0 }); await fetch(`${server.url}/v1/health`); await server.close();
 */
export async function startApiServer(api: Api, options: ApiServerOptions): Promise<ApiServer> {
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const tooLarge = () => errorResponse(new ApiError(413, 'PAYLOAD_TOO_LARGE', `body: larger than ${limit} bytes`));
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit) {
        // Answer without reading the body, then drop the connection so the client stops sending.
        write(res, tooLarge(), true);
        res.on('finish', () => req.destroy());
        return;
      }
      let body: string | undefined;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        try {
          body = await readBody(req, limit);
        } catch (e) {
          if (!(e instanceof TooLarge)) throw e;
          write(res, tooLarge(), true);
          res.on('finish', () => req.destroy());
          return;
        }
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] ??= v;
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      const answer = await api({ method: req.method ?? 'GET', path: url.pathname, query, headers, body, signal: gone.signal });
      if (answer.stream) await writeStream(res, { ...answer, stream: answer.stream }, gone.signal);
      else write(res, answer);
    } catch {
      // api() never throws; this is a malformed request line or a socket error.
      if (!res.headersSent) write(res, errorResponse(new ApiError(400, 'INVALID_INPUT', 'request: malformed')), true);
    }
  });
  // Keep-alive sockets would hold close() open; tests and the local cluster start and stop servers often.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
