/**
 * Starts one DynamoDB Local + SQS emulator pair for the whole test run and hands the endpoints to
 * every test file (test/helpers/embedded.ts reuses them): one JVM start instead of one per file.
 * Files isolate themselves with unique table and queue names.
 */
import type { TestProject } from 'vitest/node';
import { type EmbeddedServices, startEmbeddedServices } from '../lib/local/services.js';

let services: EmbeddedServices | undefined;

export async function setup(_project: TestProject): Promise<void> {
  services = await startEmbeddedServices();
  process.env.AFG_TEST_DYNAMODB_ENDPOINT = services.dynamodbEndpoint;
  process.env.AFG_TEST_SQS_ENDPOINT = services.sqsEndpoint;
}

export async function teardown(): Promise<void> {
  await services?.stop();
}
