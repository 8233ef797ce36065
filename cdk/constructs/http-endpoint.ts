/**
 * HttpEndpoint: a region's public API. An API Gateway REST API (regional endpoint) whose every path
 * proxies to one Lambda function (the API role routes by path itself), behind an AWS WAF web ACL
 * with a per-client rate-based rule. Fixed defaults: one stage (`STAGE_NAME`) with access logs (JSON,
 * 30-day retention) and stage-wide throttling; a client address that sends more than
 * `requestsPerIpPerMinute` requests within a minute gets 429 `{ error: { code: "RATE_LIMITED" } }`
 * with `retry-after` from WAF until its rate falls back under the limit.
 *
 * Why a REST API: a per-client limit needs WAF (API Gateway's own throttling is per stage, route or
 * API key, never per caller), and WAF protects REST API stages but cannot be associated with HTTP
 * APIs. The alternative, CloudFront with a WAF ACL in front of an HTTP API, needs the ACL in
 * us-east-1 (cross-region references) and leaves the HTTP API's own URL open beside it unless a
 * custom domain replaces it. docs/deploy.md ("Rate limits") has the comparison and the costs.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** The stage: the API's URL is `https://<id>.execute-api.<region>.amazonaws.com/api/`. */
export const STAGE_NAME = 'api';

/** Seconds over which WAF counts a client's requests (WAF accepts 60, 120, 300 or 600). */
export const RATE_WINDOW_SECONDS = 60;

/** The body WAF answers a rate-limited client with (the API's error shape). */
export const RATE_LIMITED_BODY = {
  error: { code: 'RATE_LIMITED', message: 'too many requests from this address; retry after the retry-after seconds' },
} as const;

/** Access-log fields ($context variables of REST APIs). */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  time: '$context.requestTime',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  bytes: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  waf: '$context.wafResponseCode',
  integrationError: '$context.integrationErrorMessage',
};

export interface HttpEndpointProps {
  /** API name (also names the WAF metrics). Letters, digits, '-' and '_', at most 100 characters. */
  readonly apiName: string;
  /** The function serving every request. */
  readonly handler: lambda.IFunction;
  /** Steady-state requests per second across the stage, in [1, 10000]. Default 100. */
  readonly rateLimit?: number;
  /** Burst capacity, in [1, 5000]. Default 200. */
  readonly burstLimit?: number;
  /** Requests one client address may send within a minute before WAF blocks it, in [10, 2000000000]. Default 1200. */
  readonly requestsPerIpPerMinute?: number;
  /** Delete the access-log group with the stack. Default false. */
  readonly destroyLogs?: boolean;
}

export class HttpEndpoint extends Construct {
  readonly api: apigw.LambdaRestApi;
  readonly stage: apigw.Stage;
  readonly webAcl: wafv2.CfnWebACL;
  /** The stage URL, ending in '/'. */
  readonly url: string;
  readonly requestsPerIpPerMinute: number;

  /** @throws Error naming the prop when apiName, rateLimit, burstLimit or requestsPerIpPerMinute is out of range */
  constructor(scope: Construct, id: string, props: HttpEndpointProps) {
    super(scope, id);
    const rateLimit = props.rateLimit ?? 100;
    const burstLimit = props.burstLimit ?? 200;
    const perIp = props.requestsPerIpPerMinute ?? 1200;
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(props.apiName)) {
      throw new Error(`HttpEndpoint.apiName: expected 1-100 characters of [A-Za-z0-9_-], got ${JSON.stringify(props.apiName)}`);
    }
    if (!Number.isInteger(rateLimit) || rateLimit < 1 || rateLimit > 10_000) {
      throw new Error(`HttpEndpoint.rateLimit: expected an integer in [1, 10000], got ${rateLimit}`);
    }
    if (!Number.isInteger(burstLimit) || burstLimit < 1 || burstLimit > 5_000) {
      throw new Error(`HttpEndpoint.burstLimit: expected an integer in [1, 5000], got ${burstLimit}`);
    }
    if (!Number.isInteger(perIp) || perIp < 10 || perIp > 2_000_000_000) {
      throw new Error(`HttpEndpoint.requestsPerIpPerMinute: expected an integer in [10, 2000000000], got ${perIp}`);
    }
    this.requestsPerIpPerMinute = perIp;
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.destroyLogs ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.api = new apigw.LambdaRestApi(this, 'Api', {
      restApiName: props.apiName,
      description: 'afg query API and transaction ingress',
      handler: props.handler,
      proxy: true,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // No account-wide CloudWatch role from this stack (see the APIG6 acknowledgment below).
      cloudWatchRole: false,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: rateLimit,
        throttlingBurstLimit: burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.stage = this.api.deploymentStage;
    this.url = this.api.url;

    const metric = (suffix: string) => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${props.apiName}-${suffix}`,
      sampledRequestsEnabled: true,
    });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      description: `Per-client rate limit in front of the ${props.apiName} REST API`,
      defaultAction: { allow: {} },
      visibilityConfig: metric('acl'),
      customResponseBodies: { RateLimited: { contentType: 'APPLICATION_JSON', content: JSON.stringify(RATE_LIMITED_BODY) } },
      rules: [
        {
          name: 'PerClientRate',
          priority: 0,
          // WAF counts each source address's requests over the window and blocks the address while it is above the limit.
          statement: { rateBasedStatement: { aggregateKeyType: 'IP', limit: perIp, evaluationWindowSec: RATE_WINDOW_SECONDS } },
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: 'RateLimited',
                responseHeaders: [{ name: 'retry-after', value: String(RATE_WINDOW_SECONDS) }],
              },
            },
          },
          visibilityConfig: metric('per-client-rate'),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.stage.stageArn, webAclArn: this.webAcl.attrArn });

    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-APIG4',
        reason:
          'Public by design: every GET answer carries a threshold certificate (and a Merkle proof) the client verifies with the ' +
          'group public key alone; POST /v1/transactions is authenticated by the ed25519 signature in its body; WAF limits each client.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'No user pool: the API has no users to sign in. Reads are verified by the client with the group key, transactions carry ' +
          'their own ed25519 signature, and the WAF rate-based rule bounds what any one client can ask.',
      },
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'One proxy resource forwards every path to the API function, which validates each request against the OpenAPI ' +
          'document (lib/api/validate.ts) and answers 400 naming the field; API Gateway models would duplicate that schema.',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging needs the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), which one stack of ' +
          'one cluster should not own; the stage has JSON access logs (status, latency, WAF verdict, integration error) and the ' +
          'function logs every 5xx. docs/deploy.md says how to turn execution logs on per account.',
      },
    );
  }
}
