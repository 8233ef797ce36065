/**
 * Dev key material for the local cluster: a dealing kept in the data folder so a restart reuses
 * the same validator set (and its signed watermarks). Written in the same per-member JSON form as
 * `afg keygen` ({ index, secretKey, publicKey }) plus a public cluster.json with the group key.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deal } from '../core/bls.js';
import { fromHex, toHex } from '../core/bytes.js';

export interface LocalKeys {
  readonly groupPublicKey: Uint8Array;
  readonly members: { index: number; secretKey: Uint8Array; publicKey: Uint8Array }[];
}

/** Loads keys for (n, t) from `dir`, or deals and writes new ones when absent or for another (n, t). */
export async function loadOrDealKeys(dir: string, n: number, t: number): Promise<LocalKeys> {
  try {
    const pub = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as { n: number; threshold: number; groupPublicKey: string };
    if (pub.n === n && pub.threshold === t) {
      const members = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const m = JSON.parse(await readFile(join(dir, `member-${i + 1}.json`), 'utf8')) as {
            index: number;
            secretKey: string;
            publicKey: string;
          };
          return { index: m.index, secretKey: fromHex(m.secretKey, 32, 'secretKey'), publicKey: fromHex(m.publicKey, 96, 'publicKey') };
        }),
      );
      return { groupPublicKey: fromHex(pub.groupPublicKey, 96, 'groupPublicKey'), members };
    }
  } catch {
    // absent or unreadable: deal anew below
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
  return { groupPublicKey: dealing.groupPublicKey, members: dealing.shares.map((s) => ({ ...s })) };
}
