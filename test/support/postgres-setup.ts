/**
 * Setup file of the `postgres` vitest project: each test file gets a fresh database, created
 * here and dropped after the file. Every broker the file starts then keeps its state in its own
 * schema of that database (see `stateBackendEnv` in stack.ts), so brokers stay as isolated as
 * with their own state directories, and a restart on the same directory finds its state again.
 */
import { afterAll, beforeAll } from "vitest";
import { createTestDatabase, type TestDatabase } from "./postgres.js";

let db: TestDatabase | undefined;

beforeAll(async () => {
  db = await createTestDatabase("cfy_suite");
  process.env.TEST_PG_URL = db.url;
});

afterAll(async () => {
  await db?.drop();
});
