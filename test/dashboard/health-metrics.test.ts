import { beforeAll, describe, expect, it } from 'vitest';
import { type ApiRequest, type ApiResponse, createApi } from '../../lib/api/app.js';
import { responseChecker } from '../../lib/api/validate.js';
import { dependencyFailure } from '../../lib/aws/errors.js';
import { CounterTelemetry } from '../../lib/handlers/telemetry.js';
import { type DependencyStatus, type QueryDeps, QueryService } from '../../lib/pipeline/query.js';
import { buildFixture, type Fixture } from '../helpers/fixture.js';

const check = responseChecker();
let fx: Fixture;

beforeAll(async () => {
  fx = await buildFixture();
});

const get = (path: string): ApiRequest => ({ method: 'GET', path, query: {}, headers: {}, body: undefined });
const body = (r: ApiResponse) => JSON.parse(r.body);

function documented(r: ApiResponse, operationId: string, status: number) {
  expect(r.status, r.body).toBe(status);
  expect(check(operationId, status, body(r))).toBeUndefined();
}

/** A QueryService over the fixture's stores with the optional operator hooks. */
const query = (extra: Partial<Pick<QueryDeps, 'now' | 'dlqDepths' | 'probes' | 'finality'>> = {}) =>
  new QueryService({ chain: fx.chain, region: fx.region, blocks: fx.blocks, finality: fx.finality, applied: fx.applied, ...extra });

const dep = (kind: 'table' | 'queue', resource: string, error?: string): DependencyStatus => ({
  name: `${kind === 'table' ? 'dynamodb' : 'sqs'}:eu-west-1/${resource}`,
  kind,
  region: 'eu-west-1',
  ok: error === undefined,
  ...(error === undefined ? {} : { error }),
});
const healthyDeps = () => [dep('table', 'afg-blocks'), dep('table', 'afg-finality'), dep('table', 'afg-state'), dep('queue', 'afg-votes')];

const api = (q: QueryService, more: Partial<Parameters<typeof createApi>[0]> = {}) =>
  createApi({ query: q, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, ...more });

describe('GET /v1/health (operator fields)', () => {
  it('reports heights, lag, each member last vote and evidence; unknown DLQ depths and seconds are null', async () => {
    const r = await api(query())(get('/v1/health'));
    documented(r, 'getHealth', 200);
    expect(body(r)).toEqual({
      status: 'ok',
      region: 'eu-west-1',
      head: 5,
      justified: 4,
      finalized: 2,
      applied: 2,
      lag: { blocks: 3, appliedBehindFinalized: 0, seconds: null },
      validators: [
        { index: 1, region: 'eu-west-1', lastVoteHeight: 2 },
        { index: 2, region: 'us-east-1', lastVoteHeight: 4 },
        { index: 3, region: 'eu-west-1', lastVoteHeight: 4 },
        { index: 4, region: 'us-east-1', lastVoteHeight: 4 },
      ],
      evidence: 1,
      invalidVotes: 0,
      dlq: null,
      dependencies: null,
      failing: [],
    });
  });

  it('is degraded (503, finality-lag failing) exactly when the head is more than maxLagBlocks ahead of finality', async () => {
    // The fixture's lag is 3 blocks: bound 3 is still healthy, bound 2 is not.
    const at = (maxLagBlocks: number) => api(query(), { maxLagBlocks })(get('/v1/health'));
    documented(await at(3), 'getHealth', 200);
    const stalled = await at(2);
    documented(stalled, 'getHealth', 503);
    expect(stalled.headers['retry-after']).toBe('2');
    expect(body(stalled)).toMatchObject({ status: 'degraded', lag: { blocks: 3 }, failing: ['finality-lag'] });
  });

  it('lag.seconds counts local time since this service first saw the current finalized height', async () => {
    let now = 1_000_000;
    const q = query({ now: () => now });
    expect((await q.health({ maxLagBlocks: 8 })).lag.seconds).toBe(0);
    now += 12_345;
    expect((await q.health({ maxLagBlocks: 8 })).lag.seconds).toBe(12.3);
    const r = await api(q)(get('/v1/health'));
    documented(r, 'getHealth', 200);
    expect(body(r).lag.seconds).toBe(12.3);
  });

  it('lag.seconds restarts when the finalized height changes', async () => {
    let now = 0;
    const heights = [2, 2, 4, 4];
    let i = 0;
    const q = query({ now: () => now });
    // Drive only the finalized height seen by health(): stub finality() on this instance.
    const finality = q.finality.bind(q);
    q.finality = async () => {
      const f = await finality();
      return { ...f, finalized: { ...f.finalized, height: heights[i++]! } };
    };
    const seconds: (number | null)[] = [];
    for (const step of [0, 5000, 1000, 2000]) {
      now += step;
      seconds.push((await q.health({ maxLagBlocks: 8 })).lag.seconds);
    }
    expect(seconds).toEqual([0, 5, 0, 2]);
  });

  it('reports DLQ depths from the callback, and null (still 200) when the callback fails', async () => {
    const ok = await api(query({ dlqDepths: async () => ({ 'afg-votes-dlq': 0, 'afg-finalized-dlq': 3 }) }))(get('/v1/health'));
    documented(ok, 'getHealth', 200);
    expect(body(ok).dlq).toEqual({ 'afg-votes-dlq': 0, 'afg-finalized-dlq': 3 });
    const failing = await api(
      query({
        dlqDepths: async () => {
          throw new Error('sqs down');
        },
      }),
    )(get('/v1/health'));
    documented(failing, 'getHealth', 200);
    expect(body(failing).dlq).toBeNull();
  });
});

