/**
 * SQS batch handlers for the four queue-driven roles, as factories so the same code runs in a
 * Lambda container (functions/) and in the local cluster (several regions in one process).
 * Each reports partial batch failures: a record that cannot be decoded, or that must wait, is
 * returned in batchItemFailures and redelivered (poison ends in the DLQ after maxReceiveCount);
 * the rest of the batch is deleted.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { InputError } from '../core/errors.js';
import { applyFinalized } from '../pipeline/applier.js';
import { handleVote } from '../pipeline/finalizer.js';
import { decodeMessage, type MessageKind, type QueueMessage } from '../pipeline/messages.js';
import { sequence } from '../pipeline/sequencer.js';
import { handleInbox } from '../pipeline/validator.js';
import type { RegionRuntime } from '../runtime.js';
import type { Telemetry } from './telemetry.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
type Provider<T> = () => Promise<T>;

/** Decodes every record; undecodable ones are reported as poison and become batch item failures. */
function decodeAll<K extends MessageKind>(event: SQSEvent, kinds: readonly K[], telemetry: Telemetry) {
  const ok: { record: SQSRecord; message: Extract<QueueMessage, { kind: K }> }[] = [];
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    try {
      ok.push({ record, message: decodeMessage(record.body, kinds) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      telemetry.metric('PoisonMessages', 1);
      telemetry.log.warn('refused a malformed message', {
        messageId: record.messageId,
        reason: e.message,
        receiveCount: record.attributes?.ApproximateReceiveCount,
      });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { ok, failures };
}

/** Per-record processing with Powertools' BatchProcessor (records run concurrently; every role step is idempotent). */
function perRecord<K extends MessageKind>(
  kinds: readonly K[],
  telemetry: Telemetry,
  handle: (m: Extract<QueueMessage, { kind: K }>, record: SQSRecord) => Promise<void>,
  options: { sequential?: boolean; order?: (records: SQSRecord[]) => SQSRecord[] } = {},
): SqsHandler {
  return async (event, context) => {
    // One processor per invocation: BatchProcessor keeps per-batch state, and the local runner's
    // pollers invoke one handler concurrently (Lambda never does within a container).
    const processor = new BatchProcessor(EventType.SQS);
    const ordered = options.order ? { ...event, Records: options.order([...event.Records]) } : event;
    const response = await processPartialResponse(
      ordered,
      async (record: SQSRecord) => {
        let message: Extract<QueueMessage, { kind: K }>;
        try {
          message = decodeMessage(record.body, kinds);
        } catch (e) {
          telemetry.metric('PoisonMessages', 1);
          telemetry.log.warn('refused a malformed message', { messageId: record.messageId, reason: (e as Error).message });
          throw e;
        }
        await handle(message, record);
      },
      processor,
      { context, throwOnFullBatchFailure: false, processInParallel: !options.sequential },
    );
    telemetry.flush?.();
    return response;
  };
}

/** Home region: the whole batch becomes blocks in one pass (a batch is the sequencer's flush unit). */
export function sequencerHandler(runtime: Provider<RegionRuntime>, telemetry: Telemetry): SqsHandler {
  return async (event) => {
    const rt = await runtime();
    const { ok, failures } = decodeAll(event, ['tx', 'tick'], telemetry);
    // HeadMovedError propagates: the whole batch is redelivered and re-checked against the new head.
    const result = await sequence(
      rt.sequencer(),
      ok.map((o) => o.message),
    );
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

/** One validator's inbox: proposals and justification notices. NotReadyError fails just that record. */
export function validatorHandler(
  runtime: Provider<RegionRuntime>,
  key: Provider<{ member: number; secretKey: Uint8Array }>,
  telemetry: Telemetry,
): SqsHandler {
  return perRecord(
    ['proposal', 'justified'],
    telemetry,
    async (message, record) => {
      const [rt, { member, secretKey }] = await Promise.all([runtime(), key()]);
      const redelivered = Number(record.attributes?.ApproximateReceiveCount ?? 1) > 1;
      const outcome = await handleInbox(rt.validator(member, secretKey), message, { resendIdentical: redelivered });
      if (outcome.kind === 'voted' && !outcome.repeat) telemetry.metric('VotesSigned', 1);
      if (outcome.kind === 'refused') {
        telemetry.metric('SignaturesRefused', 1);
        telemetry.log.warn('vote refused by slashing protection', { member, reason: outcome.reason });
      }
      if (outcome.kind === 'rejected') telemetry.log.warn('proposal rejected', { member, reason: outcome.reason });
    },
    { sequential: true, order: byHeight },
  );
}

/** Proposals in height order (a child after its parent), so one batch never waits on itself. */
function byHeight(records: SQSRecord[]): SQSRecord[] {
  const height = (r: SQSRecord) => Number(/"height":(\d+)/.exec(r.body)?.[1] ?? Number.MAX_SAFE_INTEGER);
  return records.sort((a, b) => height(a) - height(b));
}

/** A region's vote queue. Invalid votes are refused (logged, counted, deleted), never retried. */
export function finalizerHandler(runtime: Provider<RegionRuntime>, telemetry: Telemetry): SqsHandler {
  return perRecord(['vote'], telemetry, async ({ vote, justification }, record) => {
    const rt = await runtime();
    const started = performance.now();
    const redelivered = Number(record.attributes?.ApproximateReceiveCount ?? 1) > 1;
    const result = await handleVote(rt.finalizer(), vote, { redelivered, ...(justification ? { justification } : {}) });
    // Handler-side timing (the pipeline reads no clock): the whole vote when it produced a certificate.
    if (result.kind === 'counted' && result.certifiedNow) {
      telemetry.metric('Certificates', 1);
      telemetry.metric('CertificationMs', performance.now() - started, 'Milliseconds');
    }
    if (result.kind === 'refused') {
      telemetry.metric('VotesRefused', 1);
      telemetry.log.warn('vote refused', { member: vote.member, reason: result.reason, message: result.message });
      return;
    }
    telemetry.metric(result.duplicate ? 'VotesDuplicate' : 'VotesAccepted', 1);
    if (result.evidence > 0) telemetry.metric('Evidence', result.evidence);
    if (result.justified.length) telemetry.metric('Justified', result.justified.length);
    if (result.finalized.length) {
      telemetry.metric('Finalized', result.finalized.length);
      const head = await rt.finality.head();
      const tip = await rt.blocks.tip();
      telemetry.metric('FinalityLag', Math.max(0, (tip?.height ?? 0) - head.finalized.height));
    }
  });
}

/** A region's state function: any number of notices coalesce into one catch-up pass. */
export function applierHandler(runtime: Provider<RegionRuntime>, telemetry: Telemetry): SqsHandler {
  return async (event) => {
    const rt = await runtime();
    const { failures } = decodeAll(event, ['finalized'], telemetry);
    const result = await applyFinalized(rt.applier());
    telemetry.metric('BlocksApplied', result.applied.length);
    if (result.applied.length) telemetry.metric('AppliedHeight', result.applied[result.applied.length - 1]!);
    telemetry.flush?.();
    return { batchItemFailures: failures };
  };
}
