/**
 * Cluster configuration: the validator set, topology and resource naming shared by the CDK app,
 * the Lambda handlers and the local runner. Loaded from JSON (env AFG_CONFIG, or a file) and
 * validated here, at the edge, with messages that name the key.
 */
import { MAX_GENESIS_ACCOUNTS } from './core/accounts.js';
import { APPLICATIONS, applicationNamed } from './core/apps.js';
import { dealingProblems } from './core/bls.js';
import { fromHex, toHex } from './core/bytes.js';
import { ConfigError } from './core/errors.js';
import { thresholdProblem } from './core/ffg.js';
import { transferApplication, transferApplicationWith } from './core/ledger.js';
import type { ApplicationDefinition } from './core/state-machine.js';
import type { ValidatorSet } from './core/types.js';
import { DEFAULT_POOL_LANES, DEFAULT_POOL_LIMITS, poolLimitsProblem } from './pipeline/pool.js';
import type { PoolLimits } from './pipeline/ports.js';
import type { RegionConfig } from './pipeline/region.js';

export interface MemberConfig {
  /** 1-based share index. */
  readonly index: number;
  /** Region hosting this member's validator. */
  readonly region: string;
  /** 96-byte G2 public key share, hex. */
  readonly publicKey: string;
}

export interface ClusterConfig {
  /** Prefix of every table and queue name, so several clusters can share an account. */
  readonly prefix: string;
  readonly chainId: string;
  readonly era: number;
  readonly checkpointInterval: number;
  readonly threshold: number;
  /** Region running the sequencer and the transaction ingress. */
  readonly homeRegion: string;
  readonly regions: readonly string[];
  readonly members: readonly MemberConfig[];
  readonly groupPublicKey: string;
  /**
   * The dealer's Feldman commitments a_k·G2 (k = 0..threshold-1), 96-byte hex each, as `afg keygen`
   * writes them. Parsing checks the group key and every member key against them (dealingProblems).
   */
  readonly commitments: readonly string[];
  /** Block limits used by the sequencer. */
  readonly maxBlockTransactions: number;
  readonly maxBlockBytes: number;
  /** The application the chain runs (lib/core/apps.ts); default "transfer". */
  readonly application: string;
  /** The transaction pool's limits and lanes (optional; see poolSettings for the defaults). */
  readonly pool?: Partial<PoolSettings>;
  /**
   * Funded accounts at genesis beyond the ten dev accounts (transfer application only; keys in
   * lib/core/accounts.ts). Part of the chain's genesis: every region must have the same. Default 0.
   */
  readonly genesisAccounts?: number;
  /**
   * Seconds without finality progress, work pending, before a validator asks for the next view
   * (optional, 1..900: the timer is a delayed SQS message; default DEFAULT_VIEW_TIMEOUT_SECONDS).
   */
  readonly viewTimeoutSeconds?: number;
}

/** Bounds of ClusterConfig.viewTimeoutSeconds: SQS delays a message by at most 900 s. */
export const VIEW_TIMEOUT_BOUNDS = { min: 1, max: 900 } as const;

/** The transaction pool of a cluster: admission limits and the lanes senders are spread over. */
export interface PoolSettings extends PoolLimits {
  readonly lanes: number;
}

/** The pool settings of `config`, defaults filled in (lib/pipeline/pool.ts DEFAULT_POOL_LIMITS, DEFAULT_POOL_LANES). */
export function poolSettings(config: Pick<ClusterConfig, 'pool'>): PoolSettings {
  return { ...DEFAULT_POOL_LIMITS, lanes: DEFAULT_POOL_LANES, ...config.pool };
}

/** Names of one region's tables and queues. Derived from names only, so no cross-region lookups are needed. */
export interface RegionResources {
  readonly blocksTable: string;
  readonly finalityTable: string;
  readonly stateTable: string;
  readonly ingressQueue: string; // only created in the home region
  readonly voteQueue: string;
  /** Finality notices for the region's state function. */
  readonly finalizedQueue: string;
}

export function resourceNames(prefix: string): RegionResources {
  return {
    blocksTable: `${prefix}-blocks`,
    finalityTable: `${prefix}-finality`,
    stateTable: `${prefix}-state`,
    ingressQueue: `${prefix}-ingress`,
    voteQueue: `${prefix}-votes`,
    finalizedQueue: `${prefix}-finalized`,
  };
}

/** The inbox of one validator: SQS does not fan out, so each member gets its own queue. */
export const inboxQueue = (prefix: string, member: number): string => `${prefix}-proposals-m${member}`;

/** Name of the dead-letter queue of `queueName`. */
export const dlqName = (queueName: string): string => `${queueName}-dlq`;

