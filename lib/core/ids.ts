/**
 * Canonical string ids of checkpoints and links, used as store keys and map keys everywhere.
 * Heights are zero-padded to 16 digits so keys sort by height; bytes are lowercase hex.
 */
import { toHex } from './bytes.js';
import type { Checkpoint, Link } from './types.js';

export const padHeight = (height: number): string => height.toString().padStart(16, '0');

/** `<padHeight>:<hashHex>:<stateRootHex>`: the same block with another state root is another checkpoint. */
export const checkpointId = (c: Checkpoint): string => `${padHeight(c.height)}:${toHex(c.hash)}:${toHex(c.stateRoot)}`;

/** `<era>|<checkpointId(source)>|<checkpointId(target)>`. */
export const linkId = (l: Link): string => `${l.era}|${checkpointId(l.source)}|${checkpointId(l.target)}`;
