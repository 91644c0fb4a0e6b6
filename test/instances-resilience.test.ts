/**
 * Failures: Cloudify refusing or failing work (reported `failed` in Cloudify's own words),
 * Cloudify unreachable for a while (operations still complete, never `failed` because of it),
 * and operations past maximum_polling_duration (A9). Real HTTP: test → broker → emulator.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type EmulatorHandle, shippedBlueprintsPath } from "../emulator/index.js";
import { packageRoot } from "../src/util/package-root.js";
import type { OsbResponse } from "./support/osb-client.js";
import {
  ASYNC,
  deploymentPath,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  type Stack,
  startStack,
  useStack,
  type ValidatingOsbClient,
  validatingClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let stack: Stack;
let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;

useStack((started) => ({ stack, osb, emulator } = started));

const DEPROV = { query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" } };

const installs = (em: EmulatorHandle, id: string) =>
  em.state.executions(`osb-${id}`).filter((e) => e.workflow_id === "install");

/** Polls LOI until the operation ends; the first answer other than 200 "in progress" is the end. */
function finalState(client: ValidatingOsbClient, id: string): Promise<OsbResponse> {
  return waitForInstanceOperation(client, id, 20_000);
}

/** Polls LOI until `predicate` holds for an in-progress answer (bounded). */
async function untilInProgress(
  client: ValidatingOsbClient,
  id: string,
  predicate: (body: { state: string; description?: string }) => boolean,
): Promise<OsbResponse> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const last = await client.get(`${instancePath(id)}/last_operation`);
    expect(last.status).toBe(200);
    expect(last.body.state).toBe("in progress");
    if (predicate(last.body)) return last;
    if (Date.now() > deadline)
      throw new Error(`never saw the expected progress: ${JSON.stringify(last.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("Cloudify refuses or fails the work", () => {
  it("PROV A6 an install failure is reported failed with Cloudify's own error text", async () => {
    const id = newId();
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "install",
      deploymentId: `osb-${id}`,
      message: "Quota exceeded: 0 of 1 vCPUs left in zone eu-west-1a",
      times: 1,
    });
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    const last = await finalState(osb, id);
    expect(last.body.state).toBe("failed");
    expect(last.body.description).toContain("Quota exceeded: 0 of 1 vCPUs left in zone eu-west-1a");
    // instance_usable / update_repeatable belong to failed updates and deprovisions only (A6, H12).
    expect(last.body).not.toHaveProperty("instance_usable");
    expect(last.body).not.toHaveProperty("update_repeatable");
    // A failed provision is no instance (GETI 404), and it cannot be updated (UPD 422).
    expect((await osb.get(instancePath(id))).status).toBe(404);
    const update = await osb.patch(
      instancePath(id),
      { service_id: PG.service, parameters: { backup_retention_days: 1 } },
      ASYNC,
    );
    expect(update.status).toBe(422);
    expect(update.body.error).toBe("UnprocessableEntity");

    // Orphan mitigation (section 13): the DELETE removes what was created.
    expect((await osb.delete(instancePath(id), DEPROV)).status).toBe(202);
    expect((await finalState(osb, id)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });

  it("PROV an identical PUT after a failed install tries again on the same deployment", async () => {
    const id = newId();
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "install",
      deploymentId: `osb-${id}`,
      message: "transient hypervisor error",
      times: 1,
    });
    const first = await osb.put(instancePath(id), provisionBody(), ASYNC);
    expect((await finalState(osb, id)).body.state).toBe("failed");
    // A different request is still a conflict with what exists.
    expect((await osb.put(instancePath(id), provisionBody(PG.large), ASYNC)).status).toBe(409);
    const retry = await osb.put(instancePath(id), provisionBody(), ASYNC);
    expect(retry.status).toBe(202);
    expect(retry.body.operation).not.toBe(first.body.operation);
    expect((await finalState(osb, id)).body.state).toBe("succeeded");
    expect((await osb.get(instancePath(id))).status).toBe(200);
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
    expect(installs(emulator, id).map((e) => e.status)).toEqual(["failed", "terminated"]);
  });

  it("PROV A6 inputs Cloudify rejects (blueprint constraint) fail the provision with Cloudify's reason", async () => {
    const id = newId();
    const body = provisionBody();
    // instance_name comes from the context; the blueprint only accepts ^[a-z][a-z0-9-]*$.
    body.context = { ...body.context, instance_name: "Orders DB" };
    expect((await osb.put(instancePath(id), body, ASYNC)).status).toBe(202);
    const last = await finalState(osb, id);
    expect(last.body.state).toBe("failed");
    expect(last.body.description).toContain("instance_name");
    expect(installs(emulator, id)).toHaveLength(0);
  });
});

describe("Cloudify transiently unavailable", () => {
  it("PROV Cloudify down (503 on everything) during a provision: in progress, saying so, then succeeded", async () => {
    const id = newId();
    const outage = emulator.faults.add({ type: "http_error", status: 503, path: "/api/", times: 1_000_000 });
    try {
      expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
      const last = await untilInProgress(osb, id, (b) => (b.description ?? "").includes("not reachable"));
      expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      emulator.faults.remove(outage);
    }
    expect((await finalState(osb, id)).body.state).toBe("succeeded");
    expect(installs(emulator, id).map((e) => e.status)).toEqual(["terminated"]);
  });

  it("PROV 503 bursts on every kind of Cloudify call: the provision still succeeds, one deployment, one install", async () => {
    const id = newId();
    for (const [method, path] of [
      ["GET", deploymentPath(id)],
      ["PUT", deploymentPath(id)],
      ["GET", "/api/v3.1/executions"],
      ["POST", "/api/v3.1/executions"],
    ] as const) {
      emulator.faults.add({ type: "http_error", status: 503, method, path, times: 2 });
    }
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    expect((await finalState(osb, id)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeDefined();
    expect(installs(emulator, id).map((e) => e.status)).toEqual(["terminated"]);
    emulator.faults.clear();
  });

  it("PROV a 500 internal_server_error from Cloudify is retried, not a failed provision; still one install", async () => {
    const id = newId();
    for (const [method, path] of [
      ["GET", "/api/v3.1/executions"],
      ["POST", "/api/v3.1/executions"],
    ] as const) {
      emulator.faults.add({
        type: "http_error",
        status: 500,
        errorCode: "internal_server_error",
        method,
        path,
        times: 2,
      });
    }
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    expect((await finalState(osb, id)).body.state).toBe("succeeded");
    expect(installs(emulator, id).map((e) => e.status)).toEqual(["terminated"]);
    emulator.faults.clear();
  });

  it("PROV a Cloudify Manager restart during a provision: it still succeeds", async () => {
    const id = newId();
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    // Restart as soon as Cloudify has the deployment: the broker is mid-operation.
    const deadline = Date.now() + 10_000;
    while (!emulator.state.deployment(`osb-${id}`)) {
      if (Date.now() > deadline) throw new Error("the deployment was never created");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await emulator.restart({ downMs: 400 });
    expect((await finalState(osb, id)).body.state).toBe("succeeded");
    expect(installs(emulator, id).map((e) => e.status)).toEqual(["terminated"]);
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
  });

  it("DEPROV Cloudify unavailable during a deprovision (503 bursts, dropped connections): it still succeeds", async () => {
    const id = newId();
    await provisionInstance(osb, id);
    emulator.faults.add({
      type: "http_error",
      status: 503,
      method: "DELETE",
      path: deploymentPath(id),
      times: 4,
    });
    emulator.faults.add({ type: "drop", method: "GET", path: deploymentPath(id), times: 2 });
    expect((await osb.delete(instancePath(id), DEPROV)).status).toBe(202);
    expect((await finalState(osb, id)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
    emulator.faults.clear();
  });
});

describe("derived schemas before Cloudify described the blueprint", () => {
  let blind: Stack;
  let blindOsb: ValidatingOsbClient;
  beforeAll(async () => {
    // Cloudify never answers for blueprints, and the fresh state has no cached inputs.
    blind = await startStack({
      emulator: {
        faults: [
          { type: "http_error", status: 503, method: "GET", path: "/api/v3.1/blueprints", times: 1_000_000 },
        ],
      },
    });
    blindOsb = validatingClient(blind);
  });
  afterAll(async () => {
    await blind?.stop();
  });

  it("PROV 400 parameters the plan fixes, and UPD 400 parameters its update schema excludes, even before derivation", async () => {
    const catalog = await blindOsb.get("/v2/catalog");
    const large = catalog.body.services[0].plans.find((p: { id: string }) => p.id === PG.large);
    expect(large.schemas).toBeUndefined();

    const fixed = await blindOsb.put(
      instancePath(newId()),
      provisionBody(PG.large, { parameters: { cpu: 64, memory_gb: 64 } }),
      ASYNC,
    );
    expect(fixed.status).toBe(400);
    expect(fixed.body.description).toContain("parameters.cpu");
    expect(fixed.body.description).toContain("parameters.memory_gb");

    const id = newId();
    await provisionInstance(blindOsb, id, provisionBody(PG.large, { parameters: { db_name: "ledger" } }));
    const excluded = await blindOsb.patch(
      instancePath(id),
      { service_id: PG.service, parameters: { db_name: "renamed" } },
      ASYNC,
    );
    expect(excluded.status).toBe(400);
    expect(excluded.body.description).toContain("parameters.db_name");
    const deployment = blind.emulator!.state.deployment(`osb-${id}`) as { inputs: Record<string, unknown> };
    expect(deployment.inputs.db_name).toBe("ledger");
  });
});

describe("A9 maximum_polling_duration", () => {
  let slow: Stack;
  let slowOsb: ValidatingOsbClient;
  let dir: string;
  beforeAll(async () => {
    // The example config with a 2 s limit on plan small, against a Cloudify whose postgresql
    // installs take 8 s (and uninstalls 50 ms, so the clean-up fits in the limit).
    dir = await mkdtemp(join(tmpdir(), "osb-timeout-"));
    const config = (await readFile(join(packageRoot(), "broker.yaml"), "utf8")).replace(
      "maximum_polling_duration: 3600",
      "maximum_polling_duration: 2",
    );
    expect(config).toContain("maximum_polling_duration: 2\n");
    await writeFile(join(dir, "broker.yaml"), config);
    const catalogue = parse(await readFile(shippedBlueprintsPath(), "utf8"), { merge: true }) as {
      blueprints: { id: string; workflows: Record<string, Record<string, unknown>> }[];
    };
    const postgresql = catalogue.blueprints.find((b) => b.id === "postgresql")!;
    postgresql.workflows = {
      ...postgresql.workflows,
      install: { ...postgresql.workflows.install, duration_ms: 8000 },
      uninstall: { ...postgresql.workflows.uninstall, duration_ms: 50 },
    };
    slow = await startStack({
      configFile: join(dir, "broker.yaml"),
      emulator: {
        blueprints: catalogue,
        timings: { pendingMs: 5, createEnvMs: 20, deleteEnvMs: 20, workflowMs: 30, cancelMs: 5, scale: 1 },
      },
    });
    slowOsb = validatingClient(slow);
  });
  afterAll(async () => {
    await slow?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("PROV A9 an operation past maximum_polling_duration fails; the DELETE that follows stops and removes it", async () => {
    const id = newId();
    const em = slow.emulator!;
    const catalog = await slowOsb.get("/v2/catalog");
    const small = catalog.body.services[0].plans.find((p: { id: string }) => p.id === PG.small);
    expect(small.maximum_polling_duration).toBe(2);

    expect((await slowOsb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    const last = await finalState(slowOsb, id);
    expect(last.body.state).toBe("failed");
    expect(last.body.description).toContain("time limit");
    // The install was still running in Cloudify when the broker gave up.
    expect(installs(em, id).map((e) => e.status)).toEqual(["started"]);
    expect((await slowOsb.get(instancePath(id))).status).toBe(404);

    // Orphan mitigation: the deletion cancels the abandoned install instead of waiting for it.
    const hold = em.faults.add({
      type: "http_error",
      status: 503,
      method: "DELETE",
      path: deploymentPath(id),
      times: 1_000_000,
    });
    try {
      expect((await slowOsb.delete(instancePath(id), DEPROV)).status).toBe(202);
      const deadline = Date.now() + 10_000;
      while (em.requests.count({ method: "DELETE", path: deploymentPath(id) }) === 0) {
        if (Date.now() > deadline) throw new Error("the broker never tried to delete the deployment");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(installs(em, id).map((e) => e.status)).toEqual(["cancelled"]);
    } finally {
      em.faults.remove(hold);
    }
    expect((await finalState(slowOsb, id)).body.state).toBe("succeeded");
    expect(em.state.deployment(`osb-${id}`)).toBeUndefined();
  });
});
