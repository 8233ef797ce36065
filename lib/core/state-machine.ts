/**
 * The pluggable application interface: what the validators, the state applier and the query service
 * need from a state machine. The transfer ledger (ledger.ts) is one implementation; another application
 * plugs in its own transaction type and rejection reasons over the same content-addressed state.
 */
import type { Hash } from './smt.js';

/** Why one transaction was not applied; an outcome to report, not an exception. */
export interface Rejection<Reason extends string = string> {
  readonly reason: Reason;
  readonly message: string;
}

export type CheckResult<Reason extends string = string> = { ok: true } | ({ ok: false } & Rejection<Reason>);

/** Result of executing a block's transactions on a parent state. */
export interface ExecutionResult<Reason extends string = string> {
  /** Post-state root (equals the input root when nothing was applied). */
  readonly root: Hash;
  /** Number of transactions applied. */
  readonly applied: number;
  /** Skipped transactions, by index in the block, in order. */
  readonly rejected: readonly ({ readonly index: number } & Rejection<Reason>)[];
  /** Nodes written to the node store. */
  readonly written: number;
}

export interface StateMachine<Tx, Reason extends string = string> {
  /** Writes the genesis state's nodes and returns its root. Idempotent and deterministic. */
  genesis(): Promise<Hash>;
  /** Stateless checks (decoding, signature, chain id): no state read. */
  checkStateless(tx: Tx): CheckResult<Reason>;
  /**
   * Applies `txs` in order on `root` and returns the post-state root. Deterministic: the same root and
   * transactions always give the same result. An invalid transaction is skipped and reported, never
   * applied, so a Byzantine sequencer's bad transaction cannot halt the chain. Throws only when the
   * store breaks an invariant (e.g. a missing node).
   */
  execute(root: Hash, txs: readonly Tx[]): Promise<ExecutionResult<Reason>>;
}
