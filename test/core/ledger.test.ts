import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accountSecretKey, fundedAccounts } from '../../lib/core/accounts.js';
import { fromHex, toHex, U64_MAX } from '../../lib/core/bytes.js';
import { devSecretKey, LOCAL_CHAIN_ID } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import {
  accountKey,
  decodeAccount,
  devGenesis,
  encodeAccount,
  genesisWithAccounts,
  type LedgerRejection,
  signTransfer,
  TransferLedger,
} from '../../lib/core/ledger.js';
import { decodeProof, EMPTY_ROOT, encodeProof, MemoryNodeStore, SparseMerkleTree, verifyProof } from '../../lib/core/smt.js';
import type { Transaction } from '../../lib/core/types.js';
import { contract } from '../helpers/vectors.js';

const v = contract();
const SK = Array.from({ length: 10 }, (_, i) => devSecretKey(i));
const PK = SK.map((sk) => ed25519PublicKey(sk));
const newLedger = (genesis?: { account: Uint8Array; balance: bigint }[]) =>
  new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(new MemoryNodeStore()), ...(genesis ? { genesis } : {}) });
const send = (from: number, to: Uint8Array, amount: bigint, nonce: bigint) =>
  signTransfer(LOCAL_CHAIN_ID, SK[from]!, { to, amount, nonce });

async function setup() {
  const ledger = newLedger();
  return { ledger, root: await ledger.genesis() };
}

describe('account codec', () => {
  it('is balance u64 || nonce u64, 16 bytes, and round-trips', () => {
    expect(toHex(encodeAccount({ balance: 258n, nonce: 1n }))).toBe('0000000000000102' + '0000000000000001');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: 0n, max: U64_MAX }), (balance, nonce) => {
        expect(decodeAccount(encodeAccount({ balance, nonce }))).toEqual({ balance, nonce });
      }),
    );
    expect(() => encodeAccount({ balance: U64_MAX + 1n, nonce: 0n })).toThrow(/account\.balance/);
    expect(() => decodeAccount(new Uint8Array(15))).toThrow(/account: expected 16 bytes/);
  });

  it('the tree key of an account is sha256(public key)', () => {
    expect(toHex(accountKey(PK[0]!))).toBe(toHex(sha256(PK[0]!)));
    expect(() => accountKey(new Uint8Array(31))).toThrow(/publicKey/);
  });
});

describe('genesis', () => {
  it('holds the ten dev accounts from the contract vectors with 1_000_000_000 each, nonce 0', async () => {
    const { ledger, root } = await setup();
    expect(devGenesis().map((g) => toHex(g.account))).toEqual(v.devAccounts.map((a: { publicKey: string }) => a.publicKey));
    for (const a of v.devAccounts) {
      expect(await ledger.account(root, fromHex(a.publicKey, 32, 'pk'))).toEqual({ balance: BigInt(a.genesisBalance), nonce: 0n });
    }
    expect(await ledger.account(root, new Uint8Array(32).fill(7))).toBeUndefined();
  });

  it('is deterministic across stores and independent of genesis order', async () => {
    const a = await newLedger().genesis();
    const b = await newLedger([...devGenesis()].reverse()).genesis();
    expect(toHex(b)).toBe(toHex(a));
  });

  it('refuses duplicate or malformed genesis entries, naming the field', () => {
    const g = devGenesis();
    expect(() => newLedger([g[0]!, g[0]!])).toThrow(/genesis\[1\]\.account: duplicate/);
    expect(() => newLedger([{ account: new Uint8Array(3), balance: 1n }])).toThrow(/genesis\[0\]\.account/);
    expect(() => newLedger([{ account: PK[0]!, balance: -1n }])).toThrow(/genesis\[0\]\.balance/);
  });
});

