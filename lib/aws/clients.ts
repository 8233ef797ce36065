/**
 * The one place that builds AWS SDK clients. Every adapter takes a ClientFactory, so switching
 * between real AWS, the embedded services (DynamoDB Local + fauxqs) and LocalStack is a matter
 * of endpoints, never of code paths.
 *
 * Numbers in DynamoDB: the document client returns an N attribute as a JS number when it is a safe
 * integer and as a bigint above 2^53 (SDK default, wrapNumbers off). To keep one type per attribute,
 * store heights and indices (always safe integers) as N, and u64 values that may exceed 2^53
 * (amounts, balances, nonces) as decimal strings (S), the same form the HTTP API uses
 * (parseU64Decimal in lib/core/bytes.ts reads them back).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError } from '../core/errors.js';

/** Service endpoints; an undefined entry means the real regional AWS endpoint. */
export interface AwsEndpoints {
  readonly dynamodb?: string;
  readonly sqs?: string;
  /** SQS endpoints of particular regions (the local cluster runs one emulator server per region); other regions use `sqs`. */
  readonly sqsByRegion?: Readonly<Record<string, string>>;
  readonly secretsManager?: string;
}

/** Static credentials or a provider, as accepted by every SDK v3 client. */
export type AwsCredentials = NonNullable<DynamoDBClientConfig['credentials']>;

export interface ClientFactoryOptions {
  readonly endpoints?: AwsEndpoints;
  /** Used for every client. Default: the SDK's default chain for AWS, LOCAL_CREDENTIALS for local endpoints. */
  readonly credentials?: AwsCredentials;
  /** Attempts per request including the first (default 5). */
  readonly maxAttempts?: number;
  /** 'adaptive' (default) adds client-side rate limiting when the service throttles; 'standard' only backs off. */
  readonly retryMode?: 'standard' | 'adaptive';
}

/** Builds and caches one client per (service, region). */
export interface ClientFactory {
  readonly endpoints: AwsEndpoints;
  dynamo(region: string): DynamoDBDocumentClient;
  sqs(region: string): SQSClient;
  secrets(region: string): SecretsManagerClient;
  /** Closes the sockets of every client built so far; the factory builds fresh clients afterwards. */
  destroy(): void;
}

/**
 * Dummy credentials for local endpoints. One fixed access key matters for DynamoDB Local: without
 * -sharedDb it keeps one database per (access key, region), so every process must use the same key
 * to see the same tables. Letters and digits only, as DynamoDB Local requires.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'afglocal', secretAccessKey: 'afglocal' } as const;

/**
 * Creates the client factory.
 * @example const aws = createClientFactory({ endpoints: endpointsFromEnv() }); await aws.dynamo('eu-west-1').send(cmd);
 * Throws ConfigError when maxAttempts is not a positive integer.
 */
export function createClientFactory(opts: ClientFactoryOptions = {}): ClientFactory {
  const endpoints = { ...opts.endpoints };
  const maxAttempts = opts.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new ConfigError('maxAttempts', 'expected a positive integer');
  const retryMode = opts.retryMode ?? 'adaptive';
  const common = (region: string, endpoint: string | undefined) => ({
    region,
    maxAttempts,
    retryMode,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(opts.credentials !== undefined
      ? { credentials: opts.credentials }
      : endpoint !== undefined
        ? { credentials: LOCAL_CREDENTIALS }
        : {}),
  });
  const cache = new Map<string, { destroy(): void }>();
  const cached = <T extends { destroy(): void }>(service: string, region: string, build: () => T): T => {
    if (typeof region !== 'string' || region === '') throw new ConfigError('region', 'expected a region name');
    const key = `${service}/${region}`;
    let client = cache.get(key) as T | undefined;
    if (client === undefined) {
      client = build();
      cache.set(key, client);
    }
    return client;
  };
  return {
    endpoints,
    dynamo: (region) =>
      cached('dynamodb', region, () =>
        DynamoDBDocumentClient.from(new DynamoDBClient(common(region, endpoints.dynamodb)), {
          marshallOptions: { removeUndefinedValues: true },
        }),
      ),
    // useQueueUrlAsEndpoint: false sends every request to this client's own endpoint. With true (the SDK
    // default) a QueueUrl from another host (an emulator's sqs.<region>.localhost URL, or another region)
    // would redirect the request there while still signing for this client's region.
    sqs: (region) =>
      cached(
        'sqs',
        region,
        () => new SQSClient({ ...common(region, endpoints.sqsByRegion?.[region] ?? endpoints.sqs), useQueueUrlAsEndpoint: false }),
      ),
    secrets: (region) => cached('secrets', region, () => new SecretsManagerClient(common(region, endpoints.secretsManager))),
    destroy: () => {
      for (const client of cache.values()) client.destroy();
      cache.clear();
    },
  };
}

/**
 * Reads endpoints from the environment: AFG_DYNAMODB_ENDPOINT, AFG_SQS_ENDPOINT, AFG_SECRETS_ENDPOINT,
 * each falling back to AWS_ENDPOINT_URL (one endpoint for all services, as with LocalStack).
 * Unset or empty variables mean real AWS. Throws ConfigError naming the variable when a value is not
 * an http(s) URL without path, query or credentials.
 */
export function endpointsFromEnv(env: Record<string, string | undefined> = process.env): AwsEndpoints {
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : parseEndpoint(value, name);
  };
  const shared = read('AWS_ENDPOINT_URL');
  const pick = (name: string) => read(name) ?? shared;
  const out: { dynamodb?: string; sqs?: string; secretsManager?: string } = {};
  const dynamodb = pick('AFG_DYNAMODB_ENDPOINT');
  const sqs = pick('AFG_SQS_ENDPOINT');
  const secretsManager = pick('AFG_SECRETS_ENDPOINT');
  if (dynamodb !== undefined) out.dynamodb = dynamodb;
  if (sqs !== undefined) out.sqs = sqs;
  if (secretsManager !== undefined) out.secretsManager = secretsManager;
  return out;
}

/** Validates an endpoint URL and returns its origin (no trailing slash). Throws ConfigError naming `key`. */
export function parseEndpoint(value: string, key: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, `not a URL: ${JSON.stringify(value)} (expected e.g. http://127.0.0.1:8000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(key, `expected an http or https URL, got ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new ConfigError(key, 'must not embed credentials');
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '')
    throw new ConfigError(key, 'expected scheme, host and port only (no path or query)');
  return url.origin;
}
