/**
 * A peer region's HTTP API as a source of blocks (catch-up), of snapshots (bootstrap) and of
 * recorded votes (the cross-region evidence audit). Nothing a peer answers is trusted: the state
 * function checks every block against the certified hash chain, the snapshot bootstrap checks the
 * certificate with the group key and every state node against its hash (lib/pipeline/snapshot.ts),
 * and the audit checks every vote and verifies its partial signature (lib/pipeline/audit.ts).
 */

import { fromHex, toHex } from '../core/bytes.js';
import type { Block } from '../core/types.js';
import { blockFromJson, type TxJsonCodec } from '../core/wire.js';
import { heightVotesFromJson } from './audit.js';
import type { HeightVotes, PeerBlocks, PeerVotes, SnapshotPeer } from './ports.js';

/** Largest peer answer read (a state nodes answer is at most ~2 MiB of JSON); a longer body is refused unread. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/** Largest votes answer read: 2n votes of about 500 bytes of JSON each, so this allows n up to ~1000. */
const MAX_VOTES_ANSWER_BYTES = 1024 * 1024;

/** A peer answered something other than the API's contract (status, size or shape). */
export class PeerAnswerError extends Error {
  override readonly name = 'PeerAnswerError';
}

export class HttpPeerBlocks implements PeerBlocks, PeerVotes {
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

  get name(): string {
    return this.baseUrl;
  }

  /**
   * GET /v1/checkpoints/{height}/votes: the votes the peer's tally holds at `height`, parsed but
   * unverified (the audit checks them).
   * @throws PeerAnswerError on a non-200 answer, an oversized body or one of the wrong shape
   */
  async votesAt(height: number): Promise<HeightVotes> {
    const path = `/v1/checkpoints/${height}/votes`;
    const url = `${this.baseUrl.replace(/\/$/, '')}${path}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      throw new PeerAnswerError(`peer ${this.baseUrl} answered ${res.status} for ${path}`);
    }
    const text = await readCapped(res, url, MAX_VOTES_ANSWER_BYTES);
    try {
      return heightVotesFromJson(JSON.parse(text));
    } catch (e) {
      throw new PeerAnswerError(`peer ${this.baseUrl}: ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
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
    const text = await readCapped(res, url, MAX_ANSWER_BYTES, (n) => {
      this.bytesReceived += n;
    });
    try {
      return JSON.parse(text);
    } catch {
      throw new PeerAnswerError(`peer ${this.baseUrl}: ${path} answered a body that is not JSON`);
    }
  }
}

/** The body of `res` as text, refused (PeerAnswerError) beyond `max` bytes; `onBytes` counts what was read. */
async function readCapped(res: Response, url: string, max: number, onBytes?: (n: number) => void): Promise<string> {
  if (Number(res.headers.get('content-length') ?? 0) > max) {
    await res.body?.cancel();
    throw new PeerAnswerError(`${url}: answer larger than ${max} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  try {
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      size += chunk.value.length;
      onBytes?.(chunk.value.length);
      if (size > max) {
        await reader!.cancel();
        throw new PeerAnswerError(`${url}: answer larger than ${max} bytes`);
      }
      chunks.push(chunk.value);
    }
  } finally {
    reader?.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8');
}
