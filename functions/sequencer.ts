/** Lambda entry: the sequencer role on its SQS queue (wiring only; logic in lib/pipeline/sequencer.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { logger, metrics, runtime, telemetry } from '../lib/handlers/lambda-env.js';
import { sequencerHandler } from '../lib/handlers/sqs.js';

export const handler = middy(sequencerHandler(runtime, telemetry)).use(injectLambdaContext(logger)).use(logMetrics(metrics));
