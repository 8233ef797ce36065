/**
 * `afg slashing-protection export|import`: moves one member's slashing protection in and out of its
 * region's finality table as an EIP-3076 (version 5) interchange document (lib/core/interchange.ts
 * has the format mapping).
 *
 * The store is reached directly, with the names the deployment uses: `--config` is the cluster
 * config (the file given to `cdk synth`; `npm start` writes its own to `<data-dir>/config.json`),
 * the table is `<prefix>-finality` in `--region` (default: the member's region), on AWS with the
 * SDK's default credentials, or at `--endpoint` (DynamoDB Local of `npm start`, LocalStack).
 *
 * Import merges: the member's watermark becomes the pointwise maximum of itself and the file's
 * (max source, max target), so an import never lowers it and is safe while the validator runs.
 * Exit codes (lib/cli/io.ts): 0 done; 1 the file was refused (unreadable, malformed, another
 * chain, no entry for the member) or the table could not be read or written; 2 a bad flag.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { type ClusterConfig, type MemberConfig, parseClusterConfig, resourceNames } from '../config.js';
import { fromHex } from '../core/bytes.js';
import { AfgError, InputError } from '../core/errors.js';
import { exportInterchange, minifyInterchange, parseInterchange } from '../core/interchange.js';
import type { Watermark } from '../core/slashing.js';
import type { SlashingProtectionStore, WatermarkStore } from '../pipeline/ports.js';
import { CliFailure, type CliIo, EXIT, short, UsageError } from './io.js';

/** Where the member's watermark lives. */
export interface StoreFlags {
  readonly member: number;
  /** Path of the cluster config JSON. */
  readonly config: string;
  readonly region?: string;
  /** DynamoDB endpoint URL; absent: AWS. */
  readonly endpoint?: string;
}

export interface ExportFlags extends StoreFlags {
  /** Write here instead of standard output. */
  readonly out?: string;
  readonly force?: boolean;
}

export interface ImportFlags extends StoreFlags {
  /** The interchange file. */
  readonly file: string;
}

interface Target {
  readonly config: ClusterConfig;
  readonly member: MemberConfig;
  readonly region: string;
  readonly table: string;
  readonly endpoint?: string;
}

/** Reads and checks the flags that locate the store. Throws UsageError naming the flag. */
async function targetOf(f: StoreFlags): Promise<Target> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(f.config, 'utf8'));
  } catch (e) {
    throw new UsageError('--config', `cannot read ${f.config} as JSON: ${(e as Error).message}`);
  }
  let config: ClusterConfig;
  try {
    config = parseClusterConfig(raw);
  } catch (e) {
    throw new UsageError('--config', `${f.config}: ${(e as Error).message}`);
  }
  const member = config.members.find((m) => m.index === f.member);
  if (!member) throw new UsageError('--member', `${f.config} has members 1-${config.members.length}, not ${f.member}`);
  const region = f.region ?? member.region;
  if (!config.regions.includes(region)) throw new UsageError('--region', `${region} is not one of ${config.regions.join(', ')}`);
  let endpoint: string | undefined;
  if (f.endpoint !== undefined) {
    const { parseEndpoint } = await import('../aws/clients.js');
    try {
      endpoint = parseEndpoint(f.endpoint, '--endpoint');
    } catch (e) {
      throw new UsageError('--endpoint', (e as Error).message.replace(/^--endpoint: /, ''));
    }
  }
  return { config, member, region, table: resourceNames(config.prefix).finalityTable, ...(endpoint ? { endpoint } : {}) };
}

/** Runs `use` on the member's store; turns a missing table or an unreachable endpoint into a CliFailure. */
async function withStore<T>(t: Target, use: (store: SlashingProtectionStore & WatermarkStore) => Promise<T>): Promise<T> {
  // Loaded here: the AWS SDK is only needed by these two commands.
  const [{ createClientFactory }, { DynamoSlashingProtectionStore }] = await Promise.all([
    import('../aws/clients.js'),
    import('../aws/finality-store.js'),
  ]);
  const aws = createClientFactory({ endpoints: t.endpoint ? { dynamodb: t.endpoint } : {}, maxAttempts: 3 });
  const where = `table ${t.table} in ${t.region}${t.endpoint ? ` at ${t.endpoint}` : ''}`;
  try {
    return await use(new DynamoSlashingProtectionStore(aws.dynamo(t.region), t.table));
  } catch (e) {
    if (e instanceof AfgError) throw new CliFailure(`${where}: ${e.message}`);
    const name = (e as { name?: string }).name;
    const code = (e as { code?: string; cause?: { code?: string } }).code ?? (e as { cause?: { code?: string } }).cause?.code;
    if (name === 'ResourceNotFoundException')
      throw new CliFailure(`${where} does not exist (check the prefix in --config, --region and --endpoint)`);
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND')
      throw new CliFailure(`cannot reach DynamoDB${t.endpoint ? ` at ${t.endpoint}` : ` in ${t.region}`}: ${code}`);
    throw new CliFailure(`${where}: ${name ?? 'Error'}: ${(e as Error).message}`);
  } finally {
    aws.destroy();
  }
}

