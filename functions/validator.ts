/** Lambda entry: one member's validator on its inbox queue (wiring only; logic in lib/pipeline/validator.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { logger, memberFromEnv, metrics, queueHandler } from '../lib/handlers/lambda-env.js';

export const handler = middy(queueHandler({ kind: 'inbox', member: memberFromEnv() }))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
