/**
 * The API function's scheduled self-check on AWS. A schedule (EventBridge, every minute, created by
 * the CDK app) invokes the API function with HEALTH_CHECK_EVENT instead of an HTTP request; the
 * function answers GET /v1/health through its own routes (the same checks a load balancer sees:
 * its tables, its queues, the home ingress queue, finality lag) and publishes two metrics that the
 * `<prefix>-health-<region>` alarm watches:
 *   HealthCheckFailed    1 when the status is degraded or down (or the check itself failed), else 0
 *   DependenciesFailing  how many table and queue checks failed
 *   FinalityStalledSeconds  a heartbeat for the finality-lag alarm: how long finality has not moved
 *                        while work waits for it (finalityStalledSeconds), 0 otherwise
 * and logs the names of the failing checks, so the alarm leads straight to what is unreachable.
 */
import type { Api } from '../api/app.js';
import type { Log } from './telemetry.js';

/** The constant input the schedule sends to the API function. */
export const HEALTH_CHECK_EVENT = { afg: 'health-check' } as const;

/** Namespace, names and `service` dimension of the health-check metrics (Powertools adds `service`). */
export const HEALTH_CHECK_METRICS = {
  namespace: 'afg',
  failed: 'HealthCheckFailed',
  dependenciesFailing: 'DependenciesFailing',
  stalled: 'FinalityStalledSeconds',
  service: 'afg-api',
} as const;

/** True for the scheduled health-check event (and not for an HTTP API request). */
export function isHealthCheckEvent(event: unknown): event is typeof HEALTH_CHECK_EVENT {
  return typeof event === 'object' && event !== null && (event as { afg?: unknown }).afg === HEALTH_CHECK_EVENT.afg;
}

export interface HealthCheckReport {
  readonly status: string;
  readonly failing: readonly string[];
  readonly dependenciesFailing: number;
  readonly stalledSeconds: number;
}

/**
 * How long finality has been stuck with work waiting, from a /v1/health body: its `lag.seconds`
 * (how long this API instance has seen the current finalized height, by its local clock) while a
 * proposed block is not justified yet (head above justified), else 0. An idle chain (nothing
 * proposed beyond the last justified checkpoint) is not stalled, however long it stays idle; with
 * fewer than t validators alive the head stays above justified, so the value grows every minute.
 * Unknown heights (a region whose tables are down) give 0: the health alarm covers that case.
 */
export function finalityStalledSeconds(body: {
  head?: unknown;
  justified?: unknown;
  finalized?: unknown;
  lag?: { seconds?: unknown } | null;
}): number {
  const { head, justified } = body;
  const seconds = body.lag?.seconds;
  if (typeof head !== 'number' || typeof justified !== 'number' || typeof seconds !== 'number') return 0;
  return head > justified ? seconds : 0;
}

/**
 * Runs GET /v1/health through the API `api()` builds and reports it: `metric` receives
 * HealthCheckFailed and DependenciesFailing (see the module comment), `log` one line (warn when not
 * ok). Never throws: an API that cannot be built (a cold start that cannot reach its tables) or an
 * answer that is not a health body (e.g. a 500) counts as failed, with the reason.
 */
export async function runHealthCheck(
  api: () => Promise<Api>,
  out: { readonly log: Log; metric(name: 'HealthCheckFailed' | 'DependenciesFailing' | 'FinalityStalledSeconds', value: number): void },
): Promise<HealthCheckReport> {
  let report: HealthCheckReport;
  try {
    const res = await (await api())({ method: 'GET', path: '/v1/health', query: {}, headers: {}, body: undefined });
    const body = JSON.parse(res.body) as {
      status?: unknown;
      failing?: unknown;
      dependencies?: unknown;
      head?: unknown;
      justified?: unknown;
      lag?: { seconds?: unknown } | null;
      error?: { code?: string };
    };
    const deps = Array.isArray(body.dependencies) ? (body.dependencies as { ok?: unknown }[]) : [];
    report =
      typeof body.status === 'string'
        ? {
            status: body.status,
            failing: Array.isArray(body.failing) ? body.failing.map(String) : [],
            dependenciesFailing: deps.filter((d) => d.ok === false).length,
            stalledSeconds: finalityStalledSeconds(body),
          }
        : { status: `http ${res.status} ${body.error?.code ?? ''}`.trim(), failing: [], dependenciesFailing: 0, stalledSeconds: 0 };
  } catch (e) {
    report = {
      status: `check failed: ${e instanceof Error ? e.message : String(e)}`,
      failing: [],
      dependenciesFailing: 0,
      stalledSeconds: 0,
    };
  }
  out.metric('HealthCheckFailed', report.status === 'ok' ? 0 : 1);
  out.metric('DependenciesFailing', report.dependenciesFailing);
  out.metric('FinalityStalledSeconds', report.stalledSeconds);
  if (report.status === 'ok') out.log.info('health check ok');
  else out.log.warn('health check failed', { status: report.status, failing: report.failing });
  return report;
}
