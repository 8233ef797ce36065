/** The benchmarks' flag validation (bench/e2e.ts, shared by bench/cost.ts): bad values are refused naming the flag. */
import { describe, expect, it } from 'vitest';
import { accountCount, positive } from '../../bench/e2e.js';
import { MAX_GENESIS_ACCOUNTS } from '../../lib/core/accounts.js';

describe('bench --accounts', () => {
  it('takes an integer from 0 (dev accounts only) up to the genesis maximum', () => {
    expect(accountCount('0')).toBe(0);
    expect(accountCount('100000')).toBe(100_000);
    expect(accountCount(String(MAX_GENESIS_ACCOUNTS))).toBe(MAX_GENESIS_ACCOUNTS);
  });

  it.each(['-1', '1.5', '1e5', 'many', '', String(MAX_GENESIS_ACCOUNTS + 1)])('refuses %j naming the flag', (value) => {
    expect(() => accountCount(value)).toThrow(/^--accounts: expected an integer in 0\.\.1000000/);
  });

  it('positive() names its flag too', () => {
    expect(() => positive('0', 'rate')).toThrow(/^--rate: expected a positive number/);
  });
});
