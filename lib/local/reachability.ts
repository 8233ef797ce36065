/**
 * The one reachability switch per region of the local cluster's failure drills (--kill-region):
 * while a region is down, every request any part of the cluster sends to that region's DynamoDB
 * tables or SQS queues fails at once with a connection-refused error, as if the network to the
 * region were cut. The switch sits in the clients (an SDK middleware), so every caller (the
 * region's own roles, its peers' sends to its queues, reads of its tables, the health probes) sees
 * the same outage through the same error path as a real one (lib/aws/errors.ts classifies it as
 * 'unreachable'). Its API server is closed by the cluster (peers' HTTP calls are refused).
 */
import type { ClientFactory } from '../aws/clients.js';

const MIDDLEWARE = 'afgLocalReachability';

/** The error a request to a region that is down fails with: a socket-level refusal. */
export function regionDownError(region: string): Error {
  return Object.assign(new Error(`connect ECONNREFUSED: region ${region} is down (local failure drill)`), {
    code: 'ECONNREFUSED',
    region,
  });
}

interface Stacked {
  middlewareStack: {
    add(
      mw: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
      o: { step: 'initialize'; name: string },
    ): void;
  };
}

export class Reachability {
  private readonly down = new Set<string>();
  private readonly guarded = new WeakSet<object>();

  isDown(region: string): boolean {
    return this.down.has(region);
  }

  /** Regions currently down, in the order they went down. */
  downRegions(): string[] {
    return [...this.down];
  }

  setDown(region: string, down: boolean): void {
    if (down) this.down.add(region);
    else this.down.delete(region);
  }

  /** Throws regionDownError while `region` is down. */
  check(region: string): void {
    if (this.down.has(region)) throw regionDownError(region);
  }

  /**
   * `aws` with every DynamoDB and SQS client behind this switch (the same cached clients, each
   * given the check once). `destroy` and `secrets` pass through.
   */
  guard(aws: ClientFactory): ClientFactory {
    const guard = <T extends object>(client: T, region: string): T => {
      if (this.guarded.has(client)) return client;
      this.guarded.add(client);
      (client as unknown as Stacked).middlewareStack.add(
        (next) => async (args) => {
          this.check(region);
          return next(args);
        },
        { step: 'initialize', name: MIDDLEWARE },
      );
      return client;
    };
    return {
      get endpoints() {
        return aws.endpoints;
      },
      dynamo: (region) => guard(aws.dynamo(region), region),
      sqs: (region) => guard(aws.sqs(region), region),
      secrets: (region) => aws.secrets(region),
      destroy: () => aws.destroy(),
    };
  }
}
