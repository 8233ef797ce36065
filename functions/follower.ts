/**
 * Lambda entry: the follower run of a follower region (one that holds no key share), started on a
 * schedule (cdk/region-stack.ts). It bootstraps from a snapshot when the region is fresh or far
 * behind, then follows the peers' finality streams (AFG_PEERS), every certificate checked with the
 * group key, until shortly before the invocation's deadline; the next scheduled run resumes from the
 * region's own finalized height. Wiring only: the logic is lib/handlers/follower.ts.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { follow } from '../lib/handlers/follower.js';
import { configFromEnv, logger, peersFromEnv, runtime } from '../lib/handlers/lambda-env.js';

/** Time left for stopping cleanly (the stream closes, the last record and notice are written). */
const MARGIN_MS = 15_000;

export const handler = middy(async (_event: unknown, context: Context) => {
  const region = await runtime();
  const peers = peersFromEnv(configFromEnv(), region.name);
  const signal = AbortSignal.timeout(Math.max(1_000, context.getRemainingTimeInMillis() - MARGIN_MS));
  await follow({ region, peers, signal, log: logger });
}).use(injectLambdaContext(logger));
