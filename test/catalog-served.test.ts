/**
 * CAT: the catalog the broker serves for the example broker.yaml, over real HTTP, with no
 * Cloudify at all (the stack points CLOUDIFY_URL at a closed port): the catalog must not need
 * it. Checked against schema/osb-openapi.yaml and against every catalog rule of the contract
 * (sections 1 and 3) that a catalog can break.
 */
import { join } from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleText, ROOT, runCli } from "./fixtures/configs/helpers.js";
import { validateComponent, validateResponse } from "./support/osb-openapi.js";
import { PG, REDIS, type Stack, startStack, useStack } from "./support/stack.js";

// biome-ignore lint/suspicious/noExplicitAny: the catalog JSON is walked freely
type Json = Record<string, any>;

const SECRETS = {
  BROKER_NEXT_USERNAME: "platform-next",
  BROKER_NEXT_PASSWORD: "next-platform-password-5ecret",
  CLOUDIFY_PASSWORD: "cloudify-admin-password-5ecret",
};

let stack: Stack;
let catalog: { services: Json[] };
let raw: string;

useStack(
  async (started) => {
    stack = started.stack;
    const response = await fetch(new URL("/v2/catalog", stack.broker.url), {
      headers: {
        Authorization: `Basic ${Buffer.from(`${stack.env.BROKER_USERNAME}:${stack.env.BROKER_PASSWORD}`).toString("base64")}`,
        "X-Broker-API-Version": "2.17",
      },
    });
    expect(response.status).toBe(200);
    raw = await response.text();
    catalog = JSON.parse(raw);
  },
  { emulator: false, env: SECRETS },
);

const services = () => catalog.services;
const plans = () => services().flatMap((service) => service.plans.map((plan: Json) => ({ service, plan })));

/** Every parameter schema of the catalog with where it sits. */
function parameterSchemas(): { where: string; schema: Json }[] {
  return plans().flatMap(({ service, plan }) => {
    const out: { where: string; schema: Json }[] = [];
    const s = plan.schemas ?? {};
    const add = (kind: string, slot: Json | undefined) => {
      if (slot?.parameters)
        out.push({ where: `${service.name}/${plan.name} ${kind}`, schema: slot.parameters });
    };
    add("instance create", s.service_instance?.create);
    add("instance update", s.service_instance?.update);
    add("binding create", s.service_binding?.create);
    return out;
  });
}

