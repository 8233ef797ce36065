/** Canonical string ids used as store keys. Heights are zero-padded so keys sort by height. */
import { toHex } from '../core/bytes.js';
import type { Checkpoint, Link } from '../core/types.js';

export const padHeight = (height: number): string => height.toString().padStart(16, '0');

export const checkpointId = (c: Checkpoint): string => `${padHeight(c.height)}:${toHex(c.hash)}:${toHex(c.stateRoot)}`;

export const linkId = (l: Link): string => `${l.era}|${checkpointId(l.source)}|${checkpointId(l.target)}`;
