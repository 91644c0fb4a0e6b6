import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { CloudifyApiError, type CloudifyClient } from "../src/cloudify/index.js";
import { clientFor, FAST_WAIT, POSTGRES_INPUTS, raw, startTestEmulator } from "./support/emulator.js";

/**
 * The emulator enforces what a real 7.x manager enforces (docs/CLOUDIFY.md, rules CFY-*), by
 * default: a broker tested against it copes with the real thing.
 */

const NO_NODES = {
  blueprints: [
    { id: "empty", nodes: {} },
    {
      id: "custom-rules",
      nodes: { a: { type: "t" } },
      workflows: {
        uninstall: { availability_rules: { node_instances_active: ["all", "partial", "none"] } },
        only_none: { availability_rules: { node_instances_active: ["none"] } },
      },
    },
  ],
};

let emulator: EmulatorHandle;
let client: CloudifyClient;

beforeAll(async () => {
  emulator = await startTestEmulator();
  client = clientFor(emulator);
});

afterAll(async () => {
  await client.close();
  await emulator.close();
});

async function refusal(promise: Promise<unknown>): Promise<CloudifyApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CloudifyApiError);
  return error as CloudifyApiError;
}

async function ready(
  c: CloudifyClient,
  id: string,
  blueprintId = "redis",
  inputs: Record<string, unknown> = {},
) {
  const dep = await c.deployments.create(id, { blueprintId, inputs });
  expect((await c.executions.waitForEnd(dep.create_execution as string, FAST_WAIT)).status).toBe(
    "terminated",
  );
}

async function run(c: CloudifyClient, deploymentId: string, workflowId: string, force = false) {
  const started = await c.executions.start({ deploymentId, workflowId, force });
  return c.executions.waitForEnd(started.id, FAST_WAIT);
}

describe("CFY-AVAIL workflow availability (6.4+)", () => {
  it("CFY-AVAIL-1 uninstall is refused while no node instance is active (400 unavailable_workflow_error)", async () => {
    await ready(client, "av-1");
    const error = await refusal(client.executions.start({ deploymentId: "av-1", workflowId: "uninstall" }));
    expect(error.status).toBe(400);
    expect(error.errorCode).toBe("unavailable_workflow_error");
    expect(error.serverMessage).toBe("Workflow not available: uninstall");
    expect(emulator.state.executions("av-1").filter((e) => e.workflow_id === "uninstall")).toHaveLength(0);
  });

  it("CFY-AVAIL-1 install is refused once every node instance is active, uninstall then is available", async () => {
    await ready(client, "av-2");
    expect((await run(client, "av-2", "install")).status).toBe("terminated");
    const error = await refusal(client.executions.start({ deploymentId: "av-2", workflowId: "install" }));
    expect(error.errorCode).toBe("unavailable_workflow_error");
    expect(error.serverMessage).toBe("Workflow not available: install");
    expect((await run(client, "av-2", "uninstall")).status).toBe("terminated");
    // After uninstall every node instance is deleted (not active): uninstall is refused again.
    const again = await refusal(client.executions.start({ deploymentId: "av-2", workflowId: "uninstall" }));
    expect(again.errorCode).toBe("unavailable_workflow_error");
  });

  it("CFY-AVAIL-2 GET /deployments lists is_available and the built-in availability_rules", async () => {
    await ready(client, "av-3");
    const dep = (await raw(emulator, "GET", "/api/v3.1/deployments/av-3")).json();
    const wf = (name: string) => dep.workflows.find((w: { name: string }) => w.name === name);
    expect(wf("install")).toMatchObject({
      is_available: true,
      availability_rules: { node_instances_active: ["none", "partial"] },
    });
    expect(wf("uninstall")).toMatchObject({
      is_available: false,
      availability_rules: { node_instances_active: ["all", "partial"] },
    });
  });

  it("CFY-AVAIL-3 force: true skips the check", async () => {
    await ready(client, "av-4");
    expect((await run(client, "av-4", "uninstall", true)).status).toBe("terminated");
  });

  it("CFY-AVAIL-4 a queued execution is checked again when dequeued and fails if then unavailable", async () => {
    const slow = await startTestEmulator({ timings: { workflowMs: 400, scale: 1 } });
    const c = clientFor(slow);
    try {
      await ready(c, "av-5");
      const install = await c.executions.start({ deploymentId: "av-5", workflowId: "install" });
      // Available when queued (nothing is active yet) ...
      const second = await c.executions.start({ deploymentId: "av-5", workflowId: "install", queue: true });
      expect(second.status).toBe("queued");
      // ... but the first install made every node active by the time it is dequeued.
      const ended = await c.executions.waitForEnd(second.id, FAST_WAIT);
      expect((await c.executions.get(install.id)).status).toBe("terminated");
      expect(ended.status).toBe("failed");
      expect(ended.error).toBe("Error dequeueing execution: Workflow not available: install");
      // A queued execution that is still available when dequeued runs normally.
      const uninstall = await c.executions.start({ deploymentId: "av-5", workflowId: "uninstall" });
      expect((await c.executions.waitForEnd(uninstall.id, FAST_WAIT)).status).toBe("terminated");
    } finally {
      await c.close();
      await slow.close();
    }
  });

  it("CFY-AVAIL-5 an empty node set counts as both all and none: install and uninstall are available", async () => {
    const bare = await startTestEmulator({ blueprints: NO_NODES });
    const c = clientFor(bare);
    try {
      await ready(c, "e-1", "empty");
      expect((await run(c, "e-1", "uninstall")).status).toBe("terminated");
      expect((await run(c, "e-1", "install")).status).toBe("terminated");
      expect((await run(c, "e-1", "install")).status).toBe("terminated");
    } finally {
      await c.close();
      await bare.close();
    }
  });

  it("CFY-AVAIL-6 a blueprint's own rules replace the built-in ones and apply to custom workflows", async () => {
    const bare = await startTestEmulator({ blueprints: NO_NODES });
    const c = clientFor(bare);
    try {
      await ready(c, "c-1", "custom-rules");
      expect((await run(c, "c-1", "uninstall")).status).toBe("terminated");
      expect((await run(c, "c-1", "only_none")).status).toBe("terminated");
      expect((await run(c, "c-1", "install")).status).toBe("terminated");
      const error = await refusal(c.executions.start({ deploymentId: "c-1", workflowId: "only_none" }));
      expect(error.errorCode).toBe("unavailable_workflow_error");
      // The shipped postgresql blueprint: create_user needs every node active.
      await ready(client, "c-2", "postgresql", POSTGRES_INPUTS);
      const user = await refusal(
        client.executions.start({
          deploymentId: "c-2",
          workflowId: "create_user",
          parameters: { username: "u" },
        }),
      );
      expect(user.errorCode).toBe("unavailable_workflow_error");
    } finally {
      await c.close();
      await bare.close();
    }
  });

  it("CFY-AVAIL-7 a 6.3 manager has no availability rules", async () => {
    const old = await startTestEmulator({ version: "6.3.1" });
    const c = clientFor(old);
    try {
      await ready(c, "o-1");
      expect((await run(c, "o-1", "uninstall")).status).toBe("terminated");
    } finally {
      await c.close();
      await old.close();
    }
  });
});

