/**
 * Issue 10, defect 5: lost state must be loud. A directory that shows it held state (its marker,
 * a crashed broker's lock, a snapshot) but lost the files holding it is refused unless the
 * operator says otherwise; a torn tail's bytes are kept in a quarantine file named in the warning.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../src/log/logger.js";
import { startBrokerServer } from "../src/server/broker-server.js";
import { FileStateStore, StateMissingError } from "../src/state/index.js";
import { encodeRecord } from "../src/state/record.js";
import { packageRoot } from "../src/util/package-root.js";
import { capturingLogger, tempDir } from "./fixtures/state-helpers.js";
import { brokerEnv } from "./support/stack.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const files = (prefix: string) => readdirSync(dir).filter((n) => n.startsWith(prefix));

async function storeWith(records: number, options: { compact?: boolean } = {}): Promise<void> {
  const store = new FileStateStore({ dir });
  await store.open();
  for (let i = 0; i < records; i++)
    await store.commit([{ type: "put", collection: "instances", id: `i${i}`, value: { i } }]);
  if (options.compact) await store.compact();
  await store.close();
}

async function openError(options: { allowMissingData?: boolean } = {}): Promise<unknown> {
  const store = new FileStateStore({ dir, ...options });
  return store.open().then(
    async () => {
      await store.close();
      return undefined;
    },
    (e: unknown) => e,
  );
}

describe("missing state", () => {
  it("a fresh directory opens and gets its marker", async () => {
    expect(await openError()).toBeUndefined();
    expect(files("state-marker")).toEqual(["state-marker"]);
  });

  it("refuses a directory whose journal was deleted, naming it; --allow-missing-state opens it", async () => {
    await storeWith(7);
    for (const name of files("journal-")) rmSync(join(dir, name));
    const error = await openError();
    expect(error).toBeInstanceOf(StateMissingError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toMatch(/journal and snapshot are gone.*--allow-missing-state/);
    // Refusing changed nothing: refusing again gives the same answer.
    expect(await openError()).toBeInstanceOf(StateMissingError);
    expect(await openError({ allowMissingData: true })).toBeUndefined();
    expect(await openError()).toBeUndefined();
  });

  it("refuses when the journal went while a crashed broker's lock stayed (the reported case)", async () => {
    await storeWith(3);
    for (const name of files("journal-")) rmSync(join(dir, name));
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(
      join(dir, "lock"),
      `${JSON.stringify({ pid: dead, hostname: hostname(), acquiredAt: new Date().toISOString() })}\n`,
    );
    expect(await openError()).toBeInstanceOf(StateMissingError);
  });

  it("refuses a snapshot without the journal that follows it", async () => {
    await storeWith(5, { compact: true });
    expect(files("snapshot")).toEqual(["snapshot"]);
    for (const name of files("journal-")) rmSync(join(dir, name));
    expect(await openError()).toBeInstanceOf(StateMissingError);
  });

  it("the broker refuses to start on it, and starts with allowMissingState", async () => {
    await storeWith(2);
    for (const name of files("journal-")) rmSync(join(dir, name));
    const options = {
      configFile: join(packageRoot(), "broker.yaml"),
      env: brokerEnv("http://127.0.0.1:9", dir),
      logger: silentLogger,
    };
    await expect(startBrokerServer(options)).rejects.toBeInstanceOf(StateMissingError);
    const broker = await startBrokerServer({ ...options, allowMissingState: true });
    await broker.close();
  });
});

describe("torn tail quarantine", () => {
  it("keeps the cut bytes in a quarantine file named in the warning", async () => {
    await storeWith(3);
    const journal = join(dir, files("journal-")[0]!);
    const goodSize = statSync(journal).size;
    const record = encodeRecord(
      JSON.stringify({ seq: 4, changes: [{ op: "put", c: "instances", id: "x", v: 1 }] }),
    );
    const torn = record.subarray(0, record.length - 7);
    appendFileSync(journal, torn);
    const { logger, lines } = capturingLogger();
    const store = new FileStateStore({ dir, logger });
    await store.open();
    await store.close();
    expect(statSync(journal).size).toBe(goodSize);
    const [quarantine] = files("quarantine-");
    expect(quarantine).toBeDefined();
    expect(readFileSync(join(dir, quarantine!))).toEqual(Buffer.from(torn));
    const warning = lines().find((l) => l.level === "warn" && String(l.msg).includes("torn"));
    expect(warning?.quarantine).toBe(join(dir, quarantine!));
    expect(String(warning?.msg)).toContain(join(dir, quarantine!));
    // The quarantine file does not disturb later opens.
    expect(await openError()).toBeUndefined();
  });
});
