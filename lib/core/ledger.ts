/**
 * The transfer ledger (fixed contract, DESIGN.md section 4): the transfer Application over the sparse Merkle tree.
 *
 * Rules, checked in this order (the first failure is the reason reported):
 *   MALFORMED            wrong field lengths, or amount/nonce outside u64
 *   BAD_SIGNATURE        ed25519 signature by `from` over txSigningBytes(chainId, tx) does not verify
 *   BAD_NONCE            nonce differs from the sender's next nonce (0 for a new account), stale or future
 *   INSUFFICIENT_BALANCE balance < amount
 *   BALANCE_OVERFLOW     the recipient's balance would exceed u64
 * Nothing else is refused, because the contract says a transfer is valid iff its nonce and balance
 * fit: a zero amount is valid (it only advances the nonce, e.g. to cancel a pending transfer), and so is
 * a transfer to oneself (it advances the nonce; the balance is unchanged).
 *
 * State: the tree maps accountKey(publicKey) = sha256(publicKey) to encodeAccount(account) (account.ts).
 * An account equal to the default (balance 0, nonce 0) is not stored: absent and default read the same,
 * and leaving it out keeps one canonical state per set of balances.
 */

import { type Account, accountKey, decodeAccount, encodeAccount } from './account.js';
import { fundedAccounts } from './accounts.js';
import { abytes, equalBytes, toHex, U64_MAX } from './bytes.js';
import { DEV_ACCOUNT_COUNT, DEV_GENESIS_BALANCE, devSecretKey } from './chain.js';
import { txHash, txSigningBytes } from './codec.js';
import { ed25519PublicKey, ed25519Sign, ed25519Verify } from './ed25519.js';
import { InputError } from './errors.js';
import { EMPTY_ROOT, type Hash, hexOf, type NodeStore, type SmtChange, type SmtProof, SparseMerkleTree } from './smt.js';
import type { Admission, Application, ApplicationDefinition, ExecutionResult, SenderState, StateRead } from './state-machine.js';
import type { Transaction } from './types.js';
import { transactionFromJson, transactionToJson } from './wire.js';

export { type Account, accountKey, decodeAccount, encodeAccount } from './account.js';

export type LedgerRejection = 'MALFORMED' | 'BAD_SIGNATURE' | 'BAD_NONCE' | 'INSUFFICIENT_BALANCE' | 'BALANCE_OVERFLOW';

export interface GenesisAccount {
  readonly account: Uint8Array; // 32-byte ed25519 public key
  readonly balance: bigint; // u64
}

export interface TransferLedgerOptions {
  readonly chainId: Uint8Array;
  readonly tree: SparseMerkleTree;
  /** Genesis balances; default devGenesis() (the ten dev accounts with 1_000_000_000 each). */
  readonly genesis?: readonly GenesisAccount[];
}

const DEFAULT_ACCOUNT: Account = { balance: 0n, nonce: 0n };

/** The local chain's genesis (fixed contract): dev accounts 0..9, each with 1_000_000_000. */
export function devGenesis(): GenesisAccount[] {
  return Array.from({ length: DEV_ACCOUNT_COUNT }, (_, i) => ({
    account: ed25519PublicKey(devSecretKey(i)),
    balance: DEV_GENESIS_BALANCE,
  }));
}

/**
 * Builds a signed transfer from the 32-byte ed25519 seed `secretKey` (the sender is its public key).
 * Throws InputError on a malformed field.
 */
export function signTransfer(
  chainId: Uint8Array,
  secretKey: Uint8Array,
  transfer: { to: Uint8Array; amount: bigint; nonce: bigint },
): Transaction {
  const unsigned = { from: ed25519PublicKey(secretKey), to: transfer.to, amount: transfer.amount, nonce: transfer.nonce };
  return { ...unsigned, signature: ed25519Sign(txSigningBytes(chainId, unsigned), secretKey) };
}

type Refusal = { ok: false; reason: LedgerRejection; message: string };
type Outcome = { ok: true } | Refusal;

function reject(reason: LedgerRejection, message: string): Refusal {
  return { ok: false, reason, message };
}

function isU64(x: unknown): x is bigint {
  return typeof x === 'bigint' && x >= 0n && x <= U64_MAX;
}

function isDefault(a: Account): boolean {
  return a.balance === 0n && a.nonce === 0n;
}

/**
 * The stateful rule on already-loaded accounts: returns the accounts after the transfer or the rejection.
 * For a self-transfer pass the same account as both; the result then has from === to.
 */
