import { defineConfig } from 'vitest/config';

// The app calls the API with relative paths (same origin). For `npm run dev`, set
// PRISM_API to a running back end (for example http://127.0.0.1:8080) to proxy to it.
const apiTarget = process.env.PRISM_API;

export default defineConfig({
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: true,
  },
  server: apiTarget
    ? {
        proxy: {
          '/api': apiTarget,
          '/stream': { target: apiTarget, changeOrigin: false },
        },
      }
    : undefined,
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
