/**
 * Deterministic simulation of the whole system: a MemoryCluster (4 regions, one member each, 3 of
 * 4, unless the scenario sets `members`) driven by a seeded scheduler that injects faults (duplicate, concurrent and delayed
 * deliveries, region outages, crashes at store calls and sends), Byzantine actors and, for the
 * harness self-test, planted bugs; the invariants are checked after every delivery.
 *
 * Every choice comes from one mulberry32 generator seeded by the scenario seed, and "time" is the
 * delivery counter, so a seed replays exactly: `runScenario(scenarioForSeed(seed))` twice gives
 * the same trace hash. A failing seed is printed by the soak runner and the tests; replay it with
 * `npm run test:soak -- --seed <n>` (docs/testing.md).
 */
import { createHash } from 'node:crypto';
import { type Dealing, deal } from '../core/bls.js';
import { defaultThresholdCrypto } from '../core/bls-wasm.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../core/chain.js';
import type { ThresholdCrypto } from '../core/crypto.js';
import { ed25519PublicKey } from '../core/ed25519.js';
import { InputError } from '../core/errors.js';
import { defaultThreshold } from '../core/ffg.js';
import { devGenesis, type GenesisAccount, signTransfer, type TransferLedger } from '../core/ledger.js';
import type { Transaction } from '../core/types.js';
import type { ViewCertificate } from '../core/views.js';
import { viewCertificateFromJson } from '../core/wire.js';
import { BlockUnavailableError, isRetryLater } from '../pipeline/errors.js';
import { syncFinality } from '../pipeline/finality-sync.js';
import { STALE_CHECKPOINTS } from '../pipeline/finalizer.js';
import { decodeMessage } from '../pipeline/messages.js';
import { MAX_REEXECUTION } from '../pipeline/validator.js';
import {
  ByzantineMember,
  ByzantineSequencer,
  type InvalidTxKind,
  MEMBER_ATTACKS,
  type MemberAttack,
  NoticeForger,
  type NoticeForgery,
  type SequencerAttack,
} from './byzantine.js';
import { memoizedCrypto } from './crypto-memo.js';
import { FaultControl, faultyTransport, instrument, SimulatedCrash } from './faults.js';
import { InvariantChecker, type Violation, voteKey } from './invariants.js';
import {
  type ClusterHooks,
  type Envelope,
  MemoryCluster,
  mulberry32,
  parseQueueId,
  type RegionNode,
  RegionUnreachableError,
} from './memory-cluster.js';
import { AlwaysSignProtection, NoCasAppliedStore, noDedupTally, type PlantedBug, thresholdMinusOne, trustingInbox } from './planted.js';

export const SIM_REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'] as const;

/** The simulation runs the transfer application: its accounts are what the liveness probe reads. */
const ledgerOf = (chain: { app: unknown }): TransferLedger => chain.app as TransferLedger;

/** Rates of the faults injected during the fault phase; all 0 means a fault-free run. */
export interface FaultRates {
  /** Probability that a delivered message is also left on its queue (delivered again later). */
  readonly duplicate: number;
  /** Probability that a delivery runs concurrently with a second copy of the same message. */
  readonly concurrent: number;
  /** Probability that a store call or send crashes the invocation (before or after its effect). */
  readonly crash: number;
  /** Probability that a newly queued message is held back for 1..50 steps. */
  readonly delay: number;
  /** Probability per step that a region goes down (its queues are not consumed) for 10..100 steps. */
  readonly outage: number;
  /** Up to this many microtask yields before each store call (interleavings of concurrent runs). */
  readonly yields: number;
}

export const NO_FAULTS: FaultRates = { duplicate: 0, concurrent: 0, crash: 0, delay: 0, outage: 0, yields: 0 };

