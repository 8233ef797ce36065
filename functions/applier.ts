/** Lambda entry: the applier role on its SQS queue (wiring only; logic in lib/pipeline/applier.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { logger, metrics, runtime, telemetry } from '../lib/handlers/lambda-env.js';
import { applierHandler } from '../lib/handlers/sqs.js';

export const handler = middy(applierHandler(runtime, telemetry)).use(injectLambdaContext(logger)).use(logMetrics(metrics));