function transfer(tx: Transaction, from: Account, to: Account, self: boolean): { ok: true; from: Account; to: Account } | Refusal {
  if (tx.nonce !== from.nonce) {
    const which = tx.nonce < from.nonce ? 'stale' : 'future';
    return reject('BAD_NONCE', `${which} nonce ${tx.nonce}: the sender's next nonce is ${from.nonce}`);
  }
  if (from.nonce === U64_MAX) return reject('BAD_NONCE', 'nonce space exhausted');
  if (from.balance < tx.amount) return reject('INSUFFICIENT_BALANCE', `balance ${from.balance} < amount ${tx.amount}`);
  const debited: Account = { balance: from.balance - tx.amount, nonce: from.nonce + 1n };
  if (self) return { ok: true, from: { ...debited, balance: from.balance }, to: { ...debited, balance: from.balance } };
  if (to.balance + tx.amount > U64_MAX) return reject('BALANCE_OVERFLOW', `recipient balance ${to.balance} + ${tx.amount} exceeds u64`);
  return { ok: true, from: debited, to: { balance: to.balance + tx.amount, nonce: to.nonce } };
}

/** A genesis above this many accounts is built once in memory and written only where its root is missing. */
const LARGE_GENESIS = 1_000;

/** Checked copies of genesis lists, and the built tree of large ones, by the list given (large lists are reused as is). */
const genesisCache = new WeakMap<readonly GenesisAccount[], { accounts: readonly GenesisAccount[]; built?: Promise<BuiltGenesis> }>();
interface BuiltGenesis {
  readonly root: Hash;
  /** Every node, the root last. */
  readonly nodes: { hash: Hash; bytes: Uint8Array }[];
}

/** Validates a genesis list (InputError naming the entry) and returns a private copy, cached by the list. */
function checkedGenesis(genesis: readonly GenesisAccount[]): { accounts: readonly GenesisAccount[]; built?: Promise<BuiltGenesis> } {
  const hit = genesisCache.get(genesis);
  if (hit) return hit;
  const seen = new Set<string>();
  genesis.forEach((g, i) => {
    abytes(g?.account, 32, `genesis[${i}].account`);
    if (!isU64(g.balance)) throw new InputError(`genesis[${i}].balance`, 'expected a u64 bigint');
    const id = hexOf(g.account);
    if (seen.has(id)) throw new InputError(`genesis[${i}].account`, 'duplicate account');
    seen.add(id);
  });
  const entry = { accounts: genesis.map((g) => ({ account: g.account.slice(), balance: g.balance })) };
  genesisCache.set(genesis, entry);
  return entry;
}

/** Captures the nodes a tree writes (for a large genesis, built once and copied into each store). */
class CapturingNodeStore implements NodeStore {
  readonly nodes: { hash: Hash; bytes: Uint8Array }[] = [];
  async get(): Promise<Uint8Array | undefined> {
    return undefined; // building from the empty root reads nothing
  }
  async putMany(nodes: { hash: Hash; bytes: Uint8Array }[]): Promise<void> {
    for (const n of nodes) this.nodes.push(n); // one by one: a spread of 10^5 arguments overflows the stack
  }
}

/** Transfers between ed25519 accounts over a content-addressed sparse Merkle tree. */
export class TransferLedger implements Application<Transaction> {
  readonly chainId: Uint8Array;
  readonly tree: SparseMerkleTree;
  private readonly genesisEntry: { accounts: readonly GenesisAccount[]; built?: Promise<BuiltGenesis> };

  /** Throws InputError on a malformed chain id or genesis entry, or a duplicate genesis account. */
  constructor(opts: TransferLedgerOptions) {
    this.chainId = abytes(opts.chainId, 32, 'chainId').slice();
    this.tree = opts.tree;
    this.genesisEntry = checkedGenesis(opts.genesis ?? devGenesis());
  }

  /**
   * Writes the genesis accounts (zero balances are not stored) and returns the genesis root. A large
   * genesis (more than 1000 accounts) is built once per process and written root last, so a store
   * that already holds its root holds all of it and is left alone (a restart skips the rewrite).
   */
  async genesis(): Promise<Hash> {
    const changes = () =>
      this.genesisEntry.accounts
        .filter((g) => g.balance > 0n)
        .map((g) => ({ key: accountKey(g.account), value: encodeAccount({ balance: g.balance, nonce: 0n }) }));
    if (this.genesisEntry.accounts.length <= LARGE_GENESIS) return (await this.tree.update(EMPTY_ROOT, changes())).root;
    this.genesisEntry.built ??= (async () => {
      const capture = new CapturingNodeStore();
      const { root } = await new SparseMerkleTree(capture, { nodeCache: 0 }).update(EMPTY_ROOT, changes());
      const rootIndex = capture.nodes.findIndex((n) => equalBytes(n.hash, root));
      const [top] = capture.nodes.splice(rootIndex, 1);
      capture.nodes.push(top!);
      return { root, nodes: capture.nodes };
    })();
    const built = await this.genesisEntry.built;
    if (await this.tree.store.get(built.root)) return built.root;
    await this.tree.store.putMany(built.nodes.slice(0, -1));
    await this.tree.store.putMany(built.nodes.slice(-1));
    return built.root;
  }

