/**
 * The protocol layer against a fake domain (the ServiceBroker interface): failures map to status
 * and OSB error code through the one table, domain results become the generated wire shapes.
 * Fast and in-process; the HTTP contract against the real broker is in the other suites.
 */
import { describe, expect, it } from "vitest";
import { BrokerFailure, type FailureKind } from "../src/broker/failures.js";
import type { ServiceBroker } from "../src/broker/service-broker.js";
import { silentLogger } from "../src/log/logger.js";
import { createOsbApp } from "../src/osb/app.js";
import { OSB_ERRORS } from "../src/osb/errors.js";
import { osbRoutes } from "../src/osb/routes.js";
import { validateComponent } from "./support/osb-openapi.js";

const AUTH = {
  Authorization: `Basic ${Buffer.from("u:p").toString("base64")}`,
  "X-Broker-API-Version": "2.17",
};

function fakeBroker(overrides: Partial<ServiceBroker>): ServiceBroker {
  const unexpected = () => {
    throw new Error("not expected in this test");
  };
  return {
    provision: unexpected,
    update: unexpected,
    deprovision: unexpected,
    fetchInstance: unexpected,
    instanceLastOperation: unexpected,
    bind: unexpected,
    unbind: unexpected,
    fetchBinding: unexpected,
    bindingLastOperation: unexpected,
    ...overrides,
  };
}

function app(broker: ServiceBroker) {
  return createOsbApp(
    {
      log: silentLogger,
      platformUsers: () => [{ username: "u", password: "p" }],
      maxBodyBytes: () => 65536,
      catalog: () => ({ services: [] }),
      broker: () => broker,
      retryAfterSeconds: () => 7,
      health: {
        liveness: () => ({ status: "ok", checks: {} }),
        readiness: () => ({ status: "ok", checks: {} }),
      },
    },
    osbRoutes,
  );
}

describe("OSB handlers on a fake ServiceBroker", () => {
  const kinds = Object.keys({
    BadRequest: 0,
    NotFound: 0,
    Conflict: 0,
    Gone: 0,
    AsyncRequired: 0,
    ConcurrencyError: 0,
    RequiresApp: 0,
    MaintenanceInfoConflict: 0,
    UnprocessableEntity: 0,
    InternalError: 0,
    ServiceUnavailable: 0,
  } satisfies Record<FailureKind, 0>) as FailureKind[];

  it.each(kinds)(
    "a domain %s failure answers its status and OSB error code from the one table",
    async (kind) => {
      const broker = fakeBroker({
        fetchInstance: () => {
          throw new BrokerFailure(kind, `failed: ${kind}`);
        },
      });
      const response = await app(broker).request("/v2/service_instances/i1", { headers: AUTH });
      expect(response.status).toBe(OSB_ERRORS[kind]);
      expect(await response.json()).toEqual({ error: kind, description: `failed: ${kind}` });
    },
  );

  it("maps domain results to the generated wire shapes", async () => {
    const broker = fakeBroker({
      fetchInstance: async () => ({
        serviceId: "s",
        planId: "p",
        parameters: { a: 1 },
        maintenanceVersion: "1.0.0",
      }),
      instanceLastOperation: async () => ({
        state: "failed",
        description: "no",
        instanceUsable: true,
        updateRepeatable: false,
      }),
      bindingLastOperation: async () => ({ state: "in progress" }),
      fetchBinding: async () => ({
        result: { credentials: { user: "x" } },
        expiresAt: "2030-01-01T00:00:00.000Z",
        renewBefore: "2029-12-01T00:00:00.000Z",
        parameters: { b: 2 },
      }),
    });
    const osb = app(broker);

    const instance = await osb.request("/v2/service_instances/i1", { headers: AUTH });
    const instanceBody = await instance.json();
    expect(instanceBody).toEqual({
      service_id: "s",
      plan_id: "p",
      parameters: { a: 1 },
      maintenance_info: { version: "1.0.0" },
    });
    expect(validateComponent("FetchInstanceResponse", instanceBody)).toEqual([]);

    const last = await osb.request("/v2/service_instances/i1/last_operation", { headers: AUTH });
    expect(await last.json()).toEqual({
      state: "failed",
      description: "no",
      instance_usable: true,
      update_repeatable: false,
    });

    const lob = await osb.request("/v2/service_instances/i1/service_bindings/b1/last_operation", {
      headers: AUTH,
    });
    expect(lob.headers.get("Retry-After")).toBe("7");
    expect(await lob.json()).toEqual({ state: "in progress" });

    const binding = await osb.request("/v2/service_instances/i1/service_bindings/b1", { headers: AUTH });
    const bindingBody = await binding.json();
    expect(bindingBody).toEqual({
      credentials: { user: "x" },
      metadata: { expires_at: "2030-01-01T00:00:00.000Z", renew_before: "2029-12-01T00:00:00.000Z" },
      parameters: { b: 2 },
    });
    expect(validateComponent("FetchBindingResponse", bindingBody)).toEqual([]);
  });

  it("H16 error bodies carry instance_usable and update_repeatable from API 2.16 on, not before", async () => {
    const broker = fakeBroker({
      update: () => {
        throw new BrokerFailure("UnprocessableEntity", "cannot resize", {
          instanceUsable: false,
          updateRepeatable: false,
        });
      },
    });
    const patch = (version: string) =>
      app(broker).request("/v2/service_instances/i1", {
        method: "PATCH",
        headers: { ...AUTH, "X-Broker-API-Version": version, "Content-Type": "application/json" },
        body: JSON.stringify({ service_id: "s" }),
      });
    const base = { error: "UnprocessableEntity", description: "cannot resize" };
    for (const version of ["2.13", "2.15"])
      expect(await (await patch(version)).json(), version).toEqual(base);
    for (const version of ["2.16", "2.17"]) {
      const body = await (await patch(version)).json();
      expect(body, version).toEqual({ ...base, instance_usable: false, update_repeatable: false });
      expect(validateComponent("UpdateError", body)).toEqual([]);
    }
  });

  it("an unexpected error is a 500 that reveals nothing", async () => {
    const broker = fakeBroker({
      fetchInstance: () => {
        throw new Error("secret detail");
      },
    });
    const response = await app(broker).request("/v2/service_instances/i1", { headers: AUTH });
    expect(response.status).toBe(500);
    expect(JSON.stringify(await response.json())).not.toContain("secret detail");
  });
});

