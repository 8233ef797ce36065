/**
 * The local multi-region cluster: every region's roles run in this process on the same handlers
 * as on AWS, fed by local SQS event sources, against real DynamoDB Local and an SQS emulator (or
 * any endpoints given, e.g. LocalStack). Each region serves its HTTP API on 127.0.0.1.
 *
 * The embedded services are supervised (services.ts): while one restarts the event sources wait,
 * and `failure` resolves if one cannot be kept running, for the owner (main.ts) to stop. Each
 * region's /v1/health checks its tables and queues (lib/aws/probes.ts, through clients that do not
 * retry), and every API route answers 503 for an unreachable store or queue (dependencyFailure).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Api, createApi } from '../api/app.js';
import { type ApiServer, startApiServer } from '../api/node-server.js';
import { type AwsEndpoints, type ClientFactory, createClientFactory } from '../aws/clients.js';
import { dependencyFailure } from '../aws/errors.js';
import { regionProbes } from '../aws/probes.js';
import { ensureQueue, queueDepths, resolveQueueUrl } from '../aws/queues.js';
import { apiPools, createAwsRegion } from '../aws/region-stores.js';
import { ensureTables } from '../aws/tables.js';
import {
  type ClusterConfig,
  dlqName,
  followerRegions,
  inboxQueue,
  type PoolSettings,
  parseClusterConfig,
  poolSettings,
  regionConfig,
  resourceNames,
} from '../config.js';
import { toHex } from '../core/bytes.js';
import { LOCAL_CHAIN_ID } from '../core/chain.js';
import { ConfigError } from '../core/errors.js';
import { defaultThreshold } from '../core/ffg.js';
import { dashboardHtml } from '../dashboard/index.js';
import { DEFAULT_FINALITY_SYNC_SECONDS, runFinalitySync } from '../handlers/finality-sync.js';
import { type FollowerEvent, follow } from '../handlers/follower.js';
import type { SqsHandler } from '../handlers/sqs.js';
import { CounterTelemetry, type Log } from '../handlers/telemetry.js';
import { HttpPeer } from '../pipeline/peers.js';
import type { Region, RegionQueue } from '../pipeline/region.js';
import { SqsEventSource } from './event-source.js';
import { loadOrDealKeys } from './keys.js';
import { Reachability } from './reachability.js';
import { type EmbeddedServices, type ServiceStartError, type ServiceStatus, startEmbeddedServices } from './services.js';

export interface LocalClusterOptions {
  readonly regions: readonly string[];
  /**
   * Follower regions: no key share, no validator; each bootstraps from a snapshot of the other
   * regions and follows their finality streams (lib/handlers/follower.ts). They come after
   * `regions` in port order. Default none.
   */
  readonly followers?: readonly string[];
  /** Total validators, placed round-robin over the regions. */
  readonly validators: number;
  /** Default n - f (lib/core/ffg.ts defaultThreshold). */
  readonly threshold?: number;
  readonly checkpointInterval: number;
  readonly dataDir: string;
  /** Delete the data folder first. */
  readonly fresh?: boolean;
  /** Port of the first region's API; the others follow. 0 = any free port. */
  readonly basePort: number;
  /** Use these endpoints (e.g. LocalStack) instead of starting the embedded services. */
  readonly endpoints?: AwsEndpoints;
  readonly maxBlockTransactions?: number;
  /** Funded genesis accounts beyond the ten dev accounts (lib/core/accounts.ts); part of the chain (default 0). */
  readonly accounts?: number;
  /** The transaction pool's limits and lanes (default: lib/config.ts poolSettings). */
  readonly pool?: Partial<PoolSettings>;
  /** Sequencer batching window: how long a partial block may wait for more transactions. */
  readonly batchingWindowMs?: number;
  readonly log?: Log;
  /** Supervision notes of the embedded services (exited, back, restart failed). Default: `log.warn`. */
  readonly onServiceNote?: (message: string) => void;
  /** Finality lag (blocks) beyond which /v1/health answers 503. */
  readonly maxLagBlocks?: number;
  /** Told about each follower's steps (snapshot, checkpoints, peers left). */
  readonly onFollowerEvent?: (region: string, event: FollowerEvent) => void;
  /** Seconds without finality progress, work pending, before a validator asks for the next view (default lib/pipeline/region.ts). */
  readonly viewTimeoutSeconds?: number;
  /**
   * Seconds between each member region's finality syncs (lib/pipeline/finality-sync.ts; default
   * DEFAULT_FINALITY_SYNC_SECONDS, 0 = none): how a region back from an outage catches up on an idle chain.
   */
  readonly finalitySyncSeconds?: number;
}

