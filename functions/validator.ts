/** Lambda entry: one member's validator on its inbox queue (wiring only; logic in lib/pipeline/validator.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { logger, memberKey, metrics, runtime, telemetry } from '../lib/handlers/lambda-env.js';
import { validatorHandler } from '../lib/handlers/sqs.js';

export const handler = middy(validatorHandler(runtime, memberKey, telemetry))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
