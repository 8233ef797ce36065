/**
 * RoleFunction: the Lambda function of one protocol role (functions/<role>.ts), with fixed defaults:
 * Node.js 22 on arm64, bundled as ESM (AWS SDK included) by the local esbuild (no Docker), source maps on, its own log
 * group (30-day retention) and its own role whose only starting permission is writing that log group.
 * Every other permission comes from the grant methods of the tables, queues and secrets it uses.
 */

import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type Role, serviceName } from '../config.js';

/** The Lambda runtime, matching the Node 22 the project develops and tests on. */
export const RUNTIME = lambda.Runtime.NODEJS_22_X;

/** Lambda's limit on the total size of a function's environment variables. */
const MAX_ENV_BYTES = 4096;
const FUNCTION_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Lets ESM bundles load CommonJS dependencies that call require() (e.g. parts of the AWS SDK). */
const REQUIRE_SHIM =
  "import { createRequire as __afgCreateRequire } from 'node:module'; const require = __afgCreateRequire(import.meta.url);";

export interface RoleFunctionProps {
  /** The role; the entry point is functions/<role>.ts. */
  readonly role: Role;
  /** Function name: 1-64 characters of [A-Za-z0-9_-]. */
  readonly functionName: string;
  /** Timeout, 1 s .. 15 min, whole seconds. */
  readonly timeout: Duration;
  /** Memory in MB, 128 .. 10240. */
  readonly memorySize: number;
  /** Environment on top of POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE and NODE_OPTIONS. */
  readonly environment: Readonly<Record<string, string>>;
  /** Delete the log group with the stack. Default false (kept). */
  readonly destroyLogs?: boolean;
}

export class RoleFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly timeout: Duration;
  readonly logGroup: logs.LogGroup;

  /** @throws Error naming the prop when functionName, timeout, memorySize or the environment size is out of range */
  constructor(scope: Construct, id: string, props: RoleFunctionProps) {
    super(scope, id);
    if (!FUNCTION_NAME_RE.test(props.functionName)) {
      throw new Error(`RoleFunction.functionName: expected 1-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(props.functionName)}`);
    }
    const seconds = props.timeout.toSeconds();
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 900) {
      throw new Error(`RoleFunction.timeout: expected whole seconds in [1, 900], got ${seconds}`);
    }
    if (!Number.isInteger(props.memorySize) || props.memorySize < 128 || props.memorySize > 10240) {
      throw new Error(`RoleFunction.memorySize: expected an integer in [128, 10240] MB, got ${props.memorySize}`);
    }
    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: serviceName(props.role),
      POWERTOOLS_METRICS_NAMESPACE: 'afg',
      NODE_OPTIONS: '--enable-source-maps',
      ...props.environment,
    };
    // Lambda counts keys and values; tokens (e.g. the account id) resolve to at most ~20 characters.
    const envBytes = Object.entries(environment).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (envBytes > MAX_ENV_BYTES) {
      throw new Error(`RoleFunction.environment: ${envBytes} bytes exceeds Lambda's ${MAX_ENV_BYTES}-byte limit (AFG_CONFIG too large?)`);
    }
    this.timeout = props.timeout;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.destroyLogs ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    // An explicit role instead of the AWSLambdaBasicExecutionRole managed policy, which may write any log group.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.functionName}: ${props.role} role`,
    });
    this.logGroup.grantWrite(role);
    this.fn = new NodejsFunction(this, 'Function', {
      functionName: props.functionName,
      entry: fileURLToPath(new URL(`../../functions/${props.role}.ts`, import.meta.url)),
      projectRoot: fileURLToPath(new URL('../../', import.meta.url)),
      depsLockFilePath: fileURLToPath(new URL('../../package-lock.json', import.meta.url)),
      handler: 'handler',
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memorySize,
      role,
      logGroup: this.logGroup,
      environment,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        // Bundle the AWS SDK too: handlers run the exact client versions the tests ran (e.g. SQS
        // useQueueUrlAsEndpoint), not whichever v3 release the Lambda runtime ships.
        externalModules: [],
        banner: REQUIRE_SHIM,
        minify: true,
        sourceMap: true,
      },
    });
    this.fn.node.addDependency(role);
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is pinned on purpose: the project builds and tests on Node 22 (node@22 devDependency), ' +
        'so the Lambda runtime is the one CI exercises; RUNTIME and the dev Node move together.',
    });
  }
}
