/**
 * A stalled sequencer's pacemaker sends every block above finality again, each marked `rebroadcast`
 * with the tick's round. A validator re-sends its last vote once per round, not once per block or
 * per copy. A copy of every proposal re-sending a vote to every region made a backlog grow (seed
 * 729666329: 2,500 messages, drained too slowly for the liveness probe). A redelivery, which may
 * follow a crash in the middle of a fan-out, re-sends whatever its round.
 */
import { describe, expect, it } from 'vitest';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import type { QueueMessage } from '../../lib/pipeline/messages.js';
import type { Transport } from '../../lib/pipeline/ports.js';
import { handleInbox, type InboxMessage, type ValidatorDeps } from '../../lib/pipeline/validator.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';
import { simDealing } from '../../lib/sim/simulation.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];

/** Member 1 after a transfer went through (it has signed votes), with a transport that records its sends. */
async function memberWithVotes() {
  const cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: 1, seed: 5, dealing: simDealing() });
  const to = ed25519PublicKey(devSecretKey(3));
  cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(2), { to, amount: 7n, nonce: 0n }));
  for (let i = 0; i < 2000 && cluster.pending.length > 0; i++) await cluster.deliver(cluster.pending.shift()!);
  const base = await cluster.node('us-east-1').runtime.validator(1);
  expect(await base.protection.lastSigned(1)).toBeDefined();
  const sent: QueueMessage[] = [];
  const transport: Transport = {
    async send(_to, messages) {
      sent.push(...messages);
    },
  };
  const deps: ValidatorDeps = { ...base, transport };
  const blocks = cluster.node('us-east-1').raw.blocks;
  /** The proposal of the stored block at `height`, as a rebroadcast of `round`. */
  const rebroadcast = async (height: number, round: number): Promise<InboxMessage> => {
    const [hash] = await blocks.hashesAt(height);
    const block = (await blocks.getBlock(height, hash!))!;
    return { kind: 'proposal', height, hash: hash!, block, rebroadcast: true, round };
  };
  /** Votes of member 1 sent since the last call. */
  const votesSent = () => sent.splice(0).filter((m) => m.kind === 'vote' && m.vote.member === 1).length;
  return { deps, rebroadcast, votesSent };
}

describe('a rebroadcast round', () => {
  it('re-sends the last vote once per round, to every region, whatever number of blocks or copies it holds', async () => {
    const { deps, rebroadcast, votesSent } = await memberWithVotes();
    await handleInbox(deps, await rebroadcast(1, 7), { repeat: true });
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
    await handleInbox(deps, await rebroadcast(2, 7), { repeat: true }); // another block of the same round
    await handleInbox(deps, await rebroadcast(1, 7), { repeat: true }); // a copy
    expect(votesSent()).toBe(0);
    await handleInbox(deps, await rebroadcast(2, 8), { repeat: true }); // the next tick
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
  });

  it('is a repeat again when redelivered (a crash may have cut the first fan-out short)', async () => {
    const { deps, rebroadcast, votesSent } = await memberWithVotes();
    await handleInbox(deps, await rebroadcast(1, 7), { repeat: true });
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
    await handleInbox(deps, await rebroadcast(1, 7), { repeat: true, redelivered: true });
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
  });

  it('a proposal that fails its checks, with a huge round, does not switch the re-sends off (review of 30a0e3c)', async () => {
    const { deps, rebroadcast, votesSent } = await memberWithVotes();
    const honest = (await rebroadcast(1, 7)) as Extract<InboxMessage, { kind: 'proposal' }>;
    // Anyone who can write to the inbox: the hash does not match the block, so it is rejected.
    const forged = { ...honest, round: Number.MAX_SAFE_INTEGER, hash: new Uint8Array(32).fill(7) };
    expect((await handleInbox(deps, forged, { repeat: true })).kind).toBe('rejected');
    votesSent();
    await handleInbox(deps, honest, { repeat: true });
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
    // A valid proposal with a far round (a member replaying a real block) is one round among others, not a ceiling.
    await handleInbox(deps, await rebroadcast(2, Number.MAX_SAFE_INTEGER), { repeat: true });
    votesSent();
    await handleInbox(deps, await rebroadcast(1, 8), { repeat: true });
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
  });

  it('a rebroadcast without a round (from a redelivered sequencer batch) is always a repeat', async () => {
    const { deps, rebroadcast, votesSent } = await memberWithVotes();
    const { round: _, ...noRound } = (await rebroadcast(1, 0)) as Extract<InboxMessage, { kind: 'proposal' }>;
    await handleInbox(deps, noRound, { repeat: true });
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
    await handleInbox(deps, noRound, { repeat: true });
    expect(votesSent()).toBeGreaterThanOrEqual(REGIONS.length);
  });
});
