/**
 * The cluster config is checked against the dealing at start-up (issue 15 item 9): the member keys
 * must be the Feldman commitment polynomial evaluated at each index, its constant term the group
 * key, and its degree threshold - 1. The published 3-of-4 dealing of the contract vectors passes;
 * each way of getting it wrong is refused with a ConfigError naming the key.
 */
import { describe, expect, it } from 'vitest';
import { parseClusterConfig, poolSettings, regionConfig } from '../lib/config.js';
import { fundedAccounts } from '../lib/core/accounts.js';
import { deal } from '../lib/core/bls.js';
import { fromHex, toHex } from '../lib/core/bytes.js';
import { ConfigError } from '../lib/core/errors.js';
import { MemoryNodeStore, SparseMerkleTree } from '../lib/core/smt.js';
import { DEFAULT_POOL_LANES, DEFAULT_POOL_LIMITS } from '../lib/pipeline/pool.js';
import { clusterConfigJson } from './helpers/fixture.js';
import { contract } from './helpers/vectors.js';

const tv = contract().threshold as {
  t: number;
  feldmanCommitments: string[];
  groupPublicKey: string;
  members: { index: number; publicKey: string }[];
};

/** The published dealing as `clusterConfigJson` takes it. */
const published = {
  threshold: tv.t,
  groupPublicKey: fromHex(tv.groupPublicKey, 96, 'groupPublicKey'),
  commitments: tv.feldmanCommitments.map((c) => fromHex(c, 96, 'commitment')),
  shares: tv.members.map((m) => ({ index: m.index, publicKey: fromHex(m.publicKey, 96, 'publicKey') })),
};
const base = () => clusterConfigJson(published);
type RawMember = { index: number; region: string; publicKey: string };

function expectConfigError(raw: unknown, key: string, message: RegExp) {
  let err: unknown;
  try {
    parseClusterConfig(raw);
  } catch (e) {
    err = e;
  }
  expect(err, 'parseClusterConfig should refuse this config').toBeInstanceOf(ConfigError);
  expect((err as ConfigError).meta.key).toBe(key);
  expect((err as ConfigError).message).toMatch(message);
}

