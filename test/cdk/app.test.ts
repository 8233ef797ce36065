/**
 * Assertion tests on the synthesized templates of the example cluster (4 regions, one member each),
 * a second topology (two members in one region, a follower region without members), cdk-nag's AwsSolutions
 * pack, and the construct props validation. The example app is built and synthesized once, with
 * cdk-nag and CDK's built-in CloudFormation validation on, exactly as `npm run synth` does.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../cdk/build-app.js';
import { FINALITY_LAG_METRIC, inboxQueue, loadClusterConfig, stackName } from '../../cdk/config.js';
import { HttpEndpoint } from '../../cdk/constructs/http-endpoint.js';
import { KeyShares } from '../../cdk/constructs/key-shares.js';
import { ProtocolQueue } from '../../cdk/constructs/protocol-queue.js';
import { ProtocolTable } from '../../cdk/constructs/protocol-table.js';
import { RoleFunction, RUNTIME } from '../../cdk/constructs/role-function.js';
import { StreamEndpoint } from '../../cdk/constructs/stream-endpoint.js';
import { RegionStack } from '../../cdk/region-stack.js';
import { type ClusterConfig, parseClusterConfig } from '../../lib/config.js';
import { HEALTH_CHECK_METRICS } from '../../lib/handlers/health-check.js';
import { globMatch, policyAllows, policyContext, roleStatements, WRITE_ACTIONS } from '../helpers/iam-policy.js';

// Synthesized CloudFormation is untyped JSON; the assertions below check the shapes they read.
// biome-ignore lint/suspicious/noExplicitAny: template JSON
type Json = Record<string, any>;
type Resource = { Type: string; Properties?: Json; DeletionPolicy?: string };

const config = loadClusterConfig('cdk/clusters/example.json');
const outdirs: string[] = [];
const tempOutdir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'afg-cdk-test-'));
  outdirs.push(dir);
  return dir;
};

// Asset staging caches bundles per output directory: the second topology reuses this one's bundles.
const exampleOutdir = tempOutdir();
let stacks: Map<string, RegionStack>;
const templates = new Map<string, Template>();
const json = (region: string): Json => templates.get(region)!.toJSON();
const resources = (region: string, type: string): [string, Resource][] =>
  Object.entries(json(region).Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
const forEachRegion = (fn: (region: string) => void): void => {
  for (const region of config.regions) fn(region);
};

/** Statements of the default policy of the role whose logical id starts with `rolePrefix`. */
const statements = (region: string, rolePrefix: string): Json[] => {
  const found = resources(region, 'AWS::IAM::Policy').find(([id]) => id.startsWith(rolePrefix));
  if (!found) throw new Error(`no policy ${rolePrefix}* in ${region}`);
  return found[1].Properties!.PolicyDocument.Statement as Json[];
};
const sends = (s: Json): boolean => [s.Action].flat().includes('sqs:SendMessage');
/** `<region>:<queue name>` of every queue the role may send to by ARN (built from names with Fn::Join). */
const sendTargets = (region: string, rolePrefix: string): string[] =>
  statements(region, rolePrefix)
    .filter(sends)
    .flatMap((s) => [s.Resource].flat())
    .filter((r: Json) => r['Fn::Join'])
    .map((r: Json) => {
      const text = (r['Fn::Join'][1] as unknown[]).map((x) => (typeof x === 'string' ? x : '')).join('');
      const m = /:sqs:([a-z0-9-]+)::(.+)$/.exec(text)!; // the account is a Ref, rendered empty here
      return `${m[1]}:${m[2]}`;
    });
/** Names of the same-stack queues the role may send to (granted by reference). */
const sentByRef = (region: string, rolePrefix: string): string[] => {
  const r = json(region).Resources as Record<string, Resource>;
  return statements(region, rolePrefix)
    .filter(sends)
    .flatMap((s) => [s.Resource].flat())
    .filter((x: Json) => x['Fn::GetAtt'])
    .map((x: Json) => r[x['Fn::GetAtt'][0]]!.Properties!.QueueName as string);
};

beforeAll(() => {
  const built = buildApp({ config, app: new App({ outdir: exampleOutdir }) });
  stacks = built.stacks;
  built.app.synth(); // throws if cdk-nag or CloudFormation validation reports an unacknowledged violation
  for (const [region, stack] of stacks) templates.set(region, Template.fromStack(stack));
});

afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

describe('stacks and cross-region wiring', () => {
  it('creates one stack per region, named <prefix>-<region>, deployed to that region', () => {
    expect([...stacks.keys()]).toEqual(config.regions);
    for (const [region, stack] of stacks) {
      expect(stack.stackName).toBe(stackName(config.prefix, region));
      expect(stack.region).toBe(region);
    }
  });

  it('has no cross-stack references: no Fn::ImportValue, no exports', () => {
    forEachRegion((region) => {
      const text = JSON.stringify(json(region));
      expect(text).not.toContain('Fn::ImportValue');
      for (const output of Object.values((json(region).Outputs ?? {}) as Record<string, Json>)) expect(output.Export).toBeUndefined();
    });
  });

  it('lets each sequencer look up and send to exactly every member inbox and every ingress, by ARN built from the name', () => {
    forEachRegion((region) => {
      const sends = sendTargets(region, 'SequencerRole');
      // Inboxes: proposals and 'pending' notices; ingress queues: its pacemaker and forwarding to the active view's sequencer.
      expect(sends.sort()).toEqual(
        [
          ...config.members.map((m) => `${m.region}:${inboxQueue(config.prefix, m.index)}`),
          ...config.regions.map((r) => `${r}:afg-ingress`),
        ].sort(),
      );
    });
  });

  it('lets each validator send votes to every region and timers to its own inbox, the API to the ingress queues, every member inbox and its own vote queue, the finalizer to the ingress queues and local queues only', () => {
    const ingress = config.regions.map((r) => `${r}:afg-ingress`).sort();
    forEachRegion((region) => {
      const member = config.members.find((m) => m.region === region)!;
      expect(sendTargets(region, `Validator${member.index}Role`).sort()).toEqual(
        [...config.regions.map((r) => `${r}:afg-votes`), `${region}:${inboxQueue(config.prefix, member.index)}`].sort(),
      );
      // And every member's inbox: a `pending` notice when the active view's pool cannot be written; and its own
      // vote queue: the scheduled finality sync hands a peer's higher certificate to its finalizer.
      const inboxes = config.members.map((m) => `${m.region}:${inboxQueue(config.prefix, m.index)}`);
      expect(sendTargets(region, 'ApiRole').sort()).toEqual([...ingress, ...inboxes, `${region}:afg-votes`].sort());
      // Local inbox and finalized queues are granted by reference; ticks and view certificates go to the active view's ingress.
      expect(sendTargets(region, 'FinalizerRole').sort()).toEqual(ingress);
      const local = sentByRef(region, 'FinalizerRole');
      expect(local.sort()).toEqual([`afg-finalized`, inboxQueue(config.prefix, member.index)].sort());
    });
  });

  it('puts a sequencer and an ingress queue in every member region (views move the active one)', () => {
    forEachRegion((region) => {
      const names = resources(region, 'AWS::SQS::Queue').map(([, r]) => r.Properties!.QueueName);
      const functions = resources(region, 'AWS::Lambda::Function').map(([, r]) => r.Properties!.FunctionName);
      expect(names.includes('afg-ingress')).toBe(true);
      expect(functions.includes('afg-sequencer')).toBe(true);
      expect(functions).toEqual(expect.arrayContaining(['afg-finalizer', 'afg-state-function', 'afg-api']));
    });
  });
});

