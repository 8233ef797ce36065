/**
 * ProtocolTable: one DynamoDB table of the protocol (blocks, finality or state). Fixed defaults:
 * keys `pk` (S) / `sk` (S), on-demand billing, point-in-time recovery, no TTL (nothing the protocol
 * stores may silently expire), deletion protection on unless the deployment is a throwaway one.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

const TABLE_NAME_RE = /^[A-Za-z0-9_.-]{3,255}$/;

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
   * Lets `grantee` write items with BatchWriteItem only: for content-addressed nodes, where a put can
   * only ever store the value its key already commits to.
   */
  grantBatchWrite(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:BatchWriteItem');
  }

  /** Lets `grantee` read and write items (including conditional writes and transactions) of this table only. */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadWriteData(grantee);
  }

  /**
   * Lets `grantee` admit into the transaction pool kept in the blocks table `name` of `region` (the
   * home region): read a sender's entries and a status, reserve room in a lane (UpdateItem), and
   * write an entry with its status in one TransactWriteItems (PutItem, ConditionCheckItem). By an
   * ARN built from the name, like grantReadByName.
   */
  static grantPoolByName(grantee: iam.IGrantable, scope: Construct, region: string, name: string): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
      resourceArns: [Stack.of(scope).formatArn({ service: 'dynamodb', region, resource: 'table', resourceName: name })],
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