export interface Scenario {
  readonly seed: number;
  readonly checkpointInterval: number;
  /** Senders whose two transfers (nonces 0 and 1) are submitted at the start: 1 or 2. */
  readonly transactions: number;
  readonly faults: FaultRates;
  /** Deliveries during which faults are on; afterwards the system heals. */
  readonly faultSteps: number;
  readonly byzantineMember?: { readonly member: number; readonly attacks: readonly MemberAttack[] };
  readonly sequencer?: {
    readonly mode: SequencerAttack;
    readonly forkHeight: number;
    readonly invalid: InvalidTxKind;
    readonly altMembers: readonly number[];
  };
  readonly planted?: PlantedBug;
  /**
   * Members n (default 4, one per region; more are placed round-robin over the four regions), with
   * the default threshold n - floor((n-1)/3) and a fixed dealing.
   */
  readonly members?: number;
  /**
   * Members that never vote (offline validators, not Byzantine: no evidence is expected against them).
   * With f of them, every honest share is needed: the corner where a lost wake-up stalls for good.
   */
  readonly silent?: readonly number[];
  /** One planned crash at store call / send number `call` (crash-point sweep). */
  readonly crashAt?: { readonly call: number; readonly after: boolean };
  /** Record every call's label in the result (to aim a crash at a kind of call). */
  readonly recordCalls?: boolean;
  /**
   * Probability per delivery, during the fault phase, that a vote delivered earlier is delivered again
   * as a new message (a late vote: anyone can replay a signed vote).
   */
  readonly replayVotes?: number;
  /**
   * A region lost from delivery `atStep` on: its functions stop, and the others' sends to its queues and
   * reads of its tables and API fail like network errors. It comes back at delivery `reviveAtStep`, or
   * right after the liveness probe is final in the others if the run got quiet before, with whatever its
   * queues held (then a second probe must be final everywhere, it included); without `reviveAtStep` it
   * is lost for good. The liveness probe goes to the live regions, as a client retries elsewhere, and
   * must be final in each of them.
   */
  readonly lostRegion?: { readonly region: string; readonly atStep: number; readonly reviveAtStep?: number };
  /** Validators' view timeout (default SIM_VIEW_TIMEOUT_SECONDS). */
  readonly viewTimeoutSeconds?: number;
  /** Anyone writing forged "justified" notices to validators and "finalized" notices to state functions (NoticeForger). */
  readonly forger?: { readonly notices: readonly NoticeForgery[] };
  /** Checkpoints between a height's two evidence audits (default STALE_CHECKPOINTS, beyond a short run). */
  readonly auditHorizon?: number;
  /** Bound on deliveries before the liveness probe. */
  readonly maxSteps: number;
  /** Deliveries the liveness probe may take to finalize and apply its transaction everywhere. */
  readonly livenessSteps: number;
}

export interface SimResult {
  readonly scenario: Scenario;
  readonly violations: Violation[];
  /** sha256 over every delivery (step, queue, body, outcome) and the final heads: equal for equal seeds. */
  readonly traceHash: string;
  readonly steps: number;
  readonly storeCalls: number;
  readonly crashes: number;
  readonly finalized: number[];
  /** Each region's view at the end (in SIM_REGIONS order). */
  readonly views: number[];
  readonly deadLetters: number;
  /**
   * Finality syncs that sent something when the run went quiet (a certificate to a region behind, or a
   * reminder to a state function), the revived region's own excluded: liveness that needed the timer,
   * which the vote-driven catch-up alone did not give.
   */
  readonly finalitySyncsSent: number;
  readonly evidence: number;
  /** Slashable pairs whose regions also saw a forged copy of one of the votes (evidence still required). */
  readonly maskedEvidence: number;
  /** Every call's label, in order, when the scenario asked for them (`recordCalls`). */
  readonly callLabels?: readonly string[];
  /**
   * Cross-region evidence: (region, slashable pair) cases where the region applied the pair's height,
   * or the height an audit horizon above it, after both votes were recorded (`required`: it must hold
   * evidence), and cases no audit could cover.
   */
  readonly audit: { readonly required: number; readonly uncovered: number };
  /** Forged notices sent, when the scenario has a forger. */
  readonly forgeries?: { readonly justified: number; readonly finalized: number };
  /** View-0 proposals the Byzantine sequencer sent after it was replaced (each one a validator must refuse). */
  readonly staleProposals?: number;
  /** Per queue kind, the most store calls and sends one delivery made beyond its progress allowance. */
  readonly maxWork: Readonly<Record<string, number>>;
  /** Transfers accepted as the API does (scenarios with a lost region), each checked to be final at the end. */
  readonly accepted: number;
}

// ---------------------------------------------------------------- shared, deterministic inputs

/** Fixed dealings by n (deterministic coefficients): dealing is slow and the seeds do not need fresh keys. */
const dealings = new Map<number, Dealing>();
let genesis: GenesisAccount[] | undefined;
let pool:
  | { txs: Transaction[]; liveness: Transaction; livenessAfterRevival: Transaction; invalid: Record<InvalidTxKind, Transaction> }
  | undefined;

/** The simulation's dealing for `n` members (default threshold): 3 of 4 unless told otherwise. */
export function simDealing(n = 4): Dealing {
  let dealing = dealings.get(n);
  if (!dealing) {
    const t = defaultThreshold(n);
    dealing = deal(n, t, { coefficients: Array.from({ length: t }, (_, k) => 0x5eed1n + BigInt(k)) });
    dealings.set(n, dealing);
  }
  return dealing;
}

