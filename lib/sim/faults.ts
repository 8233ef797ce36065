/**
 * Fault injection for the simulation: a seeded controller that decides, at every store call and
 * every transport send, whether the "Lambda" crashes there (before the call takes effect, or right
 * after it), and how many microtasks to yield first (so concurrent deliveries interleave in
 * seed-chosen ways). Wrappers are Proxies over the real stores, so every method of every port is
 * covered without listing them.
 */
import type { Transport } from '../pipeline/ports.js';

/** The crash the controller injected. The cluster treats it like any failure: the message is redelivered. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
  constructor(
    readonly call: number,
    readonly label: string,
    readonly after: boolean,
  ) {
    super(`simulated crash ${after ? 'after' : 'before'} call #${call} (${label})`);
  }
}

/** Per-call fault rates; all default to 0 (no faults). */
export interface CallFaults {
  /** Probability that a store call or send crashes (half before its effect, half after). */
  readonly crash: number;
  /** Up to this many microtask yields before each call (interleaving under concurrency). */
  readonly yields: number;
}

export class FaultControl {
  /** Store calls and sends seen so far (1-based index of the last one). */
  calls = 0;
  crashes = 0;
  /** Where each crash hit: `label` and whether it was after the call took effect. */
  readonly crashLog: { label: string; after: boolean }[] = [];
  /** The label of every counted call, in order (only when asked for: crash-point targeting by label). */
  readonly labels: string[] | undefined;
  /** Whether random faults are on (the fault phase); a planned `crashAt` fires regardless. */
  active = true;
  /** When set, calls run untouched and uncounted (the simulation's own reads after the run). */
  bypass = false;
  /**
   * Sequencer heads moved so far (a block proposed, or a new view's restart): progress that stays
   * even when the run crashes later and has no outcome to count it (the work check).
   */
  headMoves = 0;
  /** Heights applied so far (a state function's compare-and-set that succeeded): progress kept the same way. */
  applies = 0;

  constructor(
    private readonly random: () => number,
    private readonly rates: CallFaults,
    /** A single planned crash at call number `call` (the crash-point sweep). */
    private readonly crashAt?: { call: number; after: boolean },
    recordLabels = false,
  ) {
    this.labels = recordLabels ? [] : undefined;
  }

  /** Runs `effect` as call number `calls + 1`, with the yields and crashes the plan says. */
  async call<T>(label: string, effect: () => Promise<T>): Promise<T> {
    if (this.bypass) return effect();
    const n = ++this.calls;
    this.labels?.push(label);
    if (this.active && this.rates.yields > 0) {
      const yields = Math.floor(this.random() * (this.rates.yields + 1));
      for (let i = 0; i < yields; i++) await Promise.resolve();
    }
    let crash: 'before' | 'after' | undefined;
    if (this.crashAt?.call === n) crash = this.crashAt.after ? 'after' : 'before';
    else if (this.active && this.rates.crash > 0 && this.random() < this.rates.crash) crash = this.random() < 0.5 ? 'before' : 'after';
    if (crash) this.crashLog.push({ label, after: crash === 'after' });
    if (crash === 'before') {
      this.crashes++;
      throw new SimulatedCrash(n, label, false);
    }
    const result = await effect();
    if (label.endsWith('.swapHead') && result === true) this.headMoves++;
    if (label.endsWith('.advanceApplied') && result === true) this.applies++;
    if (crash === 'after') {
      this.crashes++;
      throw new SimulatedCrash(n, label, true);
    }
    return result;
  }
}

/**
 * Wraps every method of `target` so each call goes through `control.call` (label `name.method`).
 * @example const blocks = instrument(new MemoryBlockStore(), 'blocks@eu', control);
 */
export function instrument<T extends object>(target: T, name: string, control: FaultControl): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => control.call(`${name}.${String(prop)}`, () => Promise.resolve(value.apply(obj, args)));
    },
  });
}

/** A transport whose every send is a call of `control` (a crash loses that send, as a crashed Lambda would). */
export function faultyTransport(inner: Transport, control: FaultControl): Transport {
  return { send: (to, messages, options) => control.call(`send.${to.queue}`, () => inner.send(to, messages, options)) };
}
