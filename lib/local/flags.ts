/**
 * Command-line flags of `npm start` (the local cluster), parsed with commander and validated here,
 * at the edge: every refusal names the flag. Parsing never exits the process; main.ts maps the
 * result to an exit code (2 for bad usage).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type PoolSettings, poolSettings, VIEW_TIMEOUT_BOUNDS } from '../config.js';
import { defaultThreshold } from '../core/ffg.js';
import { DEFAULT_POOL_LANES, DEFAULT_POOL_LIMITS, poolLimitsProblem } from '../pipeline/pool.js';

export const DEFAULT_REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'] as const;
export const DEFAULT_PORT = 3000;
export const DEFAULT_DATA_DIR = '.data/local';
/** Same bounds as the cluster's own checks (LocalCluster.start) and the config parser. */
const MAX_VALIDATORS = 64;
const MAX_CHECKPOINT_INTERVAL = 1_000_000;
const MAX_LOAD = 1_000;
export const DEFAULT_MAX_IN_FLIGHT = 256;
const MAX_IN_FLIGHT = 10_000;
const MAX_DURATION_S = 7 * 24 * 3600;
/** Genesis accounts beyond the dev accounts: 1e6 builds in minutes (every region writes its tree). */
const MAX_ACCOUNTS = 1_000_000;
const MAX_POOL = 1_000_000;
const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d$/;

export interface StartOptions {
  readonly regions: readonly string[];
  /** Regions that hold no key share: they follow the others' finality from a snapshot (after `regions` in port order). */
  readonly followers: readonly string[];
  /** Total validators, placed round-robin over the regions. */
  readonly validators: number;
  /** Signatures needed to certify; defaults to n - f (lib/core/ffg.ts defaultThreshold). */
  readonly threshold: number;
  readonly checkpointInterval: number;
  /** Port of the first region's API; the others follow. 0 = any free port. */
  readonly port: number;
  readonly dataDir: string;
  readonly fresh: boolean;
  /** Transfers per second offered by the load generator; 0 = no load. */
  readonly load: number;
  /** The load generator's cap on requests open at once, over all senders. */
  readonly maxInFlight: number;
  /** The load generator's cap on requests open at once per sender. */
  readonly maxInFlightPerSender: number;
  /** One AWS-compatible endpoint (e.g. LocalStack) for DynamoDB and SQS instead of the embedded services. */
  readonly endpoint?: string;
  /** Stop by itself after this many seconds. */
  readonly durationSeconds?: number;
  /** Show the live terminal view (false with --no-view). */
  readonly view: boolean;
  /** Funded accounts at genesis beyond the ten dev accounts (a new chain only: with --fresh or an empty data folder). */
  readonly accounts?: number;
  /** Transaction pool settings given on the command line (the rest keep their defaults). */
  readonly pool?: Partial<PoolSettings>;
  /** Failure drills (--kill-region / --revive-region), in time order. */
  readonly drills: readonly DrillEvent[];
  /** Seconds without finality progress, work pending, before a validator asks for the next view. */
  readonly viewTimeoutSeconds?: number;
  /** Seconds between each member region's finality syncs (0 = none). */
  readonly finalitySyncSeconds?: number;
}

/** One step of a failure drill: at `atSeconds` after the cluster is ready (and the load started), kill or revive `region`. */
export interface DrillEvent {
  readonly action: 'kill' | 'revive';
  readonly region: string;
  readonly atSeconds: number;
}

export type FlagsResult =
  | { readonly kind: 'run'; readonly options: StartOptions }
  /** --help: print `text` to stdout and exit 0. */
  | { readonly kind: 'help'; readonly text: string }
  /** Bad usage: print `message` to stderr and exit 2. */
  | { readonly kind: 'error'; readonly message: string };

/** Bad usage; `flag` names the offending flag (or environment variable). */
export class FlagError extends Error {
  override readonly name = 'FlagError';
  constructor(
    readonly flag: string,
    reason: string,
  ) {
    super(`${flag}: ${reason}`);
  }
}

