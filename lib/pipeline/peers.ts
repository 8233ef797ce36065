/**
 * A peer region's HTTP API as a source of blocks (catch-up) and of snapshots (bootstrap). Nothing a
 * peer answers is trusted: the state function checks every block against the certified hash chain,
 * and the snapshot bootstrap checks the certificate with the group key and every state node
 * against its hash (lib/pipeline/snapshot.ts).
 */

import { fromHex, toHex } from '../core/bytes.js';
import type { Block } from '../core/types.js';
import { blockFromJson, type TxJsonCodec } from '../core/wire.js';
import type { PeerBlocks, SnapshotPeer } from './ports.js';

/** Largest peer answer read (a state nodes answer is at most ~2 MiB of JSON); a longer body is refused unread. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** A peer answered something other than the API's contract (status, size or shape). */
export class PeerAnswerError extends Error {
  override readonly name = 'PeerAnswerError';
}

export class HttpPeerBlocks implements PeerBlocks {
  /** `codec` is the application's transaction JSON codec (blocks arrive in their wire form). */
  constructor(
    readonly baseUrl: string,
    protected readonly codec: TxJsonCodec<unknown>,
    protected readonly timeoutMs = 5_000,
  ) {}

  async fetchBlock(height: number): Promise<Block | undefined> {
    const res = await fetch(`${this.baseUrl.replace(/\/$/, '')}/v1/blocks/${height}`, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`peer ${this.baseUrl} answered ${res.status} for block ${height}`);
    const { height: h, parentHash, transactions } = (await res.json()) as Record<string, unknown>;
    return blockFromJson({ height: h, parentHash, transactions }, this.codec);
  }
}

/**
 * A peer region's API for a follower or a region bootstrapping from a snapshot: blocks, the
 * finalized head with its certificate, and state nodes under subtree roots. Counts the body bytes it read
 * (`bytesReceived`), for the bootstrap figures.
 * @example const peer = new HttpPeer('https://api.eu-west-1.example', application.codec(chainId));
 */
export class HttpPeer extends HttpPeerBlocks implements SnapshotPeer {
  bytesReceived = 0;

  get name(): string {
    return this.baseUrl;
  }

  /** GET /v1/finality, unverified. @throws PeerAnswerError on a non-200 answer or a body that is not JSON */
  async finality(): Promise<unknown> {
    const answer = await this.requestJson('/v1/finality');
    if (answer === undefined) throw new PeerAnswerError(`peer ${this.baseUrl} answered 404 for /v1/finality`);
    return answer;
  }

  /**
   * POST /v1/state/nodes: for each of `roots` (at most 200) in order, the node under it and its
   * descendants breadth-first, one subtree after the other, cut anywhere; as bytes, unverified.
   * Undefined when the peer has no node under the first root (404).
   * @throws PeerAnswerError on another status, an oversized body, or a body of the wrong shape
   */
  async stateNodes(roots: readonly Uint8Array[]): Promise<Uint8Array[] | undefined> {
    const answer = await this.requestJson('/v1/state/nodes', { roots: roots.map(toHex) });
    if (answer === undefined) return undefined;
    const nodes = (answer as { nodes?: unknown }).nodes;
    if (!Array.isArray(nodes)) throw new PeerAnswerError(`peer ${this.baseUrl}: state nodes answer without a nodes array`);
    return nodes.map((n, i) => {
      if (typeof n !== 'string' || n.length === 0 || n.length % 2 !== 0)
        throw new PeerAnswerError(`peer ${this.baseUrl}: nodes[${i}] is not hex bytes`);
      return fromHex(n, undefined, `nodes[${i}]`);
    });
  }

  /** The JSON body of a GET (or a POST of `body`), or undefined on 404. */
  private async requestJson(path: string, body?: unknown): Promise<unknown> {
    const url = `${this.baseUrl.replace(/\/$/, '')}${path}`;
    const res = await fetch(url, {
      signal: AbortSignal.timeout(this.timeoutMs),
      ...(body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new PeerAnswerError(`peer ${this.baseUrl} answered ${res.status} for ${path}`);
    }
    const text = await this.readCapped(res, url);
    try {
      return JSON.parse(text);
    } catch {
      throw new PeerAnswerError(`peer ${this.baseUrl}: ${path} answered a body that is not JSON`);
    }
  }

  private async readCapped(res: Response, url: string): Promise<string> {
    if (Number(res.headers.get('content-length') ?? 0) > MAX_ANSWER_BYTES) {
      await res.body?.cancel();
      throw new PeerAnswerError(`${url}: answer larger than ${MAX_ANSWER_BYTES} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body?.getReader();
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        size += chunk.value.length;
        this.bytesReceived += chunk.value.length;
        if (size > MAX_ANSWER_BYTES) {
          await reader!.cancel();
          throw new PeerAnswerError(`${url}: answer larger than ${MAX_ANSWER_BYTES} bytes`);
        }
        chunks.push(chunk.value);
      }
    } finally {
      reader?.releaseLock();
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
