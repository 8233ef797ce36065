/** Fetches blocks from a peer region's HTTP API for catch-up; the state function checks every hash. */

import type { Block } from '../core/types.js';
import { blockFromJson, type TxJsonCodec } from '../core/wire.js';
import type { PeerBlocks } from './ports.js';

export class HttpPeerBlocks implements PeerBlocks {
  /** `codec` is the application's transaction JSON codec (blocks arrive in their wire form). */
  constructor(
    readonly baseUrl: string,
    private readonly codec: TxJsonCodec<unknown>,
    private readonly timeoutMs = 5_000,
  ) {}

  async fetchBlock(height: number): Promise<Block | undefined> {
    const res = await fetch(`${this.baseUrl.replace(/\/$/, '')}/v1/blocks/${height}`, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`peer ${this.baseUrl} answered ${res.status} for block ${height}`);
    const { height: h, parentHash, transactions } = (await res.json()) as Record<string, unknown>;
    return blockFromJson({ height: h, parentHash, transactions }, this.codec);
  }
}