const intIn =
  (flag: string, min: number, max: number) =>
  (value: string): number => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${flag}: expected an integer in ${min}..${max}, got "${value}"`);
    return n;
  };

const numberIn =
  (flag: string, min: number, max: number, minExclusive = false) =>
  (value: string): number => {
    const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isFinite(n) || n > max || (minExclusive ? n <= min : n < min))
      throw new InvalidArgumentError(`${flag}: expected a number ${minExclusive ? '>' : '>='} ${min} and <= ${max}, got "${value}"`);
    return n;
  };

const regionList =
  (flag: string) =>
  (value: string): string[] => {
    const regions = value.split(',').map((r) => r.trim());
    if (regions.length === 0 || regions.some((r) => r === ''))
      throw new InvalidArgumentError(`${flag}: expected a comma-separated list of region names`);
    for (const r of regions)
      if (!REGION_RE.test(r)) throw new InvalidArgumentError(`${flag}: "${r}" is not a region name (e.g. us-east-1)`);
    if (new Set(regions).size !== regions.length) throw new InvalidArgumentError(`${flag}: a region is listed twice`);
    return regions;
  };

type DrillStep = { readonly region: string; readonly atSeconds: number };

/** Parses one REGION@SECONDS value of --kill-region / --revive-region (the region is checked against --regions later). */
const drillStep =
  (flag: string) =>
  (value: string, previous: DrillStep[]): DrillStep[] => {
    const m = /^([^@\s]+)@(\d+(?:\.\d+)?)$/.exec(value.trim());
    if (!m) throw new InvalidArgumentError(`${flag}: expected REGION@SECONDS (e.g. us-east-1@20), got "${value}"`);
    const atSeconds = Number(m[2]);
    if (!Number.isFinite(atSeconds) || atSeconds > MAX_DURATION_S)
      throw new InvalidArgumentError(`${flag}: seconds must be at most ${MAX_DURATION_S}, got "${m[2]}"`);
    return [...previous, { region: m[1]!, atSeconds }];
  };

function endpointUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`--endpoint: not a URL: "${value}" (e.g. http://localhost:4566)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError(`--endpoint: expected http(s), got ${url.protocol}`);
  return value.replace(/\/+$/, '');
}

function program(defaultPort: number): Command {
  return new Command('npm start --')
    .description('Run the local multi-region afg cluster (embedded DynamoDB Local + SQS emulator) with a live view')
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .allowExcessArguments(false)
    .option(
      '--validators <n>',
      'total validators, placed round-robin over the regions (default: one per region)',
      intIn('--validators', 1, MAX_VALIDATORS),
    )
    .option('--regions <list>', 'comma-separated regions; the first is the home region', regionList('--regions'), [...DEFAULT_REGIONS])
    .option(
      '--followers <list>',
      'comma-separated follower regions: no key share; they bootstrap from a snapshot of the others and follow their finality',
      regionList('--followers'),
      [],
    )
    .option('--threshold <t>', 'signatures needed (default n - f, the smallest safe threshold)', intIn('--threshold', 1, MAX_VALIDATORS))
    .option('--checkpoint-interval <k>', 'blocks between checkpoints', intIn('--checkpoint-interval', 1, MAX_CHECKPOINT_INTERVAL), 1)
    .option(
      '--port <p>',
      'API port of the first region, the next regions use the following ports (env PORT; 0 = any free port)',
      intIn('--port', 0, 65535),
      defaultPort,
    )
    .option('--data-dir <dir>', 'folder holding tables, queues and keys between runs', DEFAULT_DATA_DIR)
    .option('--fresh', 'delete the data folder first and start a new chain', false)
    .option(
      '--load <n>',
      'offer n transfers per second from the dev accounts and measure finality latency (from each POST to readable in every region)',
      numberIn('--load', 0, MAX_LOAD),
      0,
    )
    .option(
      '--max-in-flight <n>',
      'with --load: requests open at once, over all senders (a due transfer beyond it is skipped and reported)',
      intIn('--max-in-flight', 1, MAX_IN_FLIGHT),
      DEFAULT_MAX_IN_FLIGHT,
    )
    .option(
      '--max-in-flight-per-sender <n>',
      'with --load: requests open at once per sender; above 1 a refusal can leave a gap in its nonces (see README)',
      intIn('--max-in-flight-per-sender', 1, MAX_IN_FLIGHT),
      1,
    )
    .addOption(
      new Option('--endpoint <url>', 'use this AWS-compatible endpoint (e.g. LocalStack) for DynamoDB and SQS').argParser(endpointUrl),
    )
    .option('--duration <s>', 'stop by itself after s seconds', numberIn('--duration', 0, MAX_DURATION_S, true))
    .option(
      '--accounts <n>',
      `a new chain with n funded accounts beyond the ten dev accounts (keys: sha256("afg-account-" + i)); with --load, ` +
        'transfers spread over them',
      intIn('--accounts', 1, MAX_ACCOUNTS),
    )
    .option(
      '--pool-size <n>',
      `pending transactions the pool holds (default ${DEFAULT_POOL_LIMITS.capacity}); beyond it POST /v1/transactions answers 503 OVERLOADED`,
      intIn('--pool-size', 1, MAX_POOL),
    )
    .option(
      '--pool-per-sender <n>',
      `pending transactions one sender may hold (default ${DEFAULT_POOL_LIMITS.perSender})`,
      intIn('--pool-per-sender', 1, MAX_POOL),
    )
    .option(
      '--nonce-window <w>',
      `W: a nonce is admitted only below the sender's finalized next nonce + W (default ${DEFAULT_POOL_LIMITS.nonceWindow})`,
      intIn('--nonce-window', 1, MAX_POOL),
    )
    .option('--pool-lanes <n>', `partitions the pool spreads senders over (default ${DEFAULT_POOL_LANES})`, intIn('--pool-lanes', 1, 256))
    .option(
      '--kill-region <region@s>',
      'failure drill: s seconds after the cluster is ready (and the load started), stop every role and the API of the region ' +
        'and make its tables and queues unreachable (repeatable)',
      drillStep('--kill-region'),
      [] as DrillStep[],
    )
    .option(
      '--revive-region <region@s>',
      'failure drill: bring a killed region back at s seconds (repeatable)',
      drillStep('--revive-region'),
      [] as DrillStep[],
    )
    .option(
      '--view-timeout <s>',
      'seconds without finality progress, work pending, before a validator asks for the next view (default 5; doubled per view given up on, up to 8x)',
      intIn('--view-timeout', VIEW_TIMEOUT_BOUNDS.min, VIEW_TIMEOUT_BOUNDS.max),
    )
    .option(
      '--finality-sync <s>',
      "seconds between each region's look at its peers' finalized heads, to catch up after an outage on an idle chain (default 10; 0 = never)",
      intIn('--finality-sync', 0, 3600),
    )
    .option('--no-view', 'print plain status lines instead of the live view');
}

