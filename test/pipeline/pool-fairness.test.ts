/**
 * Issue 14's starvation, reproduced: junk transactions (unfunded keys, far-future nonces, hashes
 * ground low so they sort first by hash as well as by arrival) fill the sequencer's pool read and
 * honest transfers that arrive later are never proposed. The pool must be fair: each sender in
 * sequence order, senders round-robin, never by hash.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { deal } from '../../lib/core/bls.js';
import { ascii, concatBytes, u64 } from '../../lib/core/bytes.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { signTransfer } from '../../lib/core/ledger.js';
import type { Transaction } from '../../lib/core/types.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];
const MAX_BLOCK = 10;

/** `count` transfers from unfunded keys with far-future nonces whose hashes start with a zero byte. */
function lowHashJunk(cluster: MemoryCluster, count: number): Transaction[] {
  const app = cluster.node(REGIONS[0]!).chain.app;
  const to = ed25519PublicKey(devSecretKey(0));
  const out: Transaction[] = [];
  for (let j = 0; out.length < count; j++) {
    const secretKey = sha256(concatBytes(ascii('afg-test-junk'), u64(j)));
    for (let nonce = 1_000_000n; ; nonce++) {
      const tx = signTransfer(cluster.set.chainId, secretKey, { to, amount: 1n, nonce });
      if (app.hash(tx)[0] === 0) {
        out.push(tx);
        break;
      }
    }
  }
  return out;
}

describe('the pool cannot be starved', () => {
  it('proposes honest transfers that arrive after a pool-full of low-hash junk', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 5, dealing: deal(4, 3), maxBlockTransactions: MAX_BLOCK });
    for (const tx of lowHashJunk(cluster, 4 * MAX_BLOCK)) cluster.submit(tx);
    await cluster.run(); // the junk waits in the pool: its nonces are far ahead (retryable)
    const honest = [1, 2, 3].map((i) =>
      signTransfer(cluster.set.chainId, devSecretKey(i), { to: ed25519PublicKey(devSecretKey(0)), amount: 5n, nonce: 0n }),
    );
    for (const tx of honest) cluster.submit(tx);
    await cluster.run(5_000);
    for (const region of REGIONS)
      for (const i of [1, 2, 3]) {
        const account = await cluster.node(region).query.state(ed25519PublicKey(devSecretKey(i)));
        expect(account.nonce, `dev account ${i} in ${region}`).toBe('1');
      }
  }, 60_000);
});