export interface LocalRegion {
  readonly region: string;
  readonly url: string;
  readonly runtime: Region;
  readonly telemetry: CounterTelemetry;
  readonly sources: SqsEventSource[];
  /** True for a follower region (no key share; finality learned from the other regions). */
  readonly follower: boolean;
}

/** Visibility timeouts are short locally so a deferred message is retried quickly. */
const VISIBILITY = { ingress: 2, inbox: 2, votes: 5, finalized: 5 } as const;
const MAX_RECEIVE_COUNT = 20;

export class LocalCluster {
  private stopped = false;
  /** Ends the follower runs; each run's promise settles once it stopped. */
  private readonly following = new AbortController();
  private readonly followers: Promise<void>[] = [];
  /** API handlers by region index (a killed region's server is closed and later reopened on the same port). */
  private readonly routes: Api[] = [];
  private constructor(
    readonly config: ClusterConfig,
    readonly regions: LocalRegion[],
    readonly aws: ClientFactory,
    /** Clients for the health probes: one attempt each, so an outage shows at once. */
    private readonly probeAws: ClientFactory,
    private readonly services: EmbeddedServices | undefined,
    private readonly servers: (ApiServer | undefined)[],
    /** The failure drills' switch: a region that is down cannot be reached by anyone. */
    private readonly reach: Reachability,
  ) {}

  /** Regions stopped by kill() and not revived. */
  get downRegions(): string[] {
    return this.reach.downRegions();
  }

  /**
   * Failure drill: stops every role and the API of `region` and cuts it off. Its tables and
   * queues become unreachable first (any request to them fails like a refused connection, so
   * in-flight work ends at once), then its event sources stop and its API server closes (peers'
   * calls are refused). Data stays where it is: revive() brings the region back as it was.
   * @throws ConfigError for a region that is not a validator region of this cluster, or is already down.
   */
  async kill(region: string): Promise<void> {
    const r = this.drillRegion(region);
    if (this.reach.isDown(region)) throw new ConfigError('kill-region', `${region} is already down`);
    this.reach.setDown(region, true);
    await Promise.allSettled(r.sources.map((s) => s.stop()));
    const i = this.regions.indexOf(r);
    const server = this.servers[i];
    this.servers[i] = undefined;
    await server?.close().catch(() => {});
  }

  /**
   * Brings a killed region back: reachable again, its API listening on the same address, its roles
   * running (they resume from its tables and queues as they were, like a restarted region).
   * @throws ConfigError for a region that is not down.
   */
  async revive(region: string): Promise<void> {
    const r = this.drillRegion(region);
    if (!this.reach.isDown(region)) throw new ConfigError('revive-region', `${region} is not down`);
    const i = this.regions.indexOf(r);
    this.servers[i] = await startApiServer((req) => this.routes[i]!(req), { port: Number(new URL(r.url).port), host: '127.0.0.1' });
    this.reach.setDown(region, false);
    for (const s of r.sources) s.start();
  }

  private drillRegion(region: string): LocalRegion {
    const r = this.regions.find((x) => x.region === region);
    if (!r || r.follower)
      throw new ConfigError(
        'region',
        `${region} is not a validator region of this cluster (${this.regions
          .filter((x) => !x.follower)
          .map((x) => x.region)
          .join(', ')})`,
      );
    return r;
  }

  get urls(): string[] {
    return this.regions.map((r) => r.url);
  }

