/**
 * Canonical byte layouts (fixed contracts, DESIGN.md section 4) and hashing of blocks and transactions.
 * Big-endian u64, SHA-256, no variable-length ambiguity: every layout here is fixed-size or
 * length-prefixed.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, ascii, concatBytes, equalBytes, readU64, u64 } from './bytes.js';
import { InputError } from './errors.js';
import type { Block, Checkpoint, Link, Transaction } from './types.js';

const VOTE_TAG = ascii('AFG-VOTE-V1');
const TX_TAG = ascii('AFG-TX-V1');
const BLOCK_TAG = ascii('AFG-BLOCK-V1');
const TXROOT_TAG = ascii('AFG-TXROOT-V1');

export const VOTE_SIGNING_BYTES_LENGTH = VOTE_TAG.length + 32 + 8 + (8 + 32 + 32) * 2; // 195
export const TX_SIGNING_BYTES_LENGTH = TX_TAG.length + 32 + 32 + 32 + 8 + 8; // 121

/**
 * The 195 bytes a validator signs for a link:
 * "AFG-VOTE-V1" || chainId(32) || era(u64) || source(height u64, hash 32, stateRoot 32) || target(same).
 */
export function voteSigningBytes(chainId: Uint8Array, link: Link): Uint8Array {
  abytes(chainId, 32, 'chainId');
  return concatBytes(
    VOTE_TAG,
    chainId,
    u64(link.era, 'era'),
    checkpointBytes(link.source, 'source'),
    checkpointBytes(link.target, 'target'),
  );
}

function checkpointBytes(c: Checkpoint, field: string): Uint8Array {
  return concatBytes(u64(c.height, `${field}.height`), abytes(c.hash, 32, `${field}.hash`), abytes(c.stateRoot, 32, `${field}.stateRoot`));
}

/** Inverse of voteSigningBytes: returns chainId and the link. Throws InputError on a wrong tag or length. */
export function decodeVoteSigningBytes(bytes: Uint8Array): { chainId: Uint8Array; link: Link } {
  abytes(bytes, VOTE_SIGNING_BYTES_LENGTH, 'message');
  if (!equalBytes(bytes.subarray(0, VOTE_TAG.length), VOTE_TAG)) throw new InputError('message', 'missing AFG-VOTE-V1 tag');
  let at = VOTE_TAG.length;
  const take = (n: number) => {
    const part = bytes.slice(at, at + n);
    at += n;
    return part;
  };
  const chainId = take(32);
  const era = readU64(take(8), 0);
  const readCheckpoint = (field: string): Checkpoint => {
    const h = readU64(take(8), 0);
    if (h > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(`${field}.height`, 'beyond safe integer range');
    return { height: Number(h), hash: take(32), stateRoot: take(32) };
  };
  const source = readCheckpoint('source');
  const target = readCheckpoint('target');
  return { chainId, link: { era, source, target } };
}

/** "AFG-TX-V1" || chainId(32) || from(32) || to(32) || amount(u64) || nonce(u64): what `from` signs with ed25519. */
export function txSigningBytes(chainId: Uint8Array, tx: Omit<Transaction, 'signature'>): Uint8Array {
  return concatBytes(
    TX_TAG,
    abytes(chainId, 32, 'chainId'),
    abytes(tx.from, 32, 'from'),
    abytes(tx.to, 32, 'to'),
    u64(tx.amount, 'amount'),
    u64(tx.nonce, 'nonce'),
  );
}

/** Transaction id: sha256(signing bytes || signature). Unique per signed transfer. */
export function txHash(chainId: Uint8Array, tx: Transaction): Uint8Array {
  return sha256(concatBytes(txSigningBytes(chainId, tx), abytes(tx.signature, 64, 'signature')));
}

/** Commitment to a block's ordered transactions: sha256("AFG-TXROOT-V1" || count u64 || txHash...). */
export function txRoot(txHashes: readonly Uint8Array[]): Uint8Array {
  return sha256(concatBytes(TXROOT_TAG, u64(txHashes.length), ...txHashes.map((h, i) => abytes(h, 32, `txHashes[${i}]`))));
}

/** What a block hash commits to, without the transactions themselves: enough to check ancestry. */
export interface BlockHeader {
  readonly height: number;
  readonly parentHash: Uint8Array;
  readonly txRoot: Uint8Array;
}

/** The header of `block`, with each transaction identified by the application's `hashTx`. */
export function blockHeader<Tx>(block: Block<Tx>, hashTx: (tx: Tx) => Uint8Array): BlockHeader {
  return { height: block.height, parentHash: block.parentHash, txRoot: txRoot(block.transactions.map(hashTx)) };
}

/**
 * Block hash: sha256("AFG-BLOCK-V1" || chainId(32) || height(u64) || parentHash(32) || txRoot(32)).
 * The post-state root is not part of the block: validators compute it and sign it in the checkpoint.
 */
export function headerHash(chainId: Uint8Array, header: BlockHeader): Uint8Array {
  return sha256(
    concatBytes(
      BLOCK_TAG,
      abytes(chainId, 32, 'chainId'),
      u64(header.height, 'height'),
      abytes(header.parentHash, 32, 'parentHash'),
      abytes(header.txRoot, 32, 'txRoot'),
    ),
  );
}

/** Block hash (headerHash of the block's header), with transactions identified by `hashTx` (txHash for transfers). */
export function blockHash<Tx>(chainId: Uint8Array, block: Block<Tx>, hashTx: (tx: Tx) => Uint8Array): Uint8Array {
  return headerHash(chainId, blockHeader(block, hashTx));
}

/**
 * Whether `headers` (the target's header first, then each parent down to the block just above
 * `source`) prove that `target` descends from `source`: each header hashes to the hash its child
 * names, heights step down by one, and the last names `source` as its parent. Pure hashing, no I/O.
 */
export function provesAncestry(chainId: Uint8Array, source: Checkpoint, target: Checkpoint, headers: readonly BlockHeader[]): boolean {
  if (headers.length !== target.height - source.height) return false;
  let expected = target.hash;
  for (const [i, h] of headers.entries()) {
    if (h.height !== target.height - i || !equalBytes(headerHash(chainId, h), expected)) return false;
    expected = h.parentHash;
  }
  return equalBytes(expected, source.hash);
}

export function checkpointEquals(a: Checkpoint, b: Checkpoint): boolean {
  return a.height === b.height && equalBytes(a.hash, b.hash) && equalBytes(a.stateRoot, b.stateRoot);
}
