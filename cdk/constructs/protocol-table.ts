/**
 * ProtocolTable: one DynamoDB table of the protocol (blocks, finality or state). Fixed defaults:
 * keys `pk` (S) / `sk` (S), on-demand billing, point-in-time recovery, no TTL (nothing the protocol
 * stores may silently expire), deletion protection on unless the deployment is a throwaway one.
 * Writes are granted per item kind (grantWriteItems: actions on items whose partition key matches),
 * never table-wide, so a role can write only the items it owns.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

const TABLE_NAME_RE = /^[A-Za-z0-9_.-]{3,255}$/;
/** An exact partition key, or a prefix ending in one `*`; no other IAM wildcard (`*`, `?`) inside. */
const PARTITION_KEY_RE = /^[^*?]+\*?$/;

/**
 * The item writes a role may be granted. Transactions need no action of their own: each Put of a
 * TransactWriteItems is authorized as a PutItem on its item. DeleteItem is granted on the transaction
 * pool's items only (the sequencer evicts a rejected entry with a conditional delete).
 */
export type ItemWriteAction = 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'BatchWriteItem';

export interface ProtocolTableProps {
  /** Table name: 3-255 characters of [A-Za-z0-9_.-]. */
  readonly tableName: string;
  /**
   * Deletion protection, and RETAIN on stack deletion. Default true; set false only for dev
   * clusters that `cdk destroy` should remove completely.
   */
  readonly deletionProtection?: boolean;
}

export class ProtocolTable extends Construct {
  readonly table: dynamodb.Table;

  /** @throws Error naming `tableName` when it is not a valid DynamoDB table name */
  constructor(scope: Construct, id: string, props: ProtocolTableProps) {
    super(scope, id);
    if (!TABLE_NAME_RE.test(props.tableName)) {
      throw new Error(`ProtocolTable.tableName: expected 3-255 characters of [A-Za-z0-9_.-], got ${JSON.stringify(props.tableName)}`);
    }
    const protect = props.deletionProtection ?? true;
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: protect,
      removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }

  /** Lets `grantee` read items (GetItem, Query, Scan, BatchGetItem, ...) of this table only. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /**
   * Lets `grantee` make the item writes `actions` on this table, only to items whose partition key
   * matches one of `partitionKeys` (IAM condition on `dynamodb:LeadingKeys`). An entry is an exact key
   * (`HEAD`, `WATERMARK#3`) or a prefix ending in `*` (`B#*`). With exact keys only the condition is
   * `ForAllValues:StringEquals`, otherwise `ForAllValues:StringLike`. A BatchWriteItem is allowed only
   * when every item of the batch matches (ForAllValues), so a batch mixing in another key is refused.
   * DeleteItem only where a role removes items it owns (the sequencer, pool entries; BatchWriteItem can
   * delete within its keys too, see docs/operations.md).
   * @throws Error when `actions` or `partitionKeys` is empty, or a key has a wildcard other than one trailing `*`
   * @example blocks.grantWriteItems(fn, ['PutItem'], ['B#*']) // block items only
   */
  grantWriteItems(grantee: iam.IGrantable, actions: readonly ItemWriteAction[], partitionKeys: readonly string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: actions.map((a) => `dynamodb:${a}`),
      resourceArns: [this.table.tableArn],
      conditions: writeConditions(actions, partitionKeys, 'ProtocolTable.grantWriteItems'),
    });
  }

  /**
   * grantWriteItems for the table `name` of `region` in this stack's account, addressed by an ARN built
   * from the name (no cross-region reference): every region's API admits into the transaction pool in
   * the home region's blocks table.
   */
  static grantWriteItemsByName(
    grantee: iam.IGrantable,
    scope: Construct,
    region: string,
    name: string,
    actions: readonly ItemWriteAction[],
    partitionKeys: readonly string[],
  ): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: actions.map((a) => `dynamodb:${a}`),
      resourceArns: [Stack.of(scope).formatArn({ service: 'dynamodb', region, resource: 'table', resourceName: name })],
      conditions: writeConditions(actions, partitionKeys, 'ProtocolTable.grantWriteItemsByName'),
    });
  }

  /**
   * Lets `grantee` read items (GetItem, BatchGetItem, Query) of the table `name` in `region` of this
   * stack's account, addressed by an ARN built from the name (no cross-region reference).
   */
  static grantReadByName(grantee: iam.IGrantable, scope: Construct, region: string, name: string): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
      resourceArns: [Stack.of(scope).formatArn({ service: 'dynamodb', region, resource: 'table', resourceName: name })],
    });
  }
}

/** The `dynamodb:LeadingKeys` condition of an item-write grant; throws (naming `who`) on empty lists or a bad key. */
function writeConditions(
  actions: readonly ItemWriteAction[],
  partitionKeys: readonly string[],
  who: string,
): Record<string, Record<string, unknown>> {
  if (actions.length === 0) throw new Error(`${who}: expected at least one action`);
  if (partitionKeys.length === 0) throw new Error(`${who}: expected at least one partition key`);
  for (const key of partitionKeys) {
    if (!PARTITION_KEY_RE.test(key)) throw new Error(`${who}: expected an exact key or a prefix ending in '*', got ${JSON.stringify(key)}`);
  }
  const operator = partitionKeys.some((k) => k.endsWith('*')) ? 'ForAllValues:StringLike' : 'ForAllValues:StringEquals';
  return { [operator]: { 'dynamodb:LeadingKeys': [...partitionKeys] } };
}
