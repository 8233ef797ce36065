/**
 * `afg keygen`: a trusted-dealer t-of-n threshold BLS key in a directory the local cluster (or a
 * Secrets Manager upload) reads: `member-<i>.json` per member with its secret share, and a public
 * `cluster.json` fragment (group key, Feldman commitments, member keys and regions).
 */
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deal, MAX_MEMBERS, verifyShare } from '../core/bls.js';
import { toHex } from '../core/bytes.js';
import { CliFailure, type CliIo, EXIT, UsageError } from './io.js';

export interface KeygenArgs {
  members: number;
  threshold: number;
  out: string;
  regions: string[];
  force: boolean;
}

/**
 * Public part, safe to commit or paste into a cluster config: `members`, `groupPublicKey` and
 * `commitments` go into it as they are, and the config is checked against the commitments when
 * parsed (lib/config.ts).
 */
export interface ClusterKeyFragment {
  n: number;
  threshold: number;
  groupPublicKey: string;
  commitments: string[];
  members: { index: number; region: string; publicKey: string }[];
}

/** One member's key file (secret). */
export interface MemberKeyFile {
  index: number;
  region: string;
  n: number;
  threshold: number;
  groupPublicKey: string;
  publicKey: string;
  secretKey: string;
}

/** Same shape the cluster config accepts (lib/config.ts). */
const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d$/;

export const memberFileName = (index: number) => `member-${index}.json`;
export const CLUSTER_FILE = 'cluster.json';

/** Checks arguments that depend on each other; throws UsageError naming the flag. */
export function checkKeygenArgs(a: KeygenArgs): void {
  if (a.members > MAX_MEMBERS) throw new UsageError('--members', `at most ${MAX_MEMBERS}`);
  if (a.threshold > a.members) throw new UsageError('--threshold', `must be at most --members (${a.members})`);
  const f = Math.floor((a.members - 1) / 3);
  if (a.threshold < a.members - f)
    throw new UsageError(
      '--threshold',
      `must be at least n - f = ${a.members - f} for n = ${a.members} (two quorums must share an honest member)`,
    );
  if (a.regions.length === 0) throw new UsageError('--regions', 'expected at least one region');
  for (const r of a.regions)
    if (!REGION_RE.test(r)) throw new UsageError('--regions', `not a region name: ${JSON.stringify(r)} (e.g. us-east-1)`);
  if (new Set(a.regions).size !== a.regions.length) throw new UsageError('--regions', 'duplicate region');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Deals, checks every share against the commitments, writes the files (mode 0600). Returns the exit code. */
export async function keygenCommand(io: CliIo, a: KeygenArgs): Promise<number> {
  checkKeygenArgs(a);
  const files = [CLUSTER_FILE, ...Array.from({ length: a.members }, (_, i) => memberFileName(i + 1))].map((f) => join(a.out, f));
  if (!a.force) {
    const present = [];
    for (const f of files) if (await exists(f)) present.push(f);
    if (present.length > 0) throw new CliFailure(`refusing to overwrite ${present.join(', ')} (pass --force to replace the keys)`);
  }

  io.err(`dealing a ${a.threshold}-of-${a.members} key...\n`);
  const dealing = deal(a.members, a.threshold);
  const step = Math.max(1, Math.ceil(a.members / 10));
  for (const share of dealing.shares) {
    // Feldman check of our own dealing: catches a broken dealer before any key is used.
    if (!verifyShare(share.index, share.secretKey, dealing.commitments))
      throw new CliFailure(`share ${share.index} does not match the commitments`);
    if (share.index % step === 0 || share.index === a.members) io.err(`checked share ${share.index}/${a.members}\n`);
  }

  const regionOf = (index: number) => a.regions[(index - 1) % a.regions.length]!;
  const fragment: ClusterKeyFragment = {
    n: dealing.n,
    threshold: dealing.threshold,
    groupPublicKey: toHex(dealing.groupPublicKey),
    commitments: dealing.commitments.map(toHex),
    members: dealing.shares.map((s) => ({ index: s.index, region: regionOf(s.index), publicKey: toHex(s.publicKey) })),
  };
  await mkdir(a.out, { recursive: true, mode: 0o700 });
  const write = async (path: string, value: unknown) => {
    await writeFile(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: a.force ? 'w' : 'wx' });
    await chmod(path, 0o600); // an overwritten file keeps its old mode otherwise
  };
  for (const s of dealing.shares) {
    const member: MemberKeyFile = {
      index: s.index,
      region: regionOf(s.index),
      n: dealing.n,
      threshold: dealing.threshold,
      groupPublicKey: fragment.groupPublicKey,
      publicKey: toHex(s.publicKey),
      secretKey: toHex(s.secretKey),
    };
    await write(join(a.out, memberFileName(s.index)), member);
  }
  await write(join(a.out, CLUSTER_FILE), fragment);
  io.out(
    `wrote ${a.members} member key files and ${CLUSTER_FILE} to ${a.out}\n` +
      `   threshold ${a.threshold} of ${a.members}, regions ${a.regions.join(', ')}\n` +
      `   group public key ${fragment.groupPublicKey}\n`,
  );
  return EXIT.ok;
}