  hash(tx: Transaction): Uint8Array {
    return txHash(this.chainId, tx);
  }
  toJson(tx: Transaction): Record<string, unknown> {
    return transactionToJson(tx);
  }
  fromJson(value: unknown, path: string): Transaction {
    return transactionFromJson(value, path);
  }
  sender(tx: Transaction): Uint8Array {
    return tx.from;
  }
  sequence(tx: Transaction): bigint {
    return tx.nonce;
  }
  /** A transfer spends its amount from the sender's balance. */
  spend(tx: Transaction): bigint {
    return tx.amount;
  }

  /** The account's next nonce and its balance under `root` (0 and 0 for an account never credited). */
  async senderState(root: Hash, sender: Uint8Array): Promise<SenderState> {
    const account = await this.account(root, sender);
    return { next: account?.nonce ?? 0n, budget: account?.balance ?? 0n };
  }

  /** Ingress: the signature must verify for this chain and the nonce must not be used already. */
  async admit(state: { root: Hash; height: number }, tx: Transaction): Promise<Admission> {
    if (!ed25519Verify(tx.signature, txSigningBytes(this.chainId, tx), tx.from))
      return {
        ok: false,
        code: 'BAD_SIGNATURE',
        message: 'signature: signature does not verify for this chain (ed25519 by `from` over the AFG-TX-V1 signing bytes)',
      };
    const next = (await this.account(state.root, tx.from))?.nonce ?? 0n;
    if (tx.nonce < next)
      return {
        ok: false,
        code: 'STALE_NONCE',
        message: `nonce: ${tx.nonce} is stale; the account's next nonce at finalized height ${state.height} is ${next}`,
      };
    return { ok: true };
  }

  /** The state route: an account (balance and nonce, 0 when never credited) with its proof. */
  async read(root: Hash, publicKey: Uint8Array): Promise<StateRead> {
    const { account, proof } = await this.proveAccount(root, publicKey);
    return {
      fields: { account: toHex(publicKey), balance: (account?.balance ?? 0n).toString(), nonce: (account?.nonce ?? 0n).toString() },
      proof,
    };
  }

  /** The account under `root`, or undefined if it was never credited (reads as balance 0, nonce 0). */
  async account(root: Hash, account: Uint8Array): Promise<Account | undefined> {
    const bytes = await this.tree.get(root, accountKey(account));
    return bytes && decodeAccount(bytes);
  }

  /** The account (if stored) with an inclusion or absence proof for its tree key under `root`. */
  async proveAccount(root: Hash, account: Uint8Array): Promise<{ account?: Account; proof: SmtProof }> {
    const { value, proof } = await this.tree.prove(root, accountKey(account));
    return value ? { account: decodeAccount(value), proof } : { proof };
  }

  /** Shape and signature checks; never throws, whatever `tx` holds. */
  checkStateless(tx: Transaction): Outcome {
    if (typeof tx !== 'object' || tx === null) return reject('MALFORMED', 'transaction: expected an object');
    for (const [field, length] of [
      ['from', 32],
      ['to', 32],
      ['signature', 64],
    ] as const) {
      const v: unknown = tx[field];
      if (!(v instanceof Uint8Array) || v.length !== length) return reject('MALFORMED', `${field}: expected ${length} bytes`);
    }
    if (!isU64(tx.amount)) return reject('MALFORMED', 'amount: expected a u64 bigint');
    if (!isU64(tx.nonce)) return reject('MALFORMED', 'nonce: expected a u64 bigint');
    if (!ed25519Verify(tx.signature, txSigningBytes(this.chainId, tx), tx.from)) {
      return reject('BAD_SIGNATURE', 'signature does not verify for from over the transaction signing bytes');
    }
    return { ok: true };
  }

  /** Checks one transaction against the state at `root` without applying it. */
  async check(root: Hash, tx: Transaction): Promise<Outcome> {
    const stateless = this.checkStateless(tx);
    if (!stateless.ok) return stateless;
    const self = hexOf(tx.from) === hexOf(tx.to);
    const [from, to] = await Promise.all([this.account(root, tx.from), self ? undefined : this.account(root, tx.to)]);
    const result = transfer(tx, from ?? DEFAULT_ACCOUNT, to ?? DEFAULT_ACCOUNT, self);
    return result.ok ? { ok: true } : result;
  }

