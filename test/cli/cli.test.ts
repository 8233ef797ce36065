import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import type { CliIo } from '../../lib/cli/io.js';
import { run } from '../../lib/cli/main.js';
import { parseClusterConfig } from '../../lib/config.js';
import { groupPublicKeyFromCommitments, memberPublicKeyFromCommitments, verifyShare } from '../../lib/core/bls.js';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import { txSigningBytes } from '../../lib/core/codec.js';
import { ed25519Verify } from '../../lib/core/ed25519.js';
import type { TransferLedger } from '../../lib/core/ledger.js';
import { encodeProof } from '../../lib/core/smt.js';
import type { Transaction } from '../../lib/core/types.js';
import { certificateToJson } from '../../lib/core/wire.js';
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

/** What a lying server answers for one request: a JSON value, raw text, or undefined to pass the honest answer on. */
type Lie = { json: unknown; status?: number } | { raw: string; contentLength?: boolean } | undefined;

/**
 * A real HTTP server that forwards every request to the honest API, except where `lie(path)`
 * answers instead. Closed in afterAll.
 */
async function lyingServer(lie: (path: string) => Lie | Promise<Lie>): Promise<string> {
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const path = req.url ?? '/';
      const l = await lie(path);
      if (l === undefined) {
        const honest = await fetch(`${server.url}${path}`);
        res.writeHead(honest.status, { 'content-type': 'application/json' });
        res.end(await honest.text());
      } else if ('json' in l) {
        res.writeHead(l.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(l.json));
      } else {
        // Without a content length the body is sent chunked, so only reading it shows its size.
        res.writeHead(200, {
          'content-type': 'application/json',
          ...(l.contentLength ? { 'content-length': Buffer.byteLength(l.raw) } : {}),
        });
        const chunk = 64 * 1024;
        for (let i = 0; i < l.raw.length; i += chunk)
          if (!res.write(l.raw.slice(i, i + chunk))) await new Promise((r) => res.once('drain', r));
        res.end();
      }
    })().catch((e) => res.destroy(e));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  liars.push(srv);
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}
const liars: ReturnType<typeof createServer>[] = [];
afterAll(async () => {
  for (const srv of liars) {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

const accountPath = (i: number) => `/v1/accounts/${toHex(DEV_PK[i]!)}`;
const honestJson = async (path: string) => (await fetch(`${server.url}${path}`)).json();

/** Dev 1 at genesis (height 0), under the certificate 0 -> 2 that finalizes genesis: valid, but stale. */
async function genesisAnswer() {
  const { genesis } = fx.chain;
  const { account, proof } = await (fx.chain.app as TransferLedger).proveAccount(genesis.stateRoot, DEV_PK[1]!);
  return {
    account: toHex(DEV_PK[1]!),
    balance: account!.balance.toString(),
    nonce: '0',
    height: 0,
    stateRoot: toHex(genesis.stateRoot),
    proof: encodeProof(proof),
    certificate: certificateToJson(fx.chain.set.chainId, fx.certificates[0]!),
  };
}

describe('verify against servers that lie (issue 15)', () => {
  it("a server answering with dev 1's valid answer when asked about dev 5 fails, even with the group key pinned", async () => {
    const dev1 = await honestJson(accountPath(1));
    const liar = await lyingServer((path) => (path === accountPath(5) ? { json: dev1 } : undefined));
    const r = await cli('verify', liar, '5', '--group-key', toHex(fx.dealing.groupPublicKey));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAILED account/);
    expect(r.out).toMatch(
      new RegExp(`\\[answer\\.account\\] answer is for account ${toHex(DEV_PK[1]!)}, not the requested ${toHex(DEV_PK[5]!)}`),
    );
    // Relabelled as dev 5: the proof still is for dev 1's key.
    const relabelled = await lyingServer((path) =>
      path === accountPath(5) ? { json: { ...dev1, account: toHex(DEV_PK[5]!) } } : undefined,
    );
    const r2 = await cli('verify', relabelled, '5', '--group-key', toHex(fx.dealing.groupPublicKey));
    expect(r2.code).toBe(1);
    expect(r2.out).toMatch(/\[answer\.account\] proof is for key/);
  });

  it('a stale answer (genesis state, certificate 0 -> 2) verifies without a bound and fails --min-height and --max-age', async () => {
    const stale = await genesisAnswer();
    const liar = await lyingServer((path) => (path === accountPath(1) ? { json: stale } : undefined));
    const unbounded = await cli('verify', liar, '1');
    expect(unbounded.code).toBe(0);
    expect(unbounded.out).toMatch(/finalized height 0 /);

    const minHeight = await cli('verify', liar, '1', '--min-height', '2');
    expect(minHeight.code).toBe(1);
    expect(minHeight.out).toMatch(/\[answer\.freshness\] the answer is read at height 0, below the minimum height 2/);

    // The honest region, as witness, has finalized height 2: the answer is one checkpoint (K = 2) behind.
    const maxAge = await cli('verify', liar, '1', '--witness', server.url, '--max-age', '0');
    expect(maxAge.code).toBe(1);
    expect(maxAge.out).toMatch(/\[answer\.freshness\] the answer is 1 checkpoint\(s\) behind height 2, at most 0 allowed/);
    expect(maxAge.out).toMatch(/highest finalized height reported by the witnesses: 2/);
    const lenient = await cli('verify', liar, '1', '--witness', server.url, '--max-age', '1');
    expect(lenient.code, lenient.out).toBe(0);
  });

  it('--era: a certificate of another era fails', async () => {
    const r = await cli('verify', server.url, '1', '--era', '1');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\[certificate\.era\] certificate is for era 0, expected era 1/);
    expect((await cli('verify', server.url, '1', '--era', '0')).code).toBe(0);
  });

  it('an honest witness passes; each kind of disagreeing or unreachable witness fails with its reason', async () => {
    const honest = await cli('verify', server.url, '1', '--witness', server.url, '--min-height', '2');
    expect(honest.code, honest.out).toBe(0);
    expect(honest.out).toMatch(/witness http:\/\/127\.0\.0\.1:\d+: checkpoint 2 finalized, same hash and state root/);

    const cp2 = await honestJson('/v1/checkpoints/2');
    const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const otherRoot = await lyingServer((p) =>
      p === '/v1/checkpoints/2' ? { json: { ...cp2, stateRoot: flip(cp2.stateRoot) } } : undefined,
    );
    const otherHash = await lyingServer((p) => (p === '/v1/checkpoints/2' ? { json: { ...cp2, hash: flip(cp2.hash) } } : undefined));
    const notFinal = await lyingServer((p) => (p === '/v1/checkpoints/2' ? { json: { ...cp2, status: 'justified' } } : undefined));
    // A valid signature, but on another link.
    const badCert = await lyingServer((p) =>
      p === '/v1/checkpoints/2'
        ? { json: { ...cp2, certificate: { ...cp2.certificate, signature: toHex(fx.certificates[0]!.signature) } } }
        : undefined,
    );
    const notFound = await lyingServer((p) =>
      p === '/v1/checkpoints/2' ? { status: 404, json: { error: { code: 'NOT_FOUND', message: 'no block at height 2 yet' } } } : undefined,
    );
    const gone = await startApiServer(createApi({ query: fx.query, transport: fx.transport, chain: fx.chain, maxLagBlocks: 8 }), {
      port: 0,
    });
    await gone.close();

    const cases: [string, RegExp][] = [
      [otherRoot, /checkpoint 2 has state root [0-9a-f]{64}, expected [0-9a-f]{64}/],
      [otherHash, /checkpoint 2 has hash [0-9a-f]{64}, expected [0-9a-f]{64}/],
      [notFinal, /checkpoint 2 is justified, not finalized/],
      [badCert, /\[certificate\.signature\] group signature does not verify/],
      [notFound, /answered 404 NOT_FOUND: no block at height 2 yet/],
      [gone.url, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/checkpoints\/2: ECONNREFUSED/],
    ];
    for (const [witness, reason] of cases) {
      const r = await cli('verify', server.url, '1', '--witness', server.url, '--witness', witness);
      expect(r.code, `${witness}: ${r.out}`).toBe(1);
      const lines = r.out.split('\n').filter((l) => l.includes(`[witness] ${witness}:`));
      expect(lines.join('\n'), r.out).toMatch(reason);
      // The honest witness is not blamed.
      expect(r.out).not.toContain(`[witness] ${server.url}:`);
    }
  });

  it('refuses a response body over 1 MiB, with or without a content length, from the server or a witness', async () => {
    const big = `{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`;
    const chunked = await lyingServer((p) => (p === '/v1/validators' ? { raw: big } : undefined));
    const declared = await lyingServer((p) => (p === '/v1/validators' ? { raw: big, contentLength: true } : undefined));
    for (const url of [chunked, declared]) {
      const r = await cli('verify', url, '1');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`error: ${url}/v1/validators: response body exceeds 1 MiB \\(1048576 bytes\\); refused`));
    }
    const bigWitness = await lyingServer((p) => (p === '/v1/checkpoints/2' ? { raw: big } : undefined));
    const r = await cli('verify', server.url, '1', '--witness', bigWitness);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\[witness\] .*response body exceeds 1 MiB/);
    // status reads through the same capped helper.
    const bigFinality = await lyingServer((p) => (p === '/v1/finality' ? { raw: big } : undefined));
    const s = await cli('status', bigFinality);
    expect(s.code).toBe(1);
    expect(s.err).toMatch(/\/v1\/finality: response body exceeds 1 MiB/);
  });

  it('flag errors: --max-age needs a witness, --min-height and --era must be integers', async () => {
    for (const [argv, message] of [
      [['verify', server.url, '1', '--max-age', '2'], /--max-age: needs at least one --witness/],
      [['verify', server.url, '1', '--min-height', '-1'], /'--min-height <height>' argument '-1' is invalid/],
      [['verify', server.url, '1', '--era', 'x'], /'--era <era>' argument 'x' is invalid/],
      [['verify', server.url, '1', '--witness', 'ftp://x'], /'--witness <url>'.*expected an http\(s\) URL/],
    ] as [string[], RegExp][]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
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
    const tx = msg.tx as Transaction;
    expect(tx).toMatchObject({ amount: 42n, nonce: 2n });
    expect(toHex(tx.to)).toBe(toHex(DEV_PK[7]!));
    expect(ed25519Verify(tx.signature, txSigningBytes(fx.chain.set.chainId, tx), DEV_PK[0]!)).toBe(true);
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
    // cluster.json becomes a cluster config as docs/deploy.md shows (its jq keeps these keys), which passes the dealing check.
    const { members, groupPublicKey, commitments: hex, threshold } = cluster;
    const config = parseClusterConfig({
      prefix: 'afg',
      chainId: 'ab'.repeat(32),
      era: 0,
      checkpointInterval: 4,
      threshold,
      homeRegion: 'eu-west-1',
      regions: ['eu-west-1', 'us-east-1'],
      members,
      groupPublicKey,
      commitments: hex,
      maxBlockTransactions: 500,
      maxBlockBytes: 262144,
    });
    expect(config.commitments).toEqual(cluster.commitments);

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
