/**
 * A member's view timer (lib/pipeline/validator.ts) is one chain of delayed messages to its own inbox:
 * only the timer with the last serial sent may ask for a view and re-arm. Two ways the chain ended for
 * good were found by the sweep with Byzantine sequencers (seed 180, test/sim/findings.test.ts); the
 * simulation's schedule no longer reaches them, so each is pinned here on one member's deps.
 */
import { describe, expect, it } from 'vitest';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import type { QueueMessage } from '../../lib/pipeline/messages.js';
import type { Transport } from '../../lib/pipeline/ports.js';
import { handleInbox, type InboxMessage, type ValidatorDeps } from '../../lib/pipeline/validator.js';
import { MemoryCluster, SIM_VIEW_TIMEOUT_SECONDS, STEPS_PER_SECOND } from '../../lib/sim/memory-cluster.js';
import { simDealing } from '../../lib/sim/simulation.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];

type Timer = Extract<InboxMessage, { kind: 'view-timer' }>;

/** Member 1's deps with a transport that records what it sends and fails the sends `failing` names (1-based). */
async function member(failing: ReadonlySet<number> = new Set()) {
  const cluster = await MemoryCluster.create({ regions: REGIONS, checkpointInterval: 1, seed: 3, dealing: simDealing() });
  const base = await cluster.node('us-east-1').runtime.validator(1);
  const sent: QueueMessage[] = [];
  /** The delay of each view timer sent, in order. */
  const delays: number[] = [];
  let sends = 0;
  const transport: Transport = {
    async send(_to, messages, options) {
      sends++;
      if (failing.has(sends)) throw new Error(`send ${sends} failed`);
      sent.push(...messages);
      for (const m of messages) if (m.kind === 'view-timer') delays.push(options?.delaySeconds ?? 0);
    },
  };
  const deps: ValidatorDeps = { ...base, transport };
  const timers = () => sent.filter((m): m is Timer => m.kind === 'view-timer');
  return { deps, timers, delays };
}

describe('the view timer chain', () => {
  it('survives a concurrent arm whose send failed: the timer that did leave still asks for the next view', async () => {
    const { deps, timers } = await member(new Set([1]));
    const pending: InboxMessage = { kind: 'pending', view: 0 };
    const [first, second] = await Promise.allSettled([handleInbox(deps, pending), handleInbox(deps, pending)]);
    expect(first.status).toBe('rejected'); // its timer never left (the notice comes back: SQS redelivers it)
    expect(second.status).toBe('fulfilled'); // it found the first one's timer in flight, and no progress to restart it for
    expect(timers()).toEqual([]);
    // The redelivered notice arms the timer; the failed send took no serial, so this one is live.
    await handleInbox(deps, pending);
    const [timer] = timers();
    expect(timer).toMatchObject({ view: 0, serial: 1 });
    // Finality did not move: the timer asks for view 1 (a serial taken by the failed send would have made it stale).
    expect(await handleInbox(deps, timer!)).toEqual({ kind: 'timer', askedView: 1 });
    expect(timers()).toHaveLength(2); // and it re-armed
  });

  it('keeps the view it watches when armed for a later view than the member is in', async () => {
    const { deps, timers } = await member();
    // The ingress says view 1 is active, which this member has not verified yet (it is in view 0).
    await handleInbox(deps, { kind: 'pending', view: 1 });
    expect(timers()).toEqual([expect.objectContaining({ view: 1 })]);
    expect(await handleInbox(deps, timers()[0]!)).toEqual({ kind: 'timer', askedView: 1 });
    // The re-armed timer watches view 1 too: one for view 0 would be ignored when it fired, ending the chain.
    const rearmed = timers()[1]!;
    expect(rearmed.view).toBe(1);
    expect(await handleInbox(deps, rearmed)).toEqual({ kind: 'timer', askedView: 1 });
    expect(timers()).toHaveLength(3);
  });
});

describe('the view timer backs off', () => {
  it('gives the views after one it gave up on twice as long, and asks again for an uncertified view at the configured timeout', async () => {
    const { deps, timers, delays } = await member();
    await handleInbox(deps, { kind: 'pending', view: 0 });
    expect(await handleInbox(deps, timers().at(-1)!)).toEqual({ kind: 'timer', askedView: 1 }); // gives up on view 0
    // View 1 is not certified yet (no other member asked): the request is repeated one timeout later.
    expect(await handleInbox(deps, timers().at(-1)!)).toEqual({ kind: 'timer', askedView: 1 });
    // Work waits for view 1 (the ingress could not hand it over): that view gets twice the timeout.
    await handleInbox(deps, { kind: 'pending', view: 1 });
    expect(timers().at(-1)).toMatchObject({ view: 1 });
    const base = SIM_VIEW_TIMEOUT_SECONDS;
    expect(delays).toEqual([base, base, base, 2 * base]);
  });
});

