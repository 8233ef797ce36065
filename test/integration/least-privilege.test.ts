/**
 * The synthesized IAM policies against the DynamoDB requests the roles really make. Each role runs as
 * on Lambda, in a runtime of its own (createAwsRegion with its own clients, and writesState only where
 * the CDK app sets AFG_STATE_WRITER) over DynamoDB Local; every request it sends is captured off the
 * wire and judged against that role's policy in the template the CDK app synthesizes for the same
 * config (test/helpers/iam-policy.ts). A grant too narrow for the code fails here; the write matrix in
 * test/cdk/app.test.ts fails for one too broad.
 *
 * Topology: two regions, two members each (co-located validators), threshold 3. The follower role is
 * covered by the template tests only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { HttpRequest } from '@smithy/types';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../cdk/build-app.js';
import { createApi } from '../../lib/api/app.js';
import { type ClientFactory, createClientFactory } from '../../lib/aws/clients.js';
import { createAwsRegion, regionPool } from '../../lib/aws/region-stores.js';
import { ensureTables } from '../../lib/aws/tables.js';
import { type ClusterConfig, parseClusterConfig } from '../../lib/config.js';
import { deal } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer, transferApplication } from '../../lib/core/ledger.js';
import { transactionToJson } from '../../lib/core/wire.js';
import { encodeMessage, type QueueMessage } from '../../lib/pipeline/messages.js';
import type { Destination, Transport } from '../../lib/pipeline/ports.js';
import type { Region, RegionQueue } from '../../lib/pipeline/region.js';
import { parseQueueId, queueId } from '../../lib/sim/memory-cluster.js';
import { uniqueName, useEmbeddedServices } from '../helpers/embedded.js';
import { type DynamoRequest, policyAllows, policyContext, roleStatements } from '../helpers/iam-policy.js';

// biome-ignore lint/suspicious/noExplicitAny: DynamoDB JSON off the wire
type Json = any;

const REGIONS = ['us-east-1', 'eu-west-1'];
const dealing = deal(4, 3);
const env = useEmbeddedServices();
const codec = transferApplication.codec(LOCAL_CHAIN_ID);

/** The partition key values a request touches, per table (DynamoDB JSON of the request body). */
function decode(target: string, body: Json, region: string): DynamoRequest[] {
  const op = target.replace(/^DynamoDB_\d+\./, '');
  const pk = (item: Json): string => item.pk.S;
  const one = (action: string, table: string, keys: string[]): DynamoRequest => ({ action, region, table, leadingKeys: keys });
  switch (op) {
    case 'GetItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return [one(op, body.TableName, [pk(body.Key)])];
    case 'PutItem':
      return [one(op, body.TableName, [pk(body.Item)])];
    case 'Query': {
      const name = /\bpk = (:\w+)/.exec(body.KeyConditionExpression)?.[1];
      if (name === undefined) throw new Error(`query without a pk condition: ${body.KeyConditionExpression}`);
      return [one(op, body.TableName, [body.ExpressionAttributeValues[name].S])];
    }
    case 'BatchGetItem':
      return Object.entries(body.RequestItems as Record<string, Json>).map(([t, r]) => one(op, t, r.Keys.map(pk)));
    case 'BatchWriteItem':
      return Object.entries(body.RequestItems as Record<string, Json[]>).map(([t, rs]) =>
        one(
          op,
          t,
          rs.map((r) => pk(r.PutRequest?.Item ?? r.DeleteRequest.Key)),
        ),
      );
    case 'TransactWriteItems':
      // Each part is authorized as its own item action (Put as PutItem, ...).
      return (body.TransactItems as Json[]).map((part) => {
        const [kind, p] = Object.entries(part)[0] as [string, Json];
        const action = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' }[kind]!;
        return one(action, p.TableName, [pk(p.Item ?? p.Key)]);
      });
    case 'Scan':
    case 'DescribeTable':
      return [one(op, body.TableName, [])];
    default:
      throw new Error(`least-privilege test: no decoder for ${op}`);
  }
}

interface Captured extends DynamoRequest {
  readonly role: string;
}

