/**
 * `afg slashing-protection export|import` end to end against DynamoDB Local: flags, refusals, the
 * restore drill of issue 15 item 8 (export, restore rewinds the watermark, import), moving a member
 * to another deployment, and the EIP-3076 cases against the DynamoDB store.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSlashingProtectionStore } from '../../lib/aws/finality-store.js';
import { ensureTables } from '../../lib/aws/tables.js';
import type { CliIo } from '../../lib/cli/io.js';
import { run } from '../../lib/cli/main.js';
import { parseClusterConfig, resourceNames } from '../../lib/config.js';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { voteSigningRoot } from '../../lib/core/interchange.js';
import type { Watermark } from '../../lib/core/slashing.js';
import { eip3076Cases, runEip3076Case } from '../helpers/eip3076.js';
import { uniqueName, useEmbeddedServices } from '../helpers/embedded.js';
import { bytes, checkpoint, link } from '../stores/contract.js';

const env = useEmbeddedServices();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REGIONS = ['eu-west-1', 'us-east-1'];
const CHAIN = bytes(32);
const dealing = deal(4, 3);
const wm = (s: number, t: number): Watermark => ({ lastSourceHeight: s, lastTargetHeight: t });
let tmp: string;

/** A cluster config for `prefix` (members 1, 3 in eu-west-1; 2, 4 in us-east-1), written to a file. */
async function deployment(
  name: string,
  chainId = CHAIN,
): Promise<{ prefix: string; file: string; store: (region: string) => DynamoSlashingProtectionStore }> {
  const prefix = uniqueName(name);
  const config = parseClusterConfig({
    prefix,
    chainId: toHex(chainId),
    era: 0,
    checkpointInterval: 1,
    threshold: 3,
    homeRegion: REGIONS[0],
    regions: REGIONS,
    members: dealing.shares.map((s, i) => ({ index: s.index, region: REGIONS[i % 2], publicKey: toHex(s.publicKey) })),
    groupPublicKey: toHex(dealing.groupPublicKey),
    commitments: dealing.commitments.map(toHex),
    maxBlockTransactions: 100,
    maxBlockBytes: 100_000,
  });
  const file = join(tmp, `${prefix}.json`);
  await writeFile(file, JSON.stringify(config));
  for (const region of REGIONS) await ensureTables(env().aws.dynamo(region), prefix);
  const table = resourceNames(prefix).finalityTable;
  return { prefix, file, store: (region) => new DynamoSlashingProtectionStore(env().aws.dynamo(region), table) };
}

