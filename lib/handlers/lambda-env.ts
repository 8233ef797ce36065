/**
 * Lambda container wiring from environment variables (set by the CDK app):
 * AFG_CONFIG (cluster config JSON), AWS_REGION, AFG_MEMBER + AFG_KEY_SECRET_ID (validators),
 * AFG_PEERS (comma-separated peer API URLs), AFG_MAX_LAG_BLOCKS (API), AFG_STATE_WRITER (`true` on the
 * state function and a follower, the roles that may write state-tree nodes; any other function keeps
 * the genesis state it computes at start in memory), and the endpoint overrides of lib/aws/clients.ts. Everything is built lazily once per container and validated with messages
 * naming the variable. The handlers themselves are lib/handlers/sqs.ts over the region runtime.
 * The query service's health checks probe the region's tables and queues through clients with two
 * attempts (lib/aws/probes.ts), so an outage shows in /v1/health within one request.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createClientFactory, endpointsFromEnv } from '../aws/clients.js';
import { loadKeySecret, type MemberKey } from '../aws/keys.js';
import { regionProbes } from '../aws/probes.js';
import { apiPools, createAwsRegion } from '../aws/region-stores.js';
import { type ClusterConfig, parseClusterConfig, poolSettings, regionConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { HttpPeer } from '../pipeline/peers.js';
import type { PoolLimits, PoolStore } from '../pipeline/ports.js';
import type { Region, RegionQueue } from '../pipeline/region.js';
import { regionHandler, type SqsHandler } from './sqs.js';
import type { Telemetry } from './telemetry.js';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new ConfigError(name, 'environment variable is not set');
  return v;
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= make().catch((e) => {
      p = undefined; // a failed cold start retries on the next invocation
      throw e;
    });
    return p;
  };
}

export function configFromEnv(): ClusterConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(env('AFG_CONFIG'));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError('AFG_CONFIG', 'not valid JSON');
  }
  return parseClusterConfig(raw);
}

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'afg' });
export const metrics = new Metrics({ namespace: 'afg', serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'afg' });
const aws = createClientFactory({ endpoints: endpointsFromEnv() });
const probeAws = createClientFactory({ endpoints: endpointsFromEnv(), maxAttempts: 2 });

export const telemetry: Telemetry = {
  log: logger,
  metric: (name, value, unit = name.endsWith('Ms') ? 'Milliseconds' : 'Count') => {
    metrics.addDimension('region', process.env.AWS_REGION ?? 'unknown');
    metrics.addMetric(name, unit === 'Milliseconds' ? MetricUnit.Milliseconds : MetricUnit.Count, value);
  },
};

/** Publishes the metrics recorded so far (the API function has no logMetrics middleware: most requests record none). */
export const publishMetrics = (): void => {
  metrics.publishStoredMetrics();
};

/** This container's validator key (validator functions only). */
export const memberKey: () => Promise<MemberKey> = once(async () => {
  const member = Number(env('AFG_MEMBER'));
  if (!Number.isInteger(member) || member < 1) throw new ConfigError('AFG_MEMBER', 'expected a member index (1-based)');
  return loadKeySecret(aws, env('AWS_REGION'), env('AFG_KEY_SECRET_ID'), configFromEnv(), member);
});

/** AFG_PEERS (comma-separated peer API URLs) as peers of this region: blocks for catch-up, snapshots and streams for a follower. */
export function peersFromEnv(config: ClusterConfig, region: string): HttpPeer[] {
  const { application, set } = regionConfig(config, region);
  return (process.env.AFG_PEERS ?? '')
    .split(',')
    .filter(Boolean)
    .map((url) => new HttpPeer(url, application.codec(set.chainId)));
}

/**
 * AFG_STATE_WRITER: `true` where the function's role may write state-tree nodes (set by the CDK app);
 * unset means it may not.
 * @throws ConfigError for any value other than `true`, `false` or unset
 */
export function writesStateFromEnv(): boolean {
  const raw = process.env.AFG_STATE_WRITER;
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError('AFG_STATE_WRITER', `expected true or false, got ${JSON.stringify(raw)}`);
}

/** The region runtime of this container (built once, at the first invocation). */
export const runtime: () => Promise<Region> = once(async () => {
  const config = configFromEnv();
  const region = env('AWS_REGION');
  const peers = peersFromEnv(config, region);
  const memberKeyOf = async (member: number) => {
    const key = await memberKey();
    if (key.member !== member) throw new ConfigError('AFG_MEMBER', `this function holds member ${key.member}'s key, not ${member}'s`);
    return key.secretKey;
  };
  return createAwsRegion({
    config,
    region,
    aws,
    peers,
    memberKey: memberKeyOf,
    writesState: writesStateFromEnv(),
    telemetry,
    // The local clock feeds lag.seconds only (informational, and the FinalityStalledSeconds heartbeat of the health check).
    health: { now: () => Date.now(), probes: regionProbes({ aws: probeAws, config, region }) },
  });
});

/**
 * The API's transaction pools (the current view's sequencer region's, lib/aws/region-stores.ts
 * apiPools) and settings, for createApi's `pool`: POST /v1/transactions admits there in every region.
 */
export const poolFromEnv = (): { store: PoolStore; storeOf: (region: string) => PoolStore; limits: PoolLimits } => {
  const config = configFromEnv();
  return { ...apiPools(aws, config), limits: poolSettings(config) };
};

/** The validator member this container runs (AFG_MEMBER). */
export function memberFromEnv(): number {
  const member = Number(env('AFG_MEMBER'));
  if (!Number.isInteger(member) || member < 1) throw new ConfigError('AFG_MEMBER', 'expected a member index (1-based)');
  return member;
}

/** The SQS handler of one of this region's queues, over the container's runtime. */
export const queueHandler = (queue: RegionQueue): SqsHandler => regionHandler(runtime, queue, telemetry);

/** AFG_MAX_LAG_BLOCKS (default 50): the finality lag in blocks beyond which /v1/health answers 503. */
export function maxLagBlocksFromEnv(): number {
  const raw = process.env.AFG_MAX_LAG_BLOCKS;
  if (raw === undefined || raw === '') return 50;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ConfigError('AFG_MAX_LAG_BLOCKS', `expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}
