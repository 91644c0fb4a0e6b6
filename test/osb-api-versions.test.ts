/**
 * Answers shaped by the requested API version (docs/CONTRACT.md H16) and request fields read by
 * the same rule (H17): every endpoint at 2.13, 2.14, 2.15, 2.16 and 2.17, real requests to the
 * broker and the Cloudify emulator, every answer validated against schema/osb-openapi.yaml by
 * the validating client. A field a version does not define is absent at that version and
 * present from the version that introduced it (so always at 2.17).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { shapeFor } from "../src/osb/api-versions.js";
import type { OsbResponse } from "./support/osb-client.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  type Stack,
  useStack,
  ValidatingOsbClient,
  waitFor,
} from "./support/stack.js";

const VERSIONS = ["2.13", "2.14", "2.15", "2.16", "2.17"] as const;

let stack: Stack;
let emulator: EmulatorHandle;
/** A PG large instance (outputs-mode, synchronous binds with endpoints), shared by every version. */
const largeInstance = newId();

useStack(async (started) => {
  ({ stack, emulator } = started);
  await provisionInstance(started.osb, largeInstance, provisionBody(PG.large));
});

const clientAt = (version: string) =>
  new ValidatingOsbClient(stack.broker.url, stack.env.BROKER_USERNAME!, stack.env.BROKER_PASSWORD!, version);

const bindingPath = (instanceId: string, bindingId: string) =>
  `${instancePath(instanceId)}/service_bindings/${bindingId}`;

const has = (object: object, field: string) => Object.hasOwn(object, field);

function expectStatus(response: OsbResponse, status: number) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  // biome-ignore lint/suspicious/noExplicitAny: tests read the answer field by field
  return response.body as Record<string, any>;
}