async function cli(...argv: string[]) {
  const io: CliIo & { stdout: string; stderr: string } = {
    stdout: '',
    stderr: '',
    out: (t) => {
      io.stdout += t;
    },
    err: (t) => {
      io.stderr += t;
    },
    fetch: (...a) => fetch(...a),
  };
  const code = await run(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

const endpoint = () => env().endpoints.dynamodb!;
let a: Awaited<ReturnType<typeof deployment>>;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'afg-protection-'));
  a = await deployment('sp-a');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('flags', () => {
  it.each([
    [['export', '--config', 'x.json'], /required option '--member <index>' not specified/],
    [['export', '--member', '0', '--config', 'x.json'], /'--member <index>' argument '0' is invalid/],
    [['export', '--member', '1', '--config', '/nonexistent/cluster.json'], /--config: cannot read \/nonexistent\/cluster.json as JSON/],
    [['import', '--member', '1', '--config', 'x.json'], /missing required argument 'file'/],
  ])('%j exits 2 naming the flag', async (argv, message) => {
    const r = await cli('slashing-protection', ...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('checks the config, the member, the region and the endpoint against each other (exit 2)', async () => {
    const bad = join(tmp, 'bad-config.json');
    await writeFile(bad, JSON.stringify({ prefix: 'afg' }));
    const cases: [string[], RegExp][] = [
      [['--member', '1', '--config', bad], /--config: .*bad-config\.json: regions: expected a non-empty array/],
      [['--member', '5', '--config', a.file], /--member: .* has members 1-4, not 5/],
      [['--member', '1', '--config', a.file, '--region', 'ap-south-1'], /--region: ap-south-1 is not one of eu-west-1, us-east-1/],
      [['--member', '1', '--config', a.file, '--endpoint', 'ftp://127.0.0.1:1'], /--endpoint: expected an http or https URL/],
      [['--member', '1', '--config', a.file, '--endpoint', 'http://127.0.0.1:1/path'], /--endpoint: expected scheme, host and port only/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli('slashing-protection', 'export', ...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
  });
});

describe('export', () => {
  it('a member that signed nothing exports an empty history for its key and this chain', async () => {
    const r = await cli('slashing-protection', 'export', '--member', '3', '--config', a.file, '--endpoint', endpoint());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      metadata: { interchange_format_version: '5', genesis_validators_root: `0x${toHex(CHAIN)}` },
      data: [{ pubkey: `0x${toHex(dealing.shares[2]!.publicKey)}`, signed_blocks: [], signed_attestations: [] }],
    });
    expect(r.err).toMatch(/member 3 .*eu-west-1.*nothing signed yet/);
  });

  it('writes --out once and refuses to overwrite it without --force (exit 1)', async () => {
    const out = join(tmp, 'once.json');
    const args = ['slashing-protection', 'export', '--member', '1', '--config', a.file, '--endpoint', endpoint(), '--out', out];
    expect((await cli(...args)).code).toBe(0);
    const again = await cli(...args);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/refusing to overwrite .*once\.json \(pass --force/);
    expect((await cli(...args, '--force')).code).toBe(0);
  });

  it('a config whose tables do not exist there is exit 1 naming the table', async () => {
    const elsewhere = join(tmp, 'elsewhere.json');
    await writeFile(elsewhere, (await readFile(a.file, 'utf8')).replace(a.prefix, 'sp-none'));
    const r = await cli('slashing-protection', 'export', '--member', '1', '--config', elsewhere, '--endpoint', endpoint());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/table sp-none-finality in eu-west-1 at http:\/\/.* does not exist/);
  });

  it('an endpoint nobody listens on is exit 1 naming it', async () => {
    const r = await cli('slashing-protection', 'export', '--member', '1', '--config', a.file, '--endpoint', 'http://127.0.0.1:1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach DynamoDB at http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  });
});

describe('restore drill (issue 15, item 8) and moving a member', () => {
  it('export before, the restore rewinds the watermark, import after: the double vote is refused again', async () => {
    const d = await deployment('sp-restore');
    const store = d.store('us-east-1'); // member 2's region
    const signed = link(checkpoint(2), checkpoint(3));
    await store.recordSignature(2, signed, bytes(48));

    const file = join(tmp, 'member-2.json');
    const exported = await cli(
      'slashing-protection',
      'export',
      '--member',
      '2',
      '--config',
      d.file,
      '--endpoint',
      endpoint(),
      '--out',
      file,
    );
    expect(exported.code).toBe(0);
    const doc = JSON.parse(await readFile(file, 'utf8'));
    expect(doc.data[0].signed_attestations).toEqual([
      { source_epoch: '2', target_epoch: '3', signing_root: `0x${toHex(voteSigningRoot(CHAIN, signed))}` },
    ]);

    // A point-in-time restore to before the signature: the member's watermark item is gone.
    await env()
      .aws.dynamo('us-east-1')
      .send(new DeleteCommand({ TableName: resourceNames(d.prefix).finalityTable, Key: { pk: 'WATERMARK#2', sk: '-' } }));
    expect(await store.watermark(2)).toBeUndefined();

    const imported = await cli('slashing-protection', 'import', file, '--member', '2', '--config', d.file, '--endpoint', endpoint());
    expect(imported.code).toBe(0);
    expect(imported.out).toMatch(/member 2 .*us-east-1.*: watermark none -> source 2 target 3 \(imported source 2 target 3\)/);
    const doubleVote = link(checkpoint(2), checkpoint(3));
    expect(await store.recordSignature(2, doubleVote, bytes(48))).toEqual({ kind: 'refused', watermark: wm(2, 3) });
    expect(await store.lastSigned(2)).toBeUndefined();
    expect((await store.recordSignature(2, link(checkpoint(3), checkpoint(4)), bytes(48))).kind).toBe('signed');
  });

  it('moves a member to another deployment (and another region) through the real afg binary', async () => {
    const from = await deployment('sp-from');
    const to = await deployment('sp-to');
    await from.store('eu-west-1').recordSignature(1, link(checkpoint(6), checkpoint(7)), bytes(48));
    const exec = promisify(execFile);
    const bin = (...args: string[]) => exec(process.execPath, [join(ROOT, 'bin/afg.mjs'), 'slashing-protection', ...args], { cwd: ROOT });
    const file = join(tmp, 'moving.json');
    await bin('export', '--member', '1', '--config', from.file, '--endpoint', endpoint(), '--out', file);
    const r = await bin('import', file, '--member', '1', '--config', to.file, '--region', 'us-east-1', '--endpoint', endpoint());
    expect(r.stdout).toMatch(/member 1 \(sp-to-\w+-finality in us-east-1\): watermark none -> source 6 target 7/);
    const moved = to.store('us-east-1');
    expect((await moved.recordSignature(1, link(checkpoint(5), checkpoint(7)), bytes(48))).kind).toBe('refused');
    expect((await moved.recordSignature(1, link(checkpoint(7), checkpoint(8)), bytes(48))).kind).toBe('signed');
  });
});

describe('import', () => {
  const fileWith = async (name: string, body: unknown) => {
    const file = join(tmp, name);
    await writeFile(file, typeof body === 'string' ? body : JSON.stringify(body));
    return file;
  };
  const interchange = (attestations: [number, number][], pubkey = dealing.shares[3]!.publicKey, chainId = CHAIN) => ({
    metadata: { interchange_format_version: '5', genesis_validators_root: `0x${toHex(chainId)}` },
    data: [
      {
        pubkey: `0x${toHex(pubkey)}`,
        signed_blocks: [{ slot: '12' }],
        signed_attestations: attestations.map(([s, t]) => ({ source_epoch: String(s), target_epoch: String(t) })),
      },
      { pubkey: `0x${'ee'.repeat(96)}`, signed_blocks: [], signed_attestations: [{ source_epoch: '1000', target_epoch: '1001' }] },
    ],
  });
  const importFor4 = (file: string) =>
    cli('slashing-protection', 'import', file, '--member', '4', '--config', a.file, '--endpoint', endpoint());

  it('merges with the stored watermark and never lowers it; other keys are ignored', async () => {
    const store = a.store('us-east-1');
    await store.recordSignature(4, link(checkpoint(5), checkpoint(9)), bytes(48));
    const raised = await importFor4(
      await fileWith(
        'raise.json',
        interchange([
          [7, 4],
          [1, 2],
        ]),
      ),
    );
    expect(raised.code).toBe(0);
    expect(raised.out).toMatch(/watermark source 5 target 9 -> source 7 target 9 \(imported source 7 target 4\)/);
    expect(raised.err).toMatch(/ignoring 1 other public key/);
    const lower = await importFor4(await fileWith('lower.json', interchange([[1, 2]])));
    expect(lower.out).toMatch(/watermark source 7 target 9 -> source 7 target 9/);
    expect(await store.watermark(4)).toEqual(wm(7, 9));
    expect((await store.recordSignature(4, link(checkpoint(6), checkpoint(10)), bytes(48))).kind).toBe('refused');
  });

  it('refuses what it cannot trust (exit 1) and changes nothing', async () => {
    const store = a.store('us-east-1');
    const before = await store.watermark(4);
    const cases: [string, unknown, RegExp][] = [
      [
        'other-chain.json',
        interchange([[50, 60]], undefined, bytes(32)),
        /metadata\.genesis_validators_root: 0x\w+ is another chain.*nothing imported/,
      ],
      [
        'number-epoch.json',
        {
          ...interchange([]),
          data: [{ pubkey: '0xaa', signed_blocks: [], signed_attestations: [{ source_epoch: 3, target_epoch: '4' }] }],
        },
        /data\[0\]\.signed_attestations\[0\]\.source_epoch: expected a decimal string/,
      ],
      [
        'version.json',
        { ...interchange([]), metadata: { ...interchange([]).metadata, interchange_format_version: '4' } },
        /metadata\.interchange_format_version: expected "5"/,
      ],
      ['not-json.json', '{"metadata":', /not-json\.json: .*JSON.*nothing imported/],
      ['no-entry.json', interchange([[50, 60]], bytes(96)), /has no entry for member 4's public key/],
    ];
    for (const [name, body, message] of cases) {
      const r = await importFor4(await fileWith(name, body));
      expect(r.code, name).toBe(1);
      expect(r.err, name).toMatch(message);
    }
    const missing = await importFor4(join(tmp, 'absent.json'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read .*absent\.json/);
    expect(await store.watermark(4)).toEqual(before);
  });

  it('an entry with no signed votes leaves the watermark unchanged (exit 0)', async () => {
    const r = await importFor4(await fileWith('blocks-only.json', interchange([])));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/lists no signed votes for this member; watermark unchanged/);
  });
});

describe('EIP-3076 interchange test suite (DynamoDB store)', () => {
  let store: DynamoSlashingProtectionStore;
  beforeAll(async () => {
    store = (await deployment('sp-vectors')).store('eu-west-1');
  });
  // One table for every case: each case gets its own range of member indices.
  for (const [i, c] of eip3076Cases().entries())
    it(c.name, async () => {
      await runEip3076Case(c, store, 100 * (i + 1));
    });
});
