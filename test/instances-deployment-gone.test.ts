/**
 * Issue 9 item 6 (docs/CLOUDIFY.md CFY-GONE): a deployment deleted in Cloudify behind the
 * broker's back (`cfy deployments delete`). Bind, GETI, GETB, LOI and LOB answer definitively,
 * naming the deployment and `cfy-broker orphans` (422, or `failed` for last_operation: never a
 * 503 "try again"); deprovisioning such an instance succeeds. Real HTTP: test → broker → emulator.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { CloudifyClient } from "../src/cloudify/index.js";
import { bindBody, bindingPath } from "./fixtures/bindings-helpers.js";
import {
  ASYNC,
  hold,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  useStack,
  type ValidatingOsbClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;
let cloudify: CloudifyClient;

useStack((started) => {
  ({ osb, emulator } = started);
  cloudify = new CloudifyClient({
    url: emulator.url,
    tenant: "default_tenant",
    auth: { username: "admin", password: "admin" },
  });
});
afterAll(async () => {
  await cloudify?.close();
});

/** Two poll intervals of the test stacks (BROKER_POLL_INTERVAL_MS=20 in test/support/stack.ts). */
const PRESENCE_REUSE_MS = 40;

/** What an operator does by hand: `cfy deployments delete -f osb-<id>`. */
async function deleteBehindTheBrokersBack(instanceId: string): Promise<void> {
  await cloudify.deployments.delete(`osb-${instanceId}`, { force: true });
  await cloudify.deployments.waitUntilGone(`osb-${instanceId}`, { intervalMs: 20, timeoutMs: 10_000 });
  // CFY-GONE: the broker reuses a "present" answer for two poll intervals (40 ms in these
  // stacks; the last LOI of the provision gave one). Past that window the deletion is noticed.
  await new Promise((resolve) => setTimeout(resolve, PRESENCE_REUSE_MS + 60));
}

function expectGone(description: unknown, instanceId: string): void {
  expect(description).toEqual(
    expect.stringContaining(`deployment osb-${instanceId} of service instance ${instanceId}`),
  );
  expect(description).toEqual(expect.stringContaining("deleted in Cloudify, outside the broker"));
  expect(description).toEqual(expect.stringContaining("cfy-broker orphans"));
}

describe("CFY-GONE a deployment deleted behind the broker's back", () => {
  it("bind, GETI, GETB, LOI and LOB say so definitively, naming the deployment; deprovision succeeds", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody(REDIS.small));
    const bound = await osb.put(bindingPath(id, "b1"), bindBody(REDIS.small));
    expect(bound.status).toBe(201);
    await deleteBehindTheBrokersBack(id);

    // Twice: a definitive answer, not "try again".
    for (const bindingId of ["b2", "b2"]) {
      const bind = await osb.put(bindingPath(id, bindingId), bindBody(REDIS.small));
      expect(bind.status, JSON.stringify(bind.body)).toBe(422);
      expect(bind.body.error).toBe("UnprocessableEntity");
      expectGone(bind.body.description, id);
    }
    const instance = await osb.get(instancePath(id));
    expect(instance.status).toBe(422);
    expectGone(instance.body.description, id);
    const loi = await osb.get(`${instancePath(id)}/last_operation`);
    expect(loi.status).toBe(200);
    expect(loi.body.state).toBe("failed");
    expectGone(loi.body.description, id);
    expect(loi.body).not.toHaveProperty("instance_usable"); // only on failed updates/deprovisions (H12)

    const binding = await osb.get(bindingPath(id, "b1"));
    expect(binding.status).toBe(422);
    expectGone(binding.body.description, id);
    const lob = await osb.get(`${bindingPath(id, "b1")}/last_operation`);
    expect(lob.status).toBe(200);
    expect(lob.body.state).toBe("failed");
    expectGone(lob.body.description, id);

    // Unbind and deprovision clean up the broker's side: nothing is left in Cloudify to delete.
    const unbind = await osb.delete(bindingPath(id, "b1"), {
      query: { service_id: REDIS.service, plan_id: REDIS.small },
    });
    expect(unbind.status).toBe(200);
    const deprovision = await osb.delete(instancePath(id), {
      query: { service_id: REDIS.service, plan_id: REDIS.small, accepts_incomplete: "true" },
    });
    expect(deprovision.status).toBe(202);
    const last = await waitForInstanceOperation(osb, id);
    expect(last.body).toMatchObject({ state: "succeeded" });
    expect((await osb.get(instancePath(id))).status).toBe(404);
  });

  it("a workflow bind is refused at once (422), not accepted and failed later", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody(PG.small));
    await deleteBehindTheBrokersBack(id);
    const bind = await osb.put(bindingPath(id, "wb"), bindBody(PG.small), ASYNC);
    expect(bind.status, JSON.stringify(bind.body)).toBe(422);
    expectGone(bind.body.description, id);
    expect((await osb.get(`${bindingPath(id, "wb")}/last_operation`)).status).toBe(404); // nothing kept (H11)
  });

  it("while Cloudify cannot answer, nothing is claimed: GETI and LOI answer from the record", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody(REDIS.small));
    const release = hold(emulator, "GET", `/api/v3.1/deployments/osb-${id}`);
    try {
      expect((await osb.get(instancePath(id))).status).toBe(200);
      const loi = await osb.get(`${instancePath(id)}/last_operation`);
      expect(loi.body.state).toBe("succeeded");
    } finally {
      release();
    }
  });
});
