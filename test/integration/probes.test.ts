/**
 * The health probes (lib/aws/probes.ts) against the real DynamoDB Local and SQS emulator: every
 * table and queue a region needs is checked, a missing queue or an endpoint where nothing listens
 * is named with its classification, and results are reused for cacheMs unless a fresh round is asked.
 */
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createClientFactory } from '../../lib/aws/clients.js';
import { dependencyFailure } from '../../lib/aws/errors.js';
import { regionDependencies, regionProbes } from '../../lib/aws/probes.js';
import { resolveQueueUrl } from '../../lib/aws/queues.js';
import { type ClusterConfig, parseClusterConfig } from '../../lib/config.js';
import { deal } from '../../lib/core/bls.js';
import { provision } from '../../lib/local/cluster.js';
import { freePort } from '../../lib/local/services.js';
import { uniqueName, useEmbeddedServices } from '../helpers/embedded.js';
import { clusterConfigJson } from '../helpers/fixture.js';

const env = useEmbeddedServices();
const REGIONS = ['us-east-1', 'eu-west-1'];
const dealing = deal(2, 2);

function config(prefix: string): ClusterConfig {
  return parseClusterConfig(clusterConfigJson(dealing, { prefix, threshold: 2 }, REGIONS));
}

describe('regionProbes', () => {
  it("checks the region's tables and its queues, its own ingress included (not the home region's); all pass when provisioned", async () => {
    const c = config(uniqueName('probe'));
    for (const r of REGIONS) await provision(env().aws, c, r);
    expect(regionDependencies(c, 'eu-west-1').map((d) => `${d.kind} ${d.region} ${d.resource}`)).toEqual([
      `table eu-west-1 ${c.prefix}-blocks`,
      `table eu-west-1 ${c.prefix}-finality`,
      `table eu-west-1 ${c.prefix}-state`,
      `queue eu-west-1 ${c.prefix}-votes`,
      `queue eu-west-1 ${c.prefix}-finalized`,
      `queue eu-west-1 ${c.prefix}-proposals-m2`,
      `queue eu-west-1 ${c.prefix}-ingress`,
    ]);
    const checks = await regionProbes({ aws: env().aws, config: c, region: 'eu-west-1' })();
    expect(checks.filter((x) => !x.ok)).toEqual([]);
    expect(checks.map((x) => x.name)).toContain(`sqs:eu-west-1/${c.prefix}-ingress`);
    expect(checks.some((x) => x.region === 'us-east-1')).toBe(false);
  });

  it('names a missing queue; reuses a round within cacheMs; a fresh round sees the change', async () => {
    const c = config(uniqueName('probe'));
    for (const r of REGIONS) await provision(env().aws, c, r);
    let now = 0;
    const probes = regionProbes({ aws: env().aws, config: c, region: 'eu-west-1', cacheMs: 1_000, now: () => now });
    const first = await probes();
    expect(first.every((x) => x.ok)).toBe(true);
    const sqs = env().aws.sqs('eu-west-1');
    await sqs.send(new DeleteQueueCommand({ QueueUrl: await resolveQueueUrl(sqs, `${c.prefix}-votes`) }));
    now += 500;
    expect(await probes()).toBe(first); // same round, no request
    const fresh = await probes({ fresh: true });
    expect(fresh.filter((x) => !x.ok).map((x) => x.name)).toEqual([`sqs:eu-west-1/${c.prefix}-votes`]);
    now += 1_000;
    expect((await probes()).filter((x) => !x.ok)).toHaveLength(1); // expired: probed again, still missing
  });

  it('an endpoint where nothing listens: every check fails as unreachable, quickly', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const aws = createClientFactory({ endpoints: { dynamodb: closed, sqs: closed }, maxAttempts: 1 });
    try {
      const checks = await regionProbes({ aws, config: config('afg'), region: 'us-east-1' })();
      expect(checks.length).toBeGreaterThan(0);
      for (const x of checks) {
        expect(x.ok).toBe(false);
        expect(x.error).toMatch(/^unreachable: /);
      }
    } finally {
      aws.destroy();
    }
  });
});

describe('dependencyFailure', () => {
  it('classifies socket, timeout, throttling and 5xx errors, through causes; nothing else', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const cases: [unknown, string | undefined][] = [
      [refused, 'unreachable'],
      [Object.assign(new AggregateError([refused], ''), { code: 'ECONNREFUSED' }), 'unreachable'],
      [new AggregateError([refused], ''), 'unreachable'],
      [new Error('wrapped', { cause: new Error('transport', { cause: refused }) }), 'unreachable'],
      [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'unreachable'],
      [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'timeout'],
      [Object.assign(new Error('slow down'), { name: 'ThrottlingException' }), 'throttled'],
      [Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }), 'throttled'],
      [Object.assign(new Error('slow down'), { name: 'RequestThrottled' }), 'throttled'],
      [Object.assign(new Error('oops'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }), 'service-error'],
      [Object.assign(new Error('bad gateway'), { $metadata: { httpStatusCode: 502 } }), 'service-error'],
      // Not dependency failures: refusals, missing resources, bugs.
      [
        Object.assign(new Error('The conditional request failed'), {
          name: 'ConditionalCheckFailedException',
          $metadata: { httpStatusCode: 400 },
        }),
        undefined,
      ],
      [Object.assign(new Error('no such queue'), { name: 'QueueDoesNotExist', $metadata: { httpStatusCode: 400 } }), undefined],
      [new TypeError('x is undefined'), undefined],
      ['a string', undefined],
      [null, undefined],
    ];
    for (const [e, want] of cases) expect(dependencyFailure(e), String((e as Error)?.name ?? e)).toBe(want);
    const loop: { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    expect(dependencyFailure(loop)).toBeUndefined();
  });
});
