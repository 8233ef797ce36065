/** Lambda entry: the region's API (REST API proxy events) and its scheduled health check (wiring only; routes in lib/api/app.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type Api, createApi, errorResponse } from '../lib/api/app.js';
import { ApiError } from '../lib/api/errors.js';
import { lambdaHandler, type ProxyEvent } from '../lib/api/lambda.js';
import { dependencyFailure } from '../lib/aws/errors.js';
import { runFinalitySync } from '../lib/handlers/finality-sync.js';
import { isHealthCheckEvent, runHealthCheck } from '../lib/handlers/health-check.js';
import { logger, maxLagBlocksFromEnv, poolFromEnv, publishMetrics, runtime, telemetry } from '../lib/handlers/lambda-env.js';

let api: Api | undefined;

async function routes(): Promise<Api> {
  if (!api) {
    const region = await runtime();
    api = createApi({
      query: region.query,
      transport: region.transport,
      chain: region.chain,
      application: region.config.application,
      maxLagBlocks: maxLagBlocksFromEnv(),
      // API Gateway buffers responses: the finality stream is served by the stream function's URL.
      ...(process.env.AFG_STREAM_URL ? { stream: { redirectTo: process.env.AFG_STREAM_URL } } : {}),
      dependencyFailure,
      // Every region admits into the pool in the home region's blocks table.
      pool: poolFromEnv(),
      log: (entry) => logger.error(entry.message, { method: entry.method, path: entry.path, error: String(entry.error) }),
    });
  }
  return api;
}

async function serve(event: ProxyEvent | { afg: string }) {
  if (isHealthCheckEvent(event)) {
    const report = await runHealthCheck(routes, telemetry);
    publishMetrics();
    // The same schedule runs the finality sync: a region back from an outage catches up on an idle chain.
    await runFinalitySync(runtime, telemetry.log);
    return report;
  }
  let ready: Api;
  try {
    ready = await routes();
  } catch (e) {
    // A cold start that cannot reach the region's tables is a 503 like any other route's, not a Lambda error.
    const problem = dependencyFailure(e);
    if (problem === undefined) throw e;
    logger.warn('cold start: a store of this region is unavailable', { problem, error: String(e) });
    const res = errorResponse(
      new ApiError(503, 'UNAVAILABLE', `a store or queue of this region is unavailable (${problem}); retry later`),
      {
        'retry-after': '2',
      },
    );
    return { statusCode: res.status, headers: res.headers, body: res.body, isBase64Encoded: false };
  }
  return lambdaHandler(ready)(event as ProxyEvent);
}

export const handler = middy(serve).use(injectLambdaContext(logger));
