import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import type { CliIo } from '../../lib/cli/io.js';
import { run } from '../../lib/cli/main.js';
import { groupPublicKeyFromCommitments, memberPublicKeyFromCommitments, verifyShare } from '../../lib/core/bls.js';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import { txSigningBytes } from '../../lib/core/codec.js';
import { ed25519Verify } from '../../lib/core/ed25519.js';
import { buildFixture, DEV_PK, type Fixture } from '../helpers/fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let fx: Fixture;
let server: ApiServer;
let tmp: string;

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (t: string) => {
      io.stdout += t;
    },
    err: (t: string) => {
      io.stderr += t;
    },
    fetch: (...a: Parameters<typeof fetch>) => fetch(...a),
  };
  return io;
}

async function cli(...argv: string[]) {
  const io = capture();
  const code = await run(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

beforeAll(async () => {
  fx = await buildFixture();
  server = await startApiServer(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }), { port: 0 });
  tmp = await mkdtemp(join(tmpdir(), 'afg-cli-'));
});
afterAll(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('argument errors exit 2 and name the flag', () => {
  it.each([
    [['keygen', '--members', 'x', '--threshold', '2', '--out', 'd'], /option '--members <n>' argument 'x' is invalid/],
    [['keygen', '--members', '4', '--out', 'd'], /required option '--threshold <t>' not specified/],
    [['keygen', '--members', '4', '--threshold', '2', '--out', 'd'], /--threshold: must be at least n - f = 3/],
    [['keygen', '--members', '4', '--threshold', '5', '--out', 'd'], /--threshold: must be at most --members/],
    [['keygen', '--members', '4', '--threshold', '3', '--out', 'd', '--regions', 'mars'], /--regions: not a region name/],
    [['transfer', '--api', 'http://x', '--from', '10', '--to', '1', '--amount', '5'], /option '--from <index>' argument '10' is invalid/],
    [
      ['transfer', '--api', 'http://x', '--from', '1', '--to', '1', '--amount', '18446744073709551616'],
      /'--amount <n>'.*exceeds u64 maximum/,
    ],
    [['transfer', '--api', 'ftp://x', '--from', '1', '--to', '1', '--amount', '1'], /'--api <url>'.*expected an http\(s\) URL/],
    [['verify', 'http://x', 'nothex'], /argument 'account'.*64 hex characters, or a dev account index/],
    [['verify', 'http://x', '1', '--group-key', 'abcd'], /'--group-key <hex>'.*expected 96 bytes/],
    [['nosuch'], /unknown command 'nosuch'/],
    [[], /Usage: afg/],
  ])('%j', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('--help exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/verify .*<api-url> <account>/);
  });
});

describe('verify', () => {
  it('verifies an account against the server key (OK, exit 0) and says the key was not pinned', async () => {
    const r = await cli('verify', server.url, '1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OK account [0-9a-f]{64}\n\s+balance 1000000150 {2}nonce 1\n\s+finalized height 2/);
    expect(r.out).toMatch(/certificate 2 -> 4 signed by members 2, 3, 4 \(group key from server\)/);
    expect(r.err).toMatch(/pin it with --group-key/);
  });

  it('with a pinned correct key: OK; with a wrong pinned key: each failure listed, exit 1', async () => {
    const good = await cli('verify', `${server.url}/`, toHex(DEV_PK[0]!), '--group-key', toHex(fx.dealing.groupPublicKey));
    expect(good.code).toBe(0);
    expect(good.out).toMatch(/group key pinned/);
    const other = fx.dealing.shares[0]!.publicKey; // a valid G2 point, but not the group key
    const bad = await cli('verify', server.url, '0', '--group-key', toHex(other));
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^FAILED account/);
    expect(bad.out).toMatch(/\[certificate\.signature\] group signature does not verify/);
    expect(bad.err).toMatch(/server reports a different group key/);
  });

  it('a pinned wrong interval or chain fails', async () => {
    const r = await cli('verify', server.url, '0', '--interval', '1', '--chain-id', 'ab'.repeat(32));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\[certificate\.link\]/);
    expect(r.out).toMatch(/\[certificate\.message\] message is for chain/);
  });

  it('an unreachable server is exit 1 with the reason', async () => {
    const gone = await startApiServer(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }), {
      port: 0,
    });
    await gone.close(); // a port nothing listens on any more
    const r = await cli('verify', gone.url, '0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/validators: ECONNREFUSED/);
  });
});

describe('status', () => {
  it('prints heights, certificate and validators (exit 0 when ok)', async () => {
    const r = await cli('status', server.url);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/region {5}eu-west-1 {2}status OK/);
    expect(r.out).toMatch(/finalized {2}2 /);
    expect(r.out).toMatch(/certificate 2 -> 4 by members 2, 3, 4/);
    expect(r.out).toMatch(/lag {8}3 blocks/);
    expect(r.out).toMatch(/#4 us-east-1 {2}last vote target 4/);
  });

  it('exit 1 when the region reports degraded, naming what fails', async () => {
    const strict = await startApiServer(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 1 }), {
      port: 0,
    });
    try {
      const r = await cli('status', strict.url);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/status DEGRADED/);
      expect(r.out).toMatch(/failing {4}finality-lag/);
    } finally {
      await strict.close();
    }
  });
});

