/** The local cluster's keys in the data folder: dealt once, reloaded, checked as one dealing. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../lib/config.js';
import { toHex } from '../../lib/core/bytes.js';
import { ConfigError } from '../../lib/core/errors.js';
import { loadOrDealKeys } from '../../lib/local/keys.js';
import { clusterConfigJson } from '../helpers/fixture.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'afg-keys-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const hexKeys = (k: Awaited<ReturnType<typeof loadOrDealKeys>>) => ({
  group: toHex(k.groupPublicKey),
  commitments: k.commitments.map(toHex),
  members: k.members.map((m) => [m.index, toHex(m.secretKey), toHex(m.publicKey)]),
});

async function expectRefused(dir: string, message: RegExp) {
  const err = await loadOrDealKeys(dir, 4, 3).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).message).toMatch(message);
  expect((err as ConfigError).message).toMatch(/start with --fresh to deal new keys/);
}

describe('loadOrDealKeys', () => {
  it('deals once, reloads the same keys, and they make a valid cluster config', async () => {
    const dir = join(tmp, 'a');
    const first = await loadOrDealKeys(dir, 4, 3);
    expect(first.commitments).toHaveLength(3);
    expect(hexKeys(await loadOrDealKeys(dir, 4, 3))).toEqual(hexKeys(first));
    const config = parseClusterConfig(
      clusterConfigJson({ ...first, threshold: 3, shares: first.members.map((m) => ({ index: m.index, publicKey: m.publicKey })) }),
    );
    expect(config.commitments).toEqual(first.commitments.map(toHex));
  });

  it('a cluster.json written without commitments still loads: they are recovered from the shares', async () => {
    const dir = join(tmp, 'b');
    const first = await loadOrDealKeys(dir, 4, 3);
    const saved = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8'));
    delete saved.commitments;
    await writeFile(join(dir, 'cluster.json'), JSON.stringify(saved));
    expect(hexKeys(await loadOrDealKeys(dir, 4, 3))).toEqual(hexKeys(first));
  });

  it('refuses saved keys that are not one dealing, or unreadable, and says to use --fresh', async () => {
    const dir = join(tmp, 'c');
    await loadOrDealKeys(dir, 4, 3);
    const [m2, m3] = await Promise.all([2, 3].map((i) => readFile(join(dir, `member-${i}.json`), 'utf8')));
    // Member 2's file holds member 3's share (index relabelled): its key is off the polynomial at x = 2.
    await writeFile(join(dir, 'member-2.json'), JSON.stringify({ ...JSON.parse(m3!), index: 2 }));
    await expectRefused(dir, /the saved keys are not one dealing \(members\[1\]\.publicKey: member 2's key is not the dealing's share/);
    // A public key that is not its secret's.
    await writeFile(join(dir, 'member-2.json'), JSON.stringify({ ...JSON.parse(m2!), publicKey: JSON.parse(m3!).publicKey }));
    await expectRefused(dir, /member-2\.json: its public key is not its secret key's/);
    await writeFile(join(dir, 'member-2.json'), m2!);
    // A group key that is not the commitments' constant term.
    const saved = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8'));
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ ...saved, groupPublicKey: JSON.parse(m2!).publicKey }));
    await expectRefused(dir, /groupPublicKey: is not commitments\[0\]/);
    await writeFile(join(dir, 'cluster.json'), '{ not json');
    await expectRefused(dir, /cluster\.json is not JSON/);
    await writeFile(join(dir, 'cluster.json'), JSON.stringify(saved));
    await rm(join(dir, 'member-4.json'));
    await expectRefused(dir, /cannot load the saved keys: .*member-4\.json/);
  });
});