describe("CAT GET /v2/catalog", () => {
  it("answers 200 application/json with a body valid against the OSB OpenAPI document", async () => {
    const response = await stack.osb.get("/v2/catalog");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(validateResponse("get", "/v2/catalog", 200, response.body)).toEqual([]);
  });

  it("serves what the config says, in its order, without Cloudify", () => {
    expect(services().map((s) => s.id)).toEqual([PG.service, REDIS.service]);
    expect(plans().map(({ plan }) => plan.id)).toEqual([PG.small, PG.large, REDIS.small, REDIS.large]);
    expect(plans().map(({ plan }) => plan.name)).toEqual(["small", "large", "cache-small", "cache-large"]);
  });

  it("C1 services is an array", () => {
    expect(Array.isArray(catalog.services)).toBe(true);
    expect(Object.keys(catalog)).toEqual(["services"]);
  });

  it("C1 a broker without offerings serves an empty services array", async () => {
    const empty = await startStack({
      emulator: false,
      configFile: join(ROOT, "test/fixtures/configs/empty-catalog.yaml"),
    });
    try {
      const response = await empty.osb.get("/v2/catalog");
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ services: [] });
      expect(validateResponse("get", "/v2/catalog", 200, response.body)).toEqual([]);
    } finally {
      await empty.stop();
    }
  });

  it("C2 every offering has a non-empty id, name, description, a boolean bindable and at least one plan", () => {
    for (const service of services()) {
      for (const field of ["id", "name", "description"]) {
        expect(typeof service[field], field).toBe("string");
        expect(service[field].length, field).toBeGreaterThan(0);
      }
      expect(typeof service.bindable).toBe("boolean");
      expect(service.plans.length).toBeGreaterThanOrEqual(1);
    }
  });

  it("C2 service ids and names are unique across the catalog, names CLI-friendly", () => {
    const ids = services().map((s) => s.id);
    const names = services().map((s) => s.name);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
  });

  it("C2 requires only lists permissions the spec defines", () => {
    for (const service of services()) {
      for (const permission of service.requires ?? []) {
        expect(["syslog_drain", "route_forwarding", "volume_mount"]).toContain(permission);
      }
    }
    expect(services()[1]?.requires).toEqual(["syslog_drain"]);
  });

  it("C3 plan ids are unique across the catalog, plan names unique within their offering and CLI-friendly", () => {
    const ids = plans().map(({ plan }) => plan.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const service of services()) {
      const names = service.plans.map((p: Json) => p.name);
      expect(new Set(names).size).toBe(names.length);
      for (const name of names) expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    }
  });

  it("C3 every plan has a non-empty id, name and description", () => {
    for (const { plan } of plans()) {
      for (const field of ["id", "name", "description"]) {
        expect(typeof plan[field], field).toBe("string");
        expect(plan[field].length, field).toBeGreaterThan(0);
      }
    }
  });

  it("C3 free is always given and defaults to true", () => {
    const free = Object.fromEntries(plans().map(({ plan }) => [plan.name, plan.free]));
    // cache-small sets no `free` in broker.yaml.
    expect(free).toEqual({ small: true, large: false, "cache-small": true, "cache-large": false });
  });

  it("C6 effective bindable and plan_updateable follow plan, then offering, then false", () => {
    const effective = Object.fromEntries(
      plans().map(({ service, plan }) => [
        plan.name,
        {
          bindable: plan.bindable ?? service.bindable,
          updateable: plan.plan_updateable ?? service.plan_updateable ?? false,
        },
      ]),
    );
    expect(effective).toEqual({
      small: { bindable: true, updateable: true },
      large: { bindable: true, updateable: true },
      "cache-small": { bindable: true, updateable: true },
      "cache-large": { bindable: true, updateable: false },
    });
  });

  it("C3 binding_rotatable is only offered on bindable plans", () => {
    for (const { service, plan } of plans()) {
      if (plan.binding_rotatable) expect(plan.bindable ?? service.bindable).toBe(true);
    }
    expect(
      plans()
        .filter(({ plan }) => plan.binding_rotatable)
        .map(({ plan }) => plan.name),
    ).toEqual(["small", "large"]);
  });

  it("C3 maintenance_info.version is semver 2.0", () => {
    const versions = plans().flatMap(({ plan }) =>
      plan.maintenance_info ? [plan.maintenance_info.version] : [],
    );
    expect(versions).toEqual(["1.0.0", "2.1.0", "1.0.0"]);
    for (const version of versions) expect(semver.valid(version)).toBe(version);
  });

  it("C3 plan metadata: bullets are strings, costs have numeric amounts per currency and a unit", () => {
    for (const { plan } of plans()) {
      const metadata = plan.metadata ?? {};
      for (const bullet of metadata.bullets ?? []) expect(typeof bullet).toBe("string");
      for (const cost of metadata.costs ?? []) {
        expect(Object.keys(cost).sort()).toEqual(["amount", "unit"]);
        expect(typeof cost.unit).toBe("string");
        expect(cost.unit.length).toBeGreaterThan(0);
        expect(Object.keys(cost.amount).length).toBeGreaterThan(0);
        for (const amount of Object.values(cost.amount)) expect(typeof amount).toBe("number");
      }
      expect(validateComponent("ServicePlanMetadata", metadata)).toEqual([]);
    }
    const large = plans().find(({ plan }) => plan.name === "large")?.plan;
    expect(large?.metadata.costs).toEqual([{ amount: { usd: 249, eur: 229 }, unit: "MONTHLY" }]);
  });

  it("C4 every parameter schema declares $schema, uses no external $ref and is at most 64 kB", () => {
    const schemas = parameterSchemas();
    expect(schemas.map((s) => s.where)).toEqual([
      "postgresql/small instance create",
      "postgresql/small instance update",
      "postgresql/small binding create",
      "redis/cache-small instance create",
    ]);
    const refs = (node: unknown): string[] =>
      Array.isArray(node)
        ? node.flatMap(refs)
        : node && typeof node === "object"
          ? Object.entries(node).flatMap(([k, v]) => (k === "$ref" && typeof v === "string" ? [v] : refs(v)))
          : [];
    for (const { where, schema } of schemas) {
      expect(schema.$schema, where).toMatch(/^https?:\/\/json-schema\.org\//);
      expect(Buffer.byteLength(JSON.stringify(schema)), where).toBeLessThanOrEqual(64 * 1024);
      for (const ref of refs(schema)) expect(ref.startsWith("#"), `${where} ${ref}`).toBe(true);
    }
  });

  it("H15 catalog strings are at most 255 characters", () => {
    const strings = (node: unknown): string[] =>
      typeof node === "string"
        ? [node]
        : Array.isArray(node)
          ? node.flatMap(strings)
          : node && typeof node === "object"
            ? Object.values(node).flatMap(strings)
            : [];
    for (const text of strings(catalog)) expect(text.length).toBeLessThanOrEqual(255);
  });

  it("C5 ids and content are stable across fetches and across a reload of an unchanged config", async () => {
    const again = await stack.osb.get("/v2/catalog");
    expect(again.body).toEqual(catalog);
    const reloaded = await stack.broker.reload();
    expect(reloaded).toEqual({ ok: true, issues: [] });
    const afterReload = await stack.osb.get("/v2/catalog");
    expect(afterReload.body).toEqual(catalog);
  });

  it("carries no secret: broker passwords, encryption key, Cloudify password", () => {
    const secrets = [
      stack.env.BROKER_PASSWORD,
      stack.env.BROKER_ENCRYPTION_KEY,
      SECRETS.BROKER_NEXT_PASSWORD,
      SECRETS.CLOUDIFY_PASSWORD,
    ];
    for (const secret of secrets) {
      expect(secret).toBeTruthy();
      expect(raw).not.toContain(secret);
    }
  });

  it("is what `cfy-broker catalog` prints for the same config", async () => {
    const printed = await runCli(["catalog", "broker.yaml"], { env: stack.env });
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(catalog);
  });

  it("mirrors broker.yaml: descriptions and metadata are the config's", () => {
    const config = parse(exampleText()) as { services: Json[] };
    config.services.forEach((service, s) => {
      const served = services()[s] as Json;
      expect(served.description).toBe(service.description);
      expect(served.metadata).toEqual(service.metadata);
      service.plans.forEach((plan: Json, p: number) => {
        expect(served.plans[p].description).toBe(plan.description);
        expect(served.plans[p].metadata).toEqual(plan.metadata);
      });
    });
  });
});
