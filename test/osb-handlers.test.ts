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
      fetchInstance: () => ({
        serviceId: "s",
        planId: "p",
        parameters: { a: 1 },
        maintenanceVersion: "1.0.0",
      }),
      instanceLastOperation: () => ({
        state: "failed",
        description: "no",
        instanceUsable: true,
        updateRepeatable: false,
      }),
      bindingLastOperation: () => ({ state: "in progress" }),
      fetchBinding: () => ({
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