describe('parseClusterConfig checks the config against the dealing', () => {
  it('the published dealing (contract vectors) passes and keeps its commitments', () => {
    const config = parseClusterConfig(base());
    expect(config.commitments).toEqual(tv.feldmanCommitments);
    expect(config.groupPublicKey).toBe(tv.groupPublicKey);
  });

  it('a member key swapped with another member is refused, naming the first wrong member', () => {
    const raw = base();
    const members = raw.members as RawMember[];
    [members[1]!.publicKey, members[2]!.publicKey] = [members[2]!.publicKey, members[1]!.publicKey];
    expectConfigError(raw, 'members[1].publicKey', /^members\[1\]\.publicKey: member 2's key is not the dealing's share at x = 2/);
  });

  it("a member key from another dealing is refused (the key is a valid point, just not this dealing's)", () => {
    const raw = base();
    (raw.members as RawMember[])[3]!.publicKey = toHex(deal(4, 3).shares[3]!.publicKey);
    expectConfigError(raw, 'members[3].publicKey', /member 4's key is not the dealing's share at x = 4/);
  });

  it('a wrong group key is refused', () => {
    expectConfigError({ ...base(), groupPublicKey: tv.members[0]!.publicKey }, 'groupPublicKey', /is not commitments\[0\]/);
  });

  it('a commitment list of the wrong length (the degree does not match the threshold) is refused', () => {
    expectConfigError(
      { ...base(), commitments: tv.feldmanCommitments.slice(0, 2) },
      'commitments',
      /expected threshold = 3 commitments \(a polynomial of degree t - 1 = 2\), got 2/,
    );
    expectConfigError(
      { ...base(), commitments: [...tv.feldmanCommitments, tv.feldmanCommitments[1]] },
      'commitments',
      /expected threshold = 3 commitments .*got 4/,
    );
    // A 4-of-4 threshold on a 3-of-4 dealing: three members could then sign without the fourth.
    expectConfigError({ ...base(), threshold: 4 }, 'commitments', /expected threshold = 4 commitments .*got 3/);
  });

  it('missing, malformed or off-curve commitments are refused', () => {
    const { commitments: _, ...without } = base();
    expectConfigError(without, 'commitments', /missing: the dealer's Feldman commitments/);
    expectConfigError({ ...base(), commitments: 'ab' }, 'commitments', /expected an array/);
    expectConfigError({ ...base(), commitments: [tv.feldmanCommitments[0], 'zz', tv.feldmanCommitments[2]] }, 'commitments[1]', /hex/);
    const notAPoint = `a${'0'.repeat(191)}`;
    expectConfigError(
      { ...base(), commitments: [tv.feldmanCommitments[0], notAPoint, tv.feldmanCommitments[2]] },
      'commitments[1]',
      /not a valid compressed G2 point/,
    );
  });

  it('a fresh random dealing of another size passes too', () => {
    const d = deal(7, 5);
    const config = parseClusterConfig(clusterConfigJson(d));
    expect(config.commitments).toHaveLength(5);
    expect(config.members).toHaveLength(7);
  });
});

describe('the pool settings (optional key `pool`)', () => {
  it('default when absent; partial settings keep the other defaults', () => {
    expect(poolSettings(parseClusterConfig(base()))).toEqual({ ...DEFAULT_POOL_LIMITS, lanes: DEFAULT_POOL_LANES });
    const config = parseClusterConfig({ ...base(), pool: { capacity: 200, lanes: 4 } });
    expect(poolSettings(config)).toEqual({ ...DEFAULT_POOL_LIMITS, capacity: 200, lanes: 4 });
  });

  it('refuses unknown keys, non-integers and a capacity below the lane count, naming the key', () => {
    expectConfigError({ ...base(), pool: { size: 10 } }, 'pool.size', /unknown key/);
    expectConfigError({ ...base(), pool: { nonceWindow: 1.5 } }, 'pool.nonceWindow', /expected an integer/);
    expectConfigError({ ...base(), pool: { capacity: 4, lanes: 8 } }, 'pool.capacity', /integer >= lanes \(8\)/);
    expectConfigError({ ...base(), pool: [] }, 'pool', /expected an object/);
  });
});

describe('genesisAccounts (optional: funded accounts beyond the dev accounts)', () => {
  it('binds the transfer application to that genesis; refuses a bad count or another application', async () => {
    const config = parseClusterConfig({ ...base(), genesisAccounts: 1_200 });
    const rc = regionConfig(config, config.regions[0]!);
    const ledger = rc.application.create({ chainId: rc.set.chainId, tree: new SparseMerkleTree(new MemoryNodeStore()) });
    const root = await ledger.genesis();
    expect((await ledger.senderState(root, fundedAccounts(1_200)[1_199]!.account)).budget).toBe(1_000_000_000n);
    expect(regionConfig(parseClusterConfig(base()), config.regions[0]!).application.name).toBe('transfer');
    expectConfigError({ ...base(), genesisAccounts: -1 }, 'genesisAccounts', /expected an integer in \[0, 1000000\]/);
    expectConfigError({ ...base(), application: 'registry', genesisAccounts: 5 }, 'genesisAccounts', /transfer application only/);
  });
});

describe('viewTimeoutSeconds (optional: the validators view timer)', () => {
  it('reaches every region config; absent leaves the default to the region; refuses a value SQS cannot delay', () => {
    const config = parseClusterConfig({ ...base(), viewTimeoutSeconds: 3 });
    for (const region of config.regions) expect(regionConfig(config, region).viewTimeoutSeconds).toBe(3);
    expect(regionConfig(parseClusterConfig(base()), config.regions[0]!).viewTimeoutSeconds).toBeUndefined();
    expectConfigError({ ...base(), viewTimeoutSeconds: 0 }, 'viewTimeoutSeconds', /expected an integer in \[1, 900\]/);
    expectConfigError({ ...base(), viewTimeoutSeconds: 901 }, 'viewTimeoutSeconds', /expected an integer in \[1, 900\]/);
    expectConfigError({ ...base(), viewTimeoutSeconds: 2.5 }, 'viewTimeoutSeconds', /expected an integer/);
  });
});
