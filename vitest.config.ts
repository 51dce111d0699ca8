import { defineConfig } from 'vitest/config';

// Each suite is its own project: pure core tests in Node, Worker tests inside workerd,
// real-client tests against `wrangler dev`, and browser end-to-end tests.
export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'core', include: ['test/core/**/*.test.ts'], environment: 'node' },
      },
    ],
  },
});