describe('transfers', () => {
  it('applies the contract transfer vector (dev 0 -> dev 1, 12345, nonce 0)', async () => {
    const { ledger, root } = await setup();
    const tx: Transaction = {
      from: fromHex(v.transaction.from, 32, 'from'),
      to: fromHex(v.transaction.to, 32, 'to'),
      amount: BigInt(v.transaction.amount),
      nonce: BigInt(v.transaction.nonce),
      signature: fromHex(v.transaction.signature, 64, 'signature'),
    };
    expect(toHex(send(0, tx.to, tx.amount, tx.nonce).signature)).toBe(v.transaction.signature); // ed25519 is deterministic
    expect(await ledger.check(root, tx)).toEqual({ ok: true });
    const out = await ledger.execute(root, [tx]);
    expect(out).toMatchObject({ applied: 1, rejected: [] });
    expect(out.written).toBeGreaterThan(0);
    expect(await ledger.account(out.root, tx.from)).toEqual({ balance: 1_000_000_000n - 12345n, nonce: 1n });
    expect(await ledger.account(out.root, tx.to)).toEqual({ balance: 1_000_000_000n + 12345n, nonce: 0n });
    // The parent state is untouched.
    expect(await ledger.account(root, tx.from)).toEqual({ balance: 1_000_000_000n, nonce: 0n });
  });

  const cases: {
    name: string;
    reason: LedgerRejection;
    tx: () => Transaction;
    genesis?: () => { account: Uint8Array; balance: bigint }[];
  }[] = [
    {
      name: 'a bad signature',
      reason: 'BAD_SIGNATURE',
      tx: () => {
        const t = send(0, PK[1]!, 5n, 0n);
        const sig = t.signature.slice();
        sig[0]! ^= 1;
        return { ...t, signature: sig };
      },
    },
    { name: 'a signature for another amount', reason: 'BAD_SIGNATURE', tx: () => ({ ...send(0, PK[1]!, 5n, 0n), amount: 6n }) },
    {
      name: 'a signature over another chain id',
      reason: 'BAD_SIGNATURE',
      tx: () => signTransfer(new Uint8Array(32), SK[0]!, { to: PK[1]!, amount: 5n, nonce: 0n }),
    },
    { name: 'a future nonce', reason: 'BAD_NONCE', tx: () => send(0, PK[1]!, 5n, 1n) },
    { name: 'an overdraft', reason: 'INSUFFICIENT_BALANCE', tx: () => send(0, PK[1]!, 1_000_000_001n, 0n) },
    { name: 'a short from', reason: 'MALFORMED', tx: () => ({ ...send(0, PK[1]!, 5n, 0n), from: new Uint8Array(31) }) },
    { name: 'an amount beyond u64', reason: 'MALFORMED', tx: () => ({ ...send(0, PK[1]!, 5n, 0n), amount: U64_MAX + 1n }) },
    {
      name: "a credit that would overflow the recipient's u64 balance",
      reason: 'BALANCE_OVERFLOW',
      tx: () => send(0, PK[1]!, 11n, 0n),
      genesis: () => [
        { account: PK[0]!, balance: 100n },
        { account: PK[1]!, balance: U64_MAX - 10n },
      ],
    },
  ];

  for (const c of cases) {
    it(`rejects ${c.name} (${c.reason}) without applying it, and applies the valid block around it`, async () => {
      const ledger = newLedger(c.genesis?.());
      const root = await ledger.genesis();
      const bad = c.tx();
      const check = await ledger.check(root, bad);
      expect(check).toMatchObject({ ok: false, reason: c.reason });
      // Alone: nothing applied, state unchanged, nothing written.
      const alone = await ledger.execute(root, [bad]);
      expect(alone).toMatchObject({ applied: 0, written: 0, rejected: [{ index: 0, reason: c.reason }] });
      expect(toHex(alone.root)).toBe(toHex(root));
      // Between two valid transfers from dev 2 (zero amounts when this genesis does not fund it): only it is skipped.
      const funded = (c.genesis?.() ?? devGenesis()).some((g) => toHex(g.account) === toHex(PK[2]!));
      const amount = funded ? 1n : 0n;
      const good = [send(2, PK[3]!, amount, 0n), send(2, PK[3]!, amount, 1n)];
      const mixed = await ledger.execute(root, [good[0]!, bad, good[1]!]);
      expect(mixed.applied).toBe(2);
      expect(mixed.rejected).toMatchObject([{ index: 1, reason: c.reason }]);
      expect(toHex(mixed.root)).toBe(toHex((await ledger.execute(root, good)).root));
    });
  }

  it('rejects a stale nonce (a replay) after the transfer applied', async () => {
    const { ledger, root } = await setup();
    const tx = send(0, PK[1]!, 5n, 0n);
    const first = await ledger.execute(root, [tx]);
    expect(first.applied).toBe(1);
    const replay = await ledger.execute(first.root, [tx]);
    expect(replay.rejected).toMatchObject([{ index: 0, reason: 'BAD_NONCE' }]);
    expect(replay.rejected[0]!.message).toMatch(/stale nonce 0.*next nonce is 1/);
    expect(toHex(replay.root)).toBe(toHex(first.root));
    // The same transfer twice in one block: the second is stale.
    const twice = await ledger.execute(root, [tx, tx]);
    expect(twice).toMatchObject({ applied: 1, rejected: [{ index: 1, reason: 'BAD_NONCE' }] });
  });

  it('applies transfers within a block sequentially: nonces chain and balances carry over', async () => {
    const { ledger, root } = await setup();
    const fresh = new Uint8Array(32).fill(9);
    const out = await ledger.execute(root, [
      send(0, fresh, 600_000_000n, 0n),
      send(0, PK[1]!, 500_000_000n, 1n), // overdraft after the first
      send(0, PK[1]!, 400_000_000n, 1n),
    ]);
    expect(out).toMatchObject({ applied: 2, rejected: [{ index: 1, reason: 'INSUFFICIENT_BALANCE' }] });
    expect(await ledger.account(out.root, PK[0]!)).toEqual({ balance: 0n, nonce: 2n });
    expect(await ledger.account(out.root, fresh)).toEqual({ balance: 600_000_000n, nonce: 0n });
  });

  it('accepts a zero amount (advances the nonce) and a self-transfer (balance unchanged); stores no default account', async () => {
    const { ledger, root } = await setup();
    const nobody = new Uint8Array(32).fill(3);
    const out = await ledger.execute(root, [send(0, nobody, 0n, 0n), send(0, PK[0]!, 1_000_000_000n, 1n)]);
    expect(out.applied).toBe(2);
    expect(await ledger.account(out.root, PK[0]!)).toEqual({ balance: 1_000_000_000n, nonce: 2n });
    expect(await ledger.account(out.root, nobody)).toBeUndefined();
    expect((await ledger.execute(root, [send(0, PK[0]!, 1_000_000_001n, 0n)])).rejected[0]?.reason).toBe('INSUFFICIENT_BALANCE');
  });

  it('never throws on a malformed transaction object from a Byzantine sequencer', async () => {
    const { ledger, root } = await setup();
    const junk = [null, {}, { from: 'x', to: 'y', amount: 1, nonce: 0, signature: 'z' }] as unknown as Transaction[];
    const out = await ledger.execute(root, [...junk, send(0, PK[1]!, 1n, 0n)]);
    expect(out.applied).toBe(1);
    expect(out.rejected.map((r) => r.reason)).toEqual(['MALFORMED', 'MALFORMED', 'MALFORMED']);
  });
});

