import { defineConfig } from "vitest/config";
import TimingReporter from "./test/support/timing-reporter.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real servers and child processes on 127.0.0.1; two cores, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
    // Where the time goes, printed before the default reporter's summary (CI reads its last lines).
    reporters: [new TimingReporter(), "default"],
  },
});
