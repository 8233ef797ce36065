/**
 * Deployment-side naming and config loading for the CDK app. Every name of a queue, secret or
 * parameter that another region needs is derived here from the cluster prefix, so stacks never
 * reference each other through CloudFormation (no exports, no cross-region lookups).
 */
import { readFileSync } from 'node:fs';
import { type ClusterConfig, dlqName, inboxQueue, parseClusterConfig, resourceNames } from '../lib/config.js';
import { ConfigError } from '../lib/core/errors.js';

export { dlqName, inboxQueue, resourceNames };

/** The Lambda roles; one entry point each under functions/. */
export const ROLES = ['sequencer', 'validator', 'finalizer', 'state-function', 'api', 'stream', 'follower'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The finality-lag metric the finalizer emits with Powertools Metrics (EMF). Powertools always adds a
 * `service` dimension (from POWERTOOLS_SERVICE_NAME), so the alarm selects on `service` and `region`.
 */
export const FINALITY_LAG_METRIC = { namespace: 'afg', metricName: 'FinalityLag', service: 'afg-finalizer' } as const;

/** POWERTOOLS_SERVICE_NAME of a role's function, e.g. `afg-finalizer`. */
export const serviceName = (role: Role): string => `afg-${role}`;

/** Secrets Manager name of member `index`'s key share, e.g. `afg/member-1`. */
export const keyShareSecretName = (prefix: string, index: number): string => `${prefix}/member-${index}`;

/**
 * Partition keys of the items in each table, by kind, as IAM `dynamodb:LeadingKeys` values (a trailing
 * `*` is a prefix). Mirrors the layouts in the header comments of lib/aws/block-store.ts,
 * lib/aws/finality-store.ts and lib/aws/state-store.ts; test/integration/least-privilege.test.ts checks
 * that every request the roles really make falls within the grants built from these.
 */
export const ITEM_KEYS = {
  blocks: {
    block: 'B#*',
    /** The finalized-height index (F#<height>: the finalized block's hash), written by the state function. */
    finalizedIndex: 'F#*',
    sequencerHead: 'SEQ',
    /** The transaction pool's lanes: entries and the lane's counter (PL#<lane>, lib/aws/pool-store.ts). */
    poolLane: 'PL#*',
    /** A transaction's status in the pool (TX#<hash>). */
    txStatus: 'TX#*',
    pacemaker: 'PACEMAKER',
  },
  finality: {
    /** Member `m`'s slashing-protection watermark: the one finality item its validator writes. */
    watermark: (member: number): string => `WATERMARK#${member}`,
    tally: 'T#*',
    evidence: 'E',
    stats: 'STATS',
    head: 'HEAD',
    /** A view's view changes and certificate (V#<view>), written by the finalizer. */
    view: 'V#*',
  },
  state: { node: 'N#*', applied: 'APPLIED' },
} as const;

/** Environment variable telling a function that it writes state-tree nodes (lib/handlers/lambda-env.ts). */
export const STATE_WRITER_ENV = 'AFG_STATE_WRITER';

/** SSM parameter (one per region) holding that region's API URL, read by peers for catch-up. */
export const apiUrlParameterName = (prefix: string): string => `/${prefix}/api-url`;

/**
 * CloudFormation stack name of a region: `<prefix>-<region>`, with characters CloudFormation refuses
 * replaced by '-' and an `afg-` lead when the prefix does not start with a letter.
 * @example stackName('afg', 'eu-west-1') // 'afg-eu-west-1'
 */
export function stackName(prefix: string, region: string): string {
  const clean = prefix.replace(/[^A-Za-z0-9-]/g, '-');
  return /^[A-Za-z]/.test(clean) ? `${clean}-${region}` : `afg-${clean}-${region}`;
}

/**
 * Reads and validates a cluster config JSON file, including the check against the dealing (its
 * `commitments`; see parseClusterConfig), so a config whose member keys do not match the dealing
 * never synthesizes.
 * @param path file path (relative to the working directory)
 * @returns the validated config
 * @throws ConfigError when the file cannot be read or parsed, or a key is invalid (the message names it)
 */
export function loadClusterConfig(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('config', `cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('config', `${path} is not JSON: ${(e as Error).message}`);
  }
  return parseClusterConfig(raw);
}