const heights = (w: Watermark | undefined) => (w ? `source ${w.lastSourceHeight} target ${w.lastTargetHeight}` : 'none');

/**
 * Exports member `--member`'s protection (its watermark and last signed link) as an interchange
 * document, to `--out` or standard output. Returns the exit code; throws UsageError / CliFailure.
 */
export async function exportCommand(io: CliIo, f: ExportFlags): Promise<number> {
  const t = await targetOf(f);
  const { watermark, last } = await withStore(t, async (store) => {
    const watermark = await store.watermark(t.member.index);
    return { watermark, last: (await store.lastSigned(t.member.index))?.link };
  });
  const doc = exportInterchange({
    chainId: fromHex(t.config.chainId, 32, 'chainId'),
    pubkey: fromHex(t.member.publicKey, 96, 'publicKey'),
    ...(watermark ? { watermark } : {}),
    ...(last ? { last } : {}),
  });
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  const attestation = doc.data[0]?.signed_attestations[0];
  const summary = attestation
    ? `source ${attestation.source_epoch} target ${attestation.target_epoch}${attestation.signing_root ? ' (the last signed vote, with its signing root)' : ''}`
    : 'nothing signed yet';
  if (f.out === undefined) io.out(text);
  else {
    try {
      await writeFile(f.out, text, { flag: f.force ? 'w' : 'wx' });
    } catch (e) {
      if ((e as { code?: string }).code === 'EEXIST') throw new CliFailure(`refusing to overwrite ${f.out} (pass --force to replace it)`);
      throw new CliFailure(`cannot write ${f.out}: ${(e as Error).message}`);
    }
  }
  io.err(`member ${t.member.index} (${t.table} in ${t.region}): exported ${summary}${f.out ? ` to ${f.out}` : ''}\n`);
  return EXIT.ok;
}

/**
 * Imports member `--member`'s entry of an interchange file: merges its (max source, max target)
 * into the member's watermark, which never goes down. Entries for other public keys are ignored
 * (and counted). Returns the exit code; throws UsageError / CliFailure.
 */
export async function importCommand(io: CliIo, f: ImportFlags): Promise<number> {
  const t = await targetOf(f);
  let text: string;
  try {
    text = await readFile(f.file, 'utf8');
  } catch (e) {
    throw new CliFailure(`cannot read ${f.file}: ${(e as Error).message}`);
  }
  let floors: Map<string, Watermark | undefined>;
  try {
    floors = minifyInterchange(parseInterchange(JSON.parse(text)), fromHex(t.config.chainId, 32, 'chainId'));
  } catch (e) {
    if (e instanceof InputError || e instanceof SyntaxError) throw new CliFailure(`${f.file}: ${e.message}; nothing imported`);
    throw e;
  }
  const key = t.member.publicKey;
  const others = [...floors.keys()].filter((k) => k !== key).length;
  if (others > 0) io.err(`ignoring ${others} other public key(s) in ${f.file} (import each member with its own --member)\n`);
  if (!floors.has(key))
    throw new CliFailure(`${f.file} has no entry for member ${t.member.index}'s public key 0x${short(key)}; nothing imported`);
  const floor = floors.get(key);
  const where = `member ${t.member.index} (${t.table} in ${t.region})`;
  if (floor === undefined) {
    io.out(`${where}: the file lists no signed votes for this member; watermark unchanged\n`);
    return EXIT.ok;
  }
  const [before, after] = await withStore(t, async (store) => {
    const before = await store.watermark(t.member.index);
    return [before, await store.mergeWatermark(t.member.index, floor)] as const;
  });
  io.out(`${where}: watermark ${heights(before)} -> ${heights(after)} (imported ${heights(floor)})\n`);
  return EXIT.ok;
}