describe.each(VERSIONS)("X-Broker-API-Version %s", (version) => {
  const minor = Number(version.split(".")[1]);
  /** Whether `version` defines a field the spec introduced in 2.`since`. */
  const defines = (since: number) => minor >= since;
  let osb: ValidatingOsbClient;
  const instanceId = newId();

  beforeAll(() => {
    osb = clientAt(version);
  });

  const loi = () => waitFor(() => osb.get(`${instancePath(instanceId)}/last_operation`));
  const lob = (iid: string, bid: string) => waitFor(() => osb.get(`${bindingPath(iid, bid)}/last_operation`));
  const unbindQuery = (planId: string, async: boolean) => ({
    query: { service_id: PG.service, plan_id: planId, ...(async ? { accepts_incomplete: "true" } : {}) },
  });

  it("H16 CAT: retrievable flags from 2.14; allow_context_updates, plan_updateable on plans, maintenance_info and maximum_polling_duration from 2.15; binding_rotatable from 2.17", async () => {
    const body = expectStatus(await osb.get("/v2/catalog"), 200);
    const pg = body.services.find((s: { id: string }) => s.id === PG.service);
    const redis = body.services.find((s: { id: string }) => s.id === REDIS.service);
    const small = pg.plans.find((p: { id: string }) => p.id === PG.small);
    const cacheLarge = redis.plans.find((p: { id: string }) => p.id === REDIS.large);
    // What every version defines stays.
    expect(pg).toMatchObject({ name: "postgresql", bindable: true, plan_updateable: true });
    expect(small).toMatchObject({ name: "small", free: true, bindable: true });
    expect(small.schemas.service_instance.create.parameters).toBeDefined();

    expect(has(pg, "instances_retrievable")).toBe(defines(14));
    expect(has(pg, "bindings_retrievable")).toBe(defines(14));
    expect(has(pg, "allow_context_updates")).toBe(defines(15));
    expect(has(cacheLarge, "plan_updateable")).toBe(defines(15));
    expect(has(small, "maintenance_info")).toBe(defines(15));
    expect(has(small, "maximum_polling_duration")).toBe(defines(15));
    expect(has(small, "binding_rotatable")).toBe(defines(17));
  });

  it("H16 PROV, LOI and GETI: maintenance_info of the instance from 2.16", async () => {
    const accepted = expectStatus(
      await osb.put(instancePath(instanceId), provisionBody(PG.small), ASYNC),
      202,
    );
    expect(accepted.operation).toEqual(expect.any(String));
    expect(accepted.dashboard_url).toContain(instanceId);
    expect(expectStatus(await loi(), 200)).toEqual({ state: "succeeded" });

    const fetched = expectStatus(await osb.get(instancePath(instanceId)), 200);
    expect(fetched).toMatchObject({ service_id: PG.service, plan_id: PG.small });
    expect(fetched.dashboard_url).toContain(instanceId);
    expect(has(fetched, "maintenance_info")).toBe(defines(16));
    if (defines(16)) expect(fetched.maintenance_info).toEqual({ version: "1.0.0" });
  });

  it("H17 UPD: maintenance_info in the request is read from 2.15 (a conflict there), ignored before; H16 dashboard_url in the answer from 2.14", async () => {
    const body = {
      service_id: PG.service,
      parameters: { backup_retention_days: minor },
      maintenance_info: { version: "9.9.9" },
    };
    let response = await osb.patch(instancePath(instanceId), body, ASYNC);
    if (defines(15)) {
      expect(expectStatus(response, 422).error).toBe("MaintenanceInfoConflict");
      const { maintenance_info: _, ...withoutInfo } = body;
      response = await osb.patch(instancePath(instanceId), withoutInfo, ASYNC);
    }
    const accepted = expectStatus(response, 202);
    expect(accepted.operation).toEqual(expect.any(String));
    expect(has(accepted, "dashboard_url")).toBe(defines(14));
    expect(expectStatus(await loi(), 200)).toEqual({ state: "succeeded" });
    expect(expectStatus(await osb.get(instancePath(instanceId)), 200).parameters).toMatchObject({
      backup_retention_days: minor,
    });
  });

  it("H16 BIND (synchronous), GETB and UNBIND: endpoints from 2.15; H17 rotation (predecessor_binding_id) read from 2.17", async () => {
    const bindingId = newId();
    const bound = expectStatus(
      await osb.put(bindingPath(largeInstance, bindingId), { service_id: PG.service, plan_id: PG.large }),
      201,
    );
    expect(bound.credentials).toMatchObject({ database: expect.any(String), password: expect.any(String) });
    expect(has(bound, "endpoints")).toBe(defines(15));
    if (defines(15)) expect(bound.endpoints[0]).toMatchObject({ host: expect.any(String) });
    const fetched = expectStatus(await osb.get(bindingPath(largeInstance, bindingId)), 200);
    expect(fetched.credentials).toEqual(bound.credentials);
    expect(has(fetched, "endpoints")).toBe(defines(15));

    const successor = newId();
    const rotation = await osb.put(bindingPath(largeInstance, successor), {
      predecessor_binding_id: bindingId,
    });
    if (defines(17)) {
      expect(expectStatus(rotation, 201).credentials).toBeDefined();
      expectStatus(
        await osb.delete(bindingPath(largeInstance, successor), unbindQuery(PG.large, false)),
        200,
      );
    } else {
      // An unknown field at this version: the body is a bind request without service_id.
      const refused = expectStatus(rotation, 400);
      expect(refused.description).toContain("service_id");
    }
    expect(
      expectStatus(
        await osb.delete(bindingPath(largeInstance, bindingId), unbindQuery(PG.large, false)),
        200,
      ),
    ).toEqual({});
  });

  it("H16 BIND (workflow), LOB, GETB and UNBIND: metadata.expires_at from 2.16, renew_before from 2.17; H17 async bindings from 2.14", async () => {
    const bindingId = newId();
    const body = { service_id: PG.service, plan_id: PG.small, parameters: { privileges: "readonly" } };
    const response = await osb.put(bindingPath(instanceId, bindingId), body, ASYNC);
    if (!defines(14)) {
      // accepts_incomplete on a binding is unknown at 2.13: this async-only plan refuses.
      expect(expectStatus(response, 422).error).toBe("AsyncRequired");
      expect(expectStatus(await osb.get(bindingPath(instanceId, bindingId)), 404).error).toBe("NotFound");
      return;
    }
    expect(expectStatus(response, 202).operation).toEqual(expect.any(String));
    expect(expectStatus(await lob(instanceId, bindingId), 200)).toEqual({ state: "succeeded" });

    const fetched = expectStatus(await osb.get(bindingPath(instanceId, bindingId)), 200);
    expect(fetched.credentials).toMatchObject({ username: expect.stringMatching(/^u_/) });
    expect(has(fetched, "endpoints")).toBe(defines(15));
    expect(has(fetched, "metadata")).toBe(defines(16));
    if (defines(16)) {
      expect(fetched.metadata.expires_at).toEqual(expect.any(String));
      expect(has(fetched.metadata, "renew_before")).toBe(defines(17));
    }

    expect(
      expectStatus(await osb.delete(bindingPath(instanceId, bindingId), unbindQuery(PG.small, true)), 202)
        .operation,
    ).toEqual(expect.any(String));
    expect(expectStatus(await lob(instanceId, bindingId), 200)).toMatchObject({ state: "succeeded" });
  });

  it("H16 LOI of a failed update: instance_usable and update_repeatable from 2.16", async () => {
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "update",
      deploymentId: `osb-${instanceId}`,
      message: "resize refused",
      times: 1,
    });
    const body = { service_id: PG.service, parameters: { backup_retention_days: minor + 1 } };
    expectStatus(await osb.patch(instancePath(instanceId), body, ASYNC), 202);
    const failed = expectStatus(await loi(), 200);
    expect(failed.state).toBe("failed");
    expect(failed.description).toContain("resize refused");
    expect(has(failed, "instance_usable")).toBe(defines(16));
    expect(has(failed, "update_repeatable")).toBe(defines(16));
  });

  it("H16 DEPROV and its LOI", async () => {
    const response = await osb.delete(instancePath(instanceId), {
      query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" },
    });
    expect(expectStatus(response, 202).operation).toEqual(expect.any(String));
    const last = expectStatus(await loi(), 200);
    expect(last.state).toBe("succeeded");
    expect(has(last, "instance_usable")).toBe(false); // only failed updates and deprovisions carry it
  });
});

