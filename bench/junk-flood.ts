/**
 * Junk flood against a running cluster (issue 14's target: junk never starves honest transfers):
 *
 *   npx tsx bench/junk-flood.ts --api http://127.0.0.1:3000[,http://127.0.0.1:3001...] [--count 2000] [--concurrency 32]
 *
 * Posts `count` signed transfers that can never be included, round-robin over the APIs, and prints
 * one JSON line: the answers by status and error code, and how long the flood took. Half are from
 * unfunded keys at nonce 0 (refused: INSUFFICIENT_BALANCE), half from unfunded keys with far-future
 * nonces (refused: NONCE_TOO_FAR), the kind that used to sit in the pool forever and starve it.
 * Any 202 is a junk transfer the pool accepted, and is counted as such. Run it while
 * `npm start -- --load N` measures the honest transfers' latency (see docs/api.md "Admission").
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii, fromHex } from '../lib/core/bytes.js';
import { signTransfer } from '../lib/core/ledger.js';
import { transactionToJson } from '../lib/core/wire.js';
import { parseFlags, positive } from './e2e.js';

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { api: '', count: '2000', concurrency: '32' });
  const urls = (flags.api ?? '').split(',').filter((u) => u !== '');
  if (urls.length === 0) throw new Error('--api: expected one or more API base URLs, comma-separated');
  const count = positive(flags.count ?? '', 'count');
  const concurrency = positive(flags.concurrency ?? '', 'concurrency');
  const validators = (await (await fetch(`${urls[0]}/v1/validators`)).json()) as { chainId: string };
  const chainId = fromHex(validators.chainId, 32, 'chainId');
  const answers: Record<string, number> = {};
  const startedAt = performance.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const key = sha256(ascii(`afg-junk-${i}`)); // never funded
      const nonce = i % 2 === 0 ? 0n : 1_000_000n + BigInt(i);
      const tx = signTransfer(chainId, key, { to: sha256(ascii('afg-junk-sink')), amount: 1n, nonce });
      const res = await fetch(`${urls[i % urls.length]}/v1/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(transactionToJson(tx)),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (!res) {
        answers['NO_ANSWER (10 s)'] = (answers['NO_ANSWER (10 s)'] ?? 0) + 1;
        continue;
      }
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
      const label = `${res.status} ${body.error?.code ?? (res.status === 202 ? 'ACCEPTED' : '')}`.trim();
      answers[label] = (answers[label] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (performance.now() - startedAt) / 1000;
  console.log(JSON.stringify({ junk: { count, seconds: Math.round(seconds * 100) / 100, answers } }));
}

main().catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(2);
});