const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d$/;
const PREFIX_RE = /^[a-zA-Z0-9_-]{1,40}$/;

/** The commitments as hex strings of 96 bytes; throws ConfigError naming `commitments` or `commitments[k]`. */
function parseCommitments(value: unknown): string[] {
  if (value === undefined)
    throw new ConfigError(
      'commitments',
      "missing: the dealer's Feldman commitments (hex list, one per threshold share) from afg keygen's cluster.json",
    );
  if (!Array.isArray(value)) throw new ConfigError('commitments', 'expected an array of 96-byte hex strings');
  return value.map((c: unknown, k: number) => {
    try {
      return toHex(fromHex(c, 96, `commitments[${k}]`));
    } catch (e) {
      throw new ConfigError(`commitments[${k}]`, (e as Error).message.replace(`commitments[${k}]: `, ''));
    }
  });
}

/**
 * Validates a parsed JSON config. Throws ConfigError naming the first bad key, including the
 * dealing check: `commitments` has `threshold` entries, `groupPublicKey` is commitments[0], and
 * each member's key is the commitment polynomial at its index (lib/core/bls.ts dealingProblems).
 * That check costs one small G2 multiplication per member and commitment plus one point encoding
 * per member: 20-100 ms for n = 4-12 measured on a loaded 2-core machine.
 * @example parseClusterConfig(JSON.parse(process.env.AFG_CONFIG!))
 */
export function parseClusterConfig(raw: unknown): ClusterConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config', 'expected a JSON object');
  const r = raw as Record<string, unknown>;
  const known = new Set([
    'prefix',
    'chainId',
    'era',
    'checkpointInterval',
    'threshold',
    'homeRegion',
    'regions',
    'members',
    'groupPublicKey',
    'commitments',
    'maxBlockTransactions',
    'maxBlockBytes',
    'application',
    'pool',
    'genesisAccounts',
    'viewTimeoutSeconds',
  ]);
  for (const key of Object.keys(r)) if (!known.has(key)) throw new ConfigError(key, 'unknown key');
  const int = (key: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new ConfigError(key, `expected an integer in [${min}, ${max}]`);
    return v;
  };
  const hex = (key: string, bytes: number): string => {
    try {
      return toHex(fromHex(r[key], bytes, key));
    } catch (e) {
      throw new ConfigError(key, (e as Error).message);
    }
  };
  const prefix = r.prefix;
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) throw new ConfigError('prefix', 'expected 1-40 characters of [a-zA-Z0-9_-]');
  const regions = r.regions;
  if (!Array.isArray(regions) || regions.length === 0) throw new ConfigError('regions', 'expected a non-empty array of region names');
  for (const region of regions)
    if (typeof region !== 'string' || !REGION_RE.test(region))
      throw new ConfigError('regions', `not a region name: ${JSON.stringify(region)}`);
  if (new Set(regions).size !== regions.length) throw new ConfigError('regions', 'duplicate region');
  const homeRegion = r.homeRegion;
  if (typeof homeRegion !== 'string' || !regions.includes(homeRegion)) throw new ConfigError('homeRegion', 'must be one of regions');
  const members = r.members;
  if (!Array.isArray(members) || members.length === 0) throw new ConfigError('members', 'expected a non-empty array');
  const parsedMembers: MemberConfig[] = members.map((m: unknown, i: number) => {
    const mm = m as Record<string, unknown>;
    if (typeof mm !== 'object' || mm === null) throw new ConfigError(`members[${i}]`, 'expected an object');
    if (mm.index !== i + 1) throw new ConfigError(`members[${i}].index`, `expected ${i + 1} (members are listed by index, from 1)`);
    if (typeof mm.region !== 'string' || !regions.includes(mm.region))
      throw new ConfigError(`members[${i}].region`, 'must be one of regions');
    let publicKey: string;
    try {
      publicKey = toHex(fromHex(mm.publicKey, 96, `members[${i}].publicKey`));
    } catch (e) {
      throw new ConfigError(`members[${i}].publicKey`, (e as Error).message);
    }
    return { index: i + 1, region: mm.region, publicKey };
  });
  const n = parsedMembers.length;
  const threshold = int('threshold', 1, n);
  const thresholdIssue = thresholdProblem(n, threshold);
  if (thresholdIssue) throw new ConfigError('threshold', thresholdIssue);
  const application = r.application ?? 'transfer';
  if (typeof application !== 'string' || !applicationNamed(application))
    throw new ConfigError('application', `expected one of ${Object.keys(APPLICATIONS).join(', ')}`);
  const groupPublicKey = hex('groupPublicKey', 96);
  const commitments = parseCommitments(r.commitments);
  const [problem] = dealingProblems({
    threshold,
    groupPublicKey: fromHex(groupPublicKey, 96, 'groupPublicKey'),
    commitments: commitments.map((c, k) => fromHex(c, 96, `commitments[${k}]`)),
    members: parsedMembers.map((m) => ({ index: m.index, publicKey: fromHex(m.publicKey, 96, 'publicKey') })),
  });
  if (problem) throw new ConfigError(problem.field, problem.reason);
  return {
    prefix,
    chainId: hex('chainId', 32),
    era: int('era', 0),
    checkpointInterval: int('checkpointInterval', 1, 1_000_000),
    threshold,
    homeRegion,
    regions: [...regions],
    members: parsedMembers,
    groupPublicKey,
    commitments,
    maxBlockTransactions: int('maxBlockTransactions', 1, 100_000),
    maxBlockBytes: int('maxBlockBytes', 1024, 64 * 1024 * 1024),
    application,
    ...(r.pool === undefined ? {} : { pool: parsePool(r.pool) }),
    ...(r.genesisAccounts === undefined ? {} : { genesisAccounts: parseGenesisAccounts(r.genesisAccounts, application) }),
    ...(r.viewTimeoutSeconds === undefined
      ? {}
      : { viewTimeoutSeconds: int('viewTimeoutSeconds', VIEW_TIMEOUT_BOUNDS.min, VIEW_TIMEOUT_BOUNDS.max) }),
  };
}

