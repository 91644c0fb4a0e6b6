import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, test } from "vitest";
import { CloudifyClient } from "../src/cloudify/index.js";
import { packageRoot } from "../src/util/package-root.js";
import { newId, PG, provisionBody, provisionInstance, type Stack, useStack } from "./support/stack.js";

const run = promisify(execFile);
let stack: Stack;
let cloudify: CloudifyClient;

useStack((started) => {
  stack = started.stack;
  cloudify = new CloudifyClient({
    url: stack.emulator!.url,
    tenant: "default_tenant",
    auth: { username: "admin", password: "admin" },
  });
});
afterAll(async () => {
  await cloudify.close();
});

/** Runs the real CLI (built by `npm test`) with the broker's environment; returns exit code and JSON. */
async function orphans(env: Record<string, string> = stack.env): Promise<{
  code: number;
  found: { kind: string; deployment_id: string; instance_id?: string }[];
}> {
  const bin = join(packageRoot(), "bin/cfy-broker.js");
  try {
    const { stdout } = await run(
      process.execPath,
      [bin, "orphans", "--config", join(packageRoot(), "broker.yaml")],
      { env },
    );
    return { code: 0, found: JSON.parse(stdout) };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    if (failed.code !== 1) throw new Error(`orphans exited ${failed.code}: ${failed.stderr}`);
    return { code: 1, found: JSON.parse(failed.stdout) };
  }
}

test("orphans: none while every labelled deployment belongs to a live instance (exit 0)", async () => {
  await provisionInstance(stack.osb, newId());
  const { code, found } = await orphans();
  expect(found).toEqual([]);
  expect(code).toBe(0);
});

test("orphans: a labelled deployment no instance owns, and a provisioned instance whose deployment vanished (exit 1)", async () => {
  const stray = `osb-${newId()}`;
  await cloudify.deployments.create(stray, {
    blueprintId: "redis",
    labels: [{ "osb-broker": "cloudify-osb-broker" }, { "osb-instance-id": "forgotten" }],
    asyncCreate: false,
  });
  const lost = newId();
  await provisionInstance(stack.osb, lost, provisionBody(PG.small));
  await cloudify.deployments.delete(`osb-${lost}`, { force: true });
  await cloudify.deployments.waitUntilGone(`osb-${lost}`, { intervalMs: 20, timeoutMs: 10_000 });

  const { code, found } = await orphans();
  expect(code).toBe(1);
  expect(found).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ kind: "orphan_deployment", deployment_id: stray, instance_id: "forgotten" }),
      expect.objectContaining({
        kind: "missing_deployment",
        deployment_id: `osb-${lost}`,
        instance_id: lost,
      }),
    ]),
  );
  expect(found).toHaveLength(2);
});

test("orphans needs only the Cloudify connection and the state: no platform credentials, no encryption key", async () => {
  const { BROKER_USERNAME, BROKER_PASSWORD, BROKER_ENCRYPTION_KEY, ...minimal } = stack.env;
  expect([BROKER_USERNAME, BROKER_PASSWORD, BROKER_ENCRYPTION_KEY].every(Boolean)).toBe(true);
  const { found } = await orphans(minimal);
  expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ kind: "missing_deployment" })]));
});

test("orphans with Cloudify unreachable or no state: one line, exit 2 (distinct from 1, found)", async () => {
  const bin = join(packageRoot(), "bin/cfy-broker.js");
  const config = join(packageRoot(), "broker.yaml");
  const failure = async (args: string[], env: Record<string, string>) => {
    try {
      await run(process.execPath, [bin, "orphans", "--config", config, ...args], { env });
      throw new Error("orphans exited 0");
    } catch (error) {
      const failed = error as { code: number; stderr: string };
      return { code: failed.code, lines: failed.stderr.trimEnd().split("\n") };
    }
  };
  const unreachable = await failure([], { ...stack.env, CLOUDIFY_URL: "http://127.0.0.1:9" });
  expect(unreachable.code).toBe(2);
  expect(unreachable.lines).toHaveLength(1);
  expect(unreachable.lines[0]).toMatch(/^cfy-broker: Cloudify .* failed: refused/);

  const { BROKER_STATE_DIR: _dir, ...noState } = stack.env;
  const missing = await failure(["--state", join(stack.stateDir, "does-not-exist")], noState);
  expect(missing).toEqual({ code: 2, lines: [expect.stringMatching(/^cfy-broker: no state directory at /)] });
});