describe('transfer', () => {
  it('fetches the nonce, signs for the API chain and submits (202)', async () => {
    const before = fx.transport.sent.length;
    const r = await cli('transfer', '--api', server.url, '--from', '0', '--to', '7', '--amount', '42');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^accepted [0-9a-f]{64}/);
    expect(r.err).toMatch(/nonce 2 \(next nonce at finalized height 2/);
    const msg = fx.transport.sent[before]!.messages[0]!;
    if (msg.kind !== 'tx') throw new Error('expected a tx message');
    expect(msg.tx).toMatchObject({ amount: 42n, nonce: 2n });
    expect(toHex(msg.tx.to)).toBe(toHex(DEV_PK[7]!));
    expect(ed25519Verify(msg.tx.signature, txSigningBytes(fx.chain.set.chainId, msg.tx), DEV_PK[0]!)).toBe(true);
  });

  it('an explicit stale nonce is refused by the API: exit 1 with the server message', async () => {
    const r = await cli('transfer', '--api', server.url, '--from', '0', '--to', toHex(DEV_PK[7]!), '--amount', '1', '--nonce', '0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/answered 400 STALE_NONCE: nonce: 0 is stale/);
  });
});

describe('keygen', () => {
  it('writes member files and cluster.json (mode 0600) whose shares verify; refuses to overwrite without --force', async () => {
    const out = join(tmp, 'keys');
    const r = await cli('keygen', '--members', '4', '--threshold', '3', '--out', out, '--regions', 'eu-west-1,us-east-1');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/dealing a 3-of-4 key/);
    expect(r.err).toMatch(/checked share 4\/4/);
    expect((await readdir(out)).sort()).toEqual(['cluster.json', 'member-1.json', 'member-2.json', 'member-3.json', 'member-4.json']);
    const cluster = JSON.parse(await readFile(join(out, 'cluster.json'), 'utf8'));
    const commitments = cluster.commitments.map((c: string) => fromHex(c, 96, 'commitment'));
    expect(cluster).toMatchObject({ n: 4, threshold: 3 });
    expect(commitments).toHaveLength(3);
    expect(toHex(groupPublicKeyFromCommitments(commitments))).toBe(cluster.groupPublicKey);
    expect(cluster.members.map((m: { region: string }) => m.region)).toEqual(['eu-west-1', 'us-east-1', 'eu-west-1', 'us-east-1']);
    for (let i = 1; i <= 4; i++) {
      const path = join(out, `member-${i}.json`);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const m = JSON.parse(await readFile(path, 'utf8'));
      expect(m).toMatchObject({
        index: i,
        threshold: 3,
        n: 4,
        groupPublicKey: cluster.groupPublicKey,
        publicKey: cluster.members[i - 1].publicKey,
      });
      expect(verifyShare(i, fromHex(m.secretKey, 32, 'secretKey'), commitments)).toBe(true);
      expect(toHex(memberPublicKeyFromCommitments(commitments, i))).toBe(m.publicKey);
      // Negative pairing: another member's secret does not verify at this index.
      const other = JSON.parse(await readFile(join(out, `member-${(i % 4) + 1}.json`), 'utf8'));
      expect(verifyShare(i, fromHex(other.secretKey, 32, 'secretKey'), commitments)).toBe(false);
    }
    expect((await stat(join(out, 'cluster.json'))).mode & 0o777).toBe(0o600);

    const again = await cli('keygen', '--members', '4', '--threshold', '3', '--out', out);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/refusing to overwrite .*cluster\.json.*pass --force/);
    expect(JSON.parse(await readFile(join(out, 'cluster.json'), 'utf8')).groupPublicKey).toBe(cluster.groupPublicKey);

    const forced = await cli('keygen', '--members', '4', '--threshold', '3', '--out', out, '--force');
    expect(forced.code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'cluster.json'), 'utf8')).groupPublicKey).not.toBe(cluster.groupPublicKey);
  });
});

describe('bin/afg.mjs (child process, through tsx)', () => {
  const exec = promisify(execFile);
  const bin = (args: string[]) =>
    exec(process.execPath, [join(ROOT, 'bin/afg.mjs'), ...args], { cwd: ROOT }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('--help exits 0 and lists the commands', async () => {
    const r = await bin(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['verify', 'status', 'transfer', 'keygen']) expect(r.stdout).toContain(c);
  });

  it('a bad flag exits 2 naming it', async () => {
    const r = await bin(['keygen', '--members', '0', '--threshold', '1', '--out', join(tmp, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/option '--members <n>' argument '0' is invalid\. expected an integer in \[1, 1024\]/);
  });
});