describe('queues', () => {
  it('gives every queue a DLQ with maxReceiveCount >= 5, encryption and the expected names', () => {
    forEachRegion((region) => {
      const queues = resources(region, 'AWS::SQS::Queue');
      const byId = new Map(queues);
      const main = queues.filter(([, q]) => !q.Properties!.QueueName.endsWith('-dlq'));
      const member = config.members.find((m) => m.region === region)!;
      const expected = ['afg-votes', 'afg-finalized', `afg-proposals-m${member.index}`, 'afg-ingress'];
      expect(main.map(([, q]) => q.Properties!.QueueName).sort()).toEqual(expected.sort());
      expect(queues).toHaveLength(2 * main.length);
      for (const [, q] of queues)
        expect(q.Properties!.SqsManagedSseEnabled === true || q.Properties!.KmsMasterKeyId !== undefined).toBe(true);
      for (const [, q] of main) {
        const redrive = q.Properties!.RedrivePolicy;
        expect(redrive.maxReceiveCount).toBeGreaterThanOrEqual(5);
        const dlq = byId.get(redrive.deadLetterTargetArn['Fn::GetAtt'][0])!;
        expect(dlq.Properties!.QueueName).toBe(`${q.Properties!.QueueName}-dlq`);
      }
    });
  });

  it('sets each queue visibility timeout to at least 6x its consumer function timeout', () => {
    forEachRegion((region) => {
      const r = json(region).Resources as Record<string, Resource>;
      const mappings = resources(region, 'AWS::Lambda::EventSourceMapping');
      expect(mappings.length).toBeGreaterThanOrEqual(3);
      for (const [, m] of mappings) {
        const queue = r[m.Properties!.EventSourceArn['Fn::GetAtt'][0]]!;
        const fn = r[m.Properties!.FunctionName.Ref]!;
        expect(queue.Properties!.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties!.Timeout);
      }
    });
  });

  it('denies non-TLS access on every queue, DLQs included', () => {
    forEachRegion((region) => {
      const queueIds = resources(region, 'AWS::SQS::Queue').map(([id]) => id);
      const covered = new Set<string>();
      for (const [, p] of resources(region, 'AWS::SQS::QueuePolicy')) {
        const denyTls = p.Properties!.PolicyDocument.Statement.some(
          (s: Json) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
        );
        if (denyTls) for (const q of p.Properties!.Queues) covered.add(q.Ref);
      }
      expect([...covered].sort()).toEqual(queueIds.sort());
    });
  });

  it('consumes every queue through an event source reporting partial batch failures, with bounded concurrency', () => {
    forEachRegion((region) => {
      for (const [, m] of resources(region, 'AWS::Lambda::EventSourceMapping')) {
        const p = m.Properties!;
        expect(p.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
        expect(p.BatchSize).toBeGreaterThanOrEqual(1);
        expect(p.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
        expect(p.ScalingConfig.MaximumConcurrency).toBeLessThanOrEqual(10);
      }
    });
  });
});

describe('event sources on the latency path (issue 13)', () => {
  it('hands every vote, inbox, ingress and finalized message to its function as soon as it arrives: no batching window', () => {
    forEachRegion((region) => {
      const r = json(region).Resources as Record<string, Resource>;
      const consumed: string[] = [];
      for (const [, m] of resources(region, 'AWS::Lambda::EventSourceMapping')) {
        const p = m.Properties!;
        consumed.push(r[p.EventSourceArn['Fn::GetAtt'][0]]!.Properties!.QueueName);
        expect(p.MaximumBatchingWindowInSeconds ?? 0, `${region} ${consumed.at(-1)}`).toBe(0);
        expect(p.BatchSize).toBeLessThanOrEqual(10); // SQS allows more only with a batching window
        expect(p.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      }
      const member = config.members.find((m) => m.region === region)!;
      expect(consumed.sort()).toEqual(['afg-votes', 'afg-finalized', inboxQueue(config.prefix, member.index), 'afg-ingress'].sort());
    });
  });
});

describe('tables', () => {
  it('creates blocks, finality and state tables: pk/sk strings, on-demand, PITR, deletion protection, retained, no TTL', () => {
    forEachRegion((region) => {
      const tables = resources(region, 'AWS::DynamoDB::Table');
      expect(tables.map(([, t]) => t.Properties!.TableName).sort()).toEqual(['afg-blocks', 'afg-finality', 'afg-state']);
      for (const [, t] of tables) {
        const p = t.Properties!;
        expect(p.KeySchema).toEqual([
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ]);
        expect(p.AttributeDefinitions).toEqual([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]);
        expect(p.BillingMode).toBe('PAY_PER_REQUEST');
        expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(p.DeletionProtectionEnabled).toBe(true);
        expect(p.TimeToLiveSpecification).toBeUndefined();
        expect(t.DeletionPolicy).toBe('Retain');
      }
    });
  });

  it('drops deletion protection and retention when deletionProtection is false', () => {
    const stack = new Stack(new App({ outdir: tempOutdir() }), 'T');
    new ProtocolTable(stack, 'Dev', { tableName: 'dev-blocks', deletionProtection: false });
    new ProtocolTable(stack, 'Prod', { tableName: 'prod-blocks' });
    const t = Template.fromStack(stack);
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ TableName: 'dev-blocks', DeletionProtectionEnabled: false }),
    });
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ TableName: 'prod-blocks', DeletionProtectionEnabled: true }),
    });
  });
});

