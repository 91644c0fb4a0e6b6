import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The fault-injection suite runs on its own: `npm run test:reliability` (vitest.reliability.config.ts).
    exclude: ["test/reliability/**", "**/node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real servers and child processes on 127.0.0.1; two cores, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
