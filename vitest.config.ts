import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start real servers (nats-server, nginx, chromium); two cores here.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
})
