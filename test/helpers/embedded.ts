/**
 * Shared vitest helper for suites that need the real services: starts DynamoDB Local and fauxqs once
 * per test file (or reuses a run-wide pair, see sharedServices) and stops them in afterAll, which runs even when tests fail (and the java process
 * dies with the worker if the worker itself is killed; see lib/local/services.ts).
 *
 * @example
 * const env = useEmbeddedServices();
 * it('writes', async () => { await env().aws.dynamo('eu-west-1').send(...); });
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from 'vitest';
import { type AwsEndpoints, type ClientFactory, createClientFactory } from '../../lib/aws/clients.js';
import { type EmbeddedServices, startEmbeddedServices } from '../../lib/local/services.js';

export interface EmbeddedEnv {
  readonly services: EmbeddedServices;
  readonly endpoints: AwsEndpoints;
  /** Client factory pointed at the embedded services (maxAttempts 3). */
  readonly aws: ClientFactory;
  /** Milliseconds from start to both services answering (DynamoDB Local's JVM dominates). */
  readonly startupMs: number;
}

/**
 * Registers beforeAll/afterAll in the calling file and returns an accessor for the running services.
 * The accessor throws when called outside a test (before beforeAll ran).
 */
export function useEmbeddedServices(): () => EmbeddedEnv {
  let env: EmbeddedEnv | undefined;
  beforeAll(async () => {
    const started = Date.now();
    const services = sharedServices() ?? (await startEmbeddedServices());
    const endpoints = { dynamodb: services.dynamodbEndpoint, sqs: services.sqsEndpoint };
    env = { services, endpoints, aws: createClientFactory({ endpoints, maxAttempts: 3 }), startupMs: Date.now() - started };
  });
  afterAll(async () => {
    env?.aws.destroy();
    await env?.services.stop();
  });
  return () => {
    if (env === undefined) throw new Error('embedded services are not running (use the accessor inside tests)');
    return env;
  };
}

/**
 * Services already running for the whole run (e.g. started by a vitest globalSetup), given as
 * AFG_TEST_DYNAMODB_ENDPOINT and AFG_TEST_SQS_ENDPOINT: saves one JVM start per file. stop() is a no-op.
 */
function sharedServices(): EmbeddedServices | undefined {
  const dynamodbEndpoint = process.env.AFG_TEST_DYNAMODB_ENDPOINT;
  const sqsEndpoint = process.env.AFG_TEST_SQS_ENDPOINT;
  if (!dynamodbEndpoint || !sqsEndpoint) return undefined;
  // Not ours to supervise or report on: the run-wide pair belongs to the global setup.
  return { dynamodbEndpoint, sqsEndpoint, sqsEndpoints: {}, status: () => [], failure: new Promise(() => {}), stop: async () => {} };
}

/** A name unique within the run, for tables and queues (letters, digits and '-'). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Polls `check` until it returns a value other than undefined or false; throws `what` after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
