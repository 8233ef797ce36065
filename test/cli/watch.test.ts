/**
 * `afg watch` against the fixture served over real HTTP: prints verified checkpoints (text and
 * JSON), and exits 1 naming the rule when the server tampers with a checkpoint. Also run once as
 * a real process through bin/afg.mjs.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { type ApiServer, startApiServer } from '../../lib/api/node-server.js';
import type { CliIo } from '../../lib/cli/io.js';
import { run } from '../../lib/cli/main.js';
import { toHex } from '../../lib/core/bytes.js';
import { QueryService } from '../../lib/pipeline/query.js';
import { buildFixture, type Fixture } from '../helpers/fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let fx: Fixture;
let honest: ApiServer;
let lying: ApiServer;

/** Serves checkpoint answers whose state root was changed (the certificate still names the true one). */
class ChangedRootQuery extends QueryService {
  override async checkpoint(height: number) {
    const answer = await super.checkpoint(height);
    return { ...answer, stateRoot: 'ab'.repeat(32) };
  }
}

async function cli(...argv: string[]) {
  const io = { stdout: '', stderr: '' };
  const sink: CliIo = {
    out: (t) => {
      io.stdout += t;
    },
    err: (t) => {
      io.stderr += t;
    },
    fetch: (...a) => fetch(...a),
  };
  const code = await run(argv, sink);
  return { code, out: io.stdout, err: io.stderr };
}

beforeAll(async () => {
  fx = await buildFixture();
  const deps = { transport: fx.transport, chain: fx.chain, maxLagBlocks: 8, stream: { pollMs: 20 } };
  honest = await startApiServer(createApi({ ...deps, query: fx.query }), { port: 0 });
  const lyingQuery = new ChangedRootQuery({
    chain: fx.chain,
    region: fx.region,
    blocks: fx.blocks,
    finality: fx.finality,
    applied: fx.applied,
  });
  lying = await startApiServer(createApi({ ...deps, query: lyingQuery }), { port: 0 });
});
afterAll(async () => {
  await honest?.close();
  await lying?.close();
});

describe('afg watch', () => {
  it('prints each verified checkpoint (pinned key) and stops after --count', async () => {
    const r = await cli('watch', honest.url, '--from', '0', '--count', '1', '--group-key', toHex(fx.dealing.groupPublicKey));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^finalized 2 {2}hash [0-9a-f]{8}…[0-9a-f]{4} {2}stateRoot .* certificate 2 -> 4 by members 2, 3, 4 ✓\n$/);
    expect(r.err).toBe('');
  });

  it('--json prints the verified answer, equal to GET /v1/checkpoints/{height}; an unpinned key is noted', async () => {
    const r = await cli('watch', honest.url, '--count', '1', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(await (await fetch(`${honest.url}/v1/checkpoints/2`)).json());
    expect(r.err).toMatch(/pin it with --group-key/);
  });

  it('exits 1 naming the broken rule when the server changes a state root', async () => {
    const r = await cli('watch', lying.url, '--from', '0', '--count', '1');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/BAD_CERTIFICATE: height 2: the certificate's source differs from the checkpoint in stateRoot/);
  });

  it('refuses a bad --from (exit 2, naming it)', async () => {
    const r = await cli('watch', honest.url, '--from', '-3');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/'--from <height>' argument '-3' is invalid/);
  });

  it('runs as a real process through bin/afg.mjs', async () => {
    const { stdout } = await promisify(execFile)('node', ['bin/afg.mjs', 'watch', honest.url, '--count', '1'], { cwd: ROOT });
    expect(stdout).toMatch(/^finalized 2 /);
  });
});