/** PORT from the environment, validated like --port; undefined when unset or empty. */
function envPort(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.PORT;
  if (raw === undefined || raw.trim() === '') return DEFAULT_PORT;
  try {
    return intIn('PORT', 0, 65535)(raw);
  } catch (e) {
    throw new FlagError('PORT', `${(e as Error).message.replace(/^PORT: /, '')} (environment variable)`);
  }
}

/** Turns commander's message ("error: option '--x <n>' argument 'y' is invalid. --x: reason") into "--x: reason". */
function usageMessage(e: CommanderError): string {
  const text = e.message.replace(/^error: /, '');
  const ours = /is invalid\. (.*)$/s.exec(text);
  return ours ? ours[1]!.trim() : text.trim();
}

/**
 * Parses `argv` (arguments only, without node and script) with defaults from `env` (PORT).
 * Returns the options, the help text, or a usage error naming the flag. Never throws, never exits.
 * @example parseStartFlags(['--regions', 'us-east-1,eu-west-1', '--validators', '4'], process.env)
 */
export function parseStartFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): FlagsResult {
  try {
    const p = program(envPort(env));
    try {
      p.parse([...argv], { from: 'user' });
    } catch (e) {
      if (e instanceof CommanderError) {
        if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return { kind: 'help', text: p.helpInformation() };
        return { kind: 'error', message: usageMessage(e) };
      }
      throw e;
    }
    return { kind: 'run', options: finish(p.opts()) };
  } catch (e) {
    if (e instanceof FlagError || e instanceof InvalidArgumentError) return { kind: 'error', message: e.message };
    throw e;
  }
}