// The region-loss drill (issue 16) waited about 20 s for the view change with a 10 s timeout: the timer
// armed with the first unfinal block fired after finality had moved, so it only re-armed, and the stall
// that began just after that progress was noticed a second timeout later. Finality moving now restarts it.
describe('a stall right after progress', () => {
  it('is noticed one view timeout after the last finalization, not two', async () => {
    let cluster: MemoryCluster | undefined;
    /** When us-east-1 first told member 1 that each height was finalized (notices repeat on re-sent votes). */
    const progressAt = new Map<number, number>();
    let askedAt: number | undefined;
    cluster = await MemoryCluster.create({
      regions: REGIONS,
      checkpointInterval: 1,
      seed: 9,
      dealing: simDealing(),
      hooks: {
        wrapTransport: (t) => ({
          send: (to, messages, options) => {
            const now = cluster?.delivered ?? 0;
            for (const m of messages) {
              if (to.queue === 'inbox' && to.region === 'us-east-1' && m.kind === 'justified')
                if (m.certificate.target.height === m.certificate.source.height + 1 && !progressAt.has(m.certificate.source.height))
                  progressAt.set(m.certificate.source.height, now);
              if (m.kind === 'view-change' && m.change.member === 1) askedAt ??= now;
            }
            // The sequencer stalls after block 3: block 4, which would finalize it, never reaches a validator.
            return t.send(
              to,
              messages.filter((m) => !(m.kind === 'proposal' && m.height >= 4)),
              options,
            );
          },
        }),
      },
    });
    const to = ed25519PublicKey(devSecretKey(3));
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(2), { to, amount: 7n, nonce: 0n }));
    expect(await cluster.deliver(cluster.pending.shift()!)).toBe(true); // blocks 1 (the transfer) and 2
    cluster.submit(signTransfer(cluster.set.chainId, devSecretKey(4), { to, amount: 7n, nonce: 0n })); // block 3, once 1 is justified
    // Delayed messages wait for their time: `delivered` is the clock (a step per delivery, jumps when idle).
    while (askedAt === undefined && cluster.pending.length > 0) {
      const due = (e: (typeof cluster.pending)[number]) => e.delaySteps ?? 0;
      let ready = cluster.pending.filter((e) => due(e) <= cluster!.delivered);
      if (ready.length === 0) {
        cluster.delivered = Math.min(...cluster.pending.map(due));
        ready = cluster.pending.filter((e) => due(e) <= cluster!.delivered);
      }
      const next = ready[0]!;
      cluster.pending.splice(cluster.pending.indexOf(next), 1);
      await cluster.deliver(next);
    }
    expect(askedAt).toBeDefined();
    const head = await cluster.node('us-east-1').raw.finality.head();
    expect(head.finalized.height).toBe(2); // block 3's transfer is the work left unfinal
    const lastProgress = progressAt.get(2)!;
    const timeout = SIM_VIEW_TIMEOUT_SECONDS * STEPS_PER_SECOND;
    expect(askedAt! - lastProgress).toBeGreaterThanOrEqual(timeout);
    expect(askedAt! - lastProgress, 'steps from the last finalization to the request for view 1').toBeLessThan(timeout + 200);
  });
});

// The region-loss drill again: the home region died right after every block was final, with accepted
// transfers waiting in its pool. The API's `pending` notice reached members whose timer, sent before the
// last finalization, was in flight; the notice changed nothing, that timer fired after the progress,
// found no unfinal block executed and ended the chain, and the view change waited for the next notice
// (64 refused POSTs later).
describe('a pending notice while a timer is in flight', () => {
  it('restarts the timer when finality moved since it was sent, so the waiting work is watched from the notice', async () => {
    const { deps, timers } = await member();
    await handleInbox(deps, { kind: 'pending', view: 0 });
    const [first] = timers();
    expect(first).toMatchObject({ view: 0, finalizedAt: 0 });
    // Finality moves (the last blocks of the old sequencer become final), then the work waits.
    const head = await deps.finality.head();
    const next = { ...head.justified, height: 1 };
    await deps.finality.raiseHead({ justified: next, finalized: next });
    await handleInbox(deps, { kind: 'pending', view: 0 });
    expect(timers()).toHaveLength(2);
    const restarted = timers()[1]!;
    expect(restarted).toMatchObject({ view: 0, finalizedAt: 1 });
    // The first timer is superseded; the restarted one finds nothing moved since the notice and asks.
    expect(await handleInbox(deps, first!)).toEqual({ kind: 'timer' });
    expect(await handleInbox(deps, restarted)).toEqual({ kind: 'timer', askedView: 1 });
    // A flood of notices while nothing moves does not postpone the request: no restart without progress.
    await handleInbox(deps, { kind: 'pending', view: 0 });
    expect(timers()).toHaveLength(3); // only the re-arm of the request above
  });
});
