import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start their own DynamoDB Local and SQS emulator; keep the 2-core machine responsive.
    maxWorkers: 2,
  },
});
