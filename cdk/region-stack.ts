/**
 * RegionStack: everything afg runs in one region. Stacks never reference each other: whatever lives
 * in another region (its proposal and vote queues, the home region's ingress queue, its API URL
 * parameter) is addressed by an ARN built from the shared naming scheme and this stack's account.
 */
import { Annotations, ArnFormat, CfnOutput, Duration, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { regionDependencies } from '../lib/aws/probes.js';
import { type ClusterConfig, followerRegions } from '../lib/config.js';
import { HEALTH_CHECK_EVENT, HEALTH_CHECK_METRICS } from '../lib/handlers/health-check.js';
import {
  apiUrlParameterName,
  FINALITY_LAG_METRIC,
  ITEM_KEYS,
  inboxQueue,
  keyShareSecretName,
  type Role,
  resourceNames,
  STATE_WRITER_ENV,
} from './config.js';
import { HttpEndpoint } from './constructs/http-endpoint.js';
import { KeyShares } from './constructs/key-shares.js';
import { ProtocolQueue } from './constructs/protocol-queue.js';
import { ProtocolTable } from './constructs/protocol-table.js';
import { RoleFunction } from './constructs/role-function.js';
import { StreamEndpoint } from './constructs/stream-endpoint.js';

/**
 * Per-role Lambda sizing and SQS event-source settings (fixed defaults). No event source has a batching
 * window: a vote, proposal, transaction or finality notice is handed to its function as soon as it arrives
 * (a window of w seconds adds up to w to every hop on the finality path; issue 13). Without a window SQS
 * hands at most 10 messages per invocation; the sequencer still packs large blocks from its durable pool.
 */
export const ROLE_SETTINGS: Readonly<Record<Role, { timeout: number; memorySize: number; batchSize?: number; maxConcurrency?: number }>> = {
  sequencer: { timeout: 30, memorySize: 512, batchSize: 10, maxConcurrency: 2 },
  // Each proposal costs a block execution and a BLS signature; low concurrency keeps one member's chain in order.
  validator: { timeout: 60, memorySize: 1024, batchSize: 10, maxConcurrency: 2 },
  // Votes are small; combining t partial signatures needs BLS, hence the memory (and CPU) bump.
  finalizer: { timeout: 30, memorySize: 1024, batchSize: 10, maxConcurrency: 5 },
  'state-function': { timeout: 60, memorySize: 512, batchSize: 10, maxConcurrency: 2 },
  // API Gateway waits at most 29 s for a REST API integration.
  api: { timeout: 15, memorySize: 512 },
  // One invocation per open finality stream: it ends a few seconds before this timeout and the client
  // resumes with Last-Event-ID. Lambda bills a stream whose client left until then, hence 5 minutes.
  stream: { timeout: 300, memorySize: 256 },
  // Follower regions only: one run at a time follows the peers' finality streams until shortly before this
  // timeout (a snapshot bootstrap of a large state needs the time); a schedule starts the next run.
  follower: { timeout: 900, memorySize: 1024 },
};

/** How often the follower function is started (a run already going makes the start a no-op: reserved concurrency 1). */
export const FOLLOWER_SCHEDULE_MINUTES = 1;

export interface RegionStackProps extends StackProps {
  /** The validated cluster config (parseClusterConfig). */
  readonly config: ClusterConfig;
  /** The region this stack deploys to; must be one of config.regions. */
  readonly region: string;
  /**
   * Protect data: table deletion protection, and RETAIN for tables, key shares, KMS key and logs.
   * Default true. Set false only for dev clusters that `cdk destroy` should remove completely.
   */
  readonly deletionProtection?: boolean;
  /** FinalityLag (blocks) above which the lag alarm fires. Default 3 x checkpointInterval. */
  readonly finalityLagThreshold?: number;
  /**
   * API URLs of the regions (as output by each stack's ApiUrl), given to this region's state function as
   * AFG_PEERS for catch-up, to a member region's API function for its scheduled finality sync, and to a
   * follower region's follower function as the regions it follows.
   * Known only after a first deploy, so a second deploy passes them.
   * Default: none (no catch-up from peers; a follower region then follows nobody, with a warning).
   * Keys must be config regions; values https URLs.
   */
  readonly peerApiUrls?: Readonly<Record<string, string>>;
  /** Name of an SNS topic (in this region and account) notified by every alarm. Default: alarms without actions. */
  readonly alarmTopicName?: string;
  /**
   * Finality streams (GET /v1/finality/stream) this region serves at once: the stream function's reserved
   * concurrency (see StreamEndpoint). Default 50.
   */
  readonly maxStreams?: number;
  /**
   * Requests one client address may send to this region's API within a minute before WAF answers it 429
   * (HttpEndpoint.requestsPerIpPerMinute). Default 1200.
   */
  readonly requestsPerIpPerMinute?: number;
}

export class RegionStack extends Stack {
  readonly tables: { readonly blocks: ProtocolTable; readonly finality: ProtocolTable; readonly state: ProtocolTable };
  readonly functions: ReadonlyMap<string, RoleFunction>;
  readonly endpoint: HttpEndpoint;
  readonly streamEndpoint: StreamEndpoint;
  /** True when the region hosts no member: a follower (no key share, no validator, no finalizer). */
  readonly follower: boolean;

  /**
   * @throws Error when region is not in config.regions, env.region disagrees with it, finalityLagThreshold is not a
   *   positive integer, or peerApiUrls names an unknown region or a non-https URL
   */
  constructor(scope: Construct, id: string, props: RegionStackProps) {
    const { config, region } = props;
    if (!config.regions.includes(region)) throw new Error(`RegionStack.region: ${region} is not one of config.regions`);
    if (props.env?.region !== undefined && props.env.region !== region) {
      throw new Error(`RegionStack.env.region: ${props.env.region} disagrees with region ${region}`);
    }
    /** Seconds finality may stand still while a proposed block waits before a minute counts as stalled. */
    const FINALITY_STALL_SECONDS = 60;
    const lagThreshold = props.finalityLagThreshold ?? 3 * config.checkpointInterval;
    if (!Number.isInteger(lagThreshold) || lagThreshold < 1) {
      throw new Error(`RegionStack.finalityLagThreshold: expected a positive integer, got ${lagThreshold}`);
    }
    for (const [r, url] of Object.entries(props.peerApiUrls ?? {})) {
      if (!config.regions.includes(r)) throw new Error(`RegionStack.peerApiUrls: ${r} is not one of config.regions`);
      if (!/^https:\/\/[^\s,]+$/.test(url))
        throw new Error(`RegionStack.peerApiUrls.${r}: expected an https URL without commas, got ${url}`);
    }
    super(scope, id, { ...props, env: { account: props.env?.account, region } });
    Tags.of(this).add('afg:cluster', config.prefix);

    const { prefix } = config;
    const names = resourceNames(prefix);
    const protect = props.deletionProtection ?? true;
    const alarmActions = props.alarmTopicName
      ? [
          new cwActions.SnsAction(
            sns.Topic.fromTopicArn(
              this,
              'AlarmTopic',
              this.formatArn({ service: 'sns', resource: props.alarmTopicName, arnFormat: ArnFormat.NO_RESOURCE_NAME }),
            ),
          ),
        ]
      : [];
    const functions = new Map<string, RoleFunction>();
    const baseEnv = { AFG_CONFIG: JSON.stringify(config) };
    const roleFunction = (id: string, role: Role, functionName: string, env: Record<string, string> = {}): RoleFunction => {
      const s = ROLE_SETTINGS[role];
      const f = new RoleFunction(this, id, {
        role,
        functionName,
        timeout: Duration.seconds(s.timeout),
        memorySize: s.memorySize,
        environment: { ...baseEnv, ...env },
        destroyLogs: !protect,
      });
      functions.set(functionName, f);
      return f;
    };
    const consumedQueue = (id: string, queueName: string, role: Role, consumer: RoleFunction): ProtocolQueue => {
      const s = ROLE_SETTINGS[role];
      const q = new ProtocolQueue(this, id, {
        queueName,
        consumerTimeout: consumer.timeout,
        maxBatchingWindow: Duration.seconds(0),
        alarmActions,
      });
      q.bindConsumer(consumer, { batchSize: s.batchSize ?? 10, maxConcurrency: s.maxConcurrency ?? 2 });
      return q;
    };

    const blocks = new ProtocolTable(this, 'Blocks', { tableName: names.blocksTable, deletionProtection: protect });
    const finality = new ProtocolTable(this, 'Finality', { tableName: names.finalityTable, deletionProtection: protect });
    const state = new ProtocolTable(this, 'State', { tableName: names.stateTable, deletionProtection: protect });
    this.tables = { blocks, finality, state };
    const followers = followerRegions(config);
    this.follower = followers.includes(region);
    // Every member region runs a sequencer (views: the one of the current view proposes, lib/core/views.ts).
    const memberRegions = config.regions.filter((r) => !followers.includes(r));
    const ingress = memberRegions.map((r) => ({ region: r, name: names.ingressQueue }));

    // Least privilege (docs/operations.md "Least privilege"): every role reads its region's tables, but
    // writes only the items it owns, named by partition key (ProtocolTable.grantWriteItems); only the state
    // function and a follower write state-tree nodes (STATE_WRITER_ENV), the other roles compute genesis in
    // memory. K names the item kinds.
    const K = ITEM_KEYS;
    const stateWriter = { [STATE_WRITER_ENV]: 'true' };

    // Sequencer and ingress (every member region; only the current view's proposes, the others forward
    // to it): orders transactions into blocks (a trial execution kept in memory) and sends each proposal
    // to every member's inbox, wherever the member runs. It paces on the region's finality head.
    if (!this.follower) {
      const sequencer = roleFunction('Sequencer', 'sequencer', `${prefix}-sequencer`);
      consumedQueue('Ingress', names.ingressQueue, 'sequencer', sequencer);
      for (const table of [blocks, finality, state]) table.grantRead(sequencer.fn);
      // A new view's head may stand on blocks this region's validator never stored: read from the others.
      for (const r of memberRegions) if (r !== region) ProtocolTable.grantReadByName(sequencer.fn, this, r, names.blocksTable);
      blocks.grantWriteItems(sequencer.fn, ['PutItem'], [K.blocks.block, K.blocks.sequencerHead, K.blocks.pacemaker]);
      // A view another region's finalizer told it of is recorded in this region's head (the view fields only,
      // by HeadStore.raiseHead's monotone update), so its later batches act in that view.
      finality.grantWriteItems(sequencer.fn, ['UpdateItem'], [K.finality.head]);
      // The pool: admits ingress transactions, records what became of each, sends waiting ones back, and
      // deletes entries that leave it (a rejected one by a conditional DeleteItem).
      blocks.grantWriteItems(
        sequencer.fn,
        ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'],
        [K.blocks.poolLane, K.blocks.txStatus],
      );
      ProtocolQueue.grantSendByName(
        sequencer.fn,
        this,
        config.members.map((m) => ({ region: m.region, name: inboxQueue(prefix, m.index) })),
      );
      // Its pacemaker, and forwarding to the active view's sequencer.
      ProtocolQueue.grantSendByName(sequencer.fn, this, ingress);
    }

    // Validators: one function and one inbox queue per member hosted here. A validator stores and executes
    // each proposal (in memory), guards its votes with its own watermark item, and votes to every region.
    // It may write that one finality item and block items; a co-located member's watermark is out of reach.
    const hosted = config.members.filter((m) => m.region === region);
    const inboxes: ProtocolQueue[] = [];
    if (this.follower) {
      Annotations.of(this).addInfo(
        `${region} hosts no member: deployed as a follower region (no key share, no validator, no finalizer); it learns ` +
          'finality from the peer APIs (peerApiUrls), checking every certificate with the group key',
      );
    } else if (hosted.length > 0) {
      const shares = new KeyShares(this, 'KeyShares', { prefix, memberIndexes: hosted.map((m) => m.index), retain: protect });
      for (const m of hosted) {
        const validator = roleFunction(`Validator${m.index}`, 'validator', `${prefix}-validator-m${m.index}`, {
          AFG_MEMBER: String(m.index),
          AFG_KEY_SECRET_ID: keyShareSecretName(prefix, m.index),
        });
        inboxes.push(consumedQueue(`Proposals${m.index}`, inboxQueue(prefix, m.index), 'validator', validator));
        for (const table of [blocks, finality, state]) table.grantRead(validator.fn);
        finality.grantWriteItems(validator.fn, ['PutItem'], [K.finality.watermark(m.index)]);
        blocks.grantWriteItems(validator.fn, ['PutItem'], [K.blocks.block]);
        // Proposals sent by reference are read from the proposing view's region's blocks table.
        for (const r of memberRegions) if (r !== region) ProtocolTable.grantReadByName(validator.fn, this, r, names.blocksTable);
        // Its view timer: a delayed message to its own inbox.
        ProtocolQueue.grantSendByName(validator.fn, this, [{ region, name: inboxQueue(prefix, m.index) }]);
        shares.grantRead(m.index, validator.fn);
        // Votes go to every region that hosts a member; follower regions have no vote queue.
        ProtocolQueue.grantSendByName(
          validator.fn,
          this,
          config.regions.filter((r) => !followers.includes(r)).map((r) => ({ region: r, name: names.voteQueue })),
        );
      }
    }

    // State function: advances the applied pointer over finalized blocks, writing their state-tree nodes
    // (and, at its first start, the genesis nodes) and the finalized-height index; stores blocks fetched
    // from peers; audits finalized checkpoints against the peers' votes.
    const peerUrls = Object.entries(props.peerApiUrls ?? {})
      .filter(([r]) => r !== region)
      .map(([, url]) => url);
    const stateFunction = roleFunction('StateFunction', 'state-function', `${prefix}-state-function`, {
      ...stateWriter,
      ...(peerUrls.length ? { AFG_PEERS: peerUrls.join(',') } : {}),
    });
    const finalized = consumedQueue('Finalized', names.finalizedQueue, 'state-function', stateFunction);
    for (const table of [blocks, finality, state]) table.grantRead(stateFunction.fn);
    state.grantWriteItems(stateFunction.fn, ['BatchWriteItem'], [K.state.node]);
    state.grantWriteItems(stateFunction.fn, ['PutItem'], [K.state.applied]);
    blocks.grantWriteItems(stateFunction.fn, ['PutItem'], [K.blocks.block]);
    blocks.grantWriteItems(stateFunction.fn, ['BatchWriteItem'], [K.blocks.finalizedIndex]);
    // Where members are hosted, each finality notice also runs the cross-region evidence audit
    // (lib/pipeline/audit.ts), which stores the evidence it finds.
    if (hosted.length > 0) finality.grantWriteItems(stateFunction.fn, ['PutItem'], [K.finality.evidence]);
    // A member region's pool holds backup copies of accepted transactions (lib/pipeline/admission.ts): the state
    // function settles the ones it holds as it applies their blocks (included entries and statuses in batches,
    // the lane counter by UpdateItem).
    if (hosted.length > 0)
      blocks.grantWriteItems(stateFunction.fn, ['UpdateItem', 'BatchWriteItem'], [K.blocks.poolLane, K.blocks.txStatus]);

    // Finalizer: tallies votes into certificates; notifies local validators (justified), the state function
    // (finalized) and, in the active view's region, the sequencer (tick). Reads the block tip for FinalityLag.
    // A follower region gets no votes: its follower function records certificates it verified instead.
    if (this.follower) {
      // A function started every FOLLOWER_SCHEDULE_MINUTES bootstraps from a snapshot when needed and follows
      // the peers' finality streams (lib/handlers/follower.ts) until shortly before its timeout. Reserved
      // concurrency 1 keeps one run at a time; a start that finds one running is dropped (no retries, events
      // older than a minute discarded). It writes finality records, state nodes and the applied pointer, and
      // notifies the region's state function.
      if (peerUrls.length === 0)
        Annotations.of(this).addWarningV2(
          'afg:follower-without-peers',
          `${region} is a follower region but has no peerApiUrls: it follows nobody until a deploy passes them`,
        );
      const follower = roleFunction('Follower', 'follower', `${prefix}-follower`, {
        ...stateWriter,
        ...(peerUrls.length ? { AFG_PEERS: peerUrls.join(',') } : {}),
      });
      (follower.fn.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = 1;
      follower.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
      new events.Rule(this, 'FollowerSchedule', {
        description: `starts the ${prefix} follower run in ${region} (a run already going makes it a no-op)`,
        schedule: events.Schedule.rate(Duration.minutes(FOLLOWER_SCHEDULE_MINUTES)),
        targets: [new eventTargets.LambdaFunction(follower.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
      });
      // It records verified certificates as the finalizer would (tallies and head, never a watermark), and
      // writes the snapshot's nodes, the applied pointer and blocks.
      for (const table of [blocks, finality, state]) table.grantRead(follower.fn);
      finality.grantWriteItems(follower.fn, ['UpdateItem'], [K.finality.tally, K.finality.head]);
      state.grantWriteItems(follower.fn, ['BatchWriteItem'], [K.state.node]);
      state.grantWriteItems(follower.fn, ['PutItem'], [K.state.applied]);
      blocks.grantWriteItems(follower.fn, ['PutItem'], [K.blocks.block]);
      finalized.grantSend(follower.fn);
    } else {
      const finalizer = roleFunction('Finalizer', 'finalizer', `${prefix}-finalizer`);
      consumedQueue('Votes', names.voteQueue, 'finalizer', finalizer);
      // Tallies, certificates, justification and the head are updates; evidence is put. Never a watermark.
      for (const table of [blocks, finality, state]) table.grantRead(finalizer.fn);
      finality.grantWriteItems(finalizer.fn, ['UpdateItem'], [K.finality.tally, K.finality.stats, K.finality.head, K.finality.view]);
      finality.grantWriteItems(finalizer.fn, ['PutItem'], [K.finality.evidence]);
      finalized.grantSend(finalizer.fn);
      for (const inbox of inboxes) inbox.grantSend(finalizer.fn);
      // Ticks to the active view's sequencer, and a new view's certificate to its sequencer.
      ProtocolQueue.grantSendByName(finalizer.fn, this, ingress);
    }

    // Finality stream: the same API, read-only, behind a function URL that streams (functions/stream.ts refuses
    // POST /v1/transactions, so the function URL is no way around the API's rate limits for writes).
    const stream = roleFunction('Stream', 'stream', `${prefix}-stream`);
    this.streamEndpoint = new StreamEndpoint(this, 'StreamEndpoint', { handler: stream.fn, maxStreams: props.maxStreams });

    // Query API: reads the region's tables; POST /v1/transactions admits into the pool of the current view's
    // sequencer region (the home region in view 0) and wakes its ingress.
    // GET /v1/finality/stream is redirected to the stream function's URL (API Gateway buffers responses).
    // In a member region its scheduled health check also runs the finality sync (lib/pipeline/finality-sync.ts):
    // it reads the peers' finalized heads (AFG_PEERS) and hands a higher certificate to its own vote queue.
    const api = roleFunction('Api', 'api', `${prefix}-api`, {
      AFG_STREAM_URL: this.streamEndpoint.url,
      ...(peerUrls.length && !this.follower ? { AFG_PEERS: peerUrls.join(',') } : {}),
    });
    for (const reader of [api, stream]) for (const table of [blocks, finality, state]) table.grantRead(reader.fn);
    ProtocolQueue.grantSendByName(api.fn, this, ingress);
    if (!this.follower) ProtocolQueue.grantSendByName(api.fn, this, [{ region, name: names.voteQueue }]);
    // When the active view's pool cannot be written, the API tells every member work is waiting (app.ts notifyStalledView).
    ProtocolQueue.grantSendByName(
      api.fn,
      this,
      config.members.map((m) => ({ region: m.region, name: inboxQueue(prefix, m.index) })),
    );
    // The transaction pool lives in the active view's region's blocks table (lib/aws/pool-store.ts), any member
    // region: every region's API admits there (lane entries and counters, statuses) and the stream function
    // reads statuses from it.
    const poolKeys = [K.blocks.poolLane, K.blocks.txStatus];
    for (const r of memberRegions) {
      ProtocolTable.grantWriteItemsByName(api.fn, this, r, names.blocksTable, ['PutItem', 'UpdateItem'], poolKeys);
      if (r !== region) for (const reader of [api, stream]) ProtocolTable.grantReadByName(reader.fn, this, r, names.blocksTable);
    }
    // GET /v1/health checks each queue the region needs (GetQueueAttributes); the table checks are GetItem reads.
    ProtocolQueue.grantProbeByName(
      api.fn,
      this,
      regionDependencies(config, region)
        .filter((d) => d.kind === 'queue')
        .map((d) => ({ region: d.region, name: d.resource })),
    );

    // The public API: a REST API behind a WAF web ACL that limits each client address (HttpEndpoint).
    this.endpoint = new HttpEndpoint(this, 'Http', {
      apiName: `${prefix}-api`,
      handler: api.fn,
      destroyLogs: !protect,
      ...(props.requestsPerIpPerMinute === undefined ? {} : { requestsPerIpPerMinute: props.requestsPerIpPerMinute }),
    });
    new ssm.StringParameter(this, 'ApiUrlParameter', {
      parameterName: apiUrlParameterName(prefix),
      stringValue: this.endpoint.url,
      description: `URL of the ${prefix} API in ${region}; peers' state functions and API functions (finality sync) take it as AFG_PEERS (context peerApiUrls)`,
    });
    new CfnOutput(this, 'ApiUrl', { value: this.endpoint.url, description: `afg API in ${region} (REST API stage behind WAF)` });
    new CfnOutput(this, 'StreamUrl', {
      value: this.streamEndpoint.url,
      description: `afg API in ${region} behind a streaming function URL: GET <url>v1/finality/stream`,
    });

    // Finality lag, emitted by the finalizer (Powertools EMF) each time something finalizes, so a
    // total stall (fewer than t validators alive) emits nothing and the lag alone stays silent; head
    // minus finalized cannot even exceed 3K then (pacing). The heartbeat FinalityStalledSeconds, sent
    // by the API's health check every minute (lib/handlers/health-check.ts), says how long finality
    // has not moved while a proposed block waits for it (0 when idle), so the alarm breaches on either.
    const lagMetric = new cloudwatch.Metric({
      namespace: FINALITY_LAG_METRIC.namespace,
      metricName: FINALITY_LAG_METRIC.metricName,
      dimensionsMap: { service: FINALITY_LAG_METRIC.service, region },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    const stalledMetric = new cloudwatch.Metric({
      namespace: HEALTH_CHECK_METRICS.namespace,
      metricName: HEALTH_CHECK_METRICS.stalled,
      dimensionsMap: { service: HEALTH_CHECK_METRICS.service, region },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    const lagAlarm = new cloudwatch.Alarm(this, 'FinalityLagAlarm', {
      alarmName: `${prefix}-finality-lag-${region}`,
      alarmDescription:
        `Finality lagging or stalled in ${region} for 5 minutes: head minus finalized above ${lagThreshold} blocks, or finality ` +
        `not moving for ${FINALITY_STALL_SECONDS} s or more while a proposed block waits (FinalityStalledSeconds, from the health check)`,
      metric: new cloudwatch.MathExpression({
        expression: `IF(FILL(lag, 0) > ${lagThreshold} OR FILL(stalled, 0) >= ${FINALITY_STALL_SECONDS}, 1, 0)`,
        usingMetrics: { lag: lagMetric, stalled: stalledMetric },
        period: Duration.minutes(1),
        label: 'finality lagging or stalled (1) or not (0)',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 5,
      // No data at all means the health check is not running: the health alarm below covers that.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const action of alarmActions) lagAlarm.addAlarmAction(action);

    // The API function checks its own region every minute (lib/handlers/health-check.ts): the same
    // checks as GET /v1/health (tables, queues, its ingress, finality lag). The alarm covers an
    // unreachable table or queue, a lag beyond AFG_MAX_LAG_BLOCKS, and finality that stopped completely
    // (which FinalityLag, emitted only when something finalizes, cannot see). Missing data breaches:
    // if the check does not run at all, the API function itself is failing.
    new events.Rule(this, 'HealthCheckSchedule', {
      description: `Runs the ${prefix} API health check in ${region} every minute`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [
        new eventTargets.LambdaFunction(api.fn, { event: events.RuleTargetInput.fromObject(HEALTH_CHECK_EVENT), retryAttempts: 0 }),
      ],
    });
    const healthAlarm = new cloudwatch.Alarm(this, 'HealthAlarm', {
      alarmName: `${prefix}-health-${region}`,
      alarmDescription:
        `The ${region} API's health check answered degraded or down for 3 minutes (a table or queue unreachable or throttled, ` +
        'or finality lagging), or did not run. The API function logs name the failing checks ("health check failed").',
      metric: new cloudwatch.Metric({
        namespace: HEALTH_CHECK_METRICS.namespace,
        metricName: HEALTH_CHECK_METRICS.failed,
        dimensionsMap: { service: HEALTH_CHECK_METRICS.service, region },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    for (const action of alarmActions) healthAlarm.addAlarmAction(action);

    // Throttling of a table beyond what the SDK's retries absorb shows up here first (on-demand tables
    // throttle past their partition or account limits); the roles then fail batches and back off.
    for (const [name, table] of Object.entries(this.tables)) {
      const throttled = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/DynamoDB',
          metricName,
          dimensionsMap: { TableName: table.table.tableName },
          statistic: 'Sum',
          period: Duration.minutes(1),
        });
      const alarm = new cloudwatch.Alarm(this, `${name[0]!.toUpperCase()}${name.slice(1)}ThrottleAlarm`, {
        alarmName: `${prefix}-${name}-throttled-${region}`,
        alarmDescription: `Requests to the ${name} table in ${region} were throttled in 5 consecutive minutes`,
        metric: new cloudwatch.MathExpression({
          expression: 'FILL(r, 0) + FILL(w, 0)',
          usingMetrics: { r: throttled('ReadThrottleEvents'), w: throttled('WriteThrottleEvents') },
          label: `${name} throttle events`,
          period: Duration.minutes(1),
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      for (const action of alarmActions) alarm.addAlarmAction(action);
    }
    this.functions = functions;
  }
}
