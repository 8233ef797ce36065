/**
 * The failure drills' reachability switch (lib/local/reachability.ts): while a region is down,
 * every DynamoDB and SQS request to it fails at once like a refused connection (classified
 * 'unreachable', as the API and event sources expect); other regions and a revived one are untouched.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createClientFactory } from '../../lib/aws/clients.js';
import { dependencyFailure } from '../../lib/aws/errors.js';
import { Reachability } from '../../lib/local/reachability.js';

/** Nothing listens on port 9 of the loopback: a request that gets through fails with a real ECONNREFUSED. */
const endpoints = { dynamodb: 'http://127.0.0.1:9', sqs: 'http://127.0.0.1:9' };

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error & { code?: string }) => e,
  );

describe('Reachability', () => {
  it('fails requests to a region that is down with a refused connection, without reaching the network', async () => {
    const reach = new Reachability();
    const aws = reach.guard(createClientFactory({ endpoints, maxAttempts: 1 }));
    reach.setDown('us-east-1', true);
    for (const e of [
      await failure(aws.dynamo('us-east-1').send(new ListTablesCommand({}))),
      await failure(aws.sqs('us-east-1').send(new ListQueuesCommand({}))),
    ]) {
      expect(e.message).toMatch(/region us-east-1 is down/);
      expect(e.code).toBe('ECONNREFUSED');
      expect(dependencyFailure(e)).toBe('unreachable');
    }
    expect(reach.downRegions()).toEqual(['us-east-1']);
    aws.destroy();
  });

  it('leaves other regions alone, and a revived region reaches the network again', async () => {
    const reach = new Reachability();
    const aws = reach.guard(createClientFactory({ endpoints, maxAttempts: 1 }));
    reach.setDown('us-east-1', true);
    const other = await failure(aws.dynamo('eu-west-1').send(new ListTablesCommand({})));
    expect(other.message).not.toMatch(/is down/); // the real network error of the unused port
    reach.setDown('us-east-1', false);
    const revived = await failure(aws.dynamo('us-east-1').send(new ListTablesCommand({})));
    expect(revived.message).not.toMatch(/is down/);
    expect(reach.downRegions()).toEqual([]);
    // The same cached client is guarded once, however often it is asked for.
    expect(aws.dynamo('us-east-1')).toBe(aws.dynamo('us-east-1'));
    aws.destroy();
  });
});
