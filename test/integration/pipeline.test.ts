/**
 * The pipeline over the real DynamoDB Local engine (every region's tables), each region built by
 * createAwsRegion as on Lambda and each message delivered through the region's queue handler
 * (Region.dispatch), with messages captured between roles so the test controls delivery: every
 * message twice, random order, concurrent invocations. The SQS side is covered by the event-source
 * and e2e suites.
 */
import { describe, expect, it } from 'vitest';
import { createAwsRegion } from '../../lib/aws/region-stores.js';
import { ensureTables } from '../../lib/aws/tables.js';
import { type ClusterConfig, parseClusterConfig } from '../../lib/config.js';
import { deal, signShare } from '../../lib/core/bls.js';
import { toHex } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { voteSigningBytes } from '../../lib/core/codec.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer, transferApplication } from '../../lib/core/ledger.js';
import type { Vote } from '../../lib/core/types.js';
import { RETRY_SOON_SECONDS, regionHandler, silentTelemetry, syntheticContext, syntheticEvent } from '../../lib/handlers/sqs.js';
import { handleVote } from '../../lib/pipeline/finalizer.js';
import { encodeMessage, type QueueMessage } from '../../lib/pipeline/messages.js';
import type { Destination, Transport } from '../../lib/pipeline/ports.js';
import type { Region } from '../../lib/pipeline/region.js';
import { mulberry32, parseQueueId, queueId } from '../../lib/sim/memory-cluster.js';
import { uniqueName, useEmbeddedServices } from '../helpers/embedded.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const dealing = deal(4, 3);
const env = useEmbeddedServices();
const codec = transferApplication.codec(LOCAL_CHAIN_ID);

interface Captured {
  queue: string;
  body: string;
}

async function cluster(prefix: string) {
  const config: ClusterConfig = parseClusterConfig({
    prefix,
    chainId: toHex(LOCAL_CHAIN_ID),
    era: 0,
    checkpointInterval: 1,
    threshold: 3,
    homeRegion: REGIONS[0],
    regions: REGIONS,
    members: dealing.shares.map((s, i) => ({ index: s.index, region: REGIONS[i], publicKey: toHex(s.publicKey) })),
    groupPublicKey: toHex(dealing.groupPublicKey),
    commitments: dealing.commitments.map(toHex),
    maxBlockTransactions: 100,
    maxBlockBytes: 200_000,
  });
  const outbox: Captured[] = [];
  const transport: Transport = {
    send: async (to: Destination, messages: readonly QueueMessage[]) => {
      for (const m of messages) outbox.push({ queue: queueId(to), body: encodeMessage(m, codec) });
    },
  };
  const runtimes = new Map<string, Region>();
  const memberKey = async (member: number) => dealing.shares[member - 1]!.secretKey;
  for (const region of REGIONS) {
    await ensureTables(env().aws.dynamo(region), prefix);
    runtimes.set(region, await createAwsRegion({ config, region, aws: env().aws, transport, memberKey }));
  }
  const rt = (region: string) => runtimes.get(region)!;
  /** Delivers through the region's queue handler; a failed record throws, so the caller redelivers it. */
  async function deliver(m: Captured): Promise<void> {
    const { region, queue } = parseQueueId(m.queue, REGIONS[0]!);
    const result = await rt(region).dispatch(queue, m.body);
    if (!result.ok) throw result.error;
  }
  /** Delivers until quiet; each message `copies` times, in an order drawn from `seed`. Failed deliveries are retried later. */
  async function run(opts: { copies: number; seed: number; maxSteps?: number }) {
    const random = mulberry32(opts.seed);
    let steps = 0;
    while (outbox.length > 0 && steps < (opts.maxSteps ?? 2000)) {
      const [m] = outbox.splice(Math.floor(random() * outbox.length), 1);
      for (let c = 0; c < opts.copies; c++) {
        steps++;
        try {
          await deliver(m!);
        } catch {
          outbox.push(m!); // like a visibility timeout: redelivered later
          break;
        }
      }
    }
    return steps;
  }
  const submit = (from: number, to: number, amount: bigint, nonce: bigint) =>
    outbox.push({
      queue: 'ingress',
      body: encodeMessage(
        { kind: 'tx', tx: signTransfer(LOCAL_CHAIN_ID, devSecretKey(from), { to: ed25519PublicKey(devSecretKey(to)), amount, nonce }) },
        codec,
      ),
    });
  return { config, rt, run, submit, outbox, deliver };
}

async function summary(rt: Region) {
  const f = await rt.query.finality();
  const acct = await rt.query.state(ed25519PublicKey(devSecretKey(1)));
  return { finalized: f.finalized, applied: f.applied.height, balance: acct.balance };
}