/** The pool flags given, as config pool settings, checked together (capacity >= lanes). */
function poolFlags(o: Record<string, unknown>): { pool?: Partial<PoolSettings> } {
  const given = {
    ...(o.poolSize === undefined ? {} : { capacity: o.poolSize as number }),
    ...(o.poolPerSender === undefined ? {} : { perSender: o.poolPerSender as number }),
    ...(o.nonceWindow === undefined ? {} : { nonceWindow: o.nonceWindow as number }),
    ...(o.poolLanes === undefined ? {} : { lanes: o.poolLanes as number }),
  };
  if (Object.keys(given).length === 0) return {};
  const settings = poolSettings({ pool: given });
  const problem = poolLimitsProblem(settings, settings.lanes);
  if (problem) throw new FlagError(problem[0] === 'capacity' ? '--pool-size' : '--pool-lanes', problem[1]);
  return { pool: given };
}

/** Cross-flag checks: threshold against the validator count, port range against the region count. */
function finish(o: Record<string, unknown>): StartOptions {
  const regions = o.regions as string[];
  const followers = o.followers as string[];
  const both = followers.filter((f) => regions.includes(f));
  if (both.length > 0) throw new FlagError('--followers', `${both.join(', ')} is also in --regions (a follower holds no key share)`);
  const validators = (o.validators as number | undefined) ?? regions.length;
  if (validators > MAX_VALIDATORS)
    throw new FlagError('--validators', `at most ${MAX_VALIDATORS} (one per region by default; pass --validators)`);
  const min = defaultThreshold(validators);
  const threshold = (o.threshold as number | undefined) ?? min;
  if (threshold < min || threshold > validators)
    throw new FlagError(
      '--threshold',
      `must be in ${min}..${validators} for ${validators} validators (n - f .. n, f = the faults n members tolerate), got ${threshold}`,
    );
  const port = o.port as number;
  // LocalCluster refuses a base port above 65535 - regions (followers included).
  const sites = regions.length + followers.length;
  if (port > 65535 - sites) throw new FlagError('--port', `${port} leaves no room for ${sites} consecutive ports (max ${65535 - sites})`);
  const dataDir = String(o.dataDir);
  if (dataDir.trim() === '') throw new FlagError('--data-dir', 'must not be empty');
  return {
    regions,
    followers,
    validators,
    threshold,
    checkpointInterval: o.checkpointInterval as number,
    port,
    dataDir,
    fresh: o.fresh === true,
    load: o.load as number,
    maxInFlight: o.maxInFlight as number,
    maxInFlightPerSender: o.maxInFlightPerSender as number,
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint as string }),
    ...(o.duration === undefined ? {} : { durationSeconds: o.duration as number }),
    view: o.view !== false,
    ...(o.accounts === undefined ? {} : { accounts: o.accounts as number }),
    ...poolFlags(o),
    drills: drillFlags(o, regions),
    ...(o.viewTimeout === undefined ? {} : { viewTimeoutSeconds: o.viewTimeout as number }),
    ...(o.finalitySync === undefined ? {} : { finalitySyncSeconds: o.finalitySync as number }),
  };
}

/**
 * The drill flags as one time-ordered list, checked: each region is a validator region (a
 * follower has no roles to kill), and per region the steps alternate kill, revive, kill... at
 * strictly increasing times (a revive needs an earlier kill of that region).
 */
function drillFlags(o: Record<string, unknown>, regions: readonly string[]): DrillEvent[] {
  const steps = (flag: string, action: DrillEvent['action']) =>
    (o[flag === '--kill-region' ? 'killRegion' : 'reviveRegion'] as DrillStep[]).map((s) => {
      if (!regions.includes(s.region))
        throw new FlagError(flag, `"${s.region}" is not one of the validator regions (${regions.join(', ')})`);
      return { action, region: s.region, atSeconds: s.atSeconds };
    });
  const all = [...steps('--kill-region', 'kill'), ...steps('--revive-region', 'revive')].sort((a, b) => a.atSeconds - b.atSeconds);
  for (const region of new Set(all.map((e) => e.region))) {
    const mine = all.filter((e) => e.region === region);
    mine.forEach((e, i) => {
      const want = i % 2 === 0 ? 'kill' : 'revive';
      if (i > 0 && e.atSeconds === mine[i - 1]!.atSeconds)
        throw new FlagError(`--${e.action}-region`, `${region} has two steps at ${e.atSeconds} s`);
      if (e.action !== want)
        throw new FlagError(
          `--${e.action}-region`,
          e.action === 'revive'
            ? `${region}@${e.atSeconds}: revive needs an earlier --kill-region of ${region}`
            : `${region}@${e.atSeconds}: ${region} is already killed then (revive it first)`,
        );
    });
  }
  return all;
}