  /** Pids of the embedded DynamoDB Local JVM and SQS emulator (for CPU figures); empty with external endpoints. */
  servicePids(): { dynamodbLocal?: number; sqsEmulator?: number } {
    const pid = (name: string) => this.serviceStatus().find((s) => s.name === name)?.pid;
    const [dynamodbLocal, sqsEmulator] = [pid('dynamodb-local'), pid('sqs-emulator')];
    return { ...(dynamodbLocal === undefined ? {} : { dynamodbLocal }), ...(sqsEmulator === undefined ? {} : { sqsEmulator }) };
  }

  /** The embedded services' state and restarts (empty when the cluster uses --endpoint). */
  serviceStatus(): ServiceStatus[] {
    return this.services?.status() ?? [];
  }

  /** Resolves when an embedded service could not be kept running: stop the cluster. Pending otherwise. */
  get failure(): Promise<ServiceStartError> {
    return this.services?.failure ?? new Promise(() => {});
  }

  /** Starts everything; on failure stops what was started and rethrows. */
  static async start(opts: LocalClusterOptions): Promise<LocalCluster> {
    validateOptions(opts);
    if (opts.fresh) await rm(opts.dataDir, { recursive: true, force: true });
    await mkdir(opts.dataDir, { recursive: true });
    const n = opts.validators;
    const threshold = opts.threshold ?? defaultThreshold(n);
    const keys = await loadOrDealKeys(join(opts.dataDir, 'keys'), n, threshold);
    const config = parseClusterConfig({
      prefix: 'afg',
      chainId: toHex(LOCAL_CHAIN_ID),
      era: 0,
      checkpointInterval: opts.checkpointInterval,
      threshold,
      homeRegion: opts.regions[0],
      regions: [...opts.regions, ...(opts.followers ?? [])],
      members: keys.members.map((m, i) => ({
        index: m.index,
        region: opts.regions[i % opts.regions.length],
        publicKey: toHex(m.publicKey),
      })),
      groupPublicKey: toHex(keys.groupPublicKey),
      commitments: keys.commitments.map(toHex),
      maxBlockTransactions: opts.maxBlockTransactions ?? 500,
      maxBlockBytes: 200_000,
      ...(opts.viewTimeoutSeconds === undefined ? {} : { viewTimeoutSeconds: opts.viewTimeoutSeconds }),
      ...(opts.pool ? { pool: opts.pool } : {}),
      ...(opts.accounts ? { genesisAccounts: opts.accounts } : {}),
    });

    const services = opts.endpoints
      ? undefined
      : await startEmbeddedServices({
          dataDir: join(opts.dataDir, 'services'),
          sqsRegions: opts.regions,
          notify: opts.onServiceNote ?? ((m) => opts.log?.warn(m)),
        });
    const endpoints = opts.endpoints ?? {
      dynamodb: services!.dynamodbEndpoint,
      sqs: services!.sqsEndpoint,
      sqsByRegion: services!.sqsEndpoints,
    };
    const reach = new Reachability();
    const aws = reach.guard(createClientFactory({ endpoints }));
    const probeAws = reach.guard(createClientFactory({ endpoints, maxAttempts: 1 }));
    const servers: (ApiServer | undefined)[] = [];
    const regions: LocalRegion[] = [];
    const cluster = new LocalCluster(config, regions, aws, probeAws, services, servers, reach);
    try {
      // Listen first (port 0 picks a free port), so every region knows its peers' real URLs.
      const routes = cluster.routes;
      for (const [i] of config.regions.entries()) {
        const server = await startApiServer((req) => routes[i]!(req), {
          port: opts.basePort === 0 ? 0 : opts.basePort + i,
          host: '127.0.0.1',
        });
        servers.push(server);
      }
      const urls = servers.map((s) => s!.url);
      const dashboard = await dashboardHtml({ peers: urls, groupPublicKey: config.groupPublicKey });
      const followers = followerRegions(config);
      // Every region's API admits into (and reads statuses from) the pool of the current view's sequencer region.
      const pool = { ...apiPools(aws, config), limits: poolSettings(config) };
      const followerPeers = new Map<string, HttpPeer[]>();
      for (const [i, region] of config.regions.entries()) {
        await provision(aws, config, region);
        const codec = regionConfig(config, region).application.codec(LOCAL_CHAIN_ID);
        const follower = followers.includes(region);
        // A follower follows the validator regions first (they certify), then the other followers.
        const others = config.regions.map((r, j) => ({ r, url: urls[j]! })).filter(({ r }) => r !== region);
        others.sort((a, b) => Number(followers.includes(a.r)) - Number(followers.includes(b.r)));
        const snapshotPeers = others.map(({ url }) => new HttpPeer(url, codec));
        if (follower) followerPeers.set(region, snapshotPeers);
        const peers = follower ? snapshotPeers : urls.filter((_, j) => j !== i).map((u) => new HttpPeer(u, codec));
        const telemetry = new CounterTelemetry(opts.log);
        const secretKeys = new Map(keys.members.map((m) => [m.index, m.secretKey]));
        const runtime = await createAwsRegion({
          config,
          region,
          aws,
          peers,
          telemetry,
          memberKey: async (member) => secretKeys.get(member)!,
          health: {
            now: () => Date.now(),
            dlqDepths: () => queueDepths(probeAws.sqs(region), regionQueueNames(config, region).map(dlqName)),
            // Locally a round costs a few loopback requests: keep results briefly, so an outage shows at once.
            probes: regionProbes({ aws: probeAws, config, region, cacheMs: 250 }),
          },
        });
        routes[i] = createApi({
          query: runtime.query,
          transport: runtime.transport,
          chain: runtime.chain,
          application: runtime.config.application,
          maxLagBlocks: opts.maxLagBlocks ?? 50,
          dashboardHtml: dashboard,
          metrics: () => telemetry,
          dependencyFailure,
          pool,
        });
        regions.push({ region, url: urls[i]!, runtime, telemetry, sources: [], follower });
      }
      for (const r of regions) r.sources.push(...(await cluster.eventSources(r, opts)));
      for (const r of regions) for (const s of r.sources) s.start();
      for (const r of regions)
        if (r.follower)
          cluster.followers.push(
            follow({
              region: r.runtime,
              peers: followerPeers.get(r.region)!,
              signal: cluster.following.signal,
              log: r.telemetry.log,
              ...(opts.onFollowerEvent ? { onEvent: (e: FollowerEvent) => opts.onFollowerEvent!(r.region, e) } : {}),
            }),
          );
      const syncSeconds = opts.finalitySyncSeconds ?? DEFAULT_FINALITY_SYNC_SECONDS;
      if (syncSeconds > 0) for (const r of regions) if (!r.follower) cluster.followers.push(cluster.syncFinalityEvery(r, syncSeconds));
      return cluster;
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  }

  /**
   * The local stand-in for the API function's scheduled health check on AWS: the region's finality
   * sync every `seconds` while it is up, until the cluster stops.
   */
  private async syncFinalityEvery(r: LocalRegion, seconds: number): Promise<void> {
    const signal = this.following.signal;
    while (!signal.aborted) {
      await sleep(seconds * 1000, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      if (!this.reach.isDown(r.region)) await runFinalitySync(async () => r.runtime, r.telemetry.log);
    }
  }

  private async eventSources(r: LocalRegion, opts: LocalClusterOptions): Promise<SqsEventSource[]> {
    const { config, aws } = this;
    const names = resourceNames(config.prefix);
    const sqs = aws.sqs(r.region);
    const handlerOf = (queue: RegionQueue): SqsHandler => r.runtime.handler(queue);
    const source = async (queue: string, handler: SqsHandler, o: { batchSize: number; windowMs: number; concurrency: number }) =>
      new SqsEventSource({
        sqs,
        queueUrl: await resolveQueueUrl(sqs, queue),
        region: r.region,
        batchSize: o.batchSize,
        maxBatchingWindowMs: o.windowMs,
        concurrency: o.concurrency,
        handler,
        waitTimeSeconds: 1,
        functionName: `afg-${r.region}-${queue}`,
        onError: (e) => r.telemetry.log.error('event source error', { queue, error: String(e) }),
        onNote: (m) => r.telemetry.log.warn(m),
        // While an embedded service restarts, receiving would only fail (and spend receive counts): wait.
        ...(this.services ? { available: () => this.services!.status().every((s) => s.up) } : {}),
      });
    const out: SqsEventSource[] = [];
    // Every member region runs a sequencer: only the one of the current view proposes, the others forward.
    if (!followerRegions(config).includes(r.region))
      out.push(
        await source(names.ingressQueue, handlerOf({ kind: 'ingress' }), {
          batchSize: config.maxBlockTransactions,
          windowMs: opts.batchingWindowMs ?? 50,
          concurrency: 1,
        }),
      );
    for (const member of r.runtime.members) {
      out.push(
        await source(inboxQueue(config.prefix, member), handlerOf({ kind: 'inbox', member }), {
          batchSize: 10,
          windowMs: 0,
          concurrency: 1,
        }),
      );
    }
    // No vote reaches a follower: it has no finalizer.
    if (!r.follower) out.push(await source(names.voteQueue, handlerOf({ kind: 'votes' }), { batchSize: 10, windowMs: 0, concurrency: 2 }));
    out.push(await source(names.finalizedQueue, handlerOf({ kind: 'finalized' }), { batchSize: 10, windowMs: 0, concurrency: 1 }));
    return out;
  }

  /** Stops event sources (waiting for in-flight batches), API servers, clients and services. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.following.abort();
    await Promise.allSettled(this.followers);
    await Promise.allSettled(this.regions.flatMap((r) => r.sources.map((s) => s.stop())));
    await Promise.allSettled(this.servers.map((s) => s?.close()));
    this.aws.destroy();
    this.probeAws.destroy();
    await this.services?.stop();
  }
}

/**
 * The queues a region consumes: vote and ingress queues (not at a follower: every member region can
 * be a view's sequencer), the finality queue and its members' inboxes.
 */
export function regionQueueNames(config: ClusterConfig, region: string): string[] {
  const names = resourceNames(config.prefix);
  const queues = [
    ...(followerRegions(config).includes(region) ? [] : [names.voteQueue]),
    names.finalizedQueue,
    ...config.members.filter((m) => m.region === region).map((m) => inboxQueue(config.prefix, m.index)),
  ];
  if (!followerRegions(config).includes(region)) queues.push(names.ingressQueue);
  return queues;
}

/** Creates one region's tables and queues (idempotent), as the CDK app does on AWS. */
export async function provision(aws: ClientFactory, config: ClusterConfig, region: string): Promise<void> {
  const names = resourceNames(config.prefix);
  await ensureTables(aws.dynamo(region), config.prefix);
  const visibility = (q: string) =>
    q === names.voteQueue
      ? VISIBILITY.votes
      : q === names.finalizedQueue
        ? VISIBILITY.finalized
        : q === names.ingressQueue
          ? VISIBILITY.ingress
          : VISIBILITY.inbox;
  for (const name of regionQueueNames(config, region))
    await ensureQueue(aws.sqs(region), name, { visibilityTimeoutSeconds: visibility(name), dlq: { maxReceiveCount: MAX_RECEIVE_COUNT } });
}

function validateOptions(o: LocalClusterOptions): void {
  if (o.regions.length === 0) throw new ConfigError('regions', 'at least one region');
  const overlap = (o.followers ?? []).filter((f) => o.regions.includes(f));
  if (overlap.length > 0) throw new ConfigError('followers', `${overlap.join(', ')} is also a validator region`);
  if (!Number.isInteger(o.validators) || o.validators < 1 || o.validators > 64)
    throw new ConfigError('validators', 'expected an integer in 1..64');
  if (!Number.isInteger(o.checkpointInterval) || o.checkpointInterval < 1)
    throw new ConfigError('checkpoint-interval', 'expected a positive integer');
  if (!Number.isInteger(o.basePort) || o.basePort < 0 || o.basePort > 65535 - o.regions.length - (o.followers?.length ?? 0))
    throw new ConfigError('port', 'expected a TCP port');
}