/** The genesis accounts and pre-signed transactions (local chain id), built once per process. */
function inputs() {
  const chainId = LOCAL_CHAIN_ID;
  genesis ??= devGenesis();
  if (!pool) {
    const pk = (i: number) => ed25519PublicKey(devSecretKey(i));
    // Senders 0..2, nonces 0..1: the sequencer must order each sender's nonces even when queues reorder them.
    const txs = [0, 1].flatMap((s) =>
      [0n, 1n].map((nonce) => signTransfer(chainId, devSecretKey(s), { to: pk(3 + s), amount: 10n + nonce, nonce })),
    );
    const bad = signTransfer(chainId, devSecretKey(6), { to: pk(0), amount: 1n, nonce: 0n });
    const sig = Uint8Array.from(bad.signature);
    sig[5] = sig[5]! ^ 1;
    pool = {
      txs,
      liveness: signTransfer(chainId, devSecretKey(9), { to: pk(8), amount: 5n, nonce: 0n }),
      /** The second probe, after a lost region came back: the same sender's next transfer. */
      livenessAfterRevival: signTransfer(chainId, devSecretKey(9), { to: pk(8), amount: 5n, nonce: 1n }),
      invalid: {
        'bad-signature': { ...bad, signature: sig },
        overspend: signTransfer(chainId, devSecretKey(7), { to: pk(0), amount: 5_000_000_000n, nonce: 0n }),
        'future-nonce': signTransfer(chainId, devSecretKey(6), { to: pk(0), amount: 1n, nonce: 3n }),
      },
    };
  }
  return { genesis, ...pool };
}

// ---------------------------------------------------------------- scenarios

/**
 * The scenario a seed stands for: checkpoint interval, workload, fault rates and Byzantine actors
 * all drawn from the seed, so sweeping seeds sweeps combinations. `overrides` pins any field.
 */
export function scenarioForSeed(seed: number, overrides: Partial<Scenario> = {}): Scenario {
  const r = mulberry32(seed ^ 0x9e3779b9);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const faulty = r() < 0.85;
  const faults: FaultRates = faulty
    ? {
        duplicate: pick([0, 0.1, 0.3, 1]),
        concurrent: pick([0, 0.1, 0.3]),
        crash: pick([0, 0.01, 0.03, 0.08]),
        delay: pick([0, 0.1, 0.3]),
        outage: pick([0, 0.01, 0.03]),
        yields: pick([0, 2, 5]),
      }
    : NO_FAULTS;
  const withMember = r() < 0.6;
  const member = 1 + Math.floor(r() * 4);
  const attacks = MEMBER_ATTACKS.filter((a) => a !== 'silent' && r() < 0.5);
  if (r() < 0.15) attacks.splice(0, attacks.length, 'silent');
  const withSequencer = r() < 0.25;
  const mode = pick<SequencerAttack>(['alt-chain', 'alt-chain', 'split', 'confuse']);
  const K = pick([1, 1, 2]);
  return {
    seed,
    checkpointInterval: K,
    // Few distinct workloads, so the same links recur across seeds and the crypto cache stays warm.
    transactions: pick([1, 1, 2]),
    faults,
    faultSteps: 250,
    ...(withMember ? { byzantineMember: { member, attacks: attacks.length ? attacks : ['double'] } } : {}),
    ...(withSequencer
      ? {
          sequencer: {
            mode,
            forkHeight: 1 + Math.floor(r() * 2),
            invalid: pick<InvalidTxKind>(['bad-signature', 'overspend', 'future-nonce']),
            altMembers: [1, 2, 3, 4].filter(() => r() < 0.5),
          },
        }
      : {}),
    maxSteps: 6000,
    // A Byzantine sequencer is replaced by view changes, each one a view timeout (600 deliveries) at
    // least, and it goes on proposing after it (stale rivals), so the probe may need several views.
    livenessSteps: withSequencer ? 6000 : 3000,
    ...overrides,
  };
}

/**
 * The seed sweep's scenario: scenarioForSeed's, where half of those with no faulty member, no
 * Byzantine sequencer and no planted bug also lose the home region (view 0's sequencer) at a random
 * delivery, half of them for good and half until a later delivery. Drawn from its own stream, so
 * scenarioForSeed's draws (and the scenarios pinned from them) stay as they were. A lost region takes
 * its member with it: with n = 4 and t = 3 no other member may fail.
 */
export function sweepScenarioForSeed(seed: number, overrides: Partial<Scenario> = {}): Scenario {
  const s = scenarioForSeed(seed, overrides);
  if (s.byzantineMember || s.sequencer || s.silent?.length || s.planted || s.lostRegion) return s;
  const r = mulberry32(seed ^ 0x2545f491);
  if (r() >= 0.5) return s;
  const atStep = 10 + Math.floor(r() * 240);
  const revive = r() < 0.5 ? { reviveAtStep: atStep + 50 + Math.floor(r() * 400) } : {};
  return { ...s, lostRegion: { region: SIM_REGIONS[0], atStep, ...revive } };
}