describe("8.3 request bodies checked against the OpenAPI document's components (H14)", () => {
  const never = fakeBroker({});
  const send = (method: string, path: string, body: unknown) =>
    app(never).request(`${path}?accepts_incomplete=true`, {
      method,
      headers: { ...AUTH, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  const PROVISION = { service_id: "s", plan_id: "p", organization_guid: "o", space_guid: "sp" };
  const cases: [string, string, string, unknown, string][] = [
    [
      "PROV missing space_guid",
      "PUT",
      "/v2/service_instances/i1",
      { ...PROVISION, space_guid: undefined },
      "Field space_guid is required.",
    ],
    [
      "PROV empty service_id (X4)",
      "PUT",
      "/v2/service_instances/i1",
      { ...PROVISION, service_id: "" },
      "Field service_id is required and must be a non-empty string.",
    ],
    [
      "PROV parameters an array",
      "PUT",
      "/v2/service_instances/i1",
      { ...PROVISION, parameters: [1] },
      "Field parameters must be a JSON object, got an array.",
    ],
    [
      "PROV context without platform",
      "PUT",
      "/v2/service_instances/i1",
      { ...PROVISION, context: { space_guid: "x" } },
      "Field context.platform is required.",
    ],
    [
      "PROV maintenance_info.version a number",
      "PUT",
      "/v2/service_instances/i1",
      { ...PROVISION, maintenance_info: { version: 1 } },
      "Field maintenance_info.version must be a string, got a number.",
    ],
    [
      "UPD plan_id a number",
      "PATCH",
      "/v2/service_instances/i1",
      { service_id: "s", plan_id: 7 },
      "Field plan_id must be a string, got a number.",
    ],
    [
      "UPD previous_values.plan_id an object",
      "PATCH",
      "/v2/service_instances/i1",
      { service_id: "s", previous_values: { plan_id: {} } },
      "Field previous_values.plan_id must be a string, got a JSON object.",
    ],
    [
      "BIND missing plan_id",
      "PUT",
      "/v2/service_instances/i1/service_bindings/b1",
      { service_id: "s" },
      "Field plan_id is required.",
    ],
    [
      "BIND empty bind_resource.app_guid",
      "PUT",
      "/v2/service_instances/i1/service_bindings/b1",
      { service_id: "s", plan_id: "p", bind_resource: { app_guid: "" } },
      "Field bind_resource.app_guid is required and must be a non-empty string.",
    ],
    [
      "BIND rotation with a context that is no object",
      "PUT",
      "/v2/service_instances/i1/service_bindings/b1",
      { predecessor_binding_id: "b0", context: "cf" },
      "Field context must be a JSON object, got a string.",
    ],
  ];
  it.each(cases)(
    "%s: 400 BadRequest naming the field; the domain is never asked",
    async (_name, method, path, body, description) => {
      const response = await send(method, path, body);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: "BadRequest", description });
    },
  );

  it("valid bodies reach the domain with their fields; null optional fields count as absent; unknown fields are ignored (H8)", async () => {
    const seen: unknown[] = [];
    const broker = fakeBroker({
      provision: async (req) => {
        seen.push(req);
        return { kind: "accepted", operation: "op" };
      },
      bind: async (req) => {
        seen.push(req);
        return { kind: "accepted", operation: "op" };
      },
    });
    const put = (path: string, body: unknown) =>
      app(broker).request(`${path}?accepts_incomplete=true`, {
        method: "PUT",
        headers: AUTH,
        body: JSON.stringify(body),
      });
    const provision = await put("/v2/service_instances/i1", {
      ...PROVISION,
      context: { platform: "cloudfoundry" },
      parameters: null,
      vendor: { x: 1 },
    });
    expect(provision.status).toBe(202);
    expect(seen[0]).toMatchObject({
      serviceId: "s",
      planId: "p",
      spaceGuid: "sp",
      context: { platform: "cloudfoundry" },
    });
    expect((seen[0] as { parameters?: unknown }).parameters).toBeUndefined();
    const rotation = await put("/v2/service_instances/i1/service_bindings/b2", {
      predecessor_binding_id: "b1",
    });
    expect(rotation.status).toBe(202);
    expect(seen[1]).toMatchObject({ predecessorBindingId: "b1", serviceId: undefined, planId: undefined });
  });

  it("405 from hono's method-not-allowed with Allow, as an OSB error body", async () => {
    const response = await app(never).request("/v2/service_instances/i1/last_operation", {
      method: "POST",
      headers: AUTH,
    });
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toBe("GET, HEAD");
    expect(((await response.json()) as { error: string }).error).toBe("MethodNotAllowed");
  });
});
