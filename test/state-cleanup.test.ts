import { expect, test } from "vitest";
import { readStateDir } from "../src/state/index.js";
import {
  newId,
  PG,
  provisionBody,
  provisionInstance,
  type Stack,
  useStack,
  waitFor,
  waitForInstanceOperation,
} from "./support/stack.js";

let stack: Stack;

/** A record as it is on disk now (read like `cfy-broker state export`, without the lock). */
async function stored(collection: string, id: string): Promise<unknown> {
  return (await readStateDir(stack.stateDir))[collection]?.[id];
}
// A 1 s tombstone and a fast janitor so the clean-up is observable in a test.
useStack(
  (started) => {
    stack = started.stack;
  },
  { env: { BROKER_TOMBSTONE_SECONDS: "1" }, janitorIntervalMs: 50 },
);

const deprovisionQuery = { accepts_incomplete: "true", service_id: PG.service, plan_id: PG.large };

test("a binding whose instance was deprovisioned without unbinding is forgotten, sealed credentials included", async () => {
  const id = newId();
  await provisionInstance(stack.osb, id, provisionBody(PG.large));
  const bid = newId();
  const bind = await stack.osb.put(`/v2/service_instances/${id}/service_bindings/${bid}`, {
    service_id: PG.service,
    plan_id: PG.large,
  });
  expect(bind.status).toBe(201);
  expect(await stored("bindings", bid)).toBeDefined();

  expect((await stack.osb.delete(`/v2/service_instances/${id}`, { query: deprovisionQuery })).status).toBe(
    202,
  );
  expect((await waitForInstanceOperation(stack.osb, id)).body.state).toBe("succeeded");
  await waitFor(async () => {
    const gone = (await stored("bindings", bid)) === undefined;
    return { status: 200, body: { state: gone ? "succeeded" : "in progress" }, headers: new Headers() };
  }, 10_000);
  expect(await stored("bindings", bid)).toBeUndefined();
  expect(
    (
      await stack.osb.delete(`/v2/service_instances/${id}/service_bindings/${bid}`, {
        query: deprovisionQuery,
      })
    ).status,
  ).toBe(410);
});

test("X7 then A7: a tombstone answers succeeded, then 410, and is kept (not purged) during its 410 period", async () => {
  const id = newId();
  await provisionInstance(stack.osb, id, provisionBody(PG.large));
  expect((await stack.osb.delete(`/v2/service_instances/${id}`, { query: deprovisionQuery })).status).toBe(
    202,
  );
  expect((await waitForInstanceOperation(stack.osb, id)).body.state).toBe("succeeded");
  const gone = await waitFor(async () => {
    const r = await stack.osb.get(`/v2/service_instances/${id}/last_operation`);
    return r.status === 410 ? r : { ...r, body: { state: "in progress" } };
  }, 10_000);
  expect(gone.status).toBe(410);
  expect(await stored("instances", id)).toMatchObject({ status: "deleted" });
});
