/**
 * ProtocolQueue: one protocol SQS queue with its dead-letter queue and an alarm on the DLQ depth.
 * Fixed defaults: SQS-managed encryption, TLS-only access, 4-day retention (14 days on the DLQ),
 * visibility timeout derived from the consumer's timeout so a message is never redelivered while
 * a slow invocation still holds it.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { dlqName } from '../config.js';

/** AWS guidance: visibility timeout at least 6x the consumer's timeout (plus the batching window). */
export const VISIBILITY_FACTOR = 6;
/** Lowest redrive count we accept: fewer lets a transient throttle push a good message to the DLQ. */
export const MIN_RECEIVE_COUNT = 5;

const QUEUE_NAME_RE = /^[A-Za-z0-9_-]{1,76}$/; // 80 minus the '-dlq' suffix

export interface ProtocolQueueProps {
  /** Queue name; the DLQ is `dlqName(queueName)`. Letters, digits, '-', '_', at most 76 characters. */
  readonly queueName: string;
  /** Timeout of the function that consumes the queue (1 s .. 15 min). */
  readonly consumerTimeout: Duration;
  /** Batching window of the consumer's event source (0 .. 300 s). Default: none. */
  readonly maxBatchingWindow?: Duration;
  /** Receives before a message moves to the DLQ, in [5, 1000]. Default 5. */
  readonly maxReceiveCount?: number;
  /** Actions for the DLQ-depth alarm (e.g. an SNS topic). Default: none. */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
}

/** Event-source settings of a consumer; the batching window comes from the queue's props. */
export interface ConsumerOptions {
  /** Messages per invocation (1 .. 10, or up to 10 000 with a batching window). */
  readonly batchSize: number;
  /** Concurrent invocations the event source may start, in [2, 1000]. */
  readonly maxConcurrency: number;
}

/** A consumer function, with the timeout it was created with. */
export interface QueueConsumer {
  readonly fn: lambda.IFunction;
  readonly timeout: Duration;
}

export class ProtocolQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly dlqAlarm: cloudwatch.Alarm;
  private readonly consumerTimeout: Duration;
  private readonly maxBatchingWindow: Duration | undefined;

  /**
   * @throws Error naming the prop when queueName, consumerTimeout, maxBatchingWindow or maxReceiveCount is out of range
   */
  constructor(scope: Construct, id: string, props: ProtocolQueueProps) {
    super(scope, id);
    if (!QUEUE_NAME_RE.test(props.queueName)) {
      throw new Error(`ProtocolQueue.queueName: expected 1-76 characters of [A-Za-z0-9_-], got ${JSON.stringify(props.queueName)}`);
    }
    const timeout = props.consumerTimeout.toSeconds();
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > 900) {
      throw new Error(`ProtocolQueue.consumerTimeout: expected whole seconds in [1, 900], got ${timeout}`);
    }
    const window = props.maxBatchingWindow?.toSeconds() ?? 0;
    if (!Number.isInteger(window) || window < 0 || window > 300) {
      throw new Error(`ProtocolQueue.maxBatchingWindow: expected whole seconds in [0, 300], got ${window}`);
    }
    const maxReceiveCount = props.maxReceiveCount ?? MIN_RECEIVE_COUNT;
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < MIN_RECEIVE_COUNT || maxReceiveCount > 1000) {
      throw new Error(`ProtocolQueue.maxReceiveCount: expected an integer in [${MIN_RECEIVE_COUNT}, 1000], got ${maxReceiveCount}`);
    }
    this.consumerTimeout = props.consumerTimeout;
    this.maxBatchingWindow = props.maxBatchingWindow;

    this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
      queueName: dlqName(props.queueName),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      visibilityTimeout: Duration.seconds(VISIBILITY_FACTOR * timeout + window),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
    // A message in a DLQ is a block, vote or transaction the pipeline gave up on: page on the first one.
    this.dlqAlarm = new cloudwatch.Alarm(this, 'DlqDepth', {
      alarmName: `${dlqName(props.queueName)}-depth`,
      alarmDescription: `Messages in ${dlqName(props.queueName)}: the consumer of ${props.queueName} failed ${maxReceiveCount} times`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.alarmActions ?? []) this.dlqAlarm.addAlarmAction(action);
  }

  /**
   * Makes `consumer` the queue's Lambda consumer: an SQS event source reporting partial batch
   * failures, with the queue's batching window. Grants the consume permissions.
   * @throws Error when the consumer's timeout exceeds the timeout the queue was sized for, or options are out of range
   */
  bindConsumer(consumer: QueueConsumer, options: ConsumerOptions): void {
    if (consumer.timeout.toSeconds() > this.consumerTimeout.toSeconds()) {
      throw new Error(
        `ProtocolQueue.bindConsumer: consumer timeout ${consumer.timeout.toSeconds()} s exceeds consumerTimeout ` +
          `${this.consumerTimeout.toSeconds()} s the visibility timeout was sized for`,
      );
    }
    if (!Number.isInteger(options.maxConcurrency) || options.maxConcurrency < 2 || options.maxConcurrency > 1000) {
      throw new Error(`ProtocolQueue.bindConsumer: maxConcurrency expected an integer in [2, 1000], got ${options.maxConcurrency}`);
    }
    const maxBatch = this.maxBatchingWindow && this.maxBatchingWindow.toSeconds() > 0 ? 10_000 : 10;
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > maxBatch) {
      throw new Error(`ProtocolQueue.bindConsumer: batchSize expected an integer in [1, ${maxBatch}], got ${options.batchSize}`);
    }
    consumer.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: options.batchSize,
        maxBatchingWindow: this.maxBatchingWindow,
        maxConcurrency: options.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }

  /** Lets `grantee` send to this queue (same region). */
  grantSend(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
  }

  /**
   * ARN of the queue `name` in `region` of this stack's account, built from the name alone so no
   * cross-region reference is needed. Example result: `arn:aws:sqs:eu-west-1:123456789012:afg-votes`.
   */
  static arnFor(scope: Construct, region: string, name: string): string {
    return Stack.of(scope).formatArn({ service: 'sqs', region, resource: name, arnFormat: ArnFormat.NO_RESOURCE_NAME });
  }

  /**
   * Lets `grantee` look up (sqs:GetQueueUrl) and send to (sqs:SendMessage, which also covers
   * SendMessageBatch) the named queues, possibly in other regions. Resources are exact ARNs; no wildcard.
   */
  static grantSendByName(grantee: iam.IGrantable, scope: Construct, targets: readonly { region: string; name: string }[]): iam.Grant {
    if (targets.length === 0) throw new Error('ProtocolQueue.grantSendByName: expected at least one target queue');
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['sqs:GetQueueUrl', 'sqs:SendMessage'],
      resourceArns: targets.map((t) => ProtocolQueue.arnFor(scope, t.region, t.name)),
    });
  }

  /**
   * Lets `grantee` look up (sqs:GetQueueUrl) and read the attributes of (sqs:GetQueueAttributes) the
   * named queues, possibly in other regions: what the health checks of lib/aws/probes.ts need.
   * Resources are exact ARNs; no wildcard.
   */
  static grantProbeByName(grantee: iam.IGrantable, scope: Construct, targets: readonly { region: string; name: string }[]): iam.Grant {
    if (targets.length === 0) throw new Error('ProtocolQueue.grantProbeByName: expected at least one target queue');
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
      resourceArns: targets.map((t) => ProtocolQueue.arnFor(scope, t.region, t.name)),
    });
  }
}