describe('functions', () => {
  it('runs every function on nodejs22.x or newer, arm64, ESM bundle, with the shared environment', () => {
    forEachRegion((region) => {
      const fns = resources(region, 'AWS::Lambda::Function');
      expect(fns.length).toBe(6);
      for (const [, f] of fns) {
        const p = f.Properties!;
        expect(p.Runtime).toMatch(/^nodejs\d+\.x$/);
        expect(Number(/^nodejs(\d+)/.exec(p.Runtime)![1])).toBeGreaterThanOrEqual(22);
        expect(p.Architectures).toEqual(['arm64']);
        expect(p.Handler).toBe('index.handler');
        const env = p.Environment.Variables;
        expect(parseClusterConfig(JSON.parse(env.AFG_CONFIG))).toEqual(config);
        expect(env.AFG_REGION).toBeUndefined(); // Lambda's own AWS_REGION names the region
        expect(env.POWERTOOLS_SERVICE_NAME).toMatch(/^afg-(sequencer|validator|finalizer|state-function|api|stream)$/);
        expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
      }
    });
  });

  it('stages each function as an ESM bundle with the require shim and the AWS SDK inside', () => {
    for (const [, f] of resources(config.homeRegion, 'AWS::Lambda::Function')) {
      const hash = String(f.Properties!.Code.S3Key).replace(/\.zip$/, '');
      const bundle = readFileSync(join(exampleOutdir, `asset.${hash}`, 'index.mjs'), 'utf8');
      expect(bundle.startsWith("import { createRequire as __afgCreateRequire } from 'node:module';")).toBe(true);
      expect(existsSync(join(exampleOutdir, `asset.${hash}`, 'index.mjs.map'))).toBe(true);
      expect(bundle).not.toMatch(/from\s*["']@aws-sdk\//); // no import left for the runtime's SDK to satisfy
    }
  });

  it('gives each validator its member index and only its own key-share secret', () => {
    forEachRegion((region) => {
      const member = config.members.find((m) => m.region === region)!;
      const t = templates.get(region)!;
      t.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `afg-validator-m${member.index}`,
        Environment: { Variables: Match.objectLike({ AFG_MEMBER: String(member.index), AFG_KEY_SECRET_ID: `afg/member-${member.index}` }) },
      });
      const secrets = resources(region, 'AWS::SecretsManager::Secret');
      expect(secrets.map(([, s]) => s.Properties!.Name)).toEqual([`afg/member-${member.index}`]);
      const [secretId, secret] = secrets[0]!;
      expect(secret.Properties!.SecretString).toBeUndefined(); // no key material in the template
      expect(secret.Properties!.GenerateSecretString.SecretStringTemplate).toBe(JSON.stringify({ status: 'unset', index: member.index }));
      expect(secret.Properties!.KmsKeyId).toBeDefined();
      t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
      // Only the validator's policy mentions the secret.
      const readers = resources(region, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p).includes(`"Ref":"${secretId}"`));
      expect(readers.map(([id]) => id)).toEqual([expect.stringMatching(/^Validator\d+Role/)]);
    });
  });

  it('scopes IAM: no wildcard resource on sqs, dynamodb, secretsmanager, kms or ssm actions', () => {
    forEachRegion((region) => {
      for (const [id, p] of resources(region, 'AWS::IAM::Policy')) {
        for (const s of p.Properties!.PolicyDocument.Statement as Json[]) {
          const actions = [s.Action].flat() as string[];
          if (!actions.some((a) => /^(sqs|dynamodb|secretsmanager|kms|ssm):/.test(a))) continue;
          for (const r of [s.Resource].flat()) {
            expect(typeof r === 'string' && r.includes('*'), `${region} ${id} ${JSON.stringify(r)}`).toBe(false);
          }
        }
      }
    });
  });

  it('lets validators outside the home region read (only read) the home blocks table, by ARN built from the name', () => {
    forEachRegion((region) => {
      const member = config.members.find((m) => m.region === region)!;
      const crossRegion = statements(region, `Validator${member.index}Role`).filter((s) =>
        JSON.stringify(s.Resource).includes(`:dynamodb:${config.homeRegion}:`),
      );
      if (region === config.homeRegion) expect(crossRegion).toEqual([]);
      else {
        expect(crossRegion).toHaveLength(1);
        expect(crossRegion[0]!.Action).toEqual(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query']);
        expect(JSON.stringify(crossRegion[0]!.Resource)).toContain(':table/afg-blocks');
      }
    });
  });
});

// The specification, written out here rather than imported, so loosening a grant in cdk/ fails a test.
// Partition keys: lib/aws/finality-store.ts, block-store.ts, state-store.ts (header comments).
// `anyMemberRegion`: the write may go to any member region's table (the pool of the current view's sequencer region).
type Write = { table: 'afg-blocks' | 'afg-finality' | 'afg-state'; action: string; keys: string[]; anyMemberRegion?: true };
/** `hostsMembers`: the region runs validators, so its state function runs the cross-region evidence audit and stores evidence. */
const expectedWrites = (role: string, hostsMembers: boolean): Write[] => {
  const member = /^Validator(\d+)Role$/.exec(role);
  if (member) {
    return [
      { table: 'afg-finality', action: 'PutItem', keys: [`WATERMARK#${member[1]}`] },
      { table: 'afg-blocks', action: 'PutItem', keys: ['B#*'] },
    ];
  }
  switch (role) {
    case 'SequencerRole':
      return [
        { table: 'afg-blocks', action: 'PutItem', keys: ['B#*', 'SEQ', 'PACEMAKER'] },
        ...['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'].map((action) => ({
          table: 'afg-blocks' as const,
          action,
          keys: ['PL#*', 'TX#*'],
        })),
        // A view another region told it of, recorded in the region's head (lib/pipeline/sequencer.ts currentView).
        { table: 'afg-finality', action: 'UpdateItem', keys: ['HEAD'] },
      ];
    case 'FinalizerRole':
      return [
        { table: 'afg-finality', action: 'UpdateItem', keys: ['T#*', 'STATS', 'HEAD', 'V#*'] },
        { table: 'afg-finality', action: 'PutItem', keys: ['E'] },
      ];
    case 'StateFunctionRole':
      return [
        { table: 'afg-state', action: 'BatchWriteItem', keys: ['N#*'] },
        { table: 'afg-state', action: 'PutItem', keys: ['APPLIED'] },
        { table: 'afg-blocks', action: 'PutItem', keys: ['B#*'] },
        { table: 'afg-blocks', action: 'BatchWriteItem', keys: ['F#*'] },
        ...(hostsMembers ? [{ table: 'afg-finality' as const, action: 'PutItem', keys: ['E'] }] : []),
        // Settling backup copies in the region's pool (lib/aws/pool-store.ts settle).
        ...(hostsMembers
          ? ['UpdateItem', 'BatchWriteItem'].map((action) => ({ table: 'afg-blocks' as const, action, keys: ['PL#*', 'TX#*'] }))
          : []),
      ];
    case 'FollowerRole':
      return [
        { table: 'afg-finality', action: 'UpdateItem', keys: ['T#*', 'HEAD'] },
        { table: 'afg-state', action: 'BatchWriteItem', keys: ['N#*'] },
        { table: 'afg-state', action: 'PutItem', keys: ['APPLIED'] },
        { table: 'afg-blocks', action: 'PutItem', keys: ['B#*'] },
      ];
    case 'ApiRole':
      // Admission into the pool of the current view's sequencer region (lib/aws/pool-store.ts): lane entries and counters, statuses.
      return ['PutItem', 'UpdateItem'].map((action) => ({ table: 'afg-blocks', action, keys: ['PL#*', 'TX#*'], anyMemberRegion: true }));
    case 'StreamRole':
      return [];
    default:
      throw new Error(`no expectation for ${role}`);
  }
};
/** One item key of every kind each table holds, plus one of no kind. */
const sampleKeys = (members: readonly number[]): Record<Write['table'], string[]> => ({
  'afg-finality': [...members.map((m) => `WATERMARK#${m}`), 'T#00000000000000000008', 'V#00000000000000000001', 'E', 'STATS', 'HEAD', 'X'],
  'afg-blocks': ['B#00000000000000000008', 'F#00000000000000000007', 'SEQ', 'PL#003', 'TX#ab', 'POOL', 'PACEMAKER', 'X'],
  'afg-state': [`N#${'ab'.repeat(32)}`, 'APPLIED', 'X'],
});
const rolesIn = (t: Json): string[] =>
  Object.entries(t.Resources as Record<string, Resource>)
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .map(([id]) => /^(.+Role)[0-9A-F]{8}$/.exec(id)![1]!);

