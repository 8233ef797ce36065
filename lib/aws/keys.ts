/**
 * Loads a validator's key share: from Secrets Manager on AWS, from a key file locally. Both hold
 * the JSON written by `afg keygen` (at least `{ "index": n, "secretKey": "<32-byte hex>" }`).
 * The share is checked against the member's public key in the cluster config, so a wrong or
 * swapped key file is refused at start-up instead of producing votes nobody can count.
 */
import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { ClusterConfig } from '../config.js';
import { publicKeyOf } from '../core/bls.js';
import { equalBytes, fromHex } from '../core/bytes.js';
import { ConfigError } from '../core/errors.js';
import type { ClientFactory } from './clients.js';

export interface MemberKey {
  readonly member: number;
  readonly secretKey: Uint8Array;
}

/** Parses and checks a key document. @throws ConfigError naming `source` and the problem. */
export function parseMemberKey(text: string, config: ClusterConfig, expectedMember: number | undefined, source: string): MemberKey {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(source, 'key material is not valid JSON');
  }
  const o = raw as { index?: unknown; secretKey?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.index !== 'number' || !Number.isInteger(o.index))
    throw new ConfigError(source, 'expected { "index": <member>, "secretKey": "<hex>" }');
  if (expectedMember !== undefined && o.index !== expectedMember)
    throw new ConfigError(source, `holds the share of member ${o.index}, expected member ${expectedMember}`);
  const member = config.members[o.index - 1];
  if (!member) throw new ConfigError(source, `member ${o.index} is not in the cluster config`);
  let secretKey: Uint8Array;
  try {
    secretKey = fromHex(o.secretKey, 32, 'secretKey');
  } catch (e) {
    throw new ConfigError(source, (e as Error).message);
  }
  if (!equalBytes(publicKeyOf(secretKey), fromHex(member.publicKey, 96, 'publicKey')))
    throw new ConfigError(source, `secret share does not match member ${o.index}'s public key in the cluster config`);
  return { member: o.index, secretKey };
}

export async function loadKeyFile(path: string, config: ClusterConfig, member?: number): Promise<MemberKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, `cannot read key file: ${(e as Error).message}`);
  }
  return parseMemberKey(text, config, member, path);
}

export async function loadKeySecret(
  aws: ClientFactory,
  region: string,
  secretId: string,
  config: ClusterConfig,
  member?: number,
): Promise<MemberKey> {
  const out = await aws.secrets(region).send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!out.SecretString) throw new ConfigError(secretId, 'secret has no string value (load it with the documented command)');
  return parseMemberKey(out.SecretString, config, member, `secret ${secretId}`);
}
