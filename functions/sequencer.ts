/** Lambda entry: the sequencer on the ingress queue (wiring only; logic in lib/pipeline/sequencer.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { logger, metrics, queueHandler } from '../lib/handlers/lambda-env.js';

export const handler = middy(queueHandler({ kind: 'ingress' }))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
