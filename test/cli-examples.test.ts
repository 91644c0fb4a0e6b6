/**
 * Plan examples: `validate` checks them statically, `cfy-broker examples` runs them end to end
 * (the real CLI as a child process, its in-process broker talking HTTP to the emulator) and
 * leaves nothing behind in Cloudify, also when an example fails or Ctrl-C interrupts it.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { BIN, example, positionOf, ROOT, runCli, tempDir, writeConfig } from "./fixtures/configs/helpers.js";
import { raw } from "./support/emulator.js";
import { FAST_TIMINGS } from "./support/stack.js";

let emulator: EmulatorHandle;
let dir: string;

beforeAll(async () => {
  emulator = await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger });
  dir = await tempDir("cli-examples-");
});
afterAll(async () => {
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

const env = (cloudifyUrl: string) => ({
  BROKER_USERNAME: "platform",
  BROKER_PASSWORD: "examples-platform-password",
  BROKER_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  BROKER_POLL_INTERVAL_MS: "50",
  CLOUDIFY_URL: cloudifyUrl,
  LOG_LEVEL: "silent",
});

async function deploymentsOf(handle: EmulatorHandle): Promise<string[]> {
  const listed = (await raw(handle, "GET", "/api/v3.1/deployments?_include=id")).json();
  return listed.items.map((d: { id: string }) => d.id);
}

describe("cfy-broker validate checks plan examples", { timeout: 90_000 }, () => {
  it("refuses parameters the plan's schemas refuse, unknown credential keys and duplicate names, at their position", async () => {
    const text = example(
      [
        "parameters: { db_name: orders, extensions: [pg_trgm] }",
        "parameters: { db_name: Orders, extensions: [pg_trgm] }",
      ],
      ["bind_parameters: { privileges: readonly }", "bind_parameters: { privileges: admin }"],
      ["credentials: [host, port, database, username, password, uri]", "credentials: [host, hostname]"],
      [
        "          - name: sessions\n",
        "          - name: sessions\n            update_parameters: { tls: 1 }\n",
      ],
      ["          - name: queue-cache\n", "          - name: queue-cache\n          - name: queue-cache\n"],
    );
    const file = await writeConfig(dir, text, "bad-examples.yaml");
    const result = await runCli(["validate", file]);
    expect(result.code).toBe(1);
    const at = (needle: string, shift = 0) => {
      const p = positionOf(text, needle, shift);
      return `${file}:${p.line}:${p.column}: error: `;
    };
    expect(result.stderr).toContain(
      `${at("Orders, ext")}example "orders-db": provision parameters.db_name: must match pattern`,
    );
    expect(result.stderr).toContain(
      `${at("admin }")}example "orders-db": bind parameters.privileges: must be one of "readonly", "readwrite"`,
    );
    expect(result.stderr).toContain(
      `${at("hostname]")}example "orders-db": the plan's credentials never contain "hostname"`,
    );
    expect(result.stderr).toContain(`example "sessions": update parameters.tls: must be boolean`);
    expect(result.stderr).toMatch(/example "queue-cache": another example of this plan has this name/);
  });

  it("a from_blueprint plan's example may not set an input the plan fixes", async () => {
    const text = example([
      'parameters: { db_name: analytics, pg_version: "17" }',
      "parameters: { db_name: analytics, cpu: 2 }",
    ]);
    const result = await runCli(["validate", await writeConfig(dir, text, "fixed.yaml")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /example "analytics-db": provision parameters\.cpu: is not an accepted parameter/,
    );
  });
});

describe("cfy-broker validate: parameters no request can carry", { timeout: 90_000 }, () => {
  it("a template of a from_blueprint plan reading a parameter the plan fixes is an error at the template", async () => {
    const text = example([
      "          backup_retention_days: 35\n          high_availability: true\n",
      '          backup_retention_days: 35\n          high_availability: true\n          db_name: fixed\n          jdbc: "{{parameters.db_name}}"\n',
    ]);
    const file = await writeConfig(dir, text, "fixed-param.yaml");
    const result = await runCli(["validate", file]);
    expect(result.code).toBe(1);
    const p = positionOf(text, 'jdbc: "{{parameters.db_name}}"', 'jdbc: "{{'.length);
    expect(result.stderr).toContain(
      `${file}:${p.line}:${p.column}: error: template reads parameters.db_name, which the plan's parameter schemas and defaults do not define (a schema derived from the blueprint never offers an input the plan fixes or excludes)`,
    );
  });
});

describe("cfy-broker examples", { timeout: 180_000 }, () => {
  it("runs every example of the example broker.yaml against the emulator and leaves nothing behind", async () => {
    const result = await runCli(["examples"], { env: env(emulator.url) });
    expect(result.stderr).not.toMatch(/FAILED/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^EXAMPLE +RESULT +SECONDS +DETAIL$/m);
    for (const name of [
      "postgresql/small/orders-db",
      "postgresql/large/analytics-db",
      "redis/cache-small/sessions",
      "redis/cache-large/queue-cache",
    ])
      expect(result.stdout).toMatch(new RegExp(`^${name} +passed `, "m"));
    expect(result.stdout).toContain("4/4 examples passed");
    // Not a terminal: one progress line per step, for CI logs.
    expect(result.stderr).toContain("postgresql/small/orders-db: update\n");
    expect(result.stderr).toContain("postgresql/small/orders-db: check credentials\n");
    expect(await deploymentsOf(emulator)).toEqual([]);
  });

  it("exit 1 with Cloudify's reason when an example fails, and its instance is removed", async () => {
    const file = await writeConfig(
      dir,
      example([
        'parameters: { db_name: analytics, pg_version: "17" }',
        'parameters: { db_name: analytics, pg_version: "9" }',
      ]),
      "failing.yaml",
    );
    const result = await runCli(["examples", "--config", file, "--plan", "large"], {
      env: env(emulator.url),
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^postgresql\/large\/analytics-db +FAILED +[\d.]+ +provision failed: .*pg_version/m,
    );
    expect(result.stdout).toContain("0/1 examples passed");
    expect(await deploymentsOf(emulator)).toEqual([]);
  });

  it("Ctrl-C (SIGINT) mid-provision cleans up what it created and exits 130", async () => {
    // A slow manager, so the interrupt lands while the install runs.
    const slow = await startEmulator({
      timings: { ...FAST_TIMINGS, workflowMs: 60_000, scale: 1 },
      logger: silentLogger,
    });
    try {
      const child = spawn(process.execPath, [BIN, "examples", "--plan", "cache-small"], {
        cwd: ROOT,
        // The broker's log on stderr too: if this ever hangs, the failure shows what it waited for.
        env: { PATH: process.env.PATH ?? "", ...env(slow.url), LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
      /** Polls `ready` until true; on timeout (or an early exit) kills the child and fails with its output. */
      const waitFor = async (what: string, ready: () => boolean | Promise<boolean>, ms = 60_000) => {
        const deadline = Date.now() + ms;
        while (!(await ready())) {
          if (Date.now() > deadline || child.exitCode !== null) {
            child.kill("SIGKILL");
            throw new Error(`${what}: not within ${ms} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      // The interrupt must land while the install runs: wait for its execution in Cloudify.
      await waitFor("the install running", async () => {
        const listed = (
          await raw(slow, "GET", "/api/v3.1/executions?workflow_id=install&_include=id,status")
        ).json();
        return listed.items.some((e: { status: string }) => e.status === "started");
      });
      expect(await deploymentsOf(slow)).toHaveLength(1);
      child.kill("SIGINT");
      await waitFor("exit after SIGINT", () => child.exitCode !== null || child.signalCode !== null, 90_000);
      expect(await exited).toBe(130);
      expect(stderr).toContain("interrupted: cleaning up");
      expect(stdout).toMatch(/redis\/cache-small\/sessions +FAILED .*interrupted/);
      expect(await deploymentsOf(slow)).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});
