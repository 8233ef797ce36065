/**
 * StreamEndpoint: a Lambda function URL with response streaming (InvokeMode RESPONSE_STREAM) in
 * front of the stream function (functions/stream.ts), which serves GET /v1/finality/stream as
 * server-sent events, and the rest of the API's reads as well (read-only: it refuses
 * POST /v1/transactions). API Gateway buffers whole responses of a Lambda proxy integration, so it
 * cannot serve the stream; the region API's stream route redirects here.
 *
 * Fixed defaults: public (auth NONE; every event carries a threshold certificate the client
 * checks with the group key alone), CORS for GET from any origin with the Last-Event-ID header,
 * and a reserved concurrency of `maxStreams`: each open stream is one running invocation, so
 * that is the region's bound on open streams (Lambda answers 429 beyond it).
 */
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface StreamEndpointProps {
  /** The stream function (functions/stream.ts). */
  readonly handler: lambda.Function;
  /** Streams the region serves at once: the function's reserved concurrency, in [1, 1000]. Default 50. */
  readonly maxStreams?: number;
}

export class StreamEndpoint extends Construct {
  readonly functionUrl: lambda.FunctionUrl;
  /** The function URL, ending in '/'. */
  readonly url: string;
  readonly maxStreams: number;

  /** @throws Error naming the prop when maxStreams is out of range */
  constructor(scope: Construct, id: string, props: StreamEndpointProps) {
    super(scope, id);
    const maxStreams = props.maxStreams ?? 50;
    if (!Number.isInteger(maxStreams) || maxStreams < 1 || maxStreams > 1000) {
      throw new Error(`StreamEndpoint.maxStreams: expected an integer in [1, 1000], got ${maxStreams}`);
    }
    this.maxStreams = maxStreams;
    (props.handler.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = maxStreams;
    this.functionUrl = props.handler.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
      cors: {
        allowedOrigins: ['*'],
        allowedMethods: [lambda.HttpMethod.GET],
        allowedHeaders: ['last-event-id', 'content-type'],
        maxAge: Duration.hours(1),
      },
    });
    this.url = this.functionUrl.url;
  }
}
