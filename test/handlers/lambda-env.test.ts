/** The Lambda wiring's reading of AFG_STATE_WRITER: which functions may write state-tree nodes. */
import { afterEach, describe, expect, it } from 'vitest';
import { writesStateFromEnv } from '../../lib/handlers/lambda-env.js';

describe('writesStateFromEnv (AFG_STATE_WRITER)', () => {
  const saved = process.env.AFG_STATE_WRITER;
  afterEach(() => {
    if (saved === undefined) delete process.env.AFG_STATE_WRITER;
    else process.env.AFG_STATE_WRITER = saved;
  });

  it('is false unless the CDK app set it to true (unset, empty or false)', () => {
    delete process.env.AFG_STATE_WRITER;
    expect(writesStateFromEnv()).toBe(false);
    for (const value of ['', 'false']) {
      process.env.AFG_STATE_WRITER = value;
      expect(writesStateFromEnv()).toBe(false);
    }
    process.env.AFG_STATE_WRITER = 'true';
    expect(writesStateFromEnv()).toBe(true);
  });

  it('refuses any other value, naming the variable', () => {
    process.env.AFG_STATE_WRITER = 'yes';
    expect(() => writesStateFromEnv()).toThrow(/AFG_STATE_WRITER.*expected true or false, got "yes"/);
  });
});