/** Checks every (region, table, write action, key kind) against expectedWrites for every role of the template. */
const checkWriteMatrix = (
  t: Json,
  region: string,
  regions: readonly string[],
  members: readonly number[],
  memberRegions: readonly string[] = config.members.map((m) => m.region),
): number => {
  const ctx = policyContext(t, region);
  let checked = 0;
  const hostsMembers = rolesIn(t).some((role) => /^Validator\d+Role$/.test(role));
  for (const role of rolesIn(t)) {
    const statements = roleStatements(t, role);
    const expected = expectedWrites(role, hostsMembers);
    for (const r of regions) {
      for (const [table, keys] of Object.entries(sampleKeys(members)) as [Write['table'], string[]][]) {
        for (const action of WRITE_ACTIONS) {
          for (const key of keys) {
            const want = expected.some(
              (w) =>
                (w.anyMemberRegion ? memberRegions.includes(r) : r === region) &&
                w.table === table &&
                w.action === action &&
                w.keys.some((k) => globMatch(k, key)),
            );
            const got = policyAllows(statements, { action, region: r, table, leadingKeys: [key] }, ctx);
            expect(got, `${region} ${role} ${action} ${r}/${table} ${key}`).toBe(want);
            checked++;
          }
        }
      }
    }
  }
  return checked;
};

describe('least privilege: what each role may write (one compromised role or member)', () => {
  it('allows each role exactly its own item writes in its own region, and nothing else (every table, action, key kind)', () => {
    forEachRegion((region) => {
      const members = config.members.map((m) => m.index);
      expect(checkWriteMatrix(json(region), region, config.regions, members)).toBeGreaterThan(1000);
    });
  });

  it("pins each validator's watermark writes to its own member with an exact LeadingKeys condition", () => {
    forEachRegion((region) => {
      const member = config.members.find((m) => m.region === region)!;
      const finalityId = resources(region, 'AWS::DynamoDB::Table').find(([, t]) => t.Properties!.TableName === 'afg-finality')![0];
      const onFinality = roleStatements(json(region), `Validator${member.index}Role`).filter(
        (s) =>
          [s.Action].flat().some((a: string) => !/^dynamodb:(Get|BatchGet|Query|Scan|ConditionCheck|Describe)/.test(a)) &&
          JSON.stringify(s.Resource).includes(`"${finalityId}"`),
      );
      expect(onFinality).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'dynamodb:PutItem',
          Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [`WATERMARK#${member.index}`] } },
        }),
      ]);
    });
  });

  it('keeps every role its reads; the sequencer reads the finality head it paces on', () => {
    forEachRegion((region) => {
      const ctx = policyContext(json(region), region);
      for (const role of rolesIn(json(region))) {
        const statements = roleStatements(json(region), role);
        for (const table of ['afg-blocks', 'afg-finality', 'afg-state']) {
          for (const action of ['GetItem', 'Query', 'BatchGetItem']) {
            expect(policyAllows(statements, { action, region, table, leadingKeys: ['HEAD'] }, ctx), `${role} ${action} ${table}`).toBe(
              true,
            );
          }
        }
      }
    });
  });

  it('gives the stream role no DynamoDB write action at all and no queue to send to; the API role only the pool writes', () => {
    forEachRegion((region) => {
      for (const role of ['ApiRole', 'StreamRole']) {
        const actions = roleStatements(json(region), role).flatMap((s) => [s.Action].flat()) as string[];
        const writes = actions.filter(
          (a) => a.startsWith('dynamodb:') && !/^dynamodb:(Get|BatchGet|Query|Scan|ConditionCheck|Describe)/.test(a),
        );
        // Admission into the current view's region's pool; the write matrix pins them to PL#/TX# items of member regions.
        expect([...new Set(writes)].sort(), `${region} ${role}`).toEqual(
          role === 'ApiRole' ? ['dynamodb:PutItem', 'dynamodb:UpdateItem'] : [],
        );
      }
      expect(sendTargets(region, 'StreamRole')).toEqual([]);
      expect(sentByRef(region, 'StreamRole')).toEqual([]);
    });
  });

  it('lets the state function batch-write only nodes: a batch that also puts or deletes its applied pointer is refused', () => {
    forEachRegion((region) => {
      const ctx = policyContext(json(region), region);
      const statements = roleStatements(json(region), 'StateFunctionRole');
      const batch = (keys: string[]) =>
        policyAllows(statements, { action: 'BatchWriteItem', region, table: 'afg-state', leadingKeys: keys }, ctx);
      expect(batch([`N#${'01'.repeat(32)}`, `N#${'02'.repeat(32)}`])).toBe(true);
      expect(batch([`N#${'01'.repeat(32)}`, 'APPLIED'])).toBe(false);
    });
  });

  it('tells only the roles that may write state nodes to write them (AFG_STATE_WRITER); the others compute genesis in memory', () => {
    forEachRegion((region) => {
      const ctx = policyContext(json(region), region);
      const fns = resources(region, 'AWS::Lambda::Function');
      for (const [, f] of fns) {
        const roleId = f.Properties!.Role['Fn::GetAtt'][0] as string;
        const role = /^(.+Role)[0-9A-F]{8}$/.exec(roleId)![1]!;
        const writes = policyAllows(
          roleStatements(json(region), role),
          { action: 'BatchWriteItem', region, table: 'afg-state', leadingKeys: [`N#${'ab'.repeat(32)}`] },
          ctx,
        );
        expect(f.Properties!.Environment.Variables.AFG_STATE_WRITER === 'true', `${f.Properties!.FunctionName}`).toBe(writes);
      }
      expect(fns.filter(([, f]) => f.Properties!.Environment.Variables.AFG_STATE_WRITER === 'true')).toHaveLength(1);
    });
  });
});