describe('GET /v1/health (dependency checks)', () => {
  it('200 when every check passes; the checks are listed', async () => {
    const r = await api(query({ probes: async () => healthyDeps() }))(get('/v1/health'));
    documented(r, 'getHealth', 200);
    expect(body(r)).toMatchObject({ status: 'ok', head: 5, failing: [], dependencies: healthyDeps() });
  });

  it('an unreachable queue makes it degraded (503) naming the queue; the tables are still read', async () => {
    const probes = async () => [
      ...healthyDeps().slice(0, 3),
      dep('queue', 'afg-votes', 'unreachable: connect ECONNREFUSED 127.0.0.1:9324'),
    ];
    const r = await api(query({ probes }))(get('/v1/health'));
    documented(r, 'getHealth', 503);
    expect(r.headers['retry-after']).toBe('2');
    expect(body(r)).toMatchObject({ status: 'degraded', head: 5, finalized: 2, failing: ['sqs:eu-west-1/afg-votes'] });
    expect(body(r).dependencies[3]).toEqual(dep('queue', 'afg-votes', 'unreachable: connect ECONNREFUSED 127.0.0.1:9324'));
  });

  it('an unreachable table makes it down (503) naming the table, with the same body shape and no store read', async () => {
    let reads = 0;
    const counting = new Proxy(fx.finality, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...a: unknown[]) => {
          reads++;
          return v.apply(target, a);
        };
      },
    });
    const probes = async () => [
      dep('table', 'afg-blocks'),
      dep('table', 'afg-finality', 'timeout: no answer within 2000 ms'),
      dep('table', 'afg-state'),
    ];
    const r = await api(query({ probes, finality: counting }))(get('/v1/health'));
    documented(r, 'getHealth', 503);
    expect(body(r)).toEqual({
      status: 'down',
      region: 'eu-west-1',
      head: null,
      justified: null,
      finalized: null,
      applied: null,
      lag: { blocks: null, appliedBehindFinalized: null, seconds: null },
      validators: fx.chain.set.members.map((m) => ({ index: m.index, region: m.region, lastVoteHeight: null })),
      evidence: null,
      invalidVotes: null,
      dlq: null,
      dependencies: await probes(),
      failing: ['dynamodb:eu-west-1/afg-finality'],
    });
    expect(reads).toBe(0);
  });

  it('a read that fails after a cached passing check re-checks afresh and reports down, naming what failed', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });
    const broken = new Proxy(fx.finality, {
      get: (target, prop, receiver) =>
        prop === 'head'
          ? async () => {
              throw refused;
            }
          : Reflect.get(target, prop, receiver),
    });
    const calls: (boolean | undefined)[] = [];
    const probes = async (o?: { fresh?: boolean }) => {
      calls.push(o?.fresh);
      return o?.fresh ? [dep('table', 'afg-finality', 'unreachable: connect ECONNREFUSED 127.0.0.1:8000')] : [dep('table', 'afg-finality')];
    };
    const r = await api(query({ probes, finality: broken }), { dependencyFailure })(get('/v1/health'));
    documented(r, 'getHealth', 503);
    expect(body(r)).toMatchObject({ status: 'down', head: null, failing: ['dynamodb:eu-west-1/afg-finality'] });
    expect(calls).toEqual([undefined, true]);
    // Every check passes afresh, yet reading fails: not explained by a dependency; the API's error mapping decides.
    const r2 = await api(query({ probes: async () => [dep('table', 'afg-finality')], finality: broken }), { dependencyFailure })(
      get('/v1/health'),
    );
    documented(r2, 'getHealth', 503);
    expect(body(r2).error.code).toBe('UNAVAILABLE');
  });
});

describe('GET /v1/metrics', () => {
  it('serves the counters of a CounterTelemetry, documented', async () => {
    const t = new CounterTelemetry();
    t.metric('VotesAccepted', 1);
    t.metric('VotesAccepted', 1);
    t.metric('FinalityLag', 5);
    t.metric('FinalityLag', 2);
    t.metric('CertificationMs', 12.5);
    const r = await api(fx.query, { metrics: () => t })(get('/v1/metrics'));
    documented(r, 'getMetrics', 200);
    expect(r.headers['access-control-allow-origin']).toBe('*');
    expect(body(r)).toEqual({
      region: 'eu-west-1',
      scope: 'process',
      totals: { VotesAccepted: 2, FinalityLag: 7, CertificationMs: 12.5 },
      last: { VotesAccepted: 1, FinalityLag: 2, CertificationMs: 12.5 },
    });
  });

  it('answers 404 when the process collects no counters (the AWS API function)', async () => {
    const r = await api(fx.query)(get('/v1/metrics'));
    documented(r, 'getMetrics', 404);
    expect(body(r).error.message).toMatch(/CloudWatch/);
  });
});
