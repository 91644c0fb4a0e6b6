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
async function orphans(): Promise<{
  code: number;
  found: { kind: string; deployment_id: string; instance_id?: string }[];
}> {
  const bin = join(packageRoot(), "bin/cfy-broker.js");
  try {
    const { stdout } = await run(
      process.execPath,
      [bin, "orphans", "--config", join(packageRoot(), "broker.yaml")],
      { env: stack.env },
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
