import type { Checkpoint } from '../../lib/core/types.js';

/** Checkpoint at `height` on fork `fork` (hash byte), with state root variant `root`. Fork 0 at height 0 is genesis. */
export function cp(height: number, fork = 0, root = 0): Checkpoint {
  const hash = new Uint8Array(32).fill(fork);
  new DataView(hash.buffer).setUint32(0, height);
  const stateRoot = new Uint8Array(32).fill(0xa0 + root);
  new DataView(stateRoot.buffer).setUint32(0, height);
  return { height, hash, stateRoot };
}
