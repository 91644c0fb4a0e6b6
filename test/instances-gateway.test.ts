/**
 * CFY-GW: a manager behind a gateway answers 504 (or drops the connection) and performs the
 * request anyway, later. Every workflow start and every mutating call the broker makes is run
 * through that fault: the operation succeeds and Cloudify did the work exactly once.
 * Real HTTP: test → broker → Cloudify emulator (fault `gateway_timeout`).
 */
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import {
  bindBody,
  bindingPath,
  databaseUsers,
  executionsOf,
  unbindQuery,
  usernameOf,
  waitForBinding,
} from "./fixtures/bindings-helpers.js";
import {
  ASYNC,
  deploymentPath,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  useStack,
  type ValidatingOsbClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;
useStack((started) => {
  ({ osb, emulator } = started);
});

const EXECUTIONS = "/api/v3.1/executions";
const DEPROV = { query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" } };

/** The next matching request is answered 504 / dropped and performed 400 ms later. */
function lateOnce(answer: "504" | "drop", method: string, path: string) {
  emulator.faults.add({ type: "gateway_timeout", answer, performAfterMs: 400, method, path, times: 1 });
}

async function succeeded(id: string) {
  const last = await waitForInstanceOperation(osb, id, 30_000);
  expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
}

describe.each(["504", "drop"] as const)("CFY-GW answer %s, request performed late", (answer) => {
  it("CFY-GW PUT /deployments (provision): one deployment, one install", async () => {
    const id = newId();
    lateOnce(answer, "PUT", deploymentPath(id));
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    await succeeded(id);
    expect(executionsOf(emulator, id, "create_deployment_environment")).toHaveLength(1);
    expect(executionsOf(emulator, id, "install").map((e) => e.status)).toEqual(["terminated"]);
  });

  it("CFY-GW POST /executions install: exactly one install", async () => {
    const id = newId();
    lateOnce(answer, "POST", EXECUTIONS);
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    await succeeded(id);
    expect(executionsOf(emulator, id, "install").map((e) => e.status)).toEqual(["terminated"]);
  });

  it("CFY-GW POST deployment-updates (update): exactly one update execution", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    lateOnce(answer, "POST", `/api/v3.1/deployment-updates/osb-${id}/update/initiate`);
    const patched = await osb.patch(
      instancePath(id),
      { service_id: PG.service, parameters: { backup_retention_days: 14 } },
      ASYNC,
    );
    expect(patched.status).toBe(202);
    await succeeded(id);
    expect(executionsOf(emulator, id, "update").map((e) => e.status)).toEqual(["terminated"]);
  });

  it("CFY-GW POST /executions uninstall and DELETE /deployments (deprovision): one uninstall, deployment gone", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    lateOnce(answer, "POST", EXECUTIONS);
    lateOnce(answer, "DELETE", deploymentPath(id));
    const uninstalls: string[][] = [];
    const watch = setInterval(() => {
      const list = executionsOf(emulator, id, "uninstall").map((e) => e.id);
      if (list.length > 0) uninstalls.push(list);
    }, 5);
    try {
      expect((await osb.delete(instancePath(id), DEPROV)).status).toBe(202);
      await succeeded(id);
    } finally {
      clearInterval(watch);
    }
    expect(Math.max(...uninstalls.map((l) => l.length))).toBe(1);
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });

  it("CFY-GW POST /executions create_user and delete_user (bind, unbind): one each, no user left", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    const bid = newId();
    lateOnce(answer, "POST", EXECUTIONS);
    expect((await osb.put(bindingPath(id, bid), bindBody(PG.small), ASYNC)).status).toBe(202);
    expect((await waitForBinding(osb, id, bid, 30_000)).body.state).toBe("succeeded");
    expect(executionsOf(emulator, id, "create_user")).toHaveLength(1);
    expect(Object.keys(databaseUsers(emulator, id))).toEqual([usernameOf(bid)]);

    lateOnce(answer, "POST", EXECUTIONS);
    expect((await osb.delete(bindingPath(id, bid), unbindQuery(PG.small))).status).toBe(202);
    expect((await waitForBinding(osb, id, bid, 30_000)).body.state).toBe("succeeded");
    // Well after the late request: nothing ran again, and the user stays dropped.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(executionsOf(emulator, id, "delete_user")).toHaveLength(1);
    expect(executionsOf(emulator, id, "create_user")).toHaveLength(1);
    expect(databaseUsers(emulator, id)).toEqual({});
  });
});

describe("CFY-GW executions are matched to the operation that started them", () => {
  it("CFY-GW a second bind with the same parameters never adopts the first binding's create_user", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    const first = newId();
    expect((await osb.put(bindingPath(id, first), bindBody(PG.small), ASYNC)).status).toBe(202);
    expect((await waitForBinding(osb, id, first)).body.state).toBe("succeeded");
    // The manager already holds create_user executions the broker never recorded for the new
    // binding (e.g. someone ran one by hand with its parameters): they are older, never adopted.
    const second = newId();
    const username = usernameOf(second);
    const manual = await fetch(`${emulator.url}${EXECUTIONS}`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}`,
        Tenant: "default_tenant",
        "Content-Type": "application/json",
      },
      body: JSON.stringify({
        deployment_id: `osb-${id}`,
        workflow_id: "create_user",
        parameters: { username, privileges: "readwrite" },
      }),
    });
    expect(manual.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await osb.put(bindingPath(id, second), bindBody(PG.small), ASYNC)).status).toBe(202);
    expect((await waitForBinding(osb, id, second)).body.state).toBe("succeeded");
    const mine = executionsOf(emulator, id, "create_user").filter((e) => e.parameters.username === username);
    expect(mine).toHaveLength(2);
  });
});

describe("CFY-GW the cancel of a running install (a deprovision halting a provision)", () => {
  let slowOsb: ValidatingOsbClient;
  let em: EmulatorHandle;
  useStack(
    (started) => {
      ({ osb: slowOsb, emulator: em } = started);
    },
    // pg install takes 3 s here: long enough to be halted while it runs.
    {
      emulator: {
        timings: { pendingMs: 5, createEnvMs: 20, deleteEnvMs: 20, workflowMs: 30, cancelMs: 5, scale: 1 },
      },
    },
  );

  it.each(["504", "drop"] as const)(
    "answer %s: the one install ends cancelled, the deprovision succeeds",
    async (answer) => {
      const id = newId();
      expect((await slowOsb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
      const install = () => executionsOf(em, id, "install");
      await expect
        .poll(() => install().map((e) => e.status), { timeout: 10_000, interval: 5 })
        .toEqual(["started"]);
      em.faults.add({
        type: "gateway_timeout",
        answer,
        performAfterMs: 400,
        method: "POST",
        path: `${EXECUTIONS}/${install()[0]!.id}`,
        times: 1,
      });
      expect((await slowOsb.delete(instancePath(id), DEPROV)).status).toBe(202);
      await expect
        .poll(() => install().map((e) => e.status), { timeout: 10_000, interval: 5 })
        .toEqual(["cancelled"]);
      const last = await waitForInstanceOperation(slowOsb, id, 30_000);
      expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
      expect(em.state.deployment(`osb-${id}`)).toBeUndefined();
    },
  );
});
