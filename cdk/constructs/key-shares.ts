/**
 * KeyShares: the Secrets Manager secrets holding the threshold-BLS key shares of the members hosted
 * in one region, encrypted with one customer-managed KMS key (rotation on).
 *
 * No key material ever enters the template: each secret is created holding a generated placeholder
 * (`{"status":"unset","index":i,"placeholder":"..."}`) and the operator loads the share afterwards with
 * `aws secretsmanager put-secret-value` (docs/deploy.md). CloudFormation generates the placeholder only
 * when it creates the secret, so later deploys never overwrite a loaded share.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { keyShareSecretName } from '../config.js';

export interface KeySharesProps {
  /** Cluster prefix; secret names are `keyShareSecretName(prefix, index)`. */
  readonly prefix: string;
  /** 1-based indexes of the members hosted in this region; at least one, no duplicates. */
  readonly memberIndexes: readonly number[];
  /** Keep the key and secrets when the stack is deleted. Default true. */
  readonly retain?: boolean;
}

export class KeyShares extends Construct {
  readonly key: kms.Key;
  private readonly secrets = new Map<number, secretsmanager.Secret>();

  /** @throws Error when memberIndexes is empty, has duplicates or a non-positive index */
  constructor(scope: Construct, id: string, props: KeySharesProps) {
    super(scope, id);
    const indexes = props.memberIndexes;
    if (indexes.length === 0) throw new Error('KeyShares.memberIndexes: expected at least one member');
    for (const i of indexes) {
      if (!Number.isInteger(i) || i < 1) throw new Error(`KeyShares.memberIndexes: expected 1-based integers, got ${i}`);
    }
    if (new Set(indexes).size !== indexes.length) throw new Error('KeyShares.memberIndexes: duplicate index');
    const retain = props.retain ?? true;
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/${props.prefix}-key-shares`,
      description: `Encrypts the ${props.prefix} validator key shares`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(7),
    });
    for (const index of indexes) {
      const secret = new secretsmanager.Secret(this, `Member${index}`, {
        secretName: keyShareSecretName(props.prefix, index),
        description: `Threshold BLS key share of member ${index}; load it with put-secret-value (docs/deploy.md)`,
        encryptionKey: this.key,
        removalPolicy,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ status: 'unset', index }),
          generateStringKey: 'placeholder',
          excludePunctuation: true,
          passwordLength: 16,
        },
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'A threshold BLS share cannot be rotated by a rotation Lambda: a new share needs a new dealing of the group key ' +
          '(a new era, all members at once), done offline; docs/deploy.md describes loading and replacing shares.',
      });
      this.secrets.set(index, secret);
    }
  }

  /** The secret of member `index`. @throws Error when that member is not hosted here */
  secret(index: number): secretsmanager.Secret {
    const secret = this.secrets.get(index);
    if (!secret) throw new Error(`KeyShares.secret: member ${index} is not hosted in this region`);
    return secret;
  }

  /** Lets `grantee` read member `index`'s share (GetSecretValue on that secret, Decrypt on the key via Secrets Manager). */
  grantRead(index: number, grantee: iam.IGrantable): iam.Grant {
    return this.secret(index).grantRead(grantee);
  }
}
