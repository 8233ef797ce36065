/** What the cost bench bills per run (bench/cost.ts pipelineCost): which operations count. */
import { describe, expect, it } from 'vitest';
import type { OpCount } from '../../bench/aws-ops.js';
import type { RunResult } from '../../bench/cluster-run.js';
import { pipelineCost } from '../../bench/cost.js';

function op(origin: string, service: string, operation: string, o: Partial<OpCount> = {}): OpCount {
  return {
    origin,
    service,
    operation,
    calls: 1,
    attempts: 1,
    errors: 0,
    entries: 1,
    billedRequests: 1,
    emptyReceives: 0,
    readUnits: 0,
    writeUnits: 0,
    estimatedUnits: 0,
    ...o,
  } as OpCount;
}

const run = (ops: OpCount[]) => ({ ops, roles: [] }) as unknown as RunResult;

describe('pipelineCost', () => {
  it("bills each POST's admission writes (the API's DynamoDB writes) but not the API's reads", () => {
    const p = pipelineCost(
      run([
        op('api', 'dynamodb', 'TransactWriteItems', { calls: 10, writeUnits: 20 }),
        op('api', 'dynamodb', 'UpdateItem', { calls: 10, writeUnits: 10 }),
        op('api', 'dynamodb', 'GetItem', { calls: 50, readUnits: 50 }),
        op('state-function', 'dynamodb', 'BatchWriteItem', { calls: 2, writeUnits: 40 }),
        op('state-function', 'dynamodb', 'PutItem', { calls: 1, writeUnits: 1 }), // the applied pointer, not the tree
      ]),
    );
    expect(p.writeUnits).toBe(71);
    expect(p.readUnits).toBe(0);
    expect(p.dynamoCalls).toBe(23);
    // The state tree's share: the state function's node batches only.
    expect(p.treeWriteUnits).toBe(40);
  });

  it('bills the ingress sends and the pipeline requests, not the idle empty receives', () => {
    const p = pipelineCost(
      run([
        op('api', 'sqs', 'SendMessage', { calls: 5, billedRequests: 5 }),
        op('finalizer-source', 'sqs', 'ReceiveMessage', { calls: 9, billedRequests: 9, emptyReceives: 4 }),
      ]),
    );
    expect(p.sqsRequests).toBe(10);
    expect(p.emptyReceives).toBe(4);
  });
});
