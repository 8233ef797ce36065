/**
 * Canonical string ids of checkpoints and links, used as store keys and map keys everywhere.
 * Heights are zero-padded to 16 digits so keys sort by height; bytes are lowercase hex.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii, toHex } from './bytes.js';
import type { Evidence } from './slashing.js';
import type { Checkpoint, Link } from './types.js';

export const padHeight = (height: number): string => height.toString().padStart(16, '0');

/** `<padHeight>:<hashHex>:<stateRootHex>`: the same block with another state root is another checkpoint. */
export const checkpointId = (c: Checkpoint): string => `${padHeight(c.height)}:${toHex(c.hash)}:${toHex(c.stateRoot)}`;

/** `<era>|<checkpointId(source)>|<checkpointId(target)>`. */
export const linkId = (l: Link): string => `${l.era}|${checkpointId(l.source)}|${checkpointId(l.target)}`;

/** Identity of a slashable pair (member, kind, the two links in sorted order): stores keep one item per pair. */
export function evidenceId(e: Evidence): string {
  const [a, b] = [linkId(e.first), linkId(e.second)].sort();
  return `${e.member}|${e.kind}|${a}|${b}`;
}

/** Evidence items kept per member: a member's equivocations cannot grow a store without bound. */
export const EVIDENCE_SLOTS = 16;

/** The slot (0..EVIDENCE_SLOTS-1) an evidence item occupies; a later pair in a taken slot replaces it. */
export const evidenceSlot = (e: Evidence): number => sha256(ascii(evidenceId(e)))[0]! % EVIDENCE_SLOTS;