describe("H16 the catalog per version", () => {
  it("each version's catalog has its own strong ETag (equal where the fields are) and Vary names the version header", async () => {
    const tags = new Map<string, string>();
    for (const version of VERSIONS) {
      const response = await clientAt(version).get("/v2/catalog");
      expect(response.headers.get("vary")).toMatch(/X-Broker-API-Version/i);
      tags.set(version, response.headers.get("etag")!);
    }
    // 2.16 adds no catalog field: 2.15 and 2.16 are the same bytes.
    expect(tags.get("2.15")).toBe(tags.get("2.16"));
    expect(new Set([tags.get("2.13"), tags.get("2.14"), tags.get("2.15"), tags.get("2.17")]).size).toBe(4);
    // A platform's cached 2.14 catalog is not current for a 2.17 request.
    const at17 = await clientAt("2.17").get("/v2/catalog", {
      headers: { "If-None-Match": tags.get("2.14")! },
    });
    expect(at17.status).toBe(200);
    const at14 = await clientAt("2.14").get("/v2/catalog", {
      headers: { "If-None-Match": tags.get("2.14")! },
    });
    expect(at14.status).toBe(304);
  });
});

describe("H16 shapeFor, the one place answers are shaped", () => {
  it("instance metadata: on PROV and UPD answers from 2.16, its attributes from 2.17; on GETI from 2.17", () => {
    const answer = { dashboard_url: "https://d", metadata: { labels: { a: "1" }, attributes: { b: "2" } } };
    expect(shapeFor(15, "provision", answer)).toEqual({ dashboard_url: "https://d" });
    expect(shapeFor(16, "provision", answer)).toEqual({
      dashboard_url: "https://d",
      metadata: { labels: { a: "1" } },
    });
    expect(shapeFor(17, "update", answer)).toBe(answer);
    expect(shapeFor(13, "update", answer)).toEqual({});
    expect(shapeFor(16, "fetchInstance", { plan_id: "p", metadata: {} })).toEqual({ plan_id: "p" });
  });

  it("never changes what it is given (the rendered catalog is shared by every request)", () => {
    const catalog = {
      services: [
        { id: "s", bindings_retrievable: true, plans: [{ id: "p", binding_rotatable: true, free: true }] },
      ],
    };
    const copy = structuredClone(catalog);
    expect(shapeFor(13, "catalog", catalog)).toEqual({
      services: [{ id: "s", plans: [{ id: "p", free: true }] }],
    });
    expect(catalog).toEqual(copy);
    expect(shapeFor(17, "catalog", catalog)).toBe(catalog);
  });
});
