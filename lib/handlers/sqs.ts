/**
 * The SQS batch handler of each queue a region consumes: the one place where a queue message is
 * decoded, routed to its role, ordered, and mapped to Lambda's partial batch response. Lambda
 * (functions/), the local cluster's event sources, the simulation and the integration tests all
 * deliver through it (`regionHandler`, or `Region.dispatch` for one message), so they run the same
 * code.
 *
 * Semantics per queue:
 *   - ingress (sequencer): the whole batch is one flush unit; a HeadMovedError fails the batch (it is
 *     redelivered and re-checked against the new head); undecodable records fail alone.
 *   - inbox (one validator): records run one at a time in height order (a child after its parent);
 *     a NotReadyError fails just that record.
 *   - votes (finalizer): records run concurrently; refused votes are logged, counted and deleted.
 *   - finalized (state function): any number of notices coalesce into one catch-up pass; the
 *     checkpoints the notices name are then audited against the peers' tallies (audit.ts).
 * A record that cannot be decoded is poison: counted, logged, and returned as a batch item failure,
 * so it ends in the DLQ after the queue's maxReceiveCount. A record that failed only because
 * something is not ready yet (isRetryLater) is made visible again after RETRY_SOON_SECONDS, not
 * after the queue's visibility timeout of minutes (where the region can: Region.retrySoon).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { InputError } from '../core/errors.js';
import { type AuditDeps, auditAll, auditHeights, auditRange } from '../pipeline/audit.js';
import { isRetryLater } from '../pipeline/errors.js';
import { handleCertified, handleViewChange, handleViewNotice, handleVote } from '../pipeline/finalizer.js';
import { decodeMessage, type MessageKind, type QueueMessage } from '../pipeline/messages.js';
import type { Region, RegionQueue } from '../pipeline/region.js';
import { sequence } from '../pipeline/sequencer.js';
import { applyFinalized } from '../pipeline/state-function.js';
import { handleInbox, type InboxMessage, inboxHeight, type ValidatorOutcome } from '../pipeline/validator.js';
import { silentLog, type Telemetry } from './telemetry.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
type Provider<T> = () => Promise<T>;

/** What happened to one record: the role's outcome, or the error that left it for redelivery. */
export type RecordResult = { readonly ok: true; readonly outcome: unknown } | { readonly ok: false; readonly error: unknown };

export interface HandlerOptions {
  /** Called once per record after it was handled (the simulation checks outcomes and errors). */
  readonly observe?: (record: SQSRecord, result: RecordResult) => void;
}

export const silentTelemetry: Telemetry = { log: silentLog, metric: () => {} };

/** Seconds before a record that failed as "not ready yet" is delivered again. */
export const RETRY_SOON_SECONDS = 2;

/**
 * When `error` only means "not ready yet", asks for `records` to come back soon. Best effort: if the
 * request fails, they come back after the visibility timeout, as without it.
 */
async function retrySoonIfNotReady(region: Region, records: readonly SQSRecord[], error: unknown): Promise<void> {
  const retrySoon = region.retrySoon;
  if (!retrySoon || !isRetryLater(error)) return;
  await Promise.all(records.map((r) => retrySoon(r, RETRY_SOON_SECONDS).catch(() => {})));
}

/** SQS's ApproximateReceiveCount > 1: this delivery may repeat one that stopped half-way. */
const isRedelivery = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? 1) > 1;

/**
 * The batch handler for one of `region`'s queues.
 * @example export const handler = regionHandler(runtime, { kind: 'votes' }, telemetry);
 */
export function regionHandler(
  region: Provider<Region>,
  queue: RegionQueue,
  telemetry: Telemetry,
  options: HandlerOptions = {},
): SqsHandler {
  switch (queue.kind) {
    case 'ingress':
      return sequencerHandler(region, telemetry, options);
    case 'inbox':
      return validatorHandler(region, queue.member, telemetry, options);
    case 'votes':
      return finalizerHandler(region, telemetry, options);
    case 'finalized':
      return stateFunctionHandler(region, telemetry, options);
  }
}

/**
 * Delivers one message body to `queue` through the queue's handler, with SQS's redelivery signal.
 * Never throws for a failed record: the result says what happened.
 */
