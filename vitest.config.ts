import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // The default report, then one plain closing line "N passed, N failed, N skipped" for CI.
    reporters: ['default', './test/support/totals-reporter.ts'],
    // Each file gets its own database and bucket, so files run in parallel.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
