/**
 * The application plug-in: everything the pipeline knows about transactions and state goes through
 * this interface, so the sequencer, validators, state function and API carry no application rules.
 * The transfer ledger (ledger.ts, the fixed contract) is one implementation; the key-value registry
 * (registry.ts) is another. Adding a transaction type means writing its module (an
 * `ApplicationDefinition`) and listing it in apps.ts; the API's request schema and state route come
 * from the definition.
 *
 * State is a content-addressed sparse Merkle tree (smt.ts): an application maps its transactions to
 * tree changes and its queries to tree reads with proofs.
 */
import type { Hash, SmtProof, SparseMerkleTree } from './smt.js';

/** Why one transaction was not applied or not admitted; an outcome to report, not an exception. */
export interface Rejection<Reason extends string = string> {
  readonly reason: Reason;
  readonly message: string;
}

/**
 * A transaction that failed execution on a state: `retryable` when it may still become valid on a
 * later state (a nonce ahead of the sender's), so a pool keeps it; otherwise it can never apply.
 */
export interface ExecutionRejection<Reason extends string = string> extends Rejection<Reason> {
  readonly index: number;
  readonly retryable: boolean;
  /**
   * True when the sender's sequence number is used already in that state (a stale transaction):
   * nothing of the sender's waits behind it. Otherwise a rejected transaction leaves its number
   * unused, and the sender's later ones cannot apply before something takes it.
   */
  readonly sequenceUsed?: boolean;
}

/** Result of executing a block's transactions on a parent state. */
export interface ExecutionResult<Reason extends string = string> {
  /** Post-state root (equals the input root when nothing was applied). */
  readonly root: Hash;
  /** Number of transactions applied. */
  readonly applied: number;
  /** Skipped transactions, by index in the block, in order. */
  readonly rejected: readonly ExecutionRejection<Reason>[];
  /** Nodes written to the node store. */
  readonly written: number;
}

/** The answer to a transaction offered at ingress, before it is accepted (HTTP 202). */
export type Admission = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * A sender as admission sees it in one state: its next sequence number and what it may still spend.
 * Ingress compares a transaction with it after subtracting what the sender's pending transactions
 * already spend, so the pool holds only transactions that can all be included together.
 */
export interface SenderState {
  /** The sender's next sequence number (nonce) in that state: 0 for a sender never seen. */
  readonly next: bigint;
  /** What the sender may still spend in that state (a transfer ledger: its balance). */
  readonly budget: bigint;
}

/** How a transaction type travels and is identified (its codec entry). */
export interface TransactionCodec<Tx> {
  /** Unique id of a signed transaction: the pool's de-duplication key and the API's answer. */
  hash(tx: Tx): Uint8Array;
  toJson(tx: Tx): Record<string, unknown>;
  /** Validates and decodes; throws InputError naming the field (`path` prefixes it). */
  fromJson(value: unknown, path: string): Tx;
}

/** A proven read of the state, in the JSON fields the application's state route answers with. */
export interface StateRead {
  readonly fields: Record<string, string>;
  readonly proof: SmtProof;
}

/** One chain's application, bound to its chain id and state tree. */
export interface Application<Tx = unknown> extends TransactionCodec<Tx> {
  /** Writes the genesis state's nodes and returns its root. Idempotent and deterministic. */
  genesis(): Promise<Hash>;
  /** The account that orders a transaction (the pool is fair between senders). */
  sender(tx: Tx): Uint8Array;
  /** The transaction's place in its sender's sequence (its nonce). */
  sequence(tx: Tx): bigint;
  /** What `tx` takes from its sender's budget once applied (a transfer: its amount; 0 when nothing is spent). */
  spend(tx: Tx): bigint;
  /**
   * Whether ingress may accept `tx` against `state` (the latest readable finalized state, at `height`):
   * signature, a nonce not already used, and whatever else the application requires. The pool's
   * rules (nonce window, budget minus pending spends, caps) come on top, from `senderState`.
   */
  admit(state: { readonly root: Hash; readonly height: number }, tx: Tx): Promise<Admission>;
  /** The sender's next sequence number and budget under `root` (for the pool's admission rules). */
  senderState(root: Hash, sender: Uint8Array): Promise<SenderState>;
  /**
   * Applies `txs` in order on `root` and returns the post-state root. Deterministic. An invalid
   * transaction is skipped and reported, never applied, so a bad transaction cannot halt the chain.
   * Throws only when the store breaks an invariant (a missing node).
   */
  execute(root: Hash, txs: readonly Tx[]): Promise<ExecutionResult>;
  /** Reads the state entry named by `key` (the state route's path parameter, already decoded) with its proof. */
  read(root: Hash, key: Uint8Array): Promise<StateRead>;
}

/** What a chain needs to build its application, and what the API needs to expose it. */
export interface ApplicationDefinition<Tx = unknown> {
  /** Config name (`application` in the cluster config). */
  readonly name: string;
  /** The transaction codec alone (stores and transports encode transactions before any state exists). */
  codec(chainId: Uint8Array): TransactionCodec<Tx>;
  create(ctx: { readonly chainId: Uint8Array; readonly tree: SparseMerkleTree }): Application<Tx>;
  /** JSON schema of POST /v1/transactions bodies (embedded in the OpenAPI document). */
  readonly transactionSchema: Record<string, unknown>;
  /** The error codes `admit` answers with (HTTP 400), listed in the OpenAPI document. */
  readonly admissionCodes: readonly string[];
  /**
   * The state route, e.g. `/v1/accounts/{publicKeyHex}`: its path, its one path parameter (hex bytes,
   * `minBytes..maxBytes`) and the schema of its answer (the `read` fields plus height, stateRoot, proof
   * and certificate). Schemas may refer to the OpenAPI document's shared components.
   */
  readonly stateRoute: {
    readonly path: string;
    readonly operationId: string;
    readonly summary: string;
    readonly parameter: { readonly name: string; readonly minBytes: number; readonly maxBytes: number; readonly description: string };
    readonly answerSchema: Record<string, unknown>;
  };
}