/** A client factory whose DynamoDB requests are recorded (off the wire, after serialization) as `role`'s. */
function recordingFactory(role: string, log: Captured[]): ClientFactory {
  const base = createClientFactory({ endpoints: env().endpoints, maxAttempts: 3 });
  const instrumented = new WeakSet<object>();
  return {
    ...base,
    endpoints: base.endpoints,
    sqs: (r) => base.sqs(r),
    secrets: (r) => base.secrets(r),
    destroy: () => base.destroy(),
    dynamo(region) {
      const client = base.dynamo(region);
      if (!instrumented.has(client)) {
        instrumented.add(client);
        client.middlewareStack.add(
          (next) => async (args) => {
            const request = args.request as HttpRequest;
            const target = request.headers['x-amz-target'] ?? '';
            const text = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body as Uint8Array);
            for (const r of decode(target, JSON.parse(text), region)) log.push({ ...r, role });
            return next(args);
          },
          { step: 'build', name: `afgRecord-${role}` },
        );
      }
      return client;
    },
  };
}

async function cluster(prefix: string) {
  const config: ClusterConfig = parseClusterConfig({
    prefix,
    chainId: toHex(LOCAL_CHAIN_ID),
    era: 0,
    // K = 2: checkpoint and non-checkpoint heights (the state function indexes the latter).
    checkpointInterval: 2,
    threshold: 3,
    homeRegion: REGIONS[0],
    regions: REGIONS,
    members: dealing.shares.map((s, i) => ({ index: s.index, region: REGIONS[i < 2 ? 0 : 1], publicKey: toHex(s.publicKey) })),
    groupPublicKey: toHex(dealing.groupPublicKey),
    commitments: dealing.commitments.map(toHex),
    maxBlockTransactions: 100,
    maxBlockBytes: 200_000,
  });
  const outbox: { queue: string; body: string }[] = [];
  const delayed: { queue: string; body: string }[] = [];
  const transport: Transport = {
    // A delayed message (pacemaker tick, view timer) is held until everything else was delivered, as its delay would.
    send: async (to: Destination, messages: readonly QueueMessage[], options: { delaySeconds?: number } = {}) => {
      for (const m of messages) (options.delaySeconds ? delayed : outbox).push({ queue: queueId(to), body: encodeMessage(m, codec) });
    },
  };
  const log: Captured[] = [];
  const memberKey = async (member: number) => dealing.shares[member - 1]!.secretKey;
  for (const region of REGIONS) await ensureTables(env().aws.dynamo(region), prefix);
  // One runtime per (region, role), as one Lambda container each; the role names are the templates' role ids.
  const runtimes = new Map<string, Region>();
  const runtime = async (region: string, role: string, writesState = false): Promise<Region> => {
    const key = `${region}/${role}`;
    if (!runtimes.has(key)) {
      const aws = recordingFactory(key, log);
      runtimes.set(key, await createAwsRegion({ config, region, aws, transport, memberKey, writesState }));
    }
    return runtimes.get(key)!;
  };
  const roleOf = (queue: RegionQueue): [string, boolean] => {
    switch (queue.kind) {
      case 'ingress':
        return ['SequencerRole', false];
      case 'inbox':
        return [`Validator${queue.member}Role`, false];
      case 'votes':
        return ['FinalizerRole', false];
      case 'finalized':
        return ['StateFunctionRole', true];
    }
  };
  /** Delivers every message, each to the runtime of the role that consumes its queue, until quiet. */
  async function run(maxSteps = 3000): Promise<void> {
    for (let step = 0; (outbox.length > 0 || delayed.length > 0) && step < maxSteps; step++) {
      if (outbox.length === 0) outbox.push(...delayed.splice(0));
      const m = outbox.shift()!;
      const { region, queue } = parseQueueId(m.queue, REGIONS[0]!);
      const [role, writesState] = roleOf(queue);
      const result = await (await runtime(region, role, writesState)).dispatch(queue, m.body);
      if (!result.ok) outbox.push(m); // like a visibility timeout: redelivered later
    }
  }
  const submit = (from: number, to: number, amount: bigint, nonce: bigint) =>
    outbox.push({
      queue: 'ingress',
      body: encodeMessage(
        { kind: 'tx', tx: signTransfer(LOCAL_CHAIN_ID, devSecretKey(from), { to: ed25519PublicKey(devSecretKey(to)), amount, nonce }) },
        codec,
      ),
    });
  /** `target`'s pool (default the home region's) as `region`'s API role reaches it (its requests recorded as that role's). */
  const apiPool = (region: string, target = config.homeRegion) => regionPool(recordingFactory(`${region}/ApiRole`, log), config, target);
  return { config, run, submit, runtime, log, apiPool };
}