export async function dispatch(
  region: Region,
  queue: RegionQueue,
  body: string,
  opts: { redelivered?: boolean; telemetry?: Telemetry } = {},
): Promise<RecordResult> {
  let result: RecordResult | undefined;
  const handler = regionHandler(async () => region, queue, opts.telemetry ?? silentTelemetry, {
    observe: (_record, r) => {
      result = r;
    },
  });
  try {
    await handler(syntheticEvent(body, opts.redelivered ? 2 : 1), syntheticContext);
  } catch (error) {
    // A thrown handler fails the whole batch (Lambda then leaves every record for redelivery).
    if (!result || result.ok) result = { ok: false, error };
  }
  return result ?? { ok: false, error: new Error('the handler did not report the record') };
}

let syntheticIds = 0;

/** A one-record SQS event, as Lambda's event source mapping would deliver it. */
export function syntheticEvent(body: string, receiveCount = 1): SQSEvent {
  const messageId = `local-${++syntheticIds}`;
  return {
    Records: [
      {
        messageId,
        receiptHandle: messageId,
        body,
        attributes: {
          ApproximateReceiveCount: String(receiveCount),
          SentTimestamp: '0',
          SenderId: 'afg',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local:000000000000:afg',
        awsRegion: 'local',
      },
    ],
  };
}

export const syntheticContext = {
  functionName: 'afg-local',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

function poison(telemetry: Telemetry, record: SQSRecord, e: unknown): void {
  telemetry.metric('PoisonMessages', 1);
  telemetry.log.warn('refused a malformed message', {
    messageId: record.messageId,
    reason: e instanceof Error ? e.message : String(e),
    receiveCount: record.attributes?.ApproximateReceiveCount,
  });
}

/** Decodes every record once; undecodable ones are poison and become batch item failures. */
function decodeAll<K extends MessageKind>(
  region: Region,
  event: SQSEvent,
  kinds: readonly K[],
  telemetry: Telemetry,
  options: HandlerOptions,
): { ok: { record: SQSRecord; message: Extract<QueueMessage, { kind: K }> }[]; failures: { itemIdentifier: string }[] } {
  const ok: { record: SQSRecord; message: Extract<QueueMessage, { kind: K }> }[] = [];
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    try {
      ok.push({ record, message: decodeMessage(record.body, kinds, region.chain.app) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      poison(telemetry, record, e);
      options.observe?.(record, { ok: false, error: e });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { ok, failures };
}

/**
 * Runs decoded records through `handle` with Powertools' BatchProcessor, concurrently or one at a
 * time; a throw fails just that record.
 */
async function processRecords<M>(
  event: SQSEvent,
  context: Context,
  decoded: { record: SQSRecord; message: M }[],
  handle: (m: M, record: SQSRecord) => Promise<unknown>,
  options: HandlerOptions,
  sequential: boolean,
): Promise<SQSBatchResponse> {
  // One processor per invocation: BatchProcessor keeps per-batch state, and the local runner's
  // pollers invoke one handler concurrently (Lambda never does within a container).
  const processor = new BatchProcessor(EventType.SQS);
  const byId = new Map(decoded.map((d) => [d.record.messageId, d.message]));
  const records = decoded.map((d) => d.record);
  return processPartialResponse(
    { ...event, Records: records },
    async (record: SQSRecord) => {
      try {
        const outcome = await handle(byId.get(record.messageId)!, record);
        options.observe?.(record, { ok: true, outcome });
      } catch (error) {
        options.observe?.(record, { ok: false, error });
        throw error;
      }
    },
    processor,
    { context, throwOnFullBatchFailure: false, processInParallel: !sequential },
  );
}

/** Ingress: transactions join the pool and blocks are built from it; ticks ask for empty blocks. */
function sequencerHandler(provider: Provider<Region>, telemetry: Telemetry, options: HandlerOptions): SqsHandler {
  return async (event) => {
    const region = await provider();
    const { ok, failures } = decodeAll(region, event, ['tx', 'tick', 'view'], telemetry, options);
    let result: Awaited<ReturnType<typeof sequence>>;
    try {
      result = await sequence(
        region.sequencer(),
        ok.map((o) => o.message),
        { redelivered: ok.some((o) => isRedelivery(o.record)) },
      );
    } catch (error) {
      // HeadMovedError and store failures: the whole batch is redelivered and re-checked against the new head.
      for (const o of ok) options.observe?.(o.record, { ok: false, error });
      await retrySoonIfNotReady(region, event.Records, error);
      throw error;
    }
    for (const o of ok) options.observe?.(o.record, { ok: true, outcome: result });
    for (const r of result.rejected) telemetry.log.info('transaction rejected at sequencing', r);
    telemetry.metric('BlocksProposed', result.blocks.length);
    telemetry.metric(
      'TransactionsSequenced',
      result.blocks.reduce((n, b) => n + b.transactions, 0),
    );
    telemetry.metric('TransactionsRejected', result.rejected.length);
    telemetry.metric('TransactionsWaiting', result.waiting);
    telemetry.flush?.();
    return { batchItemFailures: failures };
  };
}

/** One validator's inbox: proposals and justification notices, in height order. */
function validatorHandler(provider: Provider<Region>, member: number, telemetry: Telemetry, options: HandlerOptions): SqsHandler {
  return async (event, context) => {
    const region = await provider();
    const deps = await region.validator(member);
    const { ok, failures } = decodeAll(region, event, ['proposal', 'justified', 'view', 'view-timer', 'pending'], telemetry, options);
    // Proposals in height order (a child after its parent), so one batch never waits on itself.
    ok.sort((a, b) => inboxHeight(a.message) - inboxHeight(b.message));
    const handle = async (message: InboxMessage, record: SQSRecord): Promise<ValidatorOutcome> => {
      // A redelivery may follow a crash mid fan-out, a rebroadcast a stall: the validator then re-sends its last vote.
      const repeat = isRedelivery(record) || (message.kind === 'proposal' && message.rebroadcast === true);
      const honest = (d = deps) => handleInbox(d, message, { repeat });
      let outcome: ValidatorOutcome;
      try {
        outcome = region.hooks.inbox ? await region.hooks.inbox({ member, deps, message, honest }) : await honest();
      } catch (error) {
        await retrySoonIfNotReady(region, [record], error);
        throw error;
      }
      if (outcome.kind === 'voted' && !outcome.repeat) telemetry.metric('VotesSigned', 1);
      if (outcome.kind === 'refused') {
        telemetry.metric('SignaturesRefused', 1);
        telemetry.log.warn('vote refused by slashing protection', { member, reason: outcome.reason });
      }
      if (outcome.kind === 'rejected') telemetry.log.warn('proposal rejected', { member, reason: outcome.reason });
      return outcome;
    };
    const response = await processRecords(event, context, ok, handle, options, true);
    telemetry.flush?.();
    return { batchItemFailures: [...failures, ...response.batchItemFailures] };
  };
}

/** A region's vote queue. Invalid votes are refused (logged, counted, deleted), never retried. */
function finalizerHandler(provider: Provider<Region>, telemetry: Telemetry, options: HandlerOptions): SqsHandler {
  return async (event, context) => {
    const region = await provider();
    const { ok, failures } = decodeAll(region, event, ['vote', 'view-change', 'view', 'certified'], telemetry, options);
    const handle = async (message: Extract<QueueMessage, { kind: 'vote' | 'view-change' | 'view' | 'certified' }>, record: SQSRecord) => {
      if (message.kind === 'certified') {
        const result = await handleCertified(region.finalizer(), message.certificate);
        if (result.kind === 'refused') telemetry.log.warn('synced certificate refused', { message: result.message });
        if (result.kind === 'imported')
          telemetry.log.info('caught up from a peer certificate', { justified: result.justified, finalized: result.finalized });
        return result;
      }
      if (message.kind === 'view') {
        const result = await handleViewNotice(region.finalizer(), message.certificate);
        if (result.kind === 'refused') {
          telemetry.metric('ViewChangesRefused', 1);
          telemetry.log.warn('view certificate refused', { view: message.certificate.view, message: result.message });
        }
        if (result.kind === 'entered') telemetry.log.info('view entered from a member', { view: result.view });
        return result;
      }
      if (message.kind === 'view-change') {
        const result = await handleViewChange(region.finalizer(), message.change, { repeat: isRedelivery(record) });
        if (result.kind === 'refused') {
          telemetry.metric('ViewChangesRefused', 1);
          telemetry.log.warn('view change refused', { member: message.change.member, reason: result.reason, message: result.message });
        }
        if (result.kind === 'counted' && result.certifiedNow) {
          telemetry.metric('ViewChanges', 1);
          telemetry.log.info('view certified', { view: message.change.view });
        }
        return result;
      }
      const { vote, ancestry, justification, resent } = message;
      const started = performance.now();
      const result = await handleVote(region.finalizer(), vote, {
        ancestry,
        repeat: isRedelivery(record) || resent === true,
        ...(justification ? { justification } : {}),
      });
      // Handler-side timing (the pipeline reads no clock): the whole vote when it produced a certificate.
      if (result.kind === 'counted' && result.certifiedNow) {
        telemetry.metric('Certificates', 1);
        telemetry.metric('CertificationMs', performance.now() - started, 'Milliseconds');
      }
      if (result.kind === 'refused') {
        telemetry.metric('VotesRefused', 1);
        telemetry.log.warn('vote refused', { member: vote.member, reason: result.reason, message: result.message });
        return result;
      }
      if (result.evidence > 0) telemetry.metric('Evidence', result.evidence);
      if (result.kind === 'uncounted') {
        telemetry.metric('VotesUncounted', 1);
        return result;
      }
      telemetry.metric(result.fresh ? 'VotesAccepted' : 'VotesDuplicate', 1);
      if (result.justified.length) telemetry.metric('Justified', result.justified.length);
      if (result.finalized.length) {
        telemetry.metric('Finalized', result.finalized.length);
        // A gauge from what the call just did (no read on the hot path): the finalized height it reached.
        telemetry.metric('FinalizedHeight', Math.max(...result.finalized));
      }
      return result;
    };
    const response = await processRecords(event, context, ok, handle, options, false);
    telemetry.flush?.();
    return { batchItemFailures: [...failures, ...response.batchItemFailures] };
  };
}

/**
 * A region's state function: any number of notices coalesce into one catch-up pass, which audits the
 * checkpoint heights it is about to apply against the peers' tallies (audit.ts auditRange) before
 * applying them; then the checkpoints the notices name are audited, unless the pass just did. A
 * failure of either fails the batch, so the notices come back and both run again (each is idempotent).
 */
function stateFunctionHandler(provider: Provider<Region>, telemetry: Telemetry, options: HandlerOptions): SqsHandler {
  return async (event) => {
    const region = await provider();
    const { ok, failures } = decodeAll(region, event, ['finalized'], telemetry, options);
    let result: Awaited<ReturnType<typeof applyFinalized>>;
    try {
      const auditor = region.auditor();
      const audited = new Set<number>();
      result = await applyFinalized({
        ...region.stateFunction(),
        ...(auditor ? { beforeApply: (from, to) => audit(auditor, auditRange(auditor, from, to), audited, telemetry) } : {}),
      });
      telemetry.metric('BlocksApplied', result.applied.length);
      if (result.applied.length) telemetry.metric('AppliedHeight', result.applied[result.applied.length - 1]!);
      if (auditor)
        await audit(
          auditor,
          auditHeights(
            auditor,
            ok.map((o) => o.message.height),
            result.to,
          ),
          audited,
          telemetry,
        );
    } catch (error) {
      for (const o of ok) options.observe?.(o.record, { ok: false, error });
      await retrySoonIfNotReady(region, event.Records, error);
      throw error;
    }
    for (const o of ok) options.observe?.(o.record, { ok: true, outcome: result });
    telemetry.flush?.();
    return { batchItemFailures: failures };
  };
}

/**
 * The cross-region evidence audit of `heights` (those of a pass, or those a batch of finality notices
 * names), leaving out the ones in `audited` (this invocation's earlier audits), which it extends.
 * Unreadable peers are logged and counted, not thrown (a region that is down must not send notices
 * to the DLQ); this region's own store failing throws.
 */
async function audit(deps: AuditDeps, heights: readonly number[], audited: Set<number>, telemetry: Telemetry): Promise<void> {
  const reports = await auditAll(
    deps,
    heights.filter((h) => !audited.has(h)),
  );
  for (const r of reports) audited.add(r.height);
  if (reports.length === 0) return;
  telemetry.metric('CheckpointsAudited', reports.length);
  const evidence = reports.flatMap((r) => r.evidence.map((e) => ({ height: r.height, member: e.member, kind: e.kind })));
  if (evidence.length > 0) {
    telemetry.metric('Evidence', evidence.length);
    telemetry.log.warn('evidence from the cross-region audit', { evidence: evidence.slice(0, 8) });
  }
  const failures = reports.flatMap((r) => r.peerFailures.map((f) => ({ height: r.height, ...f })));
  if (failures.length > 0) {
    telemetry.metric('AuditPeerFailures', failures.length);
    telemetry.log.warn('audit: peers not read', { failures: failures.slice(0, 8) });
  }
  const bad = reports.reduce((n, r) => n + r.badSignatures, 0);
  if (bad > 0) {
    telemetry.metric('AuditBadSignatures', bad);
    telemetry.log.warn('audit: peers served votes whose partial signature does not verify', { count: bad });
  }
}