  /**
   * Applies `txs` in order on `root`, skipping and reporting invalid ones. Touched accounts are read once
   * (in parallel), updated in memory, and written as one batch tree update at the end.
   */
  async execute(root: Hash, txs: readonly Transaction[]): Promise<ExecutionResult<LedgerRejection>> {
    abytes(root, 32, 'root');
    const stateless = txs.map((tx) => this.checkStateless(tx));
    const accounts = new Map<string, Account>(); // hex public key -> current account
    const keys = new Map<string, Uint8Array>(); // hex public key -> public key
    txs.forEach((tx, i) => {
      if (!stateless[i]!.ok) return;
      keys.set(hexOf(tx.from), tx.from);
      keys.set(hexOf(tx.to), tx.to);
    });
    await Promise.all([...keys].map(async ([id, pk]) => accounts.set(id, (await this.account(root, pk)) ?? DEFAULT_ACCOUNT)));

    const rejected: { index: number; reason: LedgerRejection; message: string; retryable: boolean; sequenceUsed?: boolean }[] = [];
    const dirty = new Set<string>();
    let applied = 0;
    for (const [index, tx] of txs.entries()) {
      const pre = stateless[index]!;
      if (!pre.ok) {
        rejected.push({ index, reason: pre.reason, message: pre.message, retryable: false });
        continue;
      }
      const fromId = hexOf(tx.from);
      const toId = hexOf(tx.to);
      const result = transfer(tx, accounts.get(fromId)!, accounts.get(toId)!, fromId === toId);
      if (!result.ok) {
        // A nonce ahead of the sender's may become valid once the gap is filled: a pool keeps it.
        const next = accounts.get(fromId)!.nonce;
        const retryable = result.reason === 'BAD_NONCE' && tx.nonce > next;
        const sequenceUsed = result.reason === 'BAD_NONCE' && tx.nonce < next;
        rejected.push({ index, reason: result.reason, message: result.message, retryable, ...(sequenceUsed ? { sequenceUsed } : {}) });
        continue;
      }
      accounts.set(fromId, result.from);
      accounts.set(toId, result.to);
      dirty.add(fromId).add(toId);
      applied++;
    }

    const changes: SmtChange[] = [...dirty].map((id) => {
      const a = accounts.get(id)!;
      return { key: accountKey(keys.get(id)!), value: isDefault(a) ? undefined : encodeAccount(a) };
    });
    const { root: post, written } = await this.tree.update(root, changes);
    return { root: post, applied, rejected, written };
  }
}

const withAccounts = new Map<number, readonly GenesisAccount[]>();

/**
 * The genesis of a chain started with `accounts` funded accounts (lib/core/accounts.ts) beyond the
 * ten dev accounts: the dev accounts first, then funded accounts 0..accounts-1. The same list for
 * the same count.
 */
export function genesisWithAccounts(accounts: number): readonly GenesisAccount[] {
  let list = withAccounts.get(accounts);
  if (!list) {
    list = [...devGenesis(), ...fundedAccounts(accounts)];
    withAccounts.set(accounts, list);
  }
  return list;
}

/** The transfer application on a genesis with `accounts` funded accounts beyond the dev accounts (0: the dev genesis). */
export function transferApplicationWith(accounts: number): typeof transferApplication {
  if (accounts === 0) return transferApplication;
  const genesis = genesisWithAccounts(accounts);
  return {
    ...transferApplication,
    create: (ctx: { chainId: Uint8Array; tree: SparseMerkleTree; genesis?: readonly GenesisAccount[] }) =>
      new TransferLedger({ ...ctx, genesis: ctx.genesis ?? genesis }),
  };
}

/** The transfer application (fixed contract): transactions, the account route and their schemas. */
export const transferApplication: ApplicationDefinition<Transaction> & {
  create(ctx: { chainId: Uint8Array; tree: SparseMerkleTree; genesis?: readonly GenesisAccount[] }): TransferLedger;
} = {
  name: 'transfer',
  codec: (chainId) => ({ hash: (tx) => txHash(chainId, tx), toJson: transactionToJson, fromJson: transactionFromJson }),
  create: (ctx) => new TransferLedger(ctx),
  transactionSchema: { $ref: '#/components/schemas/Transaction' },
  admissionCodes: ['BAD_SIGNATURE', 'STALE_NONCE'],
  stateRoute: {
    path: '/v1/accounts/{publicKeyHex}',
    operationId: 'getAccount',
    summary: 'Account at the latest finalized state, with proof and certificate (unknown accounts: balance 0 with an absence proof)',
    parameter: { name: 'publicKeyHex', minBytes: 32, maxBytes: 32, description: 'ed25519 public key' },
    answerSchema: { $ref: '#/components/schemas/Account' },
  },
};
