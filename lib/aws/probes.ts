/**
 * Dependency checks for /v1/health: can this region reach what it needs to make progress? One
 * cheap request per resource: a GetItem of a key that never exists on each of the region's tables
 * (blocks, finality, state; half a read unit each on AWS), and GetQueueAttributes on each queue it
 * consumes, its ingress queue included (every member region runs a sequencer).
 *
 * Results are kept for `cacheMs` (one round shared by concurrent callers), so a load balancer,
 * the dashboard and a person polling every second cost one round per second per API instance.
 * Each check has its own timeout, so a hanging service makes health slow by at most that much.
 * Use a client factory with few attempts (e.g. maxAttempts 1): the point is to notice an outage,
 * not to wait out the SDK's retries.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { type ClusterConfig, inboxQueue, resourceNames } from '../config.js';
import type { DependencyStatus } from '../pipeline/query.js';
import type { ClientFactory } from './clients.js';
import { dependencyFailure } from './errors.js';
import { resolveQueueUrl } from './queues.js';
import { PK, SK } from './tables.js';

/** A resource the region depends on. */
export interface Dependency {
  readonly kind: 'table' | 'queue';
  readonly region: string;
  /** Table or queue name. */
  readonly resource: string;
}

export interface RegionProbeOptions {
  /** Clients to probe with; few attempts recommended (see the module comment). */
  readonly aws: ClientFactory;
  readonly config: ClusterConfig;
  readonly region: string;
  /** Per-check timeout (default 2000 ms). */
  readonly timeoutMs?: number;
  /** How long a round of results is reused (default 1000 ms; 0: every call probes). */
  readonly cacheMs?: number;
  /** Milliseconds clock for the cache (default Date.now). */
  readonly now?: () => number;
}

/** The key the table checks read: no item ever has it. */
const PROBE_KEY = { [PK]: 'afg-health-probe', [SK]: '-' };

/**
 * What `region` needs to make progress: its three tables, its vote, finality and ingress queues, and
 * its members' inboxes. Another region being down (the home region included) is not this region's
 * problem to report: the view changes away from it.
 */
export function regionDependencies(config: ClusterConfig, region: string): Dependency[] {
  const names = resourceNames(config.prefix);
  const tables = [names.blocksTable, names.finalityTable, names.stateTable].map((resource) => ({
    kind: 'table' as const,
    region,
    resource,
  }));
  const queues = [
    names.voteQueue,
    names.finalizedQueue,
    ...config.members.filter((m) => m.region === region).map((m) => inboxQueue(config.prefix, m.index)),
  ].map((resource) => ({ kind: 'queue' as const, region, resource }));
  // Every member region runs a sequencer (views): its own ingress, not the home region's, is what it needs.
  if (config.members.some((m) => m.region === region)) queues.push({ kind: 'queue', region, resource: names.ingressQueue });
  return [...tables, ...queues];
}

/** `dynamodb:<region>/<table>` or `sqs:<region>/<queue>`: the name health reports. */
export const dependencyName = (d: Dependency): string => `${d.kind === 'table' ? 'dynamodb' : 'sqs'}:${d.region}/${d.resource}`;

/**
 * Builds the `probes` hook of the query service for one region (see the module comment). The
 * returned function never throws: each failed check is `{ ok: false, error }`, the error led by
 * its classification (unreachable, timeout, throttled, service-error) when it has one.
 * @example new QueryService({ ..., probes: regionProbes({ aws: probeClients, config, region }) })
 */
export function regionProbes(o: RegionProbeOptions): (options?: { fresh?: boolean }) => Promise<DependencyStatus[]> {
  const list = regionDependencies(o.config, o.region);
  const timeoutMs = o.timeoutMs ?? 2_000;
  const cacheMs = o.cacheMs ?? 1_000;
  const now = o.now ?? Date.now;
  let last: { at: number; round: Promise<DependencyStatus[]> } | undefined;
  const check = async (d: Dependency): Promise<DependencyStatus> => {
    const signal = AbortSignal.timeout(timeoutMs);
    const base = { name: dependencyName(d), kind: d.kind, region: d.region };
    try {
      if (d.kind === 'table')
        await o.aws
          .dynamo(d.region)
          .send(new GetCommand({ TableName: d.resource, Key: PROBE_KEY, ProjectionExpression: PK }), { abortSignal: signal });
      else {
        const sqs = o.aws.sqs(d.region);
        const url = await resolveQueueUrl(sqs, d.resource);
        await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }), {
          abortSignal: signal,
        });
      }
      return { ...base, ok: true };
    } catch (e) {
      // Our own timeout surfaces as the SDK's AbortError.
      const problem = signal.aborted ? 'timeout' : dependencyFailure(e);
      const text = signal.aborted ? `no answer within ${timeoutMs} ms` : describe(e);
      return { ...base, ok: false, error: problem ? `${problem}: ${text}` : text };
    }
  };
  return (options = {}) => {
    const t = now();
    if (!options.fresh && last !== undefined && t - last.at < cacheMs) return last.round;
    const round = Promise.all(list.map(check));
    last = { at: t, round };
    return round;
  };
}

function describe(e: unknown): string {
  const err = e as { name?: unknown; message?: unknown; code?: unknown } | null;
  const name = typeof err?.name === 'string' && err.name !== 'Error' ? `${err.name}: ` : '';
  // A refused connection may carry an empty message (an AggregateError over IPv4 and IPv6): show its code.
  const message =
    typeof err?.message === 'string' && err.message !== '' ? err.message : typeof err?.code === 'string' ? err.code : String(e);
  return `${name}${message}`.split('\n')[0]!.slice(0, 200);
}
