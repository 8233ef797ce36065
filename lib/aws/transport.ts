/**
 * Transport over SQS: a Destination names a queue (by the config's naming scheme) in a region; the
 * ingress queue lives in the home region. Bodies are encodeMessage JSON, sent with SendMessageBatch;
 * entries SQS refuses are retried (sendBatch), and whatever is still not accepted is reported by a
 * TransportError naming each failed message, so nothing is dropped silently.
 */
import { inboxQueue, resourceNames } from '../config.js';
import { AfgError } from '../core/errors.js';
import type { TxJsonCodec } from '../core/wire.js';
import { encodeMessage, type QueueMessage } from '../pipeline/messages.js';
import type { Destination, SendOptions, Transport } from '../pipeline/ports.js';
import type { ClientFactory } from './clients.js';
import { resolveQueueUrl, SendBatchError, type SendBatchOptions, sendBatch } from './queues.js';

/** Messages of one send() that SQS did not accept. `failed[i].index` is the message's index in the call. */
export class TransportError extends AfgError<
  'TRANSPORT_SEND_FAILED',
  {
    destination: Destination;
    queue: string;
    region: string;
    failed: { index: number; kind: QueueMessage['kind']; code: string; message: string }[];
  }
> {}

export interface SqsTransportOptions {
  readonly aws: ClientFactory;
  /** Cluster prefix of every queue name (config.prefix). */
  readonly prefix: string;
  /** Region of the ingress queue (config.homeRegion). */
  readonly homeRegion: string;
  /** The application's transaction JSON codec (transactions travel in their wire form). */
  readonly codec: TxJsonCodec<unknown>;
  /** Per-entry retry of refused entries (sendBatch defaults: 4 attempts, 50 ms doubling backoff). */
  readonly send?: SendBatchOptions;
}

/** The queue name and region a destination maps to. */
export function queueOf(prefix: string, homeRegion: string, to: Destination): { region: string; queue: string } {
  const names = resourceNames(prefix);
  switch (to.queue) {
    case 'ingress':
      return { region: to.region ?? homeRegion, queue: names.ingressQueue };
    case 'inbox':
      return { region: to.region, queue: inboxQueue(prefix, to.member) };
    case 'votes':
      return { region: to.region, queue: names.voteQueue };
    case 'finalized':
      return { region: to.region, queue: names.finalizedQueue };
  }
}

export class SqsTransport implements Transport {
  constructor(private readonly opts: SqsTransportOptions) {}

  /**
   * Sends every message to the destination queue.
   * @throws TransportError naming each message SQS did not accept after retries (the cause is the SendBatchError);
   *   InputError for an oversized body; the SDK's QueueDoesNotExist when the queue is missing.
   */
  async send(to: Destination, messages: readonly QueueMessage[], options: SendOptions = {}): Promise<void> {
    if (messages.length === 0) return;
    const { region, queue } = queueOf(this.opts.prefix, this.opts.homeRegion, to);
    const sqs = this.opts.aws.sqs(region);
    const url = await resolveQueueUrl(sqs, queue);
    try {
      await sendBatch(
        sqs,
        url,
        messages.map((m) => encodeMessage(m, this.opts.codec)),
        { ...this.opts.send, ...(options.delaySeconds ? { delaySeconds: options.delaySeconds } : {}) },
      );
    } catch (e) {
      if (!(e instanceof SendBatchError)) throw e;
      const failed = e.meta.failed.map((f) => ({ index: f.index, kind: messages[f.index]!.kind, code: f.code, message: f.message }));
      const list = failed.map((f) => `#${f.index} ${f.kind}: ${f.code}`).join(', ');
      throw new TransportError(
        'TRANSPORT_SEND_FAILED',
        `${failed.length} of ${messages.length} message(s) to ${queue} in ${region} not accepted (${list})`,
        { destination: to, queue, region, failed },
        { cause: e },
      );
    }
  }
}
