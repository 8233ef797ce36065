/** Lambda entry: the state function on the region's finality-notice queue (wiring only; logic in lib/pipeline/state-function.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { logger, metrics, queueHandler } from '../lib/handlers/lambda-env.js';

export const handler = middy(queueHandler({ kind: 'finalized' }))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
