/**
 * Issue 10, defect 2: deep nesting. One depth limit at the edge (src/osb/request.ts MAX_NESTING)
 * answers 400 naming the field; whatever passes it can be fingerprinted, merged and stored, so a
 * later request on the same instance never meets a 500. Real HTTP against broker and emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, canonicalJsonSteps } from "../src/broker/model/ids.js";
import { MAX_NESTING } from "../src/osb/request.js";
import { bindBody, bindingPath } from "./fixtures/bindings-helpers.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  type Stack,
  startStack,
  waitForInstanceOperation,
} from "./support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** An object `levels` deep: {"a":{"a":...{}}} (the outermost object is level 1). */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

describe("deeply nested request bodies", () => {
  it.each(["context", "parameters"])(
    "a provision with %s nested 256 levels is a 400 naming the field",
    async (field) => {
      const id = newId();
      const body = provisionBody(PG.small, { [field]: nested(256) });
      const response = await stack.osb.put(instancePath(id), body, ASYNC);
      expect(response.status).toBe(400);
      expect(response.body.error).toBe("BadRequest");
      expect(response.body.description).toMatch(
        new RegExp(`^Field ${field} is nested more than ${MAX_NESTING} levels`),
      );
      expect((await stack.osb.get(instancePath(id))).status).toBe(404);
    },
  );

  it("a bind with bind_resource nested 256 levels is a 400 naming the field", async () => {
    const id = newId();
    await provisionInstance(stack.osb, id);
    const response = await stack.osb.put(
      bindingPath(id, newId()),
      bindBody(PG.small, { bind_resource: nested(256) }),
      ASYNC,
    );
    expect(response.status).toBe(400);
    expect(response.body.description).toMatch(/^Field bind_resource is nested/);
  });

  it("a body at the limit is accepted, and later updates of that instance still work", async () => {
    const id = newId();
    // The body is level 1, so a field may hold MAX_NESTING - 1 levels.
    const deepest = { ...nested(MAX_NESTING - 1), platform: "cloudfoundry" };
    expect(
      (await stack.osb.put(instancePath(id), provisionBody(PG.small, { context: deepest }), ASYNC)).status,
    ).toBe(202);
    expect((await waitForInstanceOperation(stack.osb, id)).body.state).toBe("succeeded");
    const update = await stack.osb.patch(
      instancePath(id),
      { service_id: PG.service, context: deepest },
      ASYNC,
    );
    expect(update.status).toBeLessThan(300);
    const tooDeep = await stack.osb.patch(
      instancePath(id),
      { service_id: PG.service, context: nested(254) },
      ASYNC,
    );
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.description).toMatch(/^Field context is nested/);
  });

  it("a deeply nested originating identity header is ignored, not a failure", async () => {
    const identity = Buffer.from(JSON.stringify({ user_id: "u", deep: nested(300) })).toString("base64");
    const response = await stack.osb.get("/v2/catalog", {
      headers: { "X-Broker-API-Originating-Identity": `cloudfoundry ${identity}` },
    });
    expect(response.status).toBe(200);
  });
});

describe("numbers a double cannot hold", () => {
  // Found by test/reliability/fuzz.test.ts: JSON.parse reads 1e400 as Infinity, which the state
  // store refuses to write, so the provision answered 500 after it had been checked.
  const withHugeNumber = (field: string) =>
    JSON.stringify(
      provisionBody(PG.large, { [field]: { platform: "cloudfoundry", db_name: "HUGE" } }),
    ).replace('"HUGE"', "1e400");

  it.each(["context", "parameters"])(
    "a provision with 1e400 in %s is a 400 naming the field",
    async (field) => {
      const id = newId();
      const response = await stack.osb.request("PUT", instancePath(id), undefined, {
        ...ASYNC,
        raw: withHugeNumber(field),
      });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe("BadRequest");
      expect(response.body.description).toBe(
        `Field ${field} holds a number too large to represent (at ${field}.db_name); send a smaller number or a string.`,
      );
      expect((await stack.osb.get(instancePath(id))).status).toBe(404);
    },
  );

  it("an update or a bind with -1e400 is a 400, and the instance stays usable", async () => {
    const id = newId();
    await provisionInstance(stack.osb, id);
    const update = await stack.osb.request("PATCH", instancePath(id), undefined, {
      ...ASYNC,
      raw: `{"service_id":"${PG.service}","parameters":{"backup_retention_days":-1e400}}`,
    });
    expect(update.status).toBe(400);
    expect(update.body.description).toMatch(/^Field parameters holds a number too large/);
    const bind = await stack.osb.request("PUT", bindingPath(id, newId()), undefined, {
      ...ASYNC,
      raw: JSON.stringify(bindBody(PG.small)).replace('"app-guid-1"}', '"app-guid-1","n":1e999}'),
    });
    expect(bind.status).toBe(400);
    expect(bind.body.description).toMatch(/^Field bind_resource holds a number too large/);
    expect((await stack.osb.get(instancePath(id))).status).toBe(200);
  });
});

describe("canonical JSON", () => {
  it("handles any depth without recursion", () => {
    let value: unknown = "leaf";
    for (let i = 0; i < 20_000; i++) value = i % 2 ? { b: value, a: 1 } : [value];
    const text = canonicalJson(value);
    expect(text.startsWith(`{"a":1,"b":[{"a":1,"b":[`)).toBe(true);
    expect(text.length).toBeGreaterThan(20_000);
  });

  it("rendered in steps (a reload's config fingerprint), gives the same text", () => {
    const value = {
      z: [1, { b: null, a: "x" }],
      plans: Array.from({ length: 500 }, (_, i) => ({ i, n: `p${i}` })),
    };
    const out: string[] = [];
    const steps = canonicalJsonSteps(value, out);
    let pauses = 0;
    while (!steps.next().done) pauses++;
    expect(pauses).toBeGreaterThan(0);
    expect(out.join("")).toBe(canonicalJson(value));
  });
});