describe('pipeline on DynamoDB Local', () => {
  it('delivering every message twice changes nothing', async () => {
    const once = await cluster(uniqueName('once'));
    const twice = await cluster(uniqueName('twice'));
    for (const c of [once, twice]) {
      c.submit(0, 1, 25n, 0n);
      c.submit(0, 1, 5n, 1n);
    }
    await once.run({ copies: 1, seed: 11 });
    await twice.run({ copies: 2, seed: 11 });
    for (const region of REGIONS) {
      const a = await summary(once.rt(region));
      const b = await summary(twice.rt(region));
      expect(a.balance).toBe('1000000030');
      expect(b.balance).toBe(a.balance);
      expect(b.finalized.stateRoot).toBe(a.finalized.stateRoot);
      expect(b.applied).toBe(b.finalized.height);
    }
  }, 240_000);

  it('votes delivered in random order finalize the same checkpoints in every region', async () => {
    const seeds = [3, 8];
    const results: string[] = [];
    for (const seed of seeds) {
      const c = await cluster(uniqueName(`order${seed}`));
      c.submit(2, 1, 9n, 0n);
      await c.run({ copies: 1, seed });
      const per = await Promise.all(REGIONS.map((r) => summary(c.rt(r))));
      // Every region reaches the same finalized checkpoint and balance.
      expect(new Set(per.map((p) => JSON.stringify(p))).size).toBe(1);
      results.push(per[0]!.finalized.stateRoot);
    }
    expect(new Set(results).size).toBe(1);
  }, 240_000);

  it('a conflicting vote yields stored evidence', async () => {
    const c = await cluster(uniqueName('evid'));
    c.submit(3, 1, 1n, 0n);
    await c.run({ copies: 1, seed: 5 });
    const rt = c.rt('eu-west-1');
    const head = await rt.stores.finality.head();
    // Member 2 signs a second target at a height it already voted for: a double vote. (Three votes of four
    // suffice, so member 2's may be missing at a given height: take the highest finalized one that holds it.)
    let honest: Vote | undefined;
    for (let h = head.finalized.height; h > 0 && !honest; h--) honest = (await rt.stores.finality.tally(h))?.votes.get(2);
    expect(honest).toBeDefined();
    const forged = { ...honest!, target: { ...honest!.target, hash: new Uint8Array(32).fill(7) } };
    const signature = signShare(dealing.shares[1]!.secretKey, voteSigningBytes(LOCAL_CHAIN_ID, forged));
    const result = await handleVote(rt.finalizer(), { ...forged, signature }, { ancestry: [] });
    expect(result).toMatchObject({ kind: 'uncounted', evidence: 1 });
    const evidence = await rt.query.evidence();
    expect(evidence.count).toBe(1);
    expect(evidence.evidence[0]).toMatchObject({ kind: 'double', member: 2 });
    // A forged vote with a bad signature is not evidence against the member: it is dropped and counted.
    const garbage = { ...forged, target: { ...forged.target, hash: new Uint8Array(32).fill(9) }, signature };
    expect(await handleVote(rt.finalizer(), garbage, { ancestry: [] })).toMatchObject({ kind: 'refused', reason: 'BAD_SIGNATURE' });
    expect(await rt.stores.finality.invalidVotes()).toBe(1);
  }, 240_000);

  it('a validator invoked twice concurrently for conflicting targets signs only one', async () => {
    const c = await cluster(uniqueName('twin'));
    const rt = c.rt('ap-northeast-1');
    const genesis = rt.chain.genesis;
    const mk = (fill: number) => ({
      era: 0n,
      source: genesis,
      target: { height: 1, hash: new Uint8Array(32).fill(fill), stateRoot: new Uint8Array(32).fill(fill) },
    });
    const links = [mk(1), mk(2), mk(3), mk(4)];
    const outcomes = await Promise.all(
      links.map((link) =>
        rt.stores.protection.recordSignature(3, link, signShare(dealing.shares[2]!.secretKey, voteSigningBytes(LOCAL_CHAIN_ID, link))),
      ),
    );
    expect(outcomes.filter((o) => o.kind === 'signed')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'refused')).toHaveLength(3);
  }, 120_000);

  it('a record that is not ready yet (a proposal whose block is not readable) is asked back in seconds; a poison one is not', async () => {
    const c = await cluster(uniqueName('soon'));
    const region = c.rt('eu-west-1');
    const asked: { receiptHandle: string; seconds: number }[] = [];
    const spied: Region = {
      ...region,
      retrySoon: async (record, seconds) => void asked.push({ receiptHandle: record.receiptHandle, seconds }),
    };
    const handler = regionHandler(async () => spied, { kind: 'inbox', member: 2 }, silentTelemetry);
    const missing = encodeMessage({ kind: 'proposal', height: 1, hash: new Uint8Array(32).fill(7) }, codec);
    const event = syntheticEvent(missing);
    const response = await handler(event, syntheticContext);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
    expect(asked).toEqual([{ receiptHandle: event.Records[0]!.receiptHandle, seconds: RETRY_SOON_SECONDS }]);
    const poison = syntheticEvent('{"kind":"proposal"}');
    expect((await handler(poison, syntheticContext)).batchItemFailures).toHaveLength(1);
    expect(asked).toHaveLength(1); // a malformed message waits out its visibility timeout on its way to the DLQ
  }, 120_000);
});
