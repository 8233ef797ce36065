/**
 * Admission of a submitted transaction into the pools, as POST /v1/transactions runs it (and the
 * simulation, so the copy that is tested is the one that runs): the application's rules against the
 * readable finalized state, then the active region's pool (lib/pipeline/pool.ts rules, an
 * all-or-nothing write), then a backup copy in the pool of the next view's region, or when that one
 * cannot be written the next member region in view order (core/views.ts poolRegions). Only when
 * both writes are done may the caller answer 202: losing either region then loses no accepted
 * transaction, and one unreachable region (the next view's) does not stop admission.
 *
 * The backup copy is written without admission limits (PoolStore.addPending, as an admitted one:
 * idempotent by hash, a transaction with a status there is left as it is): the active pool decided;
 * the copy only has to exist. Each region's state function settles the copies it holds as it
 * applies their finalized blocks (PoolStore.settle), so a sequencer that takes over later finds them
 * included, not pending. A transaction the active pool knows already (a retry) gets its copy written
 * again while it is pending, so a retry after a failed backup write completes the pair; an included
 * one needs no copy (its block is in every region).
 */
import { AfgError } from '../core/errors.js';
import type { ChainContext } from './context.js';
import { pendingOf } from './pool.js';
import type { AdmitOutcome, PoolLimits, PoolRefusal, PoolStore } from './ports.js';
import type { QueryService } from './query.js';

export interface AdmissionDeps {
  readonly chain: Pick<ChainContext, 'app'>;
  readonly query: Pick<QueryService, 'readableCheckpoint' | 'poolRegions'>;
  /** The home region's pool: the only one without `storeOf`, or when the query service names no regions. */
  readonly store: PoolStore;
  /** Each member region's pool: with it, the active view's region's pool and the next view's. */
  readonly storeOf?: (region: string) => PoolStore;
  readonly limits: PoolLimits;
}

export type Admission =
  /** The application refused it against the readable finalized state (a 400). */
  | { readonly kind: 'invalid'; readonly code: string; readonly message: string }
  /** The active pool refused it; nothing was written. */
  | { readonly kind: 'refused'; readonly refusal: PoolRefusal; readonly sequence: bigint; readonly height: number }
  /**
   * In the active region's pool (newly: `admitted`, or already: `known`) and, when there is a backup
   * region, in its pool too.
   */
  | {
      readonly kind: Exclude<AdmitOutcome['kind'], 'refused'>;
      readonly hash: Uint8Array;
      readonly active?: string;
      readonly backup?: string;
    };

/**
 * The active pool holds the transaction but the backup copy could not be written: not accepted
 * (the API answers 503). The same transaction sent again is idempotent: the active pool answers
 * `known` and the copy is written again.
 */
export class BackupWriteError extends AfgError<'BACKUP_UNAVAILABLE', { regions: string[]; active: string; admitted: boolean }> {
  /**
   * @param regions the backup regions tried, in order
   * @param active the active region, whose pool holds the transaction
   * @param admitted whether this call put it there (its sequencer has not been told yet)
   */
  constructor(regions: readonly string[], active: string, admitted: boolean, cause: unknown) {
    super(
      'BACKUP_UNAVAILABLE',
      `no backup copy could be written (tried the pools of ${regions.join(', ')})`,
      { regions: [...regions], active, admitted },
      { cause },
    );
  }
}

/**
 * Runs admission for `tx` (already decoded by the application). A 503 after a BackupWriteError
 * promises nothing either way: the active pool holds the transaction, so it may still be included
 * (GET /v1/transactions/{hash} tells); sending it again completes the pair or finds it included.
 * @throws BackupWriteError when no backup copy could be written; store errors of the active pool pass through.
 */
export async function admitTransaction(deps: AdmissionDeps, tx: unknown): Promise<Admission> {
  const { app } = deps.chain;
  const { checkpoint } = await deps.query.readableCheckpoint();
  const verdict = await app.admit({ root: checkpoint.stateRoot, height: checkpoint.height }, tx);
  if (!verdict.ok) return { kind: 'invalid', code: verdict.code, message: verdict.message };
  const entry = pendingOf(app, tx);
  const regions = deps.storeOf ? await deps.query.poolRegions() : undefined;
  const active = regions && deps.storeOf ? deps.storeOf(regions.active) : deps.store;
  const sender = await app.senderState(checkpoint.stateRoot, entry.sender);
  const outcome = await active.admit(entry, { ...sender, height: checkpoint.height }, deps.limits);
  if (outcome.kind === 'refused') return { kind: 'refused', refusal: outcome.refusal, sequence: entry.sequence, height: checkpoint.height };
  const needsCopy = outcome.kind === 'admitted' || outcome.status.status === 'pending';
  if (!regions || !deps.storeOf || !needsCopy || regions.backups.length === 0)
    return { kind: outcome.kind, hash: entry.hash, ...(regions ? { active: regions.active } : {}) };
  let failure: unknown;
  for (const backup of regions.backups) {
    try {
      await deps.storeOf(backup).addPending([entry], { admitted: true });
      return { kind: outcome.kind, hash: entry.hash, active: regions.active, backup };
    } catch (cause) {
      failure = cause; // unreachable or failing: the next region in view order
    }
  }
  throw new BackupWriteError(regions.backups, regions.active, outcome.kind === 'admitted', failure);
}
