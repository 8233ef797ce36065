/**
 * Dev key material for the local cluster: a dealing kept in the data folder so a restart reuses
 * the same validator set (and its signed watermarks). Written in the same per-member JSON form as
 * `afg keygen` ({ index, secretKey, publicKey }) plus a public cluster.json with the group key and
 * the Feldman commitments (the cluster config carries them and is checked against them).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitmentsFromShares, deal, dealingProblems, publicKeyOf } from '../core/bls.js';
import { equalBytes, fromHex, toHex } from '../core/bytes.js';
import { ConfigError } from '../core/errors.js';

export interface LocalKeys {
  readonly groupPublicKey: Uint8Array;
  /** Feldman commitments a_k·G2, k = 0..t-1. */
  readonly commitments: Uint8Array[];
  readonly members: { index: number; secretKey: Uint8Array; publicKey: Uint8Array }[];
}

interface SavedCluster {
  n: number;
  threshold: number;
  groupPublicKey: string;
  /** Absent only in files written by hand or by other tools; recovered from the shares then. */
  commitments?: string[];
}

const refuse = (dir: string, reason: string) =>
  new ConfigError('keys', `${dir}: ${reason}; start with --fresh to deal new keys (this starts a new chain)`);

/** Reads `dir`'s keys and checks that they are one dealing. Throws ConfigError (with the --fresh hint) otherwise. */
async function loadKeys(dir: string, saved: SavedCluster): Promise<LocalKeys> {
  const { n, threshold: t } = saved;
  const members = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const m = JSON.parse(await readFile(join(dir, `member-${i + 1}.json`), 'utf8')) as {
        index: number;
        secretKey: string;
        publicKey: string;
      };
      if (m.index !== i + 1) throw new Error(`member-${i + 1}.json holds index ${m.index}`);
      return { index: m.index, secretKey: fromHex(m.secretKey, 32, 'secretKey'), publicKey: fromHex(m.publicKey, 96, 'publicKey') };
    }),
  );
  const groupPublicKey = fromHex(saved.groupPublicKey, 96, 'groupPublicKey');
  // We hold every share, so commitments a file lacks are recovered exactly (any t shares fix the polynomial).
  const commitments = saved.commitments
    ? saved.commitments.map((c, k) => fromHex(c, 96, `commitments[${k}]`))
    : commitmentsFromShares(members, t);
  for (const m of members)
    if (!equalBytes(publicKeyOf(m.secretKey), m.publicKey))
      throw refuse(dir, `member-${m.index}.json: its public key is not its secret key's`);
  const [problem] = dealingProblems({ threshold: t, groupPublicKey, commitments, members });
  if (problem) throw refuse(dir, `the saved keys are not one dealing (${problem.field}: ${problem.reason})`);
  return { groupPublicKey, commitments, members };
}

/**
 * Loads keys for (n, t) from `dir`, or deals and writes new ones when there are none or they are
 * for another (n, t). Key files without commitments (written by hand or older tools) get them
 * recovered from the secret shares.
 * @throws ConfigError (key `keys`, telling to use --fresh) when the saved files cannot be read or
 * are not one consistent dealing (a share off the commitments, a public key not its secret's)
 */
export async function loadOrDealKeys(dir: string, n: number, t: number): Promise<LocalKeys> {
  let text: string | undefined;
  try {
    text = await readFile(join(dir, 'cluster.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw refuse(dir, `cannot read cluster.json: ${(e as Error).message}`);
  }
  if (text !== undefined) {
    let saved: SavedCluster;
    try {
      saved = JSON.parse(text) as SavedCluster;
    } catch (e) {
      throw refuse(dir, `cluster.json is not JSON: ${(e as Error).message}`);
    }
    if (saved.n === n && saved.threshold === t) {
      try {
        return await loadKeys(dir, saved);
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        throw refuse(dir, `cannot load the saved keys: ${(e as Error).message}`);
      }
    }
  }
  const dealing = deal(n, t);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'cluster.json'),
    JSON.stringify(
      { n, threshold: t, groupPublicKey: toHex(dealing.groupPublicKey), commitments: dealing.commitments.map(toHex) },
      null,
      2,
    ),
  );
  for (const s of dealing.shares) {
    await writeFile(
      join(dir, `member-${s.index}.json`),
      JSON.stringify({ index: s.index, secretKey: toHex(s.secretKey), publicKey: toHex(s.publicKey) }, null, 2),
      {
        mode: 0o600,
      },
    );
  }
  return {
    groupPublicKey: dealing.groupPublicKey,
    commitments: dealing.commitments,
    members: dealing.shares.map((s) => ({ ...s })),
  };
}
