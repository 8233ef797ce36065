/**
 * Protocol types. Byte fields are Uint8Array in memory and lowercase hex on the wire.
 * Heights are plain numbers (safe integers); amounts and nonces are bigint (u64 on the wire).
 */

/** A checkpoint: a block at a height that is a multiple of the checkpoint interval K, with its post-state root. */
export interface Checkpoint {
  readonly height: number;
  readonly hash: Uint8Array; // 32-byte block hash
  readonly stateRoot: Uint8Array; // 32-byte post-state root
}

/** A FFG link source -> target; what a vote signs (together with chainId and era). */
export interface Link {
  readonly era: bigint;
  readonly source: Checkpoint;
  readonly target: Checkpoint;
}

/** One member's partial signature over a link. `member` is 1-based. */
export interface Vote extends Link {
  readonly member: number;
  readonly signature: Uint8Array; // 48-byte G1 partial signature
}

/** A transfer between ed25519 accounts (fixed contract, DESIGN.md section 4). */
export interface Transaction {
  readonly from: Uint8Array; // 32-byte ed25519 public key
  readonly to: Uint8Array; // 32-byte ed25519 public key
  readonly amount: bigint; // u64
  readonly nonce: bigint; // u64
  readonly signature: Uint8Array; // 64-byte ed25519 signature
}

/** A block proposed by the sequencer. Its hash commits to height, parent and the transactions (the application's type). */
export interface Block<Tx = unknown> {
  readonly height: number;
  readonly parentHash: Uint8Array; // 32 bytes; all zero for genesis
  readonly transactions: readonly Tx[];
}

/** The threshold certificate on a link: one group signature from `signers` (t member indices, sorted). */
export interface Certificate extends Link {
  readonly signers: readonly number[];
  readonly signature: Uint8Array; // 48-byte group signature
}

/** The validator set for one era. */
export interface ValidatorSet {
  readonly chainId: Uint8Array;
  readonly era: bigint;
  readonly n: number;
  readonly threshold: number;
  readonly checkpointInterval: number;
  readonly groupPublicKey: Uint8Array; // 96-byte G2
  readonly members: readonly { readonly index: number; readonly region: string; readonly publicKey: Uint8Array }[];
}