// ---------------------------------------------------------------- the run

/**
 * Store calls and sends one delivery may make without progress, per run, by queue kind (see
 * checkWork): a validator may re-execute up to MAX_REEXECUTION ancestors to rebuild a state, the
 * others do a handful of calls. About twice the most seen over the seed sweep. The state function's
 * run also holds the cross-region evidence audit (peer reads, a bounded number of checkpoints).
 */
export const WORK_PER_RUN: Readonly<Record<string, number>> = { ingress: 60, inbox: MAX_REEXECUTION + 40, votes: 30, finalized: 30 };
/** Further store calls and sends allowed per unit of progress a delivery made. */
export const WORK_PER_UNIT = 12;

/** Units of progress in a role's outcome: justification marks, blocks applied, blocks proposed or re-sent. */
function progressUnits(outcome: unknown): number {
  const o = outcome as { justified?: unknown[]; applied?: unknown[]; blocks?: unknown[]; rebroadcast?: number } | undefined;
  return (o?.justified?.length ?? 0) + (o?.applied?.length ?? 0) + (o?.blocks?.length ?? 0) + (o?.rebroadcast ?? 0);
}

/** Hands the checker the view certificate a delivered body carries (a `view` notice, a proposal), if any. */
function noteViewCertificate(checker: InvariantChecker, body: string): void {
  if (!body.includes('ertificate"')) return;
  let certificate: ViewCertificate;
  try {
    const o = JSON.parse(body) as { kind?: unknown; certificate?: unknown; viewCertificate?: unknown };
    if (o.kind === 'view') certificate = viewCertificateFromJson(o.certificate);
    else if (o.kind === 'proposal' && o.viewCertificate !== undefined) certificate = viewCertificateFromJson(o.viewCertificate);
    else return;
  } catch {
    return; // garbage: no member adopts it either
  }
  checker.noteViewCertificate(certificate);
}

/** Errors a correct system may throw (the message is redelivered); anything else is a violation. */
function expectedError(error: unknown, garbage: boolean): boolean {
  if (error instanceof SimulatedCrash || error instanceof RegionUnreachableError || isRetryLater(error)) return true;
  return error instanceof InputError && garbage;
}

/** One memoizing crypto for every scenario of this process: the same votes recur across seeds. */
let memo: Promise<ThresholdCrypto> | undefined;
const simCrypto = (): Promise<ThresholdCrypto> => {
  memo ??= defaultThresholdCrypto().then(memoizedCrypto);
  return memo;
};