describe('HTTP API and alarms', () => {
  it('outputs ApiUrl from a regional REST API stage with access logs and stage throttling, and publishes it for peers', () => {
    forEachRegion((region) => {
      const t = templates.get(region)!;
      t.hasOutput('ApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
      t.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
      t.resourceCountIs('AWS::ApiGateway::RestApi', 1);
      t.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'afg-api', EndpointConfiguration: { Types: ['REGIONAL'] } });
      t.resourceCountIs('AWS::ApiGateway::Account', 0); // no account-wide CloudWatch role from this stack
      t.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'api',
        AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('wafResponseCode') }),
        MethodSettings: [Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })],
      });
      // Every path, the root included, goes to the API function.
      const [apiFnId] = resources(region, 'AWS::Lambda::Function').find(([, f]) => f.Properties!.FunctionName === 'afg-api')!;
      const methods = resources(region, 'AWS::ApiGateway::Method');
      expect(methods).toHaveLength(2);
      for (const [, m] of methods) {
        expect(m.Properties!).toMatchObject({ HttpMethod: 'ANY', AuthorizationType: 'NONE', Integration: { Type: 'AWS_PROXY' } });
        expect(JSON.stringify(m.Properties!.Integration.Uri)).toContain(apiFnId);
      }
      t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/afg/api-url' });
    });
  });

  it('limits each client address: a WAF web ACL on the stage blocks an address above 1200 requests a minute with 429', () => {
    forEachRegion((region) => {
      const t = templates.get(region)!;
      const [[aclId, acl]] = resources(region, 'AWS::WAFv2::WebACL') as [[string, Resource]];
      const p = acl.Properties!;
      expect(p.Scope).toBe('REGIONAL');
      expect(p.DefaultAction).toEqual({ Allow: {} });
      expect(p.Rules).toHaveLength(1);
      const rule = (p.Rules as Json[])[0]!;
      expect(rule.Statement).toEqual({ RateBasedStatement: { AggregateKeyType: 'IP', Limit: 1200, EvaluationWindowSec: 60 } });
      expect(rule.Action.Block.CustomResponse).toEqual({
        ResponseCode: 429,
        CustomResponseBodyKey: 'RateLimited',
        ResponseHeaders: [{ Name: 'retry-after', Value: '60' }],
      });
      const body = p.CustomResponseBodies.RateLimited;
      expect(body.ContentType).toBe('APPLICATION_JSON');
      expect(JSON.parse(body.Content).error.code).toBe('RATE_LIMITED');
      // Associated with the API's stage: the ARN names this REST API and this stage.
      const [[, assoc]] = resources(region, 'AWS::WAFv2::WebACLAssociation') as [[string, Resource]];
      expect(assoc.Properties!.WebACLArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
      const arn = JSON.stringify(assoc.Properties!.ResourceArn);
      const [apiId] = resources(region, 'AWS::ApiGateway::RestApi')[0]!;
      const [stageId] = resources(region, 'AWS::ApiGateway::Stage')[0]!;
      expect(arn).toContain('/restapis/');
      expect(arn).toContain(`"Ref":"${apiId}"`);
      expect(arn).toContain(`"Ref":"${stageId}"`);
      t.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    });
  });

  it('serves the finality stream from a streaming function URL, bounded by reserved concurrency; the HTTP API redirects there', () => {
    forEachRegion((region) => {
      const t = templates.get(region)!;
      const [[fnId, fn]] = resources(region, 'AWS::Lambda::Function').filter(([, f]) => f.Properties!.FunctionName === 'afg-stream') as [
        [string, Resource],
      ];
      expect(fn.Properties!.ReservedConcurrentExecutions).toBe(50);
      expect(fn.Properties!.Timeout).toBe(300);
      t.resourceCountIs('AWS::Lambda::Url', 1);
      t.hasResourceProperties('AWS::Lambda::Url', {
        AuthType: 'NONE',
        InvokeMode: 'RESPONSE_STREAM',
        TargetFunctionArn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Cors: Match.objectLike({ AllowOrigins: ['*'], AllowMethods: ['GET'], AllowHeaders: ['last-event-id', 'content-type'] }),
      });
      // Anyone may invoke the URL (the answers carry certificates), and only through the URL.
      t.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunctionUrl',
        Principal: '*',
        FunctionUrlAuthType: 'NONE',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      });
      t.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: '*',
        InvokedViaFunctionUrl: true,
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      });
      const urlId = resources(region, 'AWS::Lambda::Url')[0]![0];
      t.hasOutput('StreamUrl', { Value: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } });
      t.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: 'afg-api',
        Environment: { Variables: Match.objectLike({ AFG_STREAM_URL: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } }) },
      });
      // Read-only: it refuses POST /v1/transactions and may send to no queue.
      expect(sendTargets(region, 'StreamRole')).toEqual([]);
    });
  });

  it('alarms on the depth of every DLQ', () => {
    forEachRegion((region) => {
      const dlqIds = resources(region, 'AWS::SQS::Queue')
        .filter(([, q]) => q.Properties!.QueueName.endsWith('-dlq'))
        .map(([id]) => id);
      const alarmed = resources(region, 'AWS::CloudWatch::Alarm')
        .filter(([, a]) => a.Properties!.MetricName === 'ApproximateNumberOfMessagesVisible')
        .map(([, a]) => {
          expect(a.Properties!).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
          return a.Properties!.Dimensions[0].Value['Fn::GetAtt'][0] as string;
        });
      expect(alarmed.sort()).toEqual(dlqIds.sort());
    });
  });

  it('alarms on FinalityLag (namespace afg, the dimensions Powertools emits) or on the FinalityStalledSeconds heartbeat', () => {
    forEachRegion((region) => {
      const alarms = templates.get(region)!.findResources('AWS::CloudWatch::Alarm', {
        Properties: { AlarmName: Match.stringLikeRegexp('finality-lag') },
      });
      const [alarm] = Object.values(alarms) as Json[];
      expect(Object.keys(alarms)).toHaveLength(1);
      const p = alarm!.Properties;
      expect(p).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 5 });
      const byId = new Map((p.Metrics as Json[]).map((m) => [m.Id, m]));
      // One expression, returned; breaching on a lag above 3K blocks or on a stall of 60 s or more.
      expect(byId.get('expr_1')).toMatchObject({
        Expression: `IF(FILL(lag, 0) > ${3 * config.checkpointInterval} OR FILL(stalled, 0) >= 60, 1, 0)`,
      });
      expect(byId.get('expr_1')!.ReturnData).not.toBe(false);
      expect(byId.get('lag')).toMatchObject({
        ReturnData: false,
        MetricStat: {
          Metric: {
            Namespace: 'afg',
            MetricName: 'FinalityLag',
            Dimensions: expect.arrayContaining([
              { Name: 'region', Value: region },
              { Name: 'service', Value: FINALITY_LAG_METRIC.service },
            ]),
          },
          Stat: 'Maximum',
        },
      });
      expect(byId.get('stalled')).toMatchObject({
        ReturnData: false,
        MetricStat: {
          Metric: {
            Namespace: 'afg',
            MetricName: HEALTH_CHECK_METRICS.stalled,
            Dimensions: expect.arrayContaining([
              { Name: 'region', Value: region },
              { Name: 'service', Value: HEALTH_CHECK_METRICS.service },
            ]),
          },
          Stat: 'Maximum',
        },
      });
      // A total stall emits no FinalityLag: the heartbeat must come from the scheduled health check.
      templates.get(region)!.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    });
  });
});