describe('proofs and determinism', () => {
  it('proveAccount gives proofs a store-less verifier accepts, for present and absent accounts', async () => {
    const { ledger, root } = await setup();
    const { root: next } = await ledger.execute(root, [send(0, PK[1]!, 7n, 0n)]);
    const present = await ledger.proveAccount(next, PK[1]!);
    expect(present.account).toEqual({ balance: 1_000_000_007n, nonce: 0n });
    const wire = JSON.parse(JSON.stringify(encodeProof(present.proof)));
    expect(verifyProof(next, accountKey(PK[1]!), encodeAccount(present.account!), decodeProof(wire))).toBe(true);
    expect(verifyProof(next, accountKey(PK[1]!), encodeAccount({ balance: 1_000_000_008n, nonce: 0n }), present.proof)).toBe(false);
    expect(verifyProof(root, accountKey(PK[1]!), encodeAccount(present.account!), present.proof)).toBe(false); // other state
    const stranger = new Uint8Array(32).fill(1);
    const absent = await ledger.proveAccount(next, stranger);
    expect(absent.account).toBeUndefined();
    expect(verifyProof(next, accountKey(stranger), undefined, absent.proof)).toBe(true);
    expect(verifyProof(next, accountKey(stranger), encodeAccount({ balance: 0n, nonce: 0n }), absent.proof)).toBe(false);
  });

  // Random transfers among the dev accounts and two outsiders, some invalid on purpose.
  const OUTSIDERS = [new Uint8Array(32).fill(0xaa), new Uint8Array(32).fill(0xbb)];
  const transfers = fc.array(
    fc.record({
      from: fc.nat({ max: 4 }),
      to: fc.nat({ max: 5 }),
      amount: fc.oneof(fc.bigInt({ min: 0n, max: 2_000_000n }), fc.bigInt({ min: 900_000_000n, max: 1_500_000_000n })),
      nonceSkew: fc.constantFrom(0n, 0n, 0n, 0n, 1n, -1n),
    }),
    { maxLength: 25 },
  );
  const blocks = fc.array(transfers, { minLength: 1, maxLength: 4 });

  /** Signs each block against a nonce model, so most transfers are valid and some are off by one. */
  function sign(bs: { from: number; to: number; amount: bigint; nonceSkew: bigint }[][]): Transaction[][] {
    const nonces = new Map<number, bigint>();
    return bs.map((b) =>
      b.map((t) => {
        const next = nonces.get(t.from) ?? 0n;
        const nonce = next + t.nonceSkew < 0n ? next + 1n : next + t.nonceSkew;
        if (nonce === next) nonces.set(t.from, next + 1n); // may still fail on balance: the model below decides
        const to = t.to < 4 ? PK[t.to]! : OUTSIDERS[t.to - 4]!;
        return send(t.from, to, t.amount, nonce);
      }),
    );
  }

  it('valid transfers conserve total supply and match a simple model; replay gives the same roots', async () => {
    await fc.assert(
      fc.asyncProperty(blocks, async (bs) => {
        const signed = sign(bs);
        const holders = [...PK, ...OUTSIDERS];
        const { ledger, root: genesis } = await setup();
        const model = new Map<string, { balance: bigint; nonce: bigint }>(
          PK.map((pk) => [toHex(pk), { balance: 1_000_000_000n, nonce: 0n }]),
        );
        const roots: string[] = [];
        let root = genesis;
        for (const block of signed) {
          const out = await ledger.execute(root, block);
          let applied = 0;
          for (const tx of block) {
            const f = model.get(toHex(tx.from)) ?? { balance: 0n, nonce: 0n };
            if (tx.nonce !== f.nonce || f.balance < tx.amount) continue;
            model.set(toHex(tx.from), { balance: f.balance - tx.amount, nonce: f.nonce + 1n });
            const t = model.get(toHex(tx.to)) ?? { balance: 0n, nonce: 0n };
            model.set(toHex(tx.to), { ...t, balance: t.balance + tx.amount });
            applied++;
          }
          expect(out.applied).toBe(applied);
          expect(out.applied + out.rejected.length).toBe(block.length);
          root = out.root;
          roots.push(toHex(root));
          let supply = 0n;
          for (const pk of holders) {
            const a = (await ledger.account(root, pk)) ?? { balance: 0n, nonce: 0n };
            const m = model.get(toHex(pk)) ?? { balance: 0n, nonce: 0n };
            expect(a).toEqual(m);
            supply += a.balance;
          }
          expect(supply).toBe(10_000_000_000n);
        }
        // Another validator with its own store replays the blocks and reaches the same roots.
        const other = newLedger();
        let r = await other.genesis();
        for (const [i, block] of signed.entries()) {
          r = (await other.execute(r, block)).root;
          expect(toHex(r)).toBe(roots[i]);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('executing a block twice on the same parent (a retry) gives the same root', async () => {
    const { ledger, root } = await setup();
    const block = [send(0, PK[1]!, 3n, 0n), send(1, PK[2]!, 4n, 0n), send(0, PK[2]!, 5n, 1n)];
    const a = await ledger.execute(root, block);
    const b = await ledger.execute(root, block);
    expect(toHex(b.root)).toBe(toHex(a.root));
    expect(toHex(a.root)).not.toBe(toHex(root));
    expect(toHex((await ledger.execute(root, [])).root)).toBe(toHex(root));
    expect(toHex(EMPTY_ROOT)).not.toBe(toHex(root));
  });
});

describe('a genesis with many funded accounts (npm start -- --accounts N)', () => {
  it('derives funded account i from sha256("afg-account-" + i), each with the dev balance, after the dev accounts', () => {
    const funded = fundedAccounts(3);
    expect(funded.map((a) => toHex(a.account))).toEqual([0, 1, 2].map((i) => toHex(ed25519PublicKey(accountSecretKey(i)))));
    expect(toHex(accountSecretKey(7))).toBe(toHex(sha256(new TextEncoder().encode('afg-account-7'))));
    expect(funded.every((a) => a.balance === 1_000_000_000n)).toBe(true);
    expect(fundedAccounts(3)).toBe(funded); // the same list: it identifies the genesis in caches
    const genesis = genesisWithAccounts(3);
    expect(genesis.map((g) => toHex(g.account))).toEqual([...PK, ...funded.map((a) => a.account)].map(toHex));
  });

  it('builds a large genesis once, writes it root last, and leaves a store that holds its root alone', async () => {
    const genesis = genesisWithAccounts(1_500);
    // The same state as applying every account through the tree directly.
    const direct = await new SparseMerkleTree(new MemoryNodeStore()).update(
      EMPTY_ROOT,
      genesis.map((g) => ({ key: accountKey(g.account), value: encodeAccount({ balance: g.balance, nonce: 0n }) })),
    );
    const writes: { hash: Uint8Array }[][] = [];
    const inner = new MemoryNodeStore();
    const store = {
      get: (h: Uint8Array) => inner.get(h),
      putMany: async (nodes: { hash: Uint8Array; bytes: Uint8Array }[]) => {
        writes.push(nodes);
        await inner.putMany(nodes);
      },
    };
    const ledger = () => new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(store), genesis });
    const root = await ledger().genesis();
    expect(toHex(root)).toBe(toHex(direct.root));
    expect(toHex(writes.at(-1)![0]!.hash)).toBe(toHex(root)); // the root alone, last
    expect(inner.size).toBe(direct.written);
    const before = writes.length;
    expect(toHex(await ledger().genesis())).toBe(toHex(root)); // a restart: nothing rewritten
    expect(writes.length).toBe(before);
    const account = await ledger().account(root, genesis[1_400]!.account);
    expect(account).toEqual({ balance: 1_000_000_000n, nonce: 0n });
  });

  it('builds a genesis whose tree has more nodes than a call may take arguments (~10^5)', async () => {
    // 80,000 accounts make ~190,000 tree nodes, written by one putMany. Plain 32-byte accounts: no keys to derive.
    const genesis = Array.from({ length: 80_000 }, (_, i) => ({ account: sha256(new TextEncoder().encode(`big-${i}`)), balance: 5n }));
    const store = new MemoryNodeStore();
    const root = await new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(store), genesis }).genesis();
    expect(store.size).toBeGreaterThan(150_000);
    const reader = new TransferLedger({ chainId: LOCAL_CHAIN_ID, tree: new SparseMerkleTree(store), genesis });
    expect(await reader.account(root, genesis[79_999]!.account)).toEqual({ balance: 5n, nonce: 0n });
  }, 60_000);
});