/** Runs one scenario to the end and checks every invariant. Never throws for a violation: they are in the result. */
export async function runScenario(s: Scenario, debug: { onEnd?: (cluster: MemoryCluster) => Promise<void> } = {}): Promise<SimResult> {
  const random = mulberry32(s.seed);
  const control = new FaultControl(random, { crash: s.faults.crash, yields: s.faults.yields }, s.crashAt, s.recordCalls);
  const checker = new InvariantChecker(new Set<number>(s.byzantineMember ? [s.byzantineMember.member] : []));
  const work = inputs();
  const sequencer = s.sequencer
    ? new ByzantineSequencer(
        s.sequencer.mode,
        s.sequencer.forkHeight,
        work.invalid[s.sequencer.invalid],
        new Set(s.sequencer.altMembers),
        s.byzantineMember?.member,
      )
    : undefined;
  const member = s.byzantineMember
    ? new ByzantineMember(s.byzantineMember.member, new Set(s.byzantineMember.attacks), random, sequencer)
    : undefined;
  const forger = s.forger ? new NoticeForger(new Set(s.forger.notices), random) : undefined;
  const lastResult = new Map<string, unknown>();
  const silent = new Set(s.silent ?? []);
  /** Outcomes of the runs of the delivery in progress (work accounting). */
  const outcomes: unknown[] = [];
  const maxWork: Record<string, number> = {};
  /** Votes delivered so far (replayed late when the scenario asks). */
  const pastVotes: { queue: string; body: string }[] = [];

  const hooks: ClusterHooks = {
    wrapStores: (region, raw) => ({
      blocks: instrument(raw.blocks, `blocks@${region}`, control),
      sequencer: instrument(raw.sequencer, `sequencer@${region}`, control),
      finality: instrument(s.planted === 'no-dedup' ? noDedupTally(raw.finality) : raw.finality, `finality@${region}`, control),
      applied: instrument(
        checker.recorder(region, s.planted === 'apply-twice' ? new NoCasAppliedStore() : raw.applied),
        `applied@${region}`,
        control,
      ),
      protection: instrument(s.planted === 'no-watermark' ? new AlwaysSignProtection() : raw.protection, `protection@${region}`, control),
      // State nodes are content-addressed and immutable: a crash there is a crash at the call that needed them.
      nodes: raw.nodes,
    }),
    wrapTransport: (t) => {
      const byzantine = sequencer ? sequencer.wrap(t) : t;
      return faultyTransport(forger ? forger.wrap(byzantine) : byzantine, control);
    },
    ...(s.planted === 'threshold-minus-one' ? { regionSet: (_region, set) => thresholdMinusOne(set) } : {}),
    ...(member || silent.size > 0 || s.planted === 'trust-notices'
      ? {
          region: {
            // Not async: an extra await would shift interleavings, and seeds must replay as before.
            inbox: (ctx) =>
              silent.has(ctx.member)
                ? Promise.resolve({ kind: 'waiting', reason: 'silent' } as const)
                : ctx.member === member?.member
                  ? member.inbox(ctx)
                  : s.planted === 'trust-notices'
                    ? trustingInbox(ctx)
                    : ctx.honest(),
          },
        }
      : {}),
    ...(s.planted === 'no-audit' ? { wrapPeers: (_region, peers) => peers.map((p) => ({ fetchBlock: p.fetchBlock })) } : {}),
    // Only one delivery runs per queue at a time except under the concurrency fault, where both outcomes are alike.
    onDelivered: ({ queue, result }) => {
      lastResult.set(queue, result);
      outcomes.push(result);
    },
  };
  const cluster = await MemoryCluster.create({
    ...(s.viewTimeoutSeconds ? { viewTimeoutSeconds: s.viewTimeoutSeconds } : {}),
    regions: SIM_REGIONS,
    members: s.members ?? 4,
    checkpointInterval: s.checkpointInterval,
    seed: s.seed,
    dealing: simDealing(s.members ?? 4),
    genesis: work.genesis,
    maxBlockTransactions: 2,
    maxReceives: 10,
    crypto: await simCrypto(),
    hooks,
    ...(s.auditHorizon !== undefined ? { auditHorizon: s.auditHorizon } : {}),
  });
  checker.attach(cluster);
  sequencer?.bind(cluster);
  member?.bind(cluster);
  forger?.bind(cluster);

  const trace = createHash('sha256');
  const handled = new Map<string, Set<string>>();
  const forged = new Map<string, Set<string>>();
  const delayed = new WeakMap<Envelope, number>();
  const down = new Map<string, number>();
  let clock = 0;
  let deliveries = 0;

  // With a region to lose or a Byzantine sequencer to replace, the transfers are accepted as the API
  // does (stored in the active view's pool and a backup in the next view's: what a 202 promises) and
  // each one must be final at the end.
  const accepted: Transaction[] = [];
  for (const tx of work.txs.slice(0, s.transactions * 2)) {
    if (!s.lostRegion && !s.sequencer) cluster.submit(tx);
    else if (
      await cluster.accept(tx).then(
        (a) => a.kind !== 'invalid' && a.kind !== 'refused',
        () => false,
      )
    )
      accepted.push(tx);
  }

  let revived = false;
  /** When the loss starts: its planned delivery, or the probe's start if the run got quiet before. */
  let lostFrom = s.lostRegion?.atStep ?? Number.POSITIVE_INFINITY;
  const lost = (region: string) => s.lostRegion !== undefined && region === s.lostRegion.region && deliveries >= lostFrom && !revived;
  /** Cuts the lost region off from the others while it is lost, and reconnects it once revived. */
  const partition = () => {
    if (!s.lostRegion) return;
    if (s.lostRegion.reviveAtStep !== undefined && deliveries >= s.lostRegion.reviveAtStep) revived = true;
    if (lost(s.lostRegion.region)) cluster.unreachable.add(s.lostRegion.region);
    else cluster.unreachable.delete(s.lostRegion.region);
  };
  /** Region of each queue id: every pending message is looked at each step. */
  const regionByQueue = new Map<string, string>();
  const regionOf = (queue: string): string => {
    let region = regionByQueue.get(queue);
    if (region === undefined) {
      region = parseQueueId(queue, cluster.homeRegion).region;
      regionByQueue.set(queue, region);
    }
    return region;
  };
  const eligible = (e: Envelope) => {
    const region = regionOf(e.queue);
    return !down.has(region) && !lost(region) && (delayed.get(e) ?? 0) <= clock;
  };

  async function deliverOne(): Promise<boolean> {
    partition();
    if (cluster.pending.length === 0) return false;
    clock++;
    if (control.active && s.faults.outage > 0 && random() < s.faults.outage) {
      const region = SIM_REGIONS[Math.floor(random() * SIM_REGIONS.length)]!;
      if (!down.has(region)) down.set(region, clock + 10 + Math.floor(random() * 91));
    }
    for (const [region, until] of down) if (until <= clock) down.delete(region);
    let candidates = cluster.pending.filter(eligible);
    if (candidates.length === 0) {
      // Nothing deliverable now: jump the clock to the next release (a delay or an outage ending).
      const releases = [...cluster.pending.map((e) => delayed.get(e) ?? 0), ...down.values()].filter((t) => t > clock);
      if (releases.length === 0) return false;
      clock = Math.min(...releases);
      for (const [region, until] of down) if (until <= clock) down.delete(region);
      candidates = cluster.pending.filter(eligible);
      if (candidates.length === 0) return false;
    }
    const envelope = candidates[Math.floor(random() * candidates.length)]!;
    cluster.pending.splice(cluster.pending.indexOf(envelope), 1);
    const before = cluster.pending.length;
    const errorsBefore = cluster.errors.length;
    if (control.active && random() < s.faults.duplicate) cluster.pending.push({ queue: envelope.queue, body: envelope.body, receives: 0 });
    if (control.active && (s.replayVotes ?? 0) > 0 && pastVotes.length > 0 && random() < s.replayVotes!) {
      const old = pastVotes[Math.floor(random() * pastVotes.length)]!;
      cluster.pending.push({ queue: old.queue, body: old.body, receives: 0 });
    }
    if (envelope.queue.startsWith('votes:') && pastVotes.length < 10_000) pastVotes.push({ queue: envelope.queue, body: envelope.body });
    outcomes.length = 0;
    noteViewCertificate(checker, envelope.body);
    const callsBefore = control.calls;
    const headMovesBefore = control.headMoves;
    const appliesBefore = control.applies;
    const runs: Promise<boolean>[] = [cluster.deliver(envelope)];
    if (control.active && random() < s.faults.concurrent)
      runs.push(cluster.deliver({ queue: envelope.queue, body: envelope.body, receives: 0 }));
    const oks = await Promise.all(runs);
    deliveries++;
    // A catch-up that stopped at a block no peer holds yet kept the blocks it fetched: progress too.
    const stored = cluster.errors
      .slice(errorsBefore)
      .reduce((n, { error }) => n + (error instanceof BlockUnavailableError ? error.meta.fetched : 0), 0);
    // So did a sequencer run that moved its head, or a state function run that applied heights, before
    // it crashed (its outcome, which counts them, is lost; seed 729676991: 3 heights applied after
    // fetching 4 blocks, 32 calls).
    const kept = oks.every(Boolean) ? stored : Math.max(stored, control.headMoves - headMovesBefore + control.applies - appliesBefore);
    checkWork(envelope.queue, control.calls - callsBefore, runs.length, kept);
    // Newly queued messages (and redeliveries, after a visibility timeout) may be held back; a message
    // sent with a delay (the pacemaker's) is held for its delay.
    for (const e of cluster.pending.slice(before)) {
      if (e === envelope) delayed.set(e, clock + 5 + Math.floor(random() * 10));
      else if (e.delaySteps !== undefined) delayed.set(e, clock + (e.delaySteps - cluster.delivered));
      else if (control.active && random() < s.faults.delay) delayed.set(e, clock + 1 + Math.floor(random() * 50));
    }
    const garbage = member?.log.garbage.get(envelope.body);
    for (const { error } of cluster.errors.slice(errorsBefore)) {
      if (!expectedError(error, garbage !== undefined))
        checker.report(
          'unexpected-error',
          `${envelope.queue}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        );
    }
    if (oks.some(Boolean) && envelope.queue.startsWith('votes:')) recordVote(envelope, garbage);
    if (garbage === 'decode' && oks.some(Boolean))
      checker.report('garbage-accepted', `${envelope.queue}: a malformed vote body was decoded`);
    // Long bodies (the oversized garbage) enter the trace by length and prefix only: hashing them each time is slow.
    trace
      .update(`${clock}|${envelope.queue}|${oks.join(',')}|${envelope.body.length}|`)
      .update(envelope.body.length > 4096 ? envelope.body.slice(0, 256) : envelope.body);
    checker.step = deliveries;
    await checker.check();
    return true;
  }

  /**
   * Work per message: the store calls and sends of one delivery (all its concurrent runs) must stay
   * within a constant per run plus a constant per unit of progress it made (a justification mark, a
   * block applied or proposed), whatever the history and whatever came before.
   */
  /** `kept`: units of progress a failed run left behind (blocks it fetched and stored, heads it moved). */
  function checkWork(queue: string, calls: number, runs: number, kept: number): void {
    const kind = queue.split(':')[0]!;
    const units = outcomes.reduce<number>((n, o) => n + progressUnits(o), kept);
    const allowed = runs * (WORK_PER_RUN[kind] ?? 0) + units * WORK_PER_UNIT;
    const excess = calls - units * WORK_PER_UNIT;
    maxWork[kind] = Math.max(maxWork[kind] ?? 0, excess);
    if (calls > allowed)
      checker.report(
        'unbounded-work',
        `${queue}: one delivery made ${calls} store calls and sends (allowed ${allowed}: ${runs} run(s), ${units} unit(s) of progress)`,
      );
  }

  function recordVote(envelope: Envelope, garbage: string | undefined): void {
    const message = decodeMessage(
      envelope.body,
      ['vote', 'view-change', 'view', 'certified'],
      cluster.application.codec(cluster.set.chainId),
    );
    if (message.kind !== 'vote') return;
    const { vote } = message;
    const region = envelope.queue.split(':')[1]!;
    const into = garbage === undefined ? handled : forged;
    if (!into.has(region)) into.set(region, new Set());
    into.get(region)!.add(voteKey(vote));
    if (garbage === 'refused') {
      const last = lastResult.get(envelope.queue);
      if ((last as { kind?: string } | undefined)?.kind !== 'refused')
        checker.report('garbage-accepted', `${envelope.queue}: a vote that must be refused was counted`);
    }
  }

  async function runUntilQuiet(limit: number): Promise<void> {
    while (deliveries < limit && (await deliverOne()));
  }

  /**
   * One pass of `node`'s finality sync, the scheduled timer firing. It is not a delivery: no crash hits
   * it and its calls count in no delivery's work. Returns whether it sent anything (a certificate to
   * the finalizer, or a reminder to the state function).
   */
  async function syncRegion(node: RegionNode): Promise<boolean> {
    const sync = node.runtime.finalitySync();
    if (!sync) throw new Error(`${node.region} runs no finality sync`);
    return (await outsideFaults(() => syncFinality(sync))).kind !== 'current';
  }

  /** Runs `f` with the store calls untouched and uncounted: a timer or a check, not a delivery. */
  async function outsideFaults<T>(f: () => Promise<T>): Promise<T> {
    control.bypass = true;
    try {
      return await f();
    } finally {
      control.bypass = false;
    }
  }

  let finalitySyncsSent = 0;
  /**
   * Runs until `done` or `limit` deliveries. When the run goes quiet first, each reachable region's
   * finality sync fires once (its schedule, in a system with nothing else to do) and the run goes on
   * while a sync sends something: a quiet run with one region ahead of the others
   * heals as it does on AWS, and a quiet run with every region at the same height is still a stall.
   */
  async function runWithFinalitySync(limit: number, done: () => Promise<boolean>): Promise<void> {
    for (;;) {
      await runUntilQuiet(limit);
      if (deliveries >= limit) return;
      if (await outsideFaults(done)) return;
      let sent = 0;
      for (const node of cluster.nodes.values()) if (!cluster.unreachable.has(node.region) && (await syncRegion(node))) sent++;
      finalitySyncsSent += sent;
      if (sent === 0) return;
    }
  }

  /**
   * A region back from an outage on an idle chain (nothing new submitted) catches up by its finality
   * sync alone: run here once when the run is quiet, as its schedule would. It must reach the highest
   * height the others finalized, the first probe applied.
   */
  async function catchUpWhileIdle(node: RegionNode): Promise<void> {
    await runUntilQuiet(deliveries + Math.floor(s.livenessSteps / 2));
    const heads = await Promise.all([...cluster.nodes.values()].map((n) => n.raw.finality.head()));
    const target = Math.max(...heads.map((h) => h.finalized.height));
    await syncRegion(node);
    await runUntilQuiet(deliveries + Math.floor(s.livenessSteps / 2));
    const finalized = (await node.raw.finality.head()).finalized.height;
    if (finalized < target || !(await probeApplied(node)))
      checker.report(
        'liveness',
        `${node.region}: back on an idle chain, its finality sync did not bring it up to finalized ${target} with the probe applied (finalized ${finalized})`,
      );
  }

  // Fault phase, then healing: no new faults, outages end, held messages are released.
  await runUntilQuiet(s.faultSteps);
  control.active = false;
  down.clear();
  for (const e of cluster.pending) delayed.delete(e);
  await runUntilQuiet(s.maxSteps);

  // The run got quiet before the planned loss: the region is lost now, before the probe.
  if (s.lostRegion && deliveries < lostFrom) {
    lostFrom = deliveries;
    partition();
  }
  // Liveness probe: a fresh transfer must be finalized and applied in every region.
  let live = [...cluster.nodes.values()].filter((node) => !lost(node.region));
  /** The probe sender's nonce the probes should have reached: 1, or 2 after a lost region came back. */
  let probes = 1n;
  const probeApplied = async (node: (typeof live)[number]): Promise<boolean> => {
    const applied = await node.stores.applied.applied();
    const account = applied ? await ledgerOf(node.chain).account(applied.stateRoot, work.liveness.from) : undefined;
    return (account?.nonce ?? 0n) === probes;
  };
  // Liveness is promised in every scenario, a Byzantine sequencer's included (issue 16): the members it
  // stalls or splits time out and certify a view whose sequencer is honest, and it goes on proposing in
  // view 0 after that (ByzantineSequencer's stale rivals), fenced by the view.
  const limit = deliveries + s.livenessSteps;
  if (s.lostRegion) {
    // A client whose transfer is not final retries it (the same signed transfer) through another live region.
    const probe = async (tx: unknown, regions: typeof live, until: number) => {
      for (let attempt = 0; deliveries < until; attempt++) {
        cluster.submit(tx, regions[attempt % regions.length]!.region);
        await runUntilQuiet(Math.min(until, deliveries + Math.floor(s.livenessSteps / 6)));
        if (await Promise.all(regions.map((n) => probeApplied(n))).then((all) => all.every(Boolean))) break;
      }
    };
    await probe(work.liveness, live, limit);
    if (s.lostRegion.reviveAtStep !== undefined && !revived) {
      // The lost region comes back after the others moved on (a view change, most likely): its stale
      // sequencer is fenced by the view (every safety invariant keeps being checked), it learns the view
      // and the justifications it missed from the new view's proposals and votes, and a second transfer
      // must be final everywhere, it included.
      revived = true;
      partition();
      live = [...cluster.nodes.values()];
      await catchUpWhileIdle(cluster.node(s.lostRegion.region));
      probes = 2n;
      await probe(work.livenessAfterRevival, live, deliveries + s.livenessSteps);
    }
  } else {
    cluster.submit(work.liveness);
    await runWithFinalitySync(limit, async () => (await Promise.all(live.map((n) => probeApplied(n)))).every(Boolean));
  }
  control.bypass = true; // the checks below read through the wrapped stores: no crash may hit them
  for (const node of live) {
    const applied = await node.stores.applied.applied();
    if (!(await probeApplied(node)))
      checker.report(
        'liveness',
        `${node.region}: the probe transfer was not finalized and applied within ${s.livenessSteps} steps after faults stopped (applied height ${applied?.height ?? 0})`,
      );
    for (const tx of accepted) {
      const account = applied ? await ledgerOf(node.chain).account(applied.stateRoot, tx.from) : undefined;
      if ((account?.nonce ?? 0n) <= tx.nonce)
        checker.report(
          'accepted-lost',
          `${node.region}: the accepted transfer ${Buffer.from(tx.from).toString('hex').slice(0, 8)}/${tx.nonce} is not finalized and applied (applied height ${applied?.height ?? 0})`,
        );
    }
  }

  // Invalid transactions (from a Byzantine sequencer) never change state: their senders stay at genesis.
  for (const node of cluster.nodes.values()) {
    const applied = await node.stores.applied.applied();
    if (!applied) continue;
    for (const tx of Object.values(work.invalid)) {
      const account = await ledgerOf(node.chain).account(applied.stateRoot, tx.from);
      if (account && (account.nonce !== 0n || account.balance !== 1_000_000_000n))
        checker.report(
          'invalid-tx-applied',
          `${node.region}: an invalid transaction changed account ${Buffer.from(tx.from).toString('hex').slice(0, 8)}`,
        );
    }
  }
  const maskedEvidence = await checker.checkEvidence(member?.log.signed ?? [], handled, forged);
  const audit = await checker.checkAuditEvidence(member?.log.signed ?? [], s.auditHorizon ?? STALE_CHECKPOINTS);
  await checker.checkVoteSources();
  await debug.onEnd?.(cluster);

  const finalized: number[] = [];
  const views: number[] = [];
  let evidence = 0;
  for (const node of cluster.nodes.values()) {
    const head = await node.raw.finality.head();
    finalized.push(head.finalized.height);
    views.push(head.view);
    evidence += (await node.raw.finality.listEvidence(100_000)).length;
    trace.update(`final|${node.region}|${head.finalized.height}|${Buffer.from(head.finalized.hash).toString('hex')}`);
  }
  return {
    scenario: s,
    violations: checker.violations,
    traceHash: trace.digest('hex'),
    steps: deliveries,
    storeCalls: control.calls,
    crashes: control.crashes,
    finalized,
    views,
    deadLetters: cluster.deadLetters.length,
    finalitySyncsSent,
    evidence,
    maskedEvidence,
    audit,
    ...(forger ? { forgeries: { ...forger.log } } : {}),
    ...(sequencer ? { staleProposals: sequencer.stale.proposals } : {}),
    maxWork,
    accepted: accepted.length,
    ...(control.labels ? { callLabels: control.labels } : {}),
  };
}
