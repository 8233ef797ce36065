/**
 * HttpEndpoint: an API Gateway HTTP API whose every route ($default) proxies to one Lambda function
 * (the API role routes by path itself). Fixed defaults: one auto-deployed `$default` stage with
 * access logs (JSON, 30-day retention) and stage-wide throttling.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Access-log fields, restricted to variables HTTP APIs support (REST-only ones such as resourcePath are not). */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  time: '$context.requestTime',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  bytes: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationError: '$context.integrationErrorMessage',
};

export interface HttpEndpointProps {
  /** API name. */
  readonly apiName: string;
  /** The function serving every request. */
  readonly handler: lambda.IFunction;
  /** Steady-state requests per second across the stage, in [1, 10000]. Default 100. */
  readonly rateLimit?: number;
  /** Burst capacity, in [1, 5000]. Default 200. */
  readonly burstLimit?: number;
  /** Delete the access-log group with the stack. Default false. */
  readonly destroyLogs?: boolean;
}

export class HttpEndpoint extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  /** The stage URL, ending in '/'. */
  readonly url: string;

  /** @throws Error naming the prop when rateLimit or burstLimit is out of range */
  constructor(scope: Construct, id: string, props: HttpEndpointProps) {
    super(scope, id);
    const rateLimit = props.rateLimit ?? 100;
    const burstLimit = props.burstLimit ?? 200;
    if (!Number.isInteger(rateLimit) || rateLimit < 1 || rateLimit > 10_000) {
      throw new Error(`HttpEndpoint.rateLimit: expected an integer in [1, 10000], got ${rateLimit}`);
    }
    if (!Number.isInteger(burstLimit) || burstLimit < 1 || burstLimit > 5_000) {
      throw new Error(`HttpEndpoint.burstLimit: expected an integer in [1, 5000], got ${burstLimit}`);
    }
    this.api = new apigw.HttpApi(this, 'Api', {
      apiName: props.apiName,
      description: 'afg query API and transaction ingress',
      defaultIntegration: new HttpLambdaIntegration('Lambda', props.handler),
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.destroyLogs ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.stage = new apigw.HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.url = this.stage.url;
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Public by design: every GET answer carries a threshold certificate (and a Merkle proof) the client verifies with the ' +
        'group public key alone; POST /v1/transactions is authenticated by the ed25519 signature in its body; the stage is throttled.',
    });
  }
}
