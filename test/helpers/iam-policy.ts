/**
 * A small evaluator of the DynamoDB statements of a synthesized IAM policy, for tests: does the role
 * allow this request (action, table, partition keys)? It follows IAM's rules for what our templates
 * contain (Allow and Deny statements, Action/Resource with `*` and `?` wildcards, the
 * `ForAllValues:StringEquals` / `ForAllValues:StringLike` conditions on `dynamodb:LeadingKeys`) and
 * throws on anything else, so a policy it cannot judge fails the test instead of passing it.
 *
 * Resources are CloudFormation values; they are rendered to ARNs in a fixed account (`ACCOUNT`), with
 * `Fn::GetAtt [<table>, Arn]` resolved through the template's table names.
 */

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

/** One DynamoDB authorization check: an action on a table with the partition keys it touches. */
export interface DynamoRequest {
  /** IAM action without the service prefix, e.g. `PutItem`. */
  readonly action: string;
  readonly region: string;
  readonly table: string;
  /** The partition key values of every item the request touches (empty for Scan and table-level calls). */
  readonly leadingKeys: readonly string[];
}

export interface PolicyContext {
  /** The stack's region (`Ref: AWS::Region`). */
  readonly region: string;
  /** Logical id -> TableName of the stack's tables. */
  readonly tables: ReadonlyMap<string, string>;
}

export const tableArn = (region: string, table: string): string => `arn:aws:dynamodb:${region}:ACCOUNT:table/${table}`;

/** Renders a CloudFormation string value (literal, Ref, Fn::Join, Fn::GetAtt of a table) to text. */
function render(value: Json, ctx: PolicyContext): string {
  if (typeof value === 'string') return value;
  if (value.Ref === 'AWS::Partition') return 'aws';
  if (value.Ref === 'AWS::Region') return ctx.region;
  if (value.Ref === 'AWS::AccountId') return 'ACCOUNT';
  if (value.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
  if (value['Fn::Join']) {
    const [sep, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((p) => render(p, ctx)).join(sep);
  }
  if (value['Fn::GetAtt']) {
    const [id, attr] = value['Fn::GetAtt'] as [string, string];
    const table = ctx.tables.get(id);
    if (table !== undefined && attr === 'Arn') return tableArn(ctx.region, table);
    return `unresolved:${id}.${attr}`; // a queue, a secret...: never a table ARN
  }
  if (value.Ref) return `unresolved:${value.Ref}`;
  throw new Error(`iam-policy: cannot render ${JSON.stringify(value)}`);
}

/** IAM string matching with `*` (any run) and `?` (one character). */
export function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(text);
}

function conditionHolds(condition: Json, req: DynamoRequest): boolean {
  if (condition === undefined) return true;
  for (const [operator, entries] of Object.entries(condition as Record<string, Record<string, string | string[]>>)) {
    for (const [key, raw] of Object.entries(entries)) {
      if (key !== 'dynamodb:LeadingKeys') throw new Error(`iam-policy: unsupported condition key ${key}`);
      const values = [raw].flat();
      let match: (v: string, k: string) => boolean;
      if (operator === 'ForAllValues:StringEquals') match = (v, k) => v === k;
      else if (operator === 'ForAllValues:StringLike') match = (v, k) => globMatch(v, k);
      else throw new Error(`iam-policy: unsupported condition operator ${operator}`);
      // ForAllValues: every key of the request matches one of the values (true for a request without keys).
      if (!req.leadingKeys.every((k) => values.some((v) => match(v, k)))) return false;
    }
  }
  return true;
}

function statementMatches(s: Json, req: DynamoRequest, ctx: PolicyContext): boolean {
  if (s.NotAction !== undefined || s.NotResource !== undefined) throw new Error('iam-policy: NotAction/NotResource not supported');
  const actions = [s.Action].flat() as string[];
  if (!actions.some((a) => globMatch(a, `dynamodb:${req.action}`))) return false;
  const arn = tableArn(req.region, req.table);
  const resources = [s.Resource].flat().map((r: Json) => render(r, ctx));
  if (!resources.some((r) => globMatch(r, arn))) return false;
  return conditionHolds(s.Condition, req);
}

/** True when `statements` allow `req`: some Allow statement matches and no Deny statement does. */
export function policyAllows(statements: readonly Json[], req: DynamoRequest, ctx: PolicyContext): boolean {
  let allowed = false;
  for (const s of statements) {
    if (!statementMatches(s, req, ctx)) continue;
    if (s.Effect === 'Deny') return false;
    if (s.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

/** The write actions a role could use on a table item. */
export const WRITE_ACTIONS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'PartiQLInsert', 'PartiQLUpdate', 'PartiQLDelete'];

/**
 * The policy context of a synthesized stack template: its region and its tables by logical id.
 * @example policyContext(template.toJSON(), 'eu-west-1')
 */
export function policyContext(template: Json, region: string): PolicyContext {
  const tables = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources as Record<string, Json>)) {
    if (r.Type === 'AWS::DynamoDB::Table') tables.set(id, r.Properties.TableName);
  }
  return { region, tables };
}

/** The statements of every AWS::IAM::Policy attached to the role whose logical id starts with `rolePrefix`. */
export function roleStatements(template: Json, rolePrefix: string): Json[] {
  const resources = template.Resources as Record<string, Json>;
  const roles = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::IAM::Role' && id.startsWith(rolePrefix));
  if (roles.length !== 1) throw new Error(`iam-policy: expected one role ${rolePrefix}*, found ${roles.length}`);
  const role = roles[0]!;
  const out: Json[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    if (!(r.Properties.Roles as Json[]).some((x) => x.Ref === role)) continue;
    out.push(...(r.Properties.PolicyDocument.Statement as Json[]));
  }
  // Inline policies of the role itself (none today; included so a future one is judged too).
  for (const p of resources[role].Properties.Policies ?? []) out.push(...(p.PolicyDocument.Statement as Json[]));
  if (resources[role].Properties.ManagedPolicyArns?.length) throw new Error(`iam-policy: ${role} has managed policies`);
  return out;
}
