import { defineConfig } from 'vitest/config';

// End-to-end specs drive Debian's Chromium through playwright-core against PRISM_URL.
// They share one browser per file and run one file at a time, because they change a
// user's settings and measure render times.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
