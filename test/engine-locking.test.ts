import { expect, test } from "vitest";
import { newId, PG, provisionBody, type Stack, useStack, waitForInstanceOperation } from "./support/stack.js";

let stack: Stack;
useStack((started) => {
  stack = started.stack;
});

test("A4 a slow Cloudify call in an engine step does not hold the platform's requests; DEPROV then halts the provision", async () => {
  const emulator = stack.emulator!;
  const id = newId();
  // Every poll of an execution stalls for 8 s: the provision's wait step sits inside that call.
  const stall = emulator.faults.add({
    type: "latency",
    ms: 8000,
    method: "GET",
    path: "/api/v3.1/executions/",
    times: 1,
  });
  expect(
    (
      await stack.osb.put(`/v2/service_instances/${id}`, provisionBody(PG.small), {
        query: { accepts_incomplete: "true" },
      })
    ).status,
  ).toBe(202);
  for (let i = 0; i < 200 && emulator.faults.list().some((f) => f.id === stall); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(
    emulator.faults.list().some((f) => f.id === stall),
    "the engine reached the stalled call",
  ).toBe(false);

  // The stalled step must not delay the answer: 3 s is far below the 8 s stall.
  const response = await stack.osb.request("DELETE", `/v2/service_instances/${id}`, undefined, {
    query: { accepts_incomplete: "true", service_id: PG.service, plan_id: PG.small },
    signal: AbortSignal.timeout(3000),
  });
  expect(response.status).toBe(202);
  expect(response.body.operation).toMatch(/^deprovision-/);

  // The provision's late outcome is dropped; the deprovision wins and finishes.
  const last = await waitForInstanceOperation(stack.osb, id, 30_000);
  expect(last.body).toMatchObject({ state: "succeeded" });
  expect((await stack.osb.get(`/v2/service_instances/${id}`)).status).toBe(404);
}, 40_000);
