/**
 * `npm start` flags: table-driven valid and invalid cases, then main()'s exit codes for usage
 * errors (in-process, nothing started) and for a missing Java (a child process with an empty PATH).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultThreshold } from '../../lib/core/ffg.js';
import { DEFAULT_DATA_DIR, DEFAULT_REGIONS, parseStartFlags, type StartOptions } from '../../lib/local/flags.js';
import { EXIT, main } from '../../lib/local/main.js';

const defaults: StartOptions = {
  regions: [...DEFAULT_REGIONS],
  followers: [],
  validators: 4,
  threshold: 3,
  checkpointInterval: 1,
  port: 3000,
  dataDir: DEFAULT_DATA_DIR,
  fresh: false,
  load: 0,
  maxInFlight: 256,
  maxInFlightPerSender: 1,
  view: true,
  drills: [],
};

const valid: { name: string; argv: string[]; env?: Record<string, string>; expect: Partial<StartOptions> }[] = [
  { name: 'no flags: 4 regions, one validator each, threshold 3', argv: [], expect: defaults },
  { name: 'PORT env sets the base port', argv: [], env: { PORT: '8080' }, expect: { port: 8080 } },
  { name: '--port wins over PORT', argv: ['--port', '4000'], env: { PORT: '8080' }, expect: { port: 4000 } },
  { name: 'empty PORT is ignored', argv: [], env: { PORT: '' }, expect: { port: 3000 } },
  { name: '--port 0 picks free ports', argv: ['--port', '0'], expect: { port: 0 } },
  {
    name: '--regions: validators default to one per region',
    argv: ['--regions', 'us-east-1,eu-west-1'],
    expect: { regions: ['us-east-1', 'eu-west-1'], validators: 2, threshold: 2 },
  },
  { name: '--validators 7: threshold defaults to n - f = 5', argv: ['--validators', '7'], expect: { validators: 7, threshold: 5 } },
  { name: '--threshold n is allowed', argv: ['--validators', '4', '--threshold', '4'], expect: { threshold: 4 } },
  { name: 'one validator, threshold 1', argv: ['--regions', 'eu-west-1', '--validators', '1'], expect: { validators: 1, threshold: 1 } },
  { name: '--checkpoint-interval', argv: ['--checkpoint-interval', '4'], expect: { checkpointInterval: 4 } },
  { name: '--data-dir and --fresh', argv: ['--data-dir', '/tmp/x', '--fresh'], expect: { dataDir: '/tmp/x', fresh: true } },
  { name: '--load accepts a fraction', argv: ['--load', '2.5'], expect: { load: 2.5 } },
  { name: '--max-in-flight', argv: ['--load', '100', '--max-in-flight', '32'], expect: { load: 100, maxInFlight: 32 } },
  { name: '--max-in-flight-per-sender', argv: ['--max-in-flight-per-sender', '4'], expect: { maxInFlightPerSender: 4 } },
  {
    name: '--endpoint drops a trailing slash',
    argv: ['--endpoint', 'http://localhost:4566/'],
    expect: { endpoint: 'http://localhost:4566' },
  },
  { name: '--duration', argv: ['--duration', '30'], expect: { durationSeconds: 30 } },
  { name: '--no-view', argv: ['--no-view'], expect: { view: false } },
  { name: '--accounts', argv: ['--accounts', '100000'], expect: { accounts: 100_000 } },
  {
    name: 'pool flags become pool settings',
    argv: ['--pool-size', '500', '--pool-per-sender', '8', '--nonce-window', '32', '--pool-lanes', '4'],
    expect: { pool: { capacity: 500, perSender: 8, nonceWindow: 32, lanes: 4 } },
  },
  { name: 'one pool flag: only it is set', argv: ['--pool-size', '2000'], expect: { pool: { capacity: 2000 } } },
  {
    name: '--followers adds regions with no key share (validators stay one per --regions entry)',
    argv: ['--regions', 'us-east-1,eu-west-1,ap-northeast-1', '--followers', 'eu-central-1,us-west-2'],
    expect: {
      regions: ['us-east-1', 'eu-west-1', 'ap-northeast-1'],
      followers: ['eu-central-1', 'us-west-2'],
      validators: 3,
      threshold: 3,
    },
  },
  {
    name: '--kill-region and --revive-region become one drill in time order',
    argv: ['--revive-region', 'us-east-1@40', '--kill-region', 'us-east-1@20', '--kill-region', 'eu-west-1@30.5'],
    expect: {
      drills: [
        { action: 'kill', region: 'us-east-1', atSeconds: 20 },
        { action: 'kill', region: 'eu-west-1', atSeconds: 30.5 },
        { action: 'revive', region: 'us-east-1', atSeconds: 40 },
      ],
    },
  },
  {
    name: 'a region killed, revived and killed again',
    argv: ['--kill-region', 'eu-west-1@1', '--revive-region', 'eu-west-1@2', '--kill-region', 'eu-west-1@3'],
    expect: {
      drills: [
        { action: 'kill', region: 'eu-west-1', atSeconds: 1 },
        { action: 'revive', region: 'eu-west-1', atSeconds: 2 },
        { action: 'kill', region: 'eu-west-1', atSeconds: 3 },
      ],
    },
  },
  { name: '--view-timeout', argv: ['--view-timeout', '3'], expect: { viewTimeoutSeconds: 3 } },
  { name: '--finality-sync', argv: ['--finality-sync', '30'], expect: { finalitySyncSeconds: 30 } },
  { name: '--finality-sync 0 (never)', argv: ['--finality-sync', '0'], expect: { finalitySyncSeconds: 0 } },
  { name: '--flag=value form', argv: ['--validators=5', '--threshold=4'], expect: { validators: 5, threshold: 4 } },
];

const invalid: { name: string; argv: string[]; env?: Record<string, string>; flag: RegExp }[] = [
  { name: '--validators 0', argv: ['--validators', '0'], flag: /^--validators: expected an integer in 1\.\.64/ },
  { name: '--validators not a number', argv: ['--validators', 'four'], flag: /^--validators:/ },
  { name: '--validators fraction', argv: ['--validators', '2.5'], flag: /^--validators:/ },
  { name: '--validators too many', argv: ['--validators', '65'], flag: /^--validators:/ },
  { name: '--regions foo', argv: ['--regions', 'foo'], flag: /^--regions: "foo" is not a region name/ },
  { name: '--regions empty item', argv: ['--regions', 'us-east-1,'], flag: /^--regions:/ },
  { name: '--regions duplicate', argv: ['--regions', 'us-east-1,us-east-1'], flag: /^--regions: a region is listed twice/ },
  { name: '--threshold above n', argv: ['--threshold', '5'], flag: /^--threshold: must be in 3\.\.4/ },
  { name: '--threshold below n - f', argv: ['--threshold', '2'], flag: /^--threshold: must be in 3\.\.4/ },
  { name: '--threshold 0', argv: ['--threshold', '0'], flag: /^--threshold:/ },
  { name: '--checkpoint-interval 0', argv: ['--checkpoint-interval', '0'], flag: /^--checkpoint-interval:/ },
  { name: '--port above 65535', argv: ['--port', '70000'], flag: /^--port: expected an integer in 0\.\.65535/ },
  { name: '--port negative', argv: ['--port', '-1'], flag: /--port/ },
  { name: '--port leaves no room for the regions', argv: ['--port', '65534'], flag: /^--port: 65534 leaves no room for 4/ },
  { name: '--followers foo', argv: ['--followers', 'foo'], flag: /^--followers: "foo" is not a region name/ },
  { name: '--followers duplicate', argv: ['--followers', 'eu-central-1,eu-central-1'], flag: /^--followers: a region is listed twice/ },
  {
    name: '--followers also in --regions',
    argv: ['--followers', 'eu-west-1'],
    flag: /^--followers: eu-west-1 is also in --regions \(a follower holds no key share\)/,
  },
  {
    name: '--port leaves no room for the followers',
    argv: ['--port', '65531', '--followers', 'eu-central-1'],
    flag: /^--port: 65531 leaves no room for 5 consecutive ports/,
  },
  { name: 'PORT env not a number', argv: [], env: { PORT: 'abc' }, flag: /^PORT: .*environment variable/ },
  { name: '--load negative', argv: ['--load', '-3'], flag: /--load/ },
  { name: '--accounts 0', argv: ['--accounts', '0'], flag: /^--accounts: expected an integer in 1\.\.1000000/ },
  { name: '--accounts too many', argv: ['--accounts', '2000000'], flag: /^--accounts:/ },
  { name: '--pool-size below the lanes', argv: ['--pool-size', '4'], flag: /^--pool-size: expected an integer >= lanes \(8\)/ },
  { name: '--pool-lanes 0', argv: ['--pool-lanes', '0'], flag: /^--pool-lanes: expected an integer in 1\.\.256/ },
  { name: '--nonce-window 0', argv: ['--nonce-window', '0'], flag: /^--nonce-window:/ },
  { name: '--load too high', argv: ['--load', '5000'], flag: /^--load:/ },
  { name: '--max-in-flight 0', argv: ['--max-in-flight', '0'], flag: /^--max-in-flight: expected an integer in 1\.\.10000/ },
  { name: '--duration 0', argv: ['--duration', '0'], flag: /^--duration:/ },
  { name: '--endpoint not a URL', argv: ['--endpoint', 'localhost'], flag: /^--endpoint: not a URL/ },
  { name: '--endpoint not http', argv: ['--endpoint', 'ftp://x'], flag: /^--endpoint: expected http/ },
  { name: '--kill-region without @', argv: ['--kill-region', 'us-east-1'], flag: /^--kill-region: expected REGION@SECONDS/ },
  { name: '--kill-region bad seconds', argv: ['--kill-region', 'us-east-1@-5'], flag: /^--kill-region: expected REGION@SECONDS/ },
  {
    name: '--kill-region of an unknown region',
    argv: ['--kill-region', 'eu-central-1@5'],
    flag: /^--kill-region: "eu-central-1" is not one of the validator regions/,
  },
  {
    name: '--kill-region of a follower',
    argv: ['--followers', 'eu-central-1', '--kill-region', 'eu-central-1@5'],
    flag: /^--kill-region: "eu-central-1" is not one of the validator regions/,
  },
  {
    name: '--revive-region before its kill',
    argv: ['--kill-region', 'us-east-1@20', '--revive-region', 'us-east-1@10'],
    flag: /^--revive-region: us-east-1@10: revive needs an earlier --kill-region of us-east-1/,
  },
  {
    name: '--revive-region with no kill',
    argv: ['--revive-region', 'us-east-1@10'],
    flag: /^--revive-region: us-east-1@10: revive needs an earlier --kill-region/,
  },
  {
    name: '--kill-region twice without a revive',
    argv: ['--kill-region', 'us-east-1@10', '--kill-region', 'us-east-1@20'],
    flag: /^--kill-region: us-east-1@20: us-east-1 is already killed then/,
  },
  {
    name: '--kill-region and --revive-region at the same second',
    argv: ['--kill-region', 'us-east-1@10', '--revive-region', 'us-east-1@10'],
    flag: /^--revive-region: us-east-1 has two steps at 10 s/,
  },
  { name: '--view-timeout 0', argv: ['--view-timeout', '0'], flag: /^--view-timeout: expected an integer in 1\.\.900/ },
  { name: '--finality-sync above an hour', argv: ['--finality-sync', '3601'], flag: /^--finality-sync: expected an integer in 0\.\.3600/ },
  { name: '--view-timeout above the SQS delay limit', argv: ['--view-timeout', '901'], flag: /^--view-timeout:/ },
  { name: 'missing value', argv: ['--validators'], flag: /--validators <n>' argument missing/ },
  { name: 'unknown flag', argv: ['--bogus'], flag: /unknown option '--bogus'/ },
  { name: 'stray argument', argv: ['extra'], flag: /too many arguments/ },
];

describe('parseStartFlags', () => {
  it.each(valid)('accepts $name', ({ argv, env, expect: want }) => {
    const r = parseStartFlags(argv, env ?? {});
    expect(r.kind).toBe('run');
    if (r.kind === 'run') expect(r.options).toMatchObject(want);
  });

  it.each(invalid)('refuses $name, naming the flag', ({ argv, env, flag }) => {
    const r = parseStartFlags(argv, env ?? {});
    expect(r.kind).toBe('error');
    if (r.kind === 'error') expect(r.message).toMatch(flag);
  });

  it('--help returns the usage text listing every flag', () => {
    const r = parseStartFlags(['--help']);
    expect(r.kind).toBe('help');
    if (r.kind === 'help')
      for (const f of [
        '--validators',
        '--regions',
        '--threshold',
        '--checkpoint-interval',
        '--port',
        '--data-dir',
        '--fresh',
        '--load',
        '--endpoint',
        '--duration',
        '--kill-region',
        '--revive-region',
        '--view-timeout',
        '--no-view',
      ])
        expect(r.text).toContain(f);
  });

  it('the default threshold is n - floor((n-1)/3)', () => {
    expect([1, 2, 3, 4, 5, 7, 10].map(defaultThreshold)).toEqual([1, 2, 3, 3, 4, 5, 7]);
  });
});

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) }, out, err };
}

describe('main exit codes (nothing is started)', () => {
  it.each([['--validators', '0'], ['--regions', 'foo'], ['--threshold', '9'], ['--port', '99999'], ['--nope']])(
    '%s %s -> 2 with the flag named',
    async (...argv) => {
      const c = captureIo();
      expect(await main(argv.filter(Boolean), {}, c.io)).toBe(EXIT.usage);
      expect(c.err.join('')).toMatch(/^error: .*(--validators|--regions|--threshold|--port|--nope)/);
      expect(c.out).toEqual([]);
    },
  );

  it('--help -> 0 with usage on stdout', async () => {
    const c = captureIo();
    expect(await main(['--help'], {}, c.io)).toBe(EXIT.ok);
    expect(c.out.join('')).toContain('--checkpoint-interval');
  });

  it('a data folder made with another topology is refused unless --fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'afg-flags-'));
    try {
      writeFileSync(
        join(dir, 'topology.json'),
        JSON.stringify({ regions: ['us-east-1'], validators: 1, threshold: 1, checkpointInterval: 1 }),
      );
      const c = captureIo();
      expect(await main(['--data-dir', dir], {}, c.io)).toBe(EXIT.usage);
      expect(c.err.join('')).toMatch(/--data-dir: .* holds a cluster with --regions us-east-1 --validators 1 --threshold 1; pass --fresh/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--accounts on a kept data folder', () => {
  it('is part of the chain: another count is refused unless --fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'afg-flags-'));
    try {
      const topology = { regions: [...DEFAULT_REGIONS], validators: 4, threshold: 3, checkpointInterval: 1, accounts: 1000 };
      writeFileSync(join(dir, 'topology.json'), JSON.stringify(topology));
      const c = captureIo();
      expect(await main(['--data-dir', dir, '--accounts', '5'], {}, c.io)).toBe(EXIT.usage);
      expect(c.err.join('')).toMatch(/holds a cluster with --accounts 1000; pass --fresh/);
      // A folder from before --accounts existed holds the dev accounts only.
      writeFileSync(join(dir, 'topology.json'), JSON.stringify({ ...topology, accounts: undefined }));
      const d = captureIo();
      expect(await main(['--data-dir', dir, '--accounts', '5'], {}, d.io)).toBe(EXIT.usage);
      expect(d.err.join('')).toMatch(/holds a cluster with --accounts 0; pass --fresh/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('main without Java', () => {
  it('prints the ServiceStartError message (no stack) and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'afg-nojava-'));
    try {
      const { JAVA_HOME: _, ...env } = process.env;
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'lib/local/main.ts', '--port', '0', '--data-dir', dir, '--no-view'], {
        env: { ...env, PATH: '/nonexistent' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(EXIT.failed);
      expect(r.stderr).toMatch(/^error: dynamodb-local: Java not found .* install one .* or set JAVA_HOME/m);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
