import { defineConfig } from "vitest/config";

/**
 * The reliability suite (test/reliability/): fault injection with real processes, a real tmpfs
 * (needs root), Cloudify outages and property-based fuzzing. `npm run test:reliability`; CI runs it
 * after the main suite. Each scenario bounds its own time; the whole suite stays under 10 minutes.
 */
export default defineConfig({
  test: {
    include: ["test/reliability/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // Scenarios measure recovery under load they create themselves: one at a time.
    maxWorkers: 1,
    fileParallelism: false,
  },
});