describe("CFY-AVAIL-8 an install cancelled midway", () => {
  it("leaves the node it was installing live but not started: uninstall unavailable, deletion refused, forced uninstall works", async () => {
    const slow = await startTestEmulator({ timings: { workflowMs: 2_000, scale: 1 } });
    const c = clientFor(slow);
    try {
      // Nodes are installed one after the other; cancelled during the first (postgresql has one).
      await ready(c, "mid-1", "postgresql", POSTGRES_INPUTS);
      const install = await c.executions.start({ deploymentId: "mid-1", workflowId: "install" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await c.executions.cancel(install.id);
      expect((await c.executions.waitForEnd(install.id, FAST_WAIT)).status).toBe("cancelled");
      const states = slow.state.nodeInstances("mid-1").map((n) => n.state);
      expect(["creating", "created", "configuring", "configured", "starting"]).toContain(states[0]);
      expect(states.slice(1).every((s) => s === "uninitialized")).toBe(true);

      // Nothing is active: uninstall is unavailable ...
      const refused = await refusal(c.executions.start({ deploymentId: "mid-1", workflowId: "uninstall" }));
      expect(refused.errorCode).toBe("unavailable_workflow_error");
      // ... yet a node is live: the deployment cannot be deleted (M15).
      const live = await refusal(c.deployments.delete("mid-1"));
      expect(live.errorCode).toBe("dependent_exists_error");
      expect(live.serverMessage).toContain("There are live nodes for this deployment");
      // A forced uninstall takes the half-installed node down; then the deletion goes through.
      expect((await run(c, "mid-1", "uninstall", true)).status).toBe("terminated");
      expect(slow.state.nodeInstances("mid-1").every((n) => n.state === "deleted")).toBe(true);
      await c.deployments.delete("mid-1");
      await c.deployments.waitUntilGone("mid-1", FAST_WAIT);
    } finally {
      await c.close();
      await slow.close();
    }
  });
});
