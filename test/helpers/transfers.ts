/**
 * A client load for drills that kill things: each sender submits its transfers one nonce at a time
 * over HTTP, as a careful client would. A transfer answered 202 is accepted; any other answer (503,
 * 429, a refused connection, a timeout) leaves it uncertain, and the same signed transfer is submitted
 * again (same hash) until it is accepted, or refused as STALE_NONCE (an earlier attempt got through
 * and is already final). So no sender ever leaves a gap, and the test knows every transfer that may
 * have reached the cluster.
 *
 * `verify` then checks exactly-once from the public API of every region: each sender's nonce is the
 * number of its transfers that were applied (nonces are sequential), every accepted transfer is
 * among them, and every balance is the genesis balance minus what the sender's applied transfers
 * sent plus what others' applied transfers brought: a block applied twice, or a transfer lost or
 * applied twice, would break one of these.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { toHex } from '../../lib/core/bytes.js';
import { DEV_GENESIS_BALANCE, devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import { transactionToJson } from '../../lib/core/wire.js';

const devHex = (i: number) => toHex(ed25519PublicKey(devSecretKey(i)));

interface Sent {
  readonly nonce: bigint;
  readonly to: number;
  accepted: boolean;
}

export interface LoadCounts {
  /** Answers by HTTP status ('network' for a failed request). */
  readonly answers: Readonly<Record<string, number>>;
  /** Transfers answered 202 (or STALE_NONCE on a resubmission). */
  readonly accepted: number;
  /** Transfers signed (accepted, plus at most one uncertain per sender). */
  readonly signed: number;
}

export class TransferLoad {
  private readonly sent = new Map<number, Sent[]>();
  private readonly answers: Record<string, number> = {};
  private running = false;
  private loops: Promise<void>[] = [];

  /**
   * @param urls the current region API URLs (a function: they change when the cluster restarts)
   * @param senders dev account indexes that send (each to the next dev account, amount 1)
   * @param pauseMs pause between one sender's transfers
   */
  constructor(
    private readonly urls: () => readonly string[],
    private readonly senders: readonly number[] = [0, 1, 2, 3, 4],
    private readonly pauseMs = 700,
  ) {
    for (const s of senders) this.sent.set(s, []);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = this.senders.map((s, i) => this.loop(s, i));
  }

  /** Stops submitting; a transfer in flight is finished (accepted, or given up as uncertain). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  counts(): LoadCounts {
    let accepted = 0;
    let signed = 0;
    for (const list of this.sent.values()) {
      signed += list.length;
      accepted += list.filter((t) => t.accepted).length;
    }
    return { answers: { ...this.answers }, accepted, signed };
  }

  /** How many of `sender`'s transfers were accepted. */
  acceptedCount(sender: number): number {
    return (this.sent.get(sender) ?? []).filter((t) => t.accepted).length;
  }

  /** The account of dev sender `i`, hex (for GET /v1/accounts). */
  publicKeyHex(i: number): string {
    return devHex(i);
  }

  private async loop(sender: number, offset: number): Promise<void> {
    let cursor = offset;
    while (this.running) {
      const accepted = await this.attempt(sender, cursor++);
      await sleep(accepted ? this.pauseMs : 250);
    }
  }

  /**
   * One submission of `sender`'s next transfer (or of its uncertain one again) to region API
   * `urls()[cursor % n]`. Returns true when it is accepted. Throws on a refusal other than
   * STALE_NONCE (the load never sends a bad transfer).
   */
  async attempt(sender: number, cursor = 0): Promise<boolean> {
    const list = this.sent.get(sender);
    if (!list) throw new Error(`${sender} is not one of this load's senders`);
    // Resume an uncertain transfer first: the same nonce, the same signed bytes.
    const last = list.at(-1);
    const transfer = last && !last.accepted ? last : { nonce: BigInt(list.length), to: (sender + 1) % 10, accepted: false };
    if (transfer !== last) list.push(transfer);
    const body = JSON.stringify(
      transactionToJson(
        signTransfer(LOCAL_CHAIN_ID, devSecretKey(sender), {
          to: ed25519PublicKey(devSecretKey(transfer.to)),
          amount: 1n,
          nonce: transfer.nonce,
        }),
      ),
    );
    const urls = this.urls();
    const url = urls[cursor % urls.length];
    let status = 'network';
    let code: string | undefined;
    try {
      const res = await fetch(`${url}/v1/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      status = String(res.status);
      code = ((await res.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code;
    } catch {
      // the cluster is down or restarting: uncertain, submit again
    }
    this.answers[status] = (this.answers[status] ?? 0) + 1;
    if (status === '202' || code === 'STALE_NONCE') transfer.accepted = true;
    // 429 asks to come back later (Retry-After): uncertain, like a 503.
    else if (status.startsWith('4') && status !== '429') throw new Error(`transfer ${sender}:${transfer.nonce} refused: ${status} ${code}`);
    return transfer.accepted;
  }

  /**
   * Checks every region once (see the module comment). Returns undefined when everything holds, or
   * the first discrepancy (for a poll loop: a region may still be catching up).
   */
  async discrepancy(urls: readonly string[]): Promise<string | undefined> {
    const received = new Map<number, number>();
    for (const s of this.senders) received.set(s, 0);
    const expectations: { account: number; nonce?: bigint; balance: bigint }[] = [];
    // The applied count per sender comes from the first region; every region must then agree exactly.
    const applied = new Map<number, bigint>();
    for (const s of this.senders) {
      const a = await account(urls[0]!, s);
      if (a === undefined) return `region ${urls[0]} does not answer for account ${s}`;
      applied.set(s, a.nonce);
    }
    for (const [s, list] of this.sent) {
      const n = applied.get(s)!;
      if (n > BigInt(list.length)) return `sender ${s}: nonce ${n} but only ${list.length} transfers were signed`;
      const lostAccepted = list.find((t) => t.accepted && t.nonce >= n);
      if (lostAccepted) return `sender ${s}: accepted transfer with nonce ${lostAccepted.nonce} not final (applied nonce ${n})`;
      for (const t of list) if (t.nonce < n) received.set(t.to, (received.get(t.to) ?? 0) + 1);
    }
    for (const s of new Set([...this.senders, ...received.keys()])) {
      const sentCount = applied.get(s) ?? 0n;
      expectations.push({
        account: s,
        ...(applied.has(s) ? { nonce: sentCount } : {}),
        balance: DEV_GENESIS_BALANCE - sentCount + BigInt(received.get(s) ?? 0),
      });
    }
    for (const url of urls)
      for (const e of expectations) {
        const a = await account(url, e.account);
        if (a === undefined) return `${url} does not answer for account ${e.account}`;
        if (e.nonce !== undefined && a.nonce !== e.nonce) return `${url}: account ${e.account} nonce ${a.nonce}, expected ${e.nonce}`;
        if (a.balance !== e.balance) return `${url}: account ${e.account} balance ${a.balance}, expected ${e.balance}`;
      }
    return undefined;
  }
}

async function account(url: string, i: number): Promise<{ nonce: bigint; balance: bigint } | undefined> {
  try {
    const res = await fetch(`${url}/v1/accounts/${devHex(i)}`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { nonce: string; balance: string };
    return { nonce: BigInt(body.nonce), balance: BigInt(body.balance) };
  } catch {
    return undefined;
  }
}
