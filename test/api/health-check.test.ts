/**
 * The API function's scheduled health check (lib/handlers/health-check.ts): it answers GET
 * /v1/health through the real routes and reports HealthCheckFailed / DependenciesFailing, the
 * metrics the `<prefix>-health-<region>` alarm watches, with the failing checks named in the log.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { dependencyFailure } from '../../lib/aws/errors.js';
import { HEALTH_CHECK_EVENT, isHealthCheckEvent, runHealthCheck } from '../../lib/handlers/health-check.js';
import type { Log } from '../../lib/handlers/telemetry.js';
import { type DependencyStatus, QueryService } from '../../lib/pipeline/query.js';
import { buildFixture, type Fixture } from '../helpers/fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});

/** Records metrics and log lines as the Lambda telemetry would receive them. */
function recorder() {
  const metrics: Record<string, number> = {};
  const lines: { level: string; message: string; extra: unknown[] }[] = [];
  const at =
    (level: string) =>
    (message: string, ...extra: unknown[]) =>
      lines.push({ level, message, extra });
  const log: Log = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
  return { metrics, lines, out: { log, metric: (name: string, value: number) => (metrics[name] = value) } };
}

const api = (probes?: () => Promise<DependencyStatus[]>) =>
  createApi({
    query: new QueryService({
      chain: fx.chain,
      region: fx.region,
      blocks: fx.blocks,
      finality: fx.finality,
      applied: fx.applied,
      ...(probes ? { probes } : {}),
    }),
    transport: fx.transport,
    chain: fx.chain,
    maxLagBlocks: 8,
    dependencyFailure,
  });

const table = (ok: boolean): DependencyStatus => ({
  name: 'dynamodb:eu-west-1/afg-finality',
  kind: 'table',
  region: 'eu-west-1',
  ok,
  ...(ok ? {} : { error: 'unreachable: connect ECONNREFUSED' }),
});

describe('scheduled health check', () => {
  it('recognises only its own event', () => {
    expect(isHealthCheckEvent(HEALTH_CHECK_EVENT)).toBe(true);
    expect(isHealthCheckEvent({ rawPath: '/v1/health', requestContext: {} })).toBe(false);
    expect(isHealthCheckEvent(null)).toBe(false);
  });

  it('reports 0 failed when every check passes', async () => {
    const r = recorder();
    const report = await runHealthCheck(async () => api(async () => [table(true)]), r.out);
    expect(report).toEqual({ status: 'ok', failing: [], dependenciesFailing: 0 });
    expect(r.metrics).toEqual({ HealthCheckFailed: 0, DependenciesFailing: 0 });
    expect(r.lines.map((l) => l.level)).toEqual(['info']);
  });

  it('reports a failing table: HealthCheckFailed 1, DependenciesFailing 1, named in a warning', async () => {
    const r = recorder();
    const report = await runHealthCheck(async () => api(async () => [table(false)]), r.out);
    expect(report).toEqual({ status: 'down', failing: ['dynamodb:eu-west-1/afg-finality'], dependenciesFailing: 1 });
    expect(r.metrics).toEqual({ HealthCheckFailed: 1, DependenciesFailing: 1 });
    expect(r.lines).toEqual([
      { level: 'warn', message: 'health check failed', extra: [{ status: 'down', failing: ['dynamodb:eu-west-1/afg-finality'] }] },
    ]);
  });

  it('counts a cold start that cannot reach its stores as failed, without throwing', async () => {
    const r = recorder();
    const report = await runHealthCheck(async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
    }, r.out);
    expect(report.status).toMatch(/^check failed: connect ECONNREFUSED/);
    expect(r.metrics.HealthCheckFailed).toBe(1);
  });
});
