/**
 * Lambda entry: the region's API behind a function URL with response streaming (InvokeMode
 * RESPONSE_STREAM), so that GET /v1/finality/stream really streams (API Gateway HTTP APIs buffer
 * whole responses). Every other route answers as it does behind API Gateway. Wiring only.
 *
 * One invocation serves one stream at a time, so the region's bound on open streams is the
 * function's reserved concurrency (cdk/constructs/stream-endpoint.ts). A stream ends a few
 * seconds before the function timeout; clients reconnect with Last-Event-ID.
 *
 * Read-only: POST /v1/transactions answers 405 (readOnlyApi) and the function may not send to the
 * ingress queue, so its public URL is no way around the rate limits in front of the region API.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createApi, readOnlyApi } from '../lib/api/app.js';
import { streamingLambdaHandler } from '../lib/api/lambda.js';
import { logger, poolFromEnv, runtime } from '../lib/handlers/lambda-env.js';

let serve: ReturnType<typeof streamingLambdaHandler> | undefined;

export const handler = awslambda.streamifyResponse(
  async (event: APIGatewayProxyEventV2, responseStream: awslambda.HttpResponseStream, context: Context) => {
    if (!serve) {
      const rt = await runtime();
      serve = streamingLambdaHandler(
        readOnlyApi(
          createApi({
            query: rt.query,
            transport: rt.transport,
            chain: rt.chain,
            maxLagBlocks: Number(process.env.AFG_MAX_LAG_BLOCKS ?? 50),
            stream: { pollMs: Number(process.env.AFG_STREAM_POLL_MS ?? 500), maxStreams: 1 },
            // Statuses only (GET /v1/transactions/{hash}): POST is refused above, so nothing is admitted here.
            pool: poolFromEnv(),
            log: (entry) => logger.error(entry.message, { method: entry.method, path: entry.path, error: String(entry.error) }),
          }),
          'the region API (the ApiUrl output)',
        ),
      );
    }
    await serve(event, responseStream, context);
  },
);
