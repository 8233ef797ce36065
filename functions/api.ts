/** Lambda entry: the region's HTTP API (wiring only; routes in lib/api/app.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type Api, createApi } from '../lib/api/app.js';
import { lambdaHandler } from '../lib/api/lambda.js';
import { logger, maxLagBlocksFromEnv, runtime } from '../lib/handlers/lambda-env.js';

let api: Api | undefined;

async function serve(event: APIGatewayProxyEventV2) {
  const region = await runtime();
  api ??= createApi({
    query: region.query,
    transport: region.transport,
    chain: region.chain,
    application: region.config.application,
    maxLagBlocks: maxLagBlocksFromEnv(),
    // API Gateway buffers responses: the finality stream is served by the stream function's URL.
    ...(process.env.AFG_STREAM_URL ? { stream: { redirectTo: process.env.AFG_STREAM_URL } } : {}),
    log: (entry) => logger.error(entry.message, { method: entry.method, path: entry.path, error: String(entry.error) }),
  });
  return lambdaHandler(api)(event);
}

export const handler = middy(serve).use(injectLambdaContext(logger));
