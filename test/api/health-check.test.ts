/**
 * The API function's scheduled health check (lib/handlers/health-check.ts): it answers GET
 * /v1/health through the real routes and reports HealthCheckFailed / DependenciesFailing, the
 * metrics the `<prefix>-health-<region>` alarm watches, with the failing checks named in the log.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { dependencyFailure } from '../../lib/aws/errors.js';
import { finalityStalledSeconds, HEALTH_CHECK_EVENT, isHealthCheckEvent, runHealthCheck } from '../../lib/handlers/health-check.js';
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
    expect(report).toEqual({ status: 'ok', failing: [], dependenciesFailing: 0, stalledSeconds: 0 });
    expect(r.metrics).toEqual({ HealthCheckFailed: 0, DependenciesFailing: 0, FinalityStalledSeconds: 0 });
    expect(r.lines.map((l) => l.level)).toEqual(['info']);
  });

  it('reports a failing table: HealthCheckFailed 1, DependenciesFailing 1, named in a warning', async () => {
    const r = recorder();
    const report = await runHealthCheck(async () => api(async () => [table(false)]), r.out);
    expect(report).toEqual({ status: 'down', failing: ['dynamodb:eu-west-1/afg-finality'], dependenciesFailing: 1, stalledSeconds: 0 });
    expect(r.metrics).toEqual({ HealthCheckFailed: 1, DependenciesFailing: 1, FinalityStalledSeconds: 0 });
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

  /** An API whose /v1/health answers `body` (the heights and lag a stalled or idle region reports). */
  const answering = (body: Record<string, unknown>) => async () => async () => ({ status: 200, headers: {}, body: JSON.stringify(body) });

  it('sends the FinalityStalledSeconds heartbeat: lag.seconds while a proposed block is not justified', async () => {
    const r = recorder();
    // Fewer than t validators: the head stays above justified and finality does not move.
    const report = await runHealthCheck(
      answering({ status: 'ok', head: 12, justified: 10, finalized: 9, lag: { blocks: 3, seconds: 240 }, failing: [] }),
      r.out,
    );
    expect(report.stalledSeconds).toBe(240);
    expect(r.metrics.FinalityStalledSeconds).toBe(240);
  });

  it('an idle chain is not stalled, however long its finalized height stays', () => {
    // Idle: the last checkpoint is justified (it finalized the one before), nothing proposed above it.
    expect(finalityStalledSeconds({ head: 10, justified: 10, finalized: 9, lag: { seconds: 86_400 } })).toBe(0);
    // Unknown heights (tables down) or no clock: 0, the health alarm covers those.
    expect(finalityStalledSeconds({ head: null, justified: null, lag: { seconds: null } })).toBe(0);
    expect(finalityStalledSeconds({ head: 12, justified: 10, lag: { seconds: null } })).toBe(0);
    expect(finalityStalledSeconds({ head: 12, justified: 10, lag: { seconds: 30 } })).toBe(30);
  });
});