describe('health check and dependency alarms', () => {
  /** `<region>:<queue>` of the queues a role may read attributes of (GetQueueAttributes, by ARN). */
  const probeTargets = (region: string, rolePrefix: string): string[] =>
    statements(region, rolePrefix)
      .filter((st) => [st.Action].flat().includes('sqs:GetQueueAttributes'))
      .flatMap((st) => [st.Resource].flat())
      .filter((r: Json) => r['Fn::Join']) // by name (a consumer's own queue is granted by reference)
      .map((r: Json) => {
        const text = (r['Fn::Join'][1] as unknown[]).map((x) => (typeof x === 'string' ? x : '')).join('');
        const m = /:sqs:([a-z0-9-]+)::(.+)$/.exec(text)!;
        return `${m[1]}:${m[2]}`;
      });

  it("the API may probe exactly the queues its health checks name: its own (its ingress included), its members' inboxes", () => {
    forEachRegion((region) => {
      const inboxes = config.members.filter((m) => m.region === region).map((m) => `${region}:${inboxQueue(config.prefix, m.index)}`);
      const ingress = inboxes.length > 0 ? [`${region}:afg-ingress`] : [];
      expect(probeTargets(region, 'ApiRole').sort()).toEqual(
        [`${region}:afg-votes`, `${region}:afg-finalized`, ...inboxes, ...ingress].sort(),
      );
      // No other role may read other queues' attributes by name.
      for (const role of ['FinalizerRole', 'StateFunctionRole']) expect(probeTargets(region, role)).toEqual([]);
    });
  });

  it('runs the API health check every minute and alarms when it fails for 3 minutes or does not run', () => {
    forEachRegion((region) => {
      const t = templates.get(region)!;
      const [apiFnId] = resources(region, 'AWS::Lambda::Function').find(([, f]) => f.Properties!.FunctionName === 'afg-api')!;
      t.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [apiFnId, 'Arn'] }, Input: JSON.stringify({ afg: 'health-check' }) })],
      });
      t.hasResourceProperties('AWS::Lambda::Permission', {
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [apiFnId, 'Arn'] },
      });
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `afg-health-${region}`,
        Namespace: 'afg',
        MetricName: 'HealthCheckFailed',
        Dimensions: Match.arrayWith([
          { Name: 'region', Value: region },
          { Name: 'service', Value: 'afg-api' },
        ]),
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        TreatMissingData: 'breaching',
      });
    });
  });

  it('alarms on throttling of each table', () => {
    forEachRegion((region) => {
      for (const table of ['blocks', 'finality', 'state']) {
        const [, alarm] = resources(region, 'AWS::CloudWatch::Alarm').find(
          ([, a]) => a.Properties!.AlarmName === `afg-${table}-throttled-${region}`,
        )!;
        const metrics = alarm.Properties!.Metrics as Json[];
        expect(metrics.find((m) => m.Id === 'expr_1' || m.Expression)?.Expression).toBe('FILL(r, 0) + FILL(w, 0)');
        const names = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric.MetricName);
        expect(names.sort()).toEqual(['ReadThrottleEvents', 'WriteThrottleEvents']);
        // Both metrics select the table itself (a Ref to the table resource named afg-<table>).
        const tables = Object.fromEntries(resources(region, 'AWS::DynamoDB::Table').map(([id, r]) => [id, r.Properties!.TableName]));
        for (const m of metrics.filter((x) => x.MetricStat)) {
          expect(m.MetricStat.Metric.Dimensions).toHaveLength(1);
          const dimension = m.MetricStat.Metric.Dimensions[0] as Json;
          expect(dimension.Name).toBe('TableName');
          expect(tables[dimension.Value.Ref]).toBe(`afg-${table}`);
        }
      }
    });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding on any region stack', () => {
    for (const stack of stacks.values()) {
      const report = new AwsSolutionsChecks().validateScope(stack);
      expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId)}`)).toEqual([]);
    }
  });

  it('does report a finding on a non-compliant queue (the check is live)', () => {
    const stack = new Stack(new App({ outdir: tempOutdir() }), 'Bad');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining([expect.stringContaining('SQS3'), expect.stringContaining('SQS4')]));
  });

  it('carries a specific reason on every acknowledgment', () => {
    const acks: { id: string; reason: string }[] = [];
    const walk = (c: IConstruct): void => {
      for (const entry of c.node.metadata) {
        if (entry.type !== 'aws:cdk:acknowledged-rules') continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) acks.push({ id, reason });
      }
      for (const child of c.node.children) walk(child);
    };
    walk(stacks.get(config.homeRegion)!);
    // CDK records a bare rule id as 'Annotation::<id>'; cdk-nag matches it after stripping that prefix.
    expect(new Set(acks.map((a) => a.id.replace(/^annotation::/i, '')))).toEqual(
      new Set([
        'AwsSolutions-L1',
        'AwsSolutions-SMG4',
        'AwsSolutions-APIG2',
        'AwsSolutions-APIG4',
        'AwsSolutions-APIG6',
        'AwsSolutions-COG4',
      ]),
    );
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(80);
  });
});

describe('another topology: two members in one region, a follower region (no member)', () => {
  const topology: ClusterConfig = {
    ...config,
    regions: ['us-east-1', 'eu-west-1'],
    members: config.members.map((m, i) => ({ ...m, region: i < 2 ? 'us-east-1' : 'eu-west-1' })),
  };
  const three: ClusterConfig = { ...topology, regions: [...topology.regions, 'ap-southeast-2'] };
  const peerApiUrls = { 'us-east-1': 'https://a.example/', 'eu-west-1': 'https://b.example/', 'ap-southeast-2': 'https://c.example/' };
  let built: Map<string, RegionStack>;
  beforeAll(() => {
    const app = new App({ outdir: exampleOutdir, builtinCloudFormationValidation: false });
    built = buildApp({ config: three, nag: false, peerApiUrls, app }).stacks;
  });
  const policy = (t: Template, rolePrefix: string): Json[] => {
    const found = Object.entries(t.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(rolePrefix));
    if (!found) throw new Error(`no policy ${rolePrefix}*`);
    return found[1].Properties.PolicyDocument.Statement as Json[];
  };

  it('creates one validator and proposal queue per hosted member', () => {
    const home = Template.fromStack(built.get('us-east-1')!);
    home.resourceCountIs('AWS::SecretsManager::Secret', 2);
    for (const index of [1, 2]) {
      home.hasResourceProperties('AWS::SQS::Queue', { QueueName: `afg-proposals-m${index}` });
      home.hasResourceProperties('AWS::Lambda::Function', { FunctionName: `afg-validator-m${index}` });
    }
    // Validators vote to the regions that host members only: a follower has no vote queue.
    const votes = policy(home, 'Validator1Role')
      .filter((st) => [st.Action].flat().includes('sqs:SendMessage'))
      .flatMap((st) => [st.Resource].flat())
      .map((r: Json) => JSON.stringify(r));
    expect(votes.some((r) => r.includes('ap-southeast-2'))).toBe(false);
    expect(votes.some((r) => r.includes('eu-west-1'))).toBe(true);
    expect(built.get('us-east-1')!.follower).toBe(false);
    // A member region's API runs the finality sync on its health-check schedule: it reads the peers' heads.
    home.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'afg-api',
      Environment: { Variables: Match.objectLike({ AFG_PEERS: 'https://b.example/,https://c.example/' }) },
    });
  });

  it('deploys the member-less region as a follower: no key share, no finalizer or vote queue; a scheduled follower run', () => {
    const stack = built.get('ap-southeast-2')!;
    expect(stack.follower).toBe(true);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SecretsManager::Secret', 0);
    t.resourceCountIs('AWS::KMS::Key', 0);
    const queues = Object.values(t.findResources('AWS::SQS::Queue')).map((q) => q.Properties.QueueName);
    expect(queues).toContain('afg-finalized');
    for (const absent of ['afg-votes', 'afg-proposals-m1', 'afg-ingress']) expect(queues).not.toContain(absent);
    const functions = Object.values(t.findResources('AWS::Lambda::Function')).map((f) => f.Properties.FunctionName);
    expect(functions.sort()).toEqual(['afg-api', 'afg-follower', 'afg-state-function', 'afg-stream']);
    // The follower follows the other regions' APIs, one run at a time, started every minute, never retried.
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'afg-follower',
      ReservedConcurrentExecutions: 1,
      Timeout: 900,
      Environment: { Variables: Match.objectLike({ AFG_PEERS: 'https://a.example/,https://b.example/' }) },
    });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    // Its state function catches up from the same peers; the API gets none.
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'afg-state-function',
      Environment: { Variables: Match.objectLike({ AFG_PEERS: 'https://a.example/,https://b.example/' }) },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'afg-api',
      Environment: { Variables: Match.objectLike({ AFG_PEERS: Match.absent() }) },
    });
    // It writes its own tables and notifies its state function; it can read no secret.
    const actions = policy(t, 'FollowerRole').flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'sqs:SendMessage']));
    expect(actions.some((a: string) => a.startsWith('secretsmanager:') || a.startsWith('kms:'))).toBe(false);
    Annotations.fromStack(stack).hasInfo('*', Match.stringLikeRegexp('ap-southeast-2 hosts no member: deployed as a follower region'));
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  it("lets neither of two co-located validators write the other's watermark; the follower writes only what it records", () => {
    for (const [region, stack] of built) {
      const t = Template.fromStack(stack).toJSON();
      expect(
        checkWriteMatrix(
          t,
          region,
          three.regions,
          [1, 2, 3, 4],
          three.members.map((m) => m.region),
        ),
      ).toBeGreaterThan(500);
    }
    const home = Template.fromStack(built.get('us-east-1')!).toJSON();
    const ctx = policyContext(home, 'us-east-1');
    const put = (role: string, key: string) =>
      policyAllows(roleStatements(home, role), { action: 'PutItem', region: 'us-east-1', table: 'afg-finality', leadingKeys: [key] }, ctx);
    expect([put('Validator1Role', 'WATERMARK#1'), put('Validator1Role', 'WATERMARK#2')]).toEqual([true, false]);
    expect([put('Validator2Role', 'WATERMARK#2'), put('Validator2Role', 'WATERMARK#1')]).toEqual([true, false]);
  });

  it('warns when a follower region is given no peers to follow', () => {
    const app = new App({ outdir: exampleOutdir, builtinCloudFormationValidation: false });
    const { stacks: s } = buildApp({ config: three, nag: false, app });
    Annotations.fromStack(s.get('ap-southeast-2')!).hasWarning('*', Match.stringLikeRegexp('follower region but has no peerApiUrls'));
  });
});

describe('props validation', () => {
  const scope = (): Stack => new Stack(new App({ outdir: tempOutdir() }), 'V', { env: { region: 'us-east-1' } });
  // A function that needs no bundling, for constructs that only need some consumer or handler.
  const inlineFunction = (s: Stack): lambda.Function =>
    new lambda.Function(s, 'Inline', {
      runtime: RUNTIME,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=()=>{}'),
    });

  it('ProtocolQueue refuses bad names, receive counts, timeouts and windows, and accepts good ones', () => {
    const s = scope();
    const ok = { queueName: 'afg-votes', consumerTimeout: Duration.seconds(30) };
    expect(() => new ProtocolQueue(s, 'Ok', ok)).not.toThrow();
    expect(() => new ProtocolQueue(s, 'Ok5', { ...ok, queueName: 'x-5', maxReceiveCount: 5 })).not.toThrow();
    expect(() => new ProtocolQueue(s, 'A', { ...ok, queueName: 'bad name' })).toThrow(/queueName/);
    expect(() => new ProtocolQueue(s, 'B', { ...ok, queueName: 'q'.repeat(77) })).toThrow(/queueName/);
    expect(() => new ProtocolQueue(s, 'C', { ...ok, maxReceiveCount: 4 })).toThrow(/maxReceiveCount/);
    expect(() => new ProtocolQueue(s, 'D', { ...ok, consumerTimeout: Duration.minutes(16) })).toThrow(/consumerTimeout/);
    expect(() => new ProtocolQueue(s, 'E', { ...ok, maxBatchingWindow: Duration.seconds(301) })).toThrow(/maxBatchingWindow/);
    expect(() => ProtocolQueue.grantSendByName(inlineFunction(s), s, [])).toThrow(/at least one/);
  });

  it('ProtocolQueue.bindConsumer refuses a consumer slower than the queue was sized for, and bad batch options', () => {
    const s = scope();
    const consumer = { fn: inlineFunction(s), timeout: Duration.seconds(30) };
    const q = new ProtocolQueue(s, 'Q', { queueName: 'short', consumerTimeout: Duration.seconds(10) });
    expect(() => q.bindConsumer(consumer, { batchSize: 10, maxConcurrency: 2 })).toThrow(/exceeds consumerTimeout/);
    const q2 = new ProtocolQueue(s, 'Q2', { queueName: 'long', consumerTimeout: Duration.seconds(30) });
    expect(() => q2.bindConsumer(consumer, { batchSize: 11, maxConcurrency: 2 })).toThrow(/batchSize/);
    expect(() => q2.bindConsumer(consumer, { batchSize: 10, maxConcurrency: 1 })).toThrow(/maxConcurrency/);
    q2.bindConsumer(consumer, { batchSize: 10, maxConcurrency: 2 });
    Template.fromStack(s).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('ProtocolTable refuses an invalid table name', () => {
    const s = scope();
    expect(() => new ProtocolTable(s, 'Ok', { tableName: 'afg-state' })).not.toThrow();
    expect(() => new ProtocolTable(s, 'A', { tableName: 'ab' })).toThrow(/tableName/);
    expect(() => new ProtocolTable(s, 'B', { tableName: 'a/b/c' })).toThrow(/tableName/);
  });

  it('RoleFunction refuses bad names, timeouts, memory and an environment over 4 KB (before bundling)', () => {
    const s = scope();
    const ok = { role: 'api' as const, functionName: 'afg-api', timeout: Duration.seconds(15), memorySize: 512, environment: {} };
    expect(() => new RoleFunction(s, 'A', { ...ok, functionName: 'has space' })).toThrow(/functionName/);
    expect(() => new RoleFunction(s, 'B', { ...ok, timeout: Duration.seconds(901) })).toThrow(/timeout/);
    expect(() => new RoleFunction(s, 'C', { ...ok, memorySize: 64 })).toThrow(/memorySize/);
    expect(() => new RoleFunction(s, 'D', { ...ok, environment: { AFG_CONFIG: 'x'.repeat(4100) } })).toThrow(/4096-byte/);
  });

  it('KeyShares refuses no members, duplicates and non-positive indexes', () => {
    const s = scope();
    expect(() => new KeyShares(s, 'Ok', { prefix: 'afg', memberIndexes: [1, 2] }).secret(2)).not.toThrow();
    expect(() => new KeyShares(s, 'A', { prefix: 'afg', memberIndexes: [] })).toThrow(/at least one/);
    expect(() => new KeyShares(s, 'B', { prefix: 'afg', memberIndexes: [1, 1] })).toThrow(/duplicate/);
    expect(() => new KeyShares(s, 'C', { prefix: 'afg', memberIndexes: [0] })).toThrow(/1-based/);
    expect(() => new KeyShares(s, 'D', { prefix: 'afg', memberIndexes: [3] }).secret(4)).toThrow(/not hosted/);
  });

  it('StreamEndpoint refuses a maxStreams outside [1, 1000]', () => {
    for (const bad of [0, 1001, 2.5]) {
      const s = scope();
      expect(() => new StreamEndpoint(s, 'E', { handler: inlineFunction(s), maxStreams: bad })).toThrow(
        /StreamEndpoint\.maxStreams: expected an integer in \[1, 1000\], got/,
      );
    }
    const s = scope();
    expect(new StreamEndpoint(s, 'Ok', { handler: inlineFunction(s), maxStreams: 1 }).maxStreams).toBe(1);
  });

  it('HttpEndpoint refuses out-of-range throttling, per-client limits and names, and sets the per-client limit', () => {
    const s = scope();
    const handler = inlineFunction(s);
    expect(
      () => new HttpEndpoint(s, 'Ok', { apiName: 'x', handler, rateLimit: 10, burstLimit: 20, requestsPerIpPerMinute: 300 }),
    ).not.toThrow();
    expect(() => new HttpEndpoint(s, 'BadRate', { apiName: 'x', handler, rateLimit: 0 })).toThrow(/rateLimit/);
    expect(() => new HttpEndpoint(s, 'BadBurst', { apiName: 'x', handler, burstLimit: 5001 })).toThrow(/burstLimit/);
    expect(() => new HttpEndpoint(s, 'BadIp', { apiName: 'x', handler, requestsPerIpPerMinute: 9 })).toThrow(/requestsPerIpPerMinute/);
    expect(() => new HttpEndpoint(s, 'BadIp2', { apiName: 'x', handler, requestsPerIpPerMinute: 1.5 })).toThrow(/requestsPerIpPerMinute/);
    expect(() => new HttpEndpoint(s, 'BadName', { apiName: 'a b', handler })).toThrow(/apiName/);
    Template.fromStack(s).hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: [Match.objectLike({ Statement: { RateBasedStatement: Match.objectLike({ Limit: 300 }) } })],
    });
  });

  it('RegionStack passes requestsPerIpPerMinute to its endpoint', () => {
    const app = new App({ outdir: tempOutdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new RegionStack(app, 'P', { config, region: 'eu-west-1', requestsPerIpPerMinute: 600 });
    expect(stack.endpoint.requestsPerIpPerMinute).toBe(600);
  });

  it('RegionStack refuses a region outside the config, a mismatched env region and a bad lag threshold', () => {
    const app = new App({ outdir: tempOutdir() });
    expect(() => new RegionStack(app, 'A', { config, region: 'sa-east-1' })).toThrow(/not one of config.regions/);
    expect(() => new RegionStack(app, 'B', { config, region: 'us-east-1', env: { region: 'eu-west-1' } })).toThrow(/disagrees/);
    expect(() => new RegionStack(app, 'C', { config, region: 'us-east-1', finalityLagThreshold: 0 })).toThrow(/finalityLagThreshold/);
    expect(() => new RegionStack(app, 'D', { config, region: 'us-east-1', peerApiUrls: { 'sa-east-1': 'https://x/' } })).toThrow(
      /peerApiUrls: sa-east-1/,
    );
    expect(() => new RegionStack(app, 'E', { config, region: 'us-east-1', peerApiUrls: { 'eu-west-1': 'http://x/' } })).toThrow(
      /peerApiUrls.eu-west-1/,
    );
  });

  it('loadClusterConfig names the problem for a missing file and for an invalid key', () => {
    expect(() => loadClusterConfig('cdk/clusters/missing.json')).toThrow(/cannot read/);
    expect(() => loadClusterConfig('package.json')).toThrow(/unknown key/);
  });

  it('the example config carries its commitments; a config whose member key is not on them never synthesizes', () => {
    expect(config.commitments).toHaveLength(config.threshold);
    const raw = JSON.parse(readFileSync('cdk/clusters/example.json', 'utf8'));
    raw.members[0].publicKey = raw.members[1].publicKey;
    const dir = mkdtempSync(join(tmpdir(), 'afg-config-'));
    try {
      const path = join(dir, 'bad.json');
      writeFileSync(path, JSON.stringify(raw));
      expect(() => loadClusterConfig(path)).toThrow(/members\[0\]\.publicKey: member 1's key is not the dealing's share/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
