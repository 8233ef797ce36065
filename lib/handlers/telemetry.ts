/**
 * What handlers report through: a logger (Powertools Logger satisfies it) and counters. On AWS the
 * counters go to Powertools Metrics (EMF); in the local cluster to in-memory counters that the
 * terminal view reads.
 */
export interface Log {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
  debug(message: string, ...extra: Record<string, unknown>[]): void;
}

export type MetricName =
  | 'VotesAccepted'
  | 'ViewChanges'
  | 'ViewChangesRefused'
  | 'VotesRefused'
  | 'VotesUncounted'
  | 'FinalizedHeight'
  | 'ProposalsRebroadcast'
  | 'VotesDuplicate'
  | 'Certificates'
  | 'CertificationMs'
  | 'Justified'
  | 'Finalized'
  | 'FinalityLag'
  | 'AppliedHeight'
  | 'BlocksApplied'
  | 'BlocksProposed'
  | 'TransactionsSequenced'
  | 'TransactionsRejected'
  | 'TransactionsWaiting'
  | 'VotesSigned'
  | 'SignaturesRefused'
  | 'Evidence'
  | 'CheckpointsAudited'
  | 'AuditPeerFailures'
  | 'AuditBadSignatures'
  | 'PoisonMessages'
  | 'HealthCheckFailed'
  | 'FinalityStalledSeconds'
  | 'DependenciesFailing';

export interface Telemetry {
  readonly log: Log;
  /** Adds `value` to a counter (or records a gauge-like value such as FinalityLag). */
  metric(name: MetricName, value: number, unit?: 'Count' | 'Milliseconds'): void;
  /** Called once per invocation, after the handler finished (flushes EMF on AWS). */
  flush?(): void;
}

const noop = () => {};
export const silentLog: Log = { info: noop, warn: noop, error: noop, debug: noop };

/** In-memory counters; `last` keeps the most recent value of gauge-like metrics. */
export class CounterTelemetry implements Telemetry {
  readonly totals = new Map<MetricName, number>();
  readonly last = new Map<MetricName, number>();
  constructor(readonly log: Log = silentLog) {}
  metric(name: MetricName, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
    this.last.set(name, value);
  }
}