let outdir: string;
afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('IAM policies against the requests each role really makes (DynamoDB Local)', () => {
  let c: Awaited<ReturnType<typeof cluster>>;
  let templates: Map<string, Json>;

  beforeAll(async () => {
    c = await cluster(uniqueName('iam'));
    outdir = mkdtempSync(join(tmpdir(), 'afg-iam-'));
    // No bundling: only the policies matter here.
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const { stacks } = buildApp({ config: c.config, nag: false, app });
    templates = new Map([...stacks].map(([region, stack]) => [region, Template.fromStack(stack).toJSON()]));

    c.submit(0, 1, 25n, 0n);
    c.submit(2, 3, 5n, 0n);
    await c.run();
    c.submit(0, 1, 5n, 1n);
    await c.run();
    // The API role answers every read route and takes a transaction, through the same handler as on Lambda.
    for (const region of REGIONS) {
      const rt = await c.runtime(region, 'ApiRole');
      const api = createApi({
        query: rt.query,
        transport: rt.transport,
        chain: rt.chain,
        maxLagBlocks: 50,
        // Admission into the current view's region's pool, with the backup copy in the next view's.
        pool: { store: c.apiPool(region), storeOf: (r) => c.apiPool(region, r) },
      });
      const account = toHex(ed25519PublicKey(devSecretKey(1)));
      // Another sender per region: each admission is a new one (lane counter, entry and status writes).
      const signed = signTransfer(LOCAL_CHAIN_ID, devSecretKey(REGIONS.indexOf(region) + 4), {
        to: ed25519PublicKey(devSecretKey(5)),
        amount: 1n,
        nonce: 0n,
      });
      const tx = transactionToJson(signed);
      const get = (path: string, query: Record<string, string> = {}) => api({ method: 'GET', path, query, headers: {}, body: undefined });
      const answers = [
        await get('/v1/validators'),
        await get('/v1/finality'),
        await get('/v1/checkpoints/1'),
        await get('/v1/blocks/1'),
        await get(`/v1/accounts/${account}`),
        await get(`/v1/accounts/${account}`, { height: '1' }),
        await get('/v1/evidence'),
        await get('/v1/health'),
        await api({ method: 'POST', path: '/v1/transactions', query: {}, headers: {}, body: JSON.stringify(tx) }),
        await get(`/v1/transactions/${toHex(rt.chain.app.hash(signed))}`),
        await api({
          method: 'POST',
          path: '/v1/state/nodes',
          query: {},
          headers: {},
          body: JSON.stringify({ roots: [toHex(rt.chain.genesis.stateRoot)] }),
        }),
      ];
      for (const a of answers) expect(a.status, a.body).toBeLessThan(500);
    }
    // The API's transfers are finalized: the backup region's state function settles their copies.
    await c.run();
  }, 300_000);

  it('finalizes the transfers in both regions (the run exercised every role)', async () => {
    for (const region of REGIONS) {
      const rt = await c.runtime(region, 'ApiRole');
      const f = await rt.query.finality();
      expect(f.applied.height).toBeGreaterThanOrEqual(2);
      expect((await rt.query.state(ed25519PublicKey(devSecretKey(1)))).balance).toBe('1000000030');
    }
  });

  it('allows every DynamoDB request of every role under that role’s synthesized policy', () => {
    const refused: string[] = [];
    for (const r of c.log) {
      const [region, role] = r.role.split('/') as [string, string];
      const t = templates.get(region)!;
      const statements = roleStatements(t, role);
      if (!policyAllows(statements, r, policyContext(t, region)))
        refused.push(`${r.role}: ${r.action} ${r.region}/${r.table} [${r.leadingKeys}]`);
    }
    expect([...new Set(refused)]).toEqual([]);
    // The stream role serves the API's reads: the API role's reads pass its policy too.
    for (const r of c.log.filter((x) => x.role.endsWith('/ApiRole') && /^(Get|BatchGet|Query)/.test(x.action))) {
      const t = templates.get(r.role.split('/')[0]!)!;
      expect(policyAllows(roleStatements(t, 'StreamRole'), r, policyContext(t, r.role.split('/')[0]!)), `${r.action} ${r.table}`).toBe(
        true,
      );
    }
  });

  it('exercised the writes that matter: each validator its own watermark only, the finalizer tallies, the state function nodes', () => {
    const writes = (role: string, action: string, table: string) =>
      c.log.filter((r) => r.role.endsWith(`/${role}`) && r.action === action && r.table === table).flatMap((r) => r.leadingKeys);
    const t = (name: string) => `${c.config.prefix}-${name}`;
    for (const m of [1, 2, 3, 4])
      expect(new Set(writes(`Validator${m}Role`, 'PutItem', t('finality')))).toEqual(new Set([`WATERMARK#${m}`]));
    expect(writes('FinalizerRole', 'UpdateItem', t('finality')).some((k) => k.startsWith('T#'))).toBe(true);
    // The pool: ingress transactions added by the sequencer, admissions by every region's API (home table).
    expect(writes('SequencerRole', 'PutItem', t('blocks')).some((k) => k.startsWith('PL#'))).toBe(true);
    expect(writes('SequencerRole', 'BatchWriteItem', t('blocks')).some((k) => k.startsWith('TX#'))).toBe(true);
    for (const region of REGIONS) {
      const admissions = c.log.filter((r) => r.role === `${region}/ApiRole` && r.action === 'PutItem' && r.region === REGIONS[0]);
      expect(admissions.flatMap((r) => r.leadingKeys).some((k) => k.startsWith('TX#'))).toBe(true);
    }
    expect(writes('StateFunctionRole', 'BatchWriteItem', t('state')).every((k) => k.startsWith('N#'))).toBe(true);
    expect(writes('StateFunctionRole', 'PutItem', t('state'))).toContain('APPLIED');
    // Backup copies of the API's admissions (in the next view's region) settled by that region's state function.
    const settled = c.log.filter(
      (r) => r.role === `${REGIONS[1]}/StateFunctionRole` && r.action === 'BatchWriteItem' && r.table === t('blocks'),
    );
    expect(settled.flatMap((r) => r.leadingKeys).some((k) => k.startsWith('TX#'))).toBe(true);
  });

  it('writes state nodes only from the state function: the other roles keep the genesis state in memory', () => {
    const nodeWriters = new Set(c.log.filter((r) => r.action === 'BatchWriteItem' && r.table.endsWith('-state')).map((r) => r.role));
    expect([...nodeWriters].sort()).toEqual(REGIONS.map((r) => `${r}/StateFunctionRole`).sort());
  });
});

describe('genesis without writes (writesState false)', () => {
  it('a read-only runtime on fresh tables answers genesis state from memory and writes no node; a state writer writes them', async () => {
    const c = await cluster(uniqueName('gen'));
    const region = REGIONS[1]!;
    const stateItems = async () =>
      (
        await env()
          .aws.dynamo(region)
          .send(new ScanCommand({ TableName: `${c.config.prefix}-state`, Select: 'COUNT' }))
      ).Count ?? 0;
    const reader = await c.runtime(region, 'ApiRole');
    expect((await reader.query.state(ed25519PublicKey(devSecretKey(3)))).balance).toBe('1000000000');
    expect(await stateItems()).toBe(0);
    expect(c.log.filter((r) => r.action !== 'GetItem' && r.action !== 'BatchGetItem' && r.action !== 'Query')).toEqual([]);
    await c.runtime(region, 'StateFunctionRole', true);
    expect(await stateItems()).toBeGreaterThan(0);
  }, 120_000);
});
