import { defineConfig } from "vitest/config";
import TimingReporter from "./test/support/timing-reporter.js";

/**
 * The suites that exercise the state store through the broker (every OSB endpoint, the engine,
 * Cloudify failures, the conformance walk). The `postgres` project runs them a second time with
 * the PostgreSQL store. Run once: suites about the file store's own files (journal, lock, export
 * of a directory), suites that never touch the state (templates, codegen, emulator, config,
 * catalog rendering), and the process-level crash suites, whose PostgreSQL counterparts are the
 * replica tests (kill -9 of the replica driving an operation) in test/replicas-*.test.ts.
 */
const STORE_SUITES = [
  "test/instances-provision.test.ts",
  "test/instances-update.test.ts",
  "test/instances-deprovision.test.ts",
  "test/instances-resilience.test.ts",
  "test/bindings-workflow.test.ts",
  "test/bindings-outputs.test.ts",
  "test/conformance-osb-checker.test.ts",
  "test/catalog-reload.test.ts",
  "test/engine-locking.test.ts",
  "test/metrics.test.ts",
  "test/orphans.test.ts",
];

export default defineConfig({
  test: {
    // The fault-injection suite runs on its own: `npm run test:reliability` (vitest.reliability.config.ts).
    exclude: ["test/reliability/**", "**/node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real servers and child processes on 127.0.0.1; two cores, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      { extends: true, test: { name: "file", include: ["test/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "postgres",
          include: STORE_SUITES,
          setupFiles: ["test/support/postgres-setup.ts"],
          env: { TEST_STATE_BACKEND: "postgres" },
        },
      },
    ],
    // Where the time goes, printed before the default reporter's summary (CI reads its last lines).
    reporters: [new TimingReporter(), "default"],
  },
});