/** The optional `genesisAccounts` key: an integer in 0..MAX_GENESIS_ACCOUNTS, for the transfer application only. */
function parseGenesisAccounts(raw: unknown, application: string): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0 || raw > MAX_GENESIS_ACCOUNTS)
    throw new ConfigError('genesisAccounts', `expected an integer in [0, ${MAX_GENESIS_ACCOUNTS}]`);
  if (raw > 0 && application !== transferApplication.name)
    throw new ConfigError('genesisAccounts', `funded genesis accounts exist for the ${transferApplication.name} application only`);
  return raw;
}

/** The optional `pool` key: any of capacity, perSender, nonceWindow, lanes (integers); throws ConfigError naming the key. */
function parsePool(raw: unknown): Partial<PoolSettings> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('pool', 'expected an object');
  const keys = ['capacity', 'perSender', 'nonceWindow', 'lanes'] as const;
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(keys as readonly string[]).includes(key)) throw new ConfigError(`pool.${key}`, `unknown key (known: ${keys.join(', ')})`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ConfigError(`pool.${key}`, 'expected an integer');
    out[key] = value;
  }
  const problem = poolLimitsProblem(poolSettings({ pool: out }), poolSettings({ pool: out }).lanes);
  if (problem) throw new ConfigError(`pool.${problem[0]}`, problem[1]);
  return out as Partial<PoolSettings>;
}

/**
 * The follower regions of a cluster: regions that host no member (the home region, where the
 * sequencer runs, never is one). No validator runs there and validators send them no votes; they
 * learn finality from their peers' APIs, checking every certificate with the group key
 * (lib/handlers/follower.ts).
 */
export function followerRegions(config: Pick<ClusterConfig, 'regions' | 'members' | 'homeRegion'>): string[] {
  return config.regions.filter((r) => r !== config.homeRegion && !config.members.some((m) => m.region === r));
}

/** The protocol view of the validator set. */
export function validatorSet(config: ClusterConfig): ValidatorSet {
  return {
    chainId: fromHex(config.chainId, 32, 'chainId'),
    era: BigInt(config.era),
    n: config.members.length,
    threshold: config.threshold,
    checkpointInterval: config.checkpointInterval,
    groupPublicKey: fromHex(config.groupPublicKey, 96, 'groupPublicKey'),
    members: config.members.map((m) => ({ index: m.index, region: m.region, publicKey: fromHex(m.publicKey, 96, 'publicKey') })),
  };
}

/**
 * What the runtime of `region` needs from the cluster config.
 * @throws ConfigError when `region` is not one of the config's regions.
 */
export function regionConfig(config: ClusterConfig, region: string): RegionConfig {
  if (!config.regions.includes(region)) throw new ConfigError('region', `${region} is not one of ${config.regions.join(', ')}`);
  return {
    set: validatorSet(config),
    region,
    homeRegion: config.homeRegion,
    application:
      config.application === transferApplication.name
        ? (transferApplicationWith(config.genesisAccounts ?? 0) as ApplicationDefinition)
        : applicationNamed(config.application)!,
    maxBlockTransactions: config.maxBlockTransactions,
    maxBlockBytes: config.maxBlockBytes,
    ...(config.viewTimeoutSeconds === undefined ? {} : { viewTimeoutSeconds: config.viewTimeoutSeconds }),
  };
}
