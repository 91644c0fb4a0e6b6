/**
 * Checks the project's OpenAPI 3.1 description of OSB 2.17 (`schema/osb-openapi.yaml`) against the
 * broker-side contract (rule ids H*, C*, A*, X*; endpoint ids CAT, PROV, …) and exercises the
 * request/response validator in `test/support/osb-openapi.ts`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  componentSchema,
  declaredStatuses,
  deref,
  jsonPointer,
  type MediaTypeObject,
  OSB_OPENAPI_PATH,
  openApiDocument,
  operation,
  operationParameters,
  operations,
  pathTemplateFor,
  type ResponseObject,
  resolvePointer,
  responseFor,
  validateAt,
  validateComponent,
  validateRequest,
  validateResponse,
  walkDocument,
} from "./support/osb-openapi.js";

const CATALOG = "/v2/catalog";
const INSTANCE = "/v2/service_instances/{instance_id}";
const INSTANCE_LO = "/v2/service_instances/{instance_id}/last_operation";
const BINDING = "/v2/service_instances/{instance_id}/service_bindings/{binding_id}";
const BINDING_LO = "/v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation";

interface Endpoint {
  id: string;
  method: string;
  path: string;
  operationId: string;
  /** Status codes the contract's tables name for this endpoint (sections 2-11). */
  statuses: string[];
  /** Query parameters of the endpoint map; `true` = required. */
  query: Record<string, boolean>;
  requestBody: boolean;
}

/** Contract section 2 (endpoint map) with the status codes of sections 3-11. */
const ENDPOINTS: Endpoint[] = [
  {
    id: "CAT",
    method: "get",
    path: CATALOG,
    operationId: "getCatalog",
    statuses: ["200"],
    query: {},
    requestBody: false,
  },
  {
    id: "PROV",
    method: "put",
    path: INSTANCE,
    operationId: "provisionServiceInstance",
    statuses: ["200", "201", "202", "400", "409", "422"],
    query: { accepts_incomplete: false },
    requestBody: true,
  },
  {
    id: "GETI",
    method: "get",
    path: INSTANCE,
    operationId: "fetchServiceInstance",
    statuses: ["200", "404", "422"],
    query: { service_id: false, plan_id: false },
    requestBody: false,
  },
  {
    id: "UPD",
    method: "patch",
    path: INSTANCE,
    operationId: "updateServiceInstance",
    statuses: ["200", "202", "400", "422"],
    query: { accepts_incomplete: false },
    requestBody: true,
  },
  {
    id: "DEPROV",
    method: "delete",
    path: INSTANCE,
    operationId: "deprovisionServiceInstance",
    statuses: ["200", "202", "400", "410", "422"],
    query: { service_id: true, plan_id: true, accepts_incomplete: false },
    requestBody: false,
  },
  {
    id: "LOI",
    method: "get",
    path: INSTANCE_LO,
    operationId: "pollServiceInstanceLastOperation",
    statuses: ["200", "400", "404", "410"],
    query: { service_id: false, plan_id: false, operation: false },
    requestBody: false,
  },
  {
    id: "BIND",
    method: "put",
    path: BINDING,
    operationId: "bindServiceBinding",
    statuses: ["200", "201", "202", "400", "409", "422"],
    query: { accepts_incomplete: false },
    requestBody: true,
  },
  {
    id: "GETB",
    method: "get",
    path: BINDING,
    operationId: "fetchServiceBinding",
    statuses: ["200", "404"],
    query: { service_id: false, plan_id: false },
    requestBody: false,
  },
  {
    id: "UNBIND",
    method: "delete",
    path: BINDING,
    operationId: "unbindServiceBinding",
    statuses: ["200", "202", "400", "410", "422"],
    query: { service_id: true, plan_id: true, accepts_incomplete: false },
    requestBody: false,
  },
  {
    id: "LOB",
    method: "get",
    path: BINDING_LO,
    operationId: "pollServiceBindingLastOperation",
    statuses: ["200", "400", "404", "410"],
    query: { service_id: false, plan_id: false, operation: false },
    requestBody: false,
  },
];

/** H13: the defined error codes each endpoint's 422 documents. */
const ERROR_CODES_422: Record<string, string[]> = {
  PROV: ["AsyncRequired", "MaintenanceInfoConflict"],
  GETI: ["ConcurrencyError"],
  UPD: ["AsyncRequired", "ConcurrencyError", "MaintenanceInfoConflict"],
  DEPROV: ["AsyncRequired", "ConcurrencyError"],
  BIND: ["RequiresApp", "ConcurrencyError", "AsyncRequired"],
  UNBIND: ["AsyncRequired", "ConcurrencyError"],
};

function endpoint(id: string): Endpoint {
  const found = ENDPOINTS.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`unknown endpoint ${id}`);
  return found;
}

/** All responses of all operations, after `$ref`, with where they are. */
function allResponses(): { where: string; status: string; response: ResponseObject }[] {
  return operations().flatMap(({ method, path, operation: op }) =>
    Object.entries(op.responses).map(([status, raw]) => ({
      where: `${method.toUpperCase()} ${path} ${status}`,
      status,
      response: deref<ResponseObject>(raw),
    })),
  );
}

const plan = (overrides: Record<string, unknown> = {}) => ({
  id: "2f9a0e4c-small",
  name: "small",
  description: "A small deployment",
  ...overrides,
});

const offering = (overrides: Record<string, unknown> = {}) => ({
  name: "cloudify-db",
  id: "5b7c3c0e-offering",
  description: "A database deployed by Cloudify",
  bindable: true,
  plans: [plan()],
  ...overrides,
});

const catalog = (services: unknown[]) => ({ services });

describe("document structure", () => {
  it("parses as YAML and is OpenAPI 3.1.0 with the JSON Schema 2020-12 (OAS base) dialect", () => {
    const raw = parse(readFileSync(OSB_OPENAPI_PATH, "utf8"), { uniqueKeys: true, strict: true });
    expect(raw.openapi).toBe("3.1.0");
    expect(raw.jsonSchemaDialect).toBe("https://spec.openapis.org/oas/3.1/dialect/base");
    expect(raw.info.version).toBe("2.17");
    expect(raw.info.title).toMatch(/Open Service Broker/);
  });

  it("H6 declares HTTP basic auth as the global security requirement", () => {
    const doc = openApiDocument();
    expect(doc.components.securitySchemes?.basicAuth).toMatchObject({ type: "http", scheme: "basic" });
    expect(doc.security).toEqual([{ basicAuth: [] }]);
    for (const { operation: op } of operations()) expect(op.security).toBeUndefined();
  });

  it("has a server placeholder and declares every tag operations use", () => {
    const doc = openApiDocument();
    const servers = doc.servers as { url: string; description: string }[];
    expect(servers.length).toBeGreaterThan(0);
    expect(servers[0]?.description).toBeTruthy();
    const declared = (doc.tags as { name: string; description: string }[]).map((tag) => tag.name);
    expect(declared).toEqual(["Catalog", "ServiceInstances", "ServiceBindings"]);
    for (const { operation: op } of operations()) {
      expect(op.tags?.length).toBe(1);
      expect(declared).toContain(op.tags?.[0]);
    }
  });

  it("every $ref resolves inside the document", () => {
    const refs: string[] = [];
    walkDocument((node) => {
      if (typeof node.$ref === "string") refs.push(node.$ref);
    });
    expect(refs.length).toBeGreaterThan(100);
    const broken = refs.filter((ref) => !ref.startsWith("#/") || resolvePointer(ref) === undefined);
    expect(broken).toEqual([]);
  });

  it("section 15: no schema declares a default (type generators would make the field required)", () => {
    const withDefault: string[] = [];
    walkDocument((node, pointer) => {
      if (Object.hasOwn(node, "default") && !pointer.startsWith("/servers/")) withDefault.push(pointer);
    });
    expect(withDefault).toEqual([]);
  });

  it("every operation, parameter, response, header and component schema has a description", () => {
    const missing: string[] = [];
    for (const { method, path, operation: op } of operations()) {
      if (!op.summary || !op.description) missing.push(`${method} ${path}`);
      for (const parameter of operationParameters(method, path)) {
        if (!parameter.description) missing.push(`${method} ${path} parameter ${parameter.name}`);
      }
    }
    for (const { where, response } of allResponses()) {
      if (!response.description) missing.push(where);
      for (const [name, header] of Object.entries(response.headers ?? {})) {
        if (!deref<{ description?: string }>(header).description) missing.push(`${where} header ${name}`);
      }
    }
    const schemas = openApiDocument().components.schemas ?? {};
    for (const [name, schema] of Object.entries(schemas)) {
      const s = schema as { description?: string; properties?: Record<string, Record<string, unknown>> };
      if (!s.description) missing.push(`schema ${name}`);
      for (const [property, sub] of Object.entries(s.properties ?? {})) {
        if (!sub.description && !sub.$ref) missing.push(`schema ${name}.${property}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every example in the document validates against the schema it illustrates", () => {
    const problems: string[] = [];
    walkDocument((node, pointer) => {
      const media = node as MediaTypeObject;
      if (pointer.includes("/content/") && media.schema && media.examples) {
        for (const [name, example] of Object.entries(media.examples)) {
          const value = deref<{ value: unknown }>(example).value;
          for (const error of validateAt(`${pointer}/schema`, value))
            problems.push(`${pointer} ${name}: ${error}`);
        }
      }
    });
    const schemas = openApiDocument().components.schemas ?? {};
    for (const [name, schema] of Object.entries(schemas)) {
      for (const example of (schema as { examples?: unknown[] }).examples ?? []) {
        for (const error of validateComponent(name, example)) problems.push(`${name}: ${error}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("endpoint map (contract section 2)", () => {
  it("declares exactly the ten endpoints of the contract, with unique operationIds", () => {
    const declared = operations()
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    expect(declared).toEqual(ENDPOINTS.map(({ method, path }) => `${method} ${path}`).sort());
    const ids = operations().map(({ operation: op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  for (const ep of ENDPOINTS) {
    describe(`${ep.id} ${ep.method.toUpperCase()} ${ep.path}`, () => {
      it(`exists as ${ep.operationId} tagged x-osb-endpoint-id ${ep.id}`, () => {
        const op = operation(ep.method, ep.path);
        expect(op?.operationId).toBe(ep.operationId);
        expect(op?.["x-osb-endpoint-id"]).toBe(ep.id);
        expect(op?.summary).toContain(`(${ep.id})`);
      });

      it(`H10 declares every status code the contract names for ${ep.id} (${ep.statuses.join(", ")})`, () => {
        expect(declaredStatuses(ep.method, ep.path)).toEqual(expect.arrayContaining(ep.statuses));
      });

      it("H2/H3/H6/H14 declares 400, 401, 412 and 5XX", () => {
        expect(declaredStatuses(ep.method, ep.path)).toEqual(
          expect.arrayContaining(["400", "401", "412", "5XX"]),
        );
      });

      it("declares no catch-all default response (undeclared statuses must fail validation)", () => {
        expect(declaredStatuses(ep.method, ep.path)).not.toContain("default");
      });

      it("H1/H4/H5 takes X-Broker-API-Version (required), Originating-Identity and Request-Identity", () => {
        const headers = operationParameters(ep.method, ep.path).filter((p) => p.in === "header");
        const byName = new Map(headers.map((p) => [p.name, p]));
        expect(byName.get("X-Broker-API-Version")?.required).toBe(true);
        expect(byName.get("X-Broker-API-Originating-Identity")?.required).toBe(false);
        expect(byName.get("X-Broker-API-Request-Identity")?.required).toBe(false);
      });

      it("H9 declares the path ids as required path parameters", () => {
        const pathParams = operationParameters(ep.method, ep.path).filter((p) => p.in === "path");
        const expected = [...ep.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
        expect(pathParams.map((p) => p.name).sort()).toEqual(expected.sort());
        for (const p of pathParams) expect(p.required).toBe(true);
      });

      it(`declares its query parameters (${Object.keys(ep.query).join(", ") || "none"}) with the right requiredness`, () => {
        const query = operationParameters(ep.method, ep.path).filter((p) => p.in === "query");
        const declared = Object.fromEntries(query.map((p) => [p.name, p.required === true]));
        expect(declared).toEqual(ep.query);
        const accepts = query.find((p) => p.name === "accepts_incomplete");
        if (accepts) expect(accepts.schema).toEqual({ type: "boolean" });
      });

      it(ep.requestBody ? "has a required JSON request body" : "has no request body", () => {
        const op = operation(ep.method, ep.path);
        if (ep.requestBody) {
          const body = deref<{ required?: boolean; content: Record<string, unknown> }>(op?.requestBody);
          expect(body.required).toBe(true);
          expect(Object.keys(body.content)).toEqual(["application/json"]);
        } else {
          expect(op?.requestBody).toBeUndefined();
        }
      });

      it("H5 every response declares the echoed X-Broker-API-Request-Identity header", () => {
        for (const status of declaredStatuses(ep.method, ep.path)) {
          const status_ = status === "5XX" ? 500 : Number(status);
          const response = responseFor(ep.method, ep.path, status_);
          expect(response?.headers, `${ep.id} ${status}`).toHaveProperty(["X-Broker-API-Request-Identity"]);
        }
      });

      it("X9 every response except 304 has an application/json body", () => {
        for (const status of declaredStatuses(ep.method, ep.path)) {
          const response = responseFor(ep.method, ep.path, status === "5XX" ? 500 : Number(status));
          if (status === "304") expect(response?.content).toBeUndefined();
          else
            expect(Object.keys(response?.content ?? {}), `${ep.id} ${status}`).toEqual(["application/json"]);
        }
      });
    });
  }

  it("H5 inline response headers are identical to the canonical components.headers", () => {
    const canonical = openApiDocument().components.headers as Record<string, unknown>;
    const names: Record<string, string> = {
      "X-Broker-API-Request-Identity": "RequestIdentity",
      "Retry-After": "RetryAfter",
      ETag: "ETag",
      "Last-Modified": "LastModified",
    };
    let checked = 0;
    for (const { where, response } of allResponses()) {
      for (const [name, header] of Object.entries(response.headers ?? {})) {
        const component = names[name];
        expect(component, `${where} header ${name}`).toBeDefined();
        expect(header, `${where} header ${name}`).toEqual(canonical[component as string]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("H6 every endpoint declares the brute-force limiter's 429, with Retry-After and an error body", () => {
    for (const endpoint of ENDPOINTS) {
      const response = responseFor(endpoint.method, endpoint.path, 429);
      expect(response, `${endpoint.id} 429`).toBeDefined();
      expect(response?.headers?.["Retry-After"], `${endpoint.id} 429 Retry-After`).toBeDefined();
      expect(
        validateResponse(endpoint.method, endpoint.path, 429, {
          error: "TooManyRequests",
          description: "wait",
        }),
      ).toEqual([]);
    }
  });

  it("H14 every endpoint declares the edge refusals (408, 413, 431) with an error body", () => {
    for (const endpoint of ENDPOINTS) {
      for (const [status, error] of [
        [408, "RequestTimeout"],
        [413, "PayloadTooLarge"],
        [431, "RequestHeaderFieldsTooLarge"],
      ] as const) {
        expect(responseFor(endpoint.method, endpoint.path, status), `${endpoint.id} ${status}`).toBeDefined();
        expect(
          validateResponse(endpoint.method, endpoint.path, status, { error, description: "refused" }),
        ).toEqual([]);
      }
    }
  });

  it("A6 LOI and LOB 200 responses declare an optional Retry-After header", () => {
    for (const path of [INSTANCE_LO, BINDING_LO]) {
      const header = responseFor("get", path, 200)?.headers?.["Retry-After"] as { required?: boolean };
      expect(header?.required).toBe(false);
    }
  });

  it("H15 the catalog documents conditional fetches (ETag, If-None-Match, If-Modified-Since, 304)", () => {
    const names = operationParameters("get", CATALOG).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["If-None-Match", "If-Modified-Since"]));
    expect(responseFor("get", CATALOG, 200)?.headers).toHaveProperty(["ETag"]);
    expect(declaredStatuses("get", CATALOG)).toContain("304");
  });

  it("A7 LOI and LOB declare 410 only as the async-delete answer; BIND declares no 410 (section 15)", () => {
    expect(responseFor("get", INSTANCE_LO, 410)?.description).toMatch(/asynchronous delete/);
    expect(responseFor("get", BINDING_LO, 410)?.description).toMatch(/asynchronous delete/);
    expect(declaredStatuses("put", BINDING)).not.toContain("410");
  });

  for (const [id, codes] of Object.entries(ERROR_CODES_422)) {
    it(`H13 ${id} documents 422 error codes ${codes.join(", ")}`, () => {
      const ep = endpoint(id);
      const media = responseFor(ep.method, ep.path, 422)?.content?.["application/json"];
      const examples = media?.examples ?? {};
      expect(Object.keys(examples)).toEqual(expect.arrayContaining(codes));
      for (const code of codes) {
        expect(deref<{ value: { error: string } }>(examples[code]).value.error).toBe(code);
        expect(validateResponse(ep.method, ep.path, 422, { error: code, description: "x" })).toEqual([]);
      }
    });
  }
});

describe("section 15: fields and responses upstream's openapi.yaml misses", () => {
  it("ServiceOffering has instances_retrievable, bindings_retrievable, allow_context_updates; no binding_rotatable", () => {
    const props = componentSchema("ServiceOffering")?.properties as Record<string, unknown>;
    expect(Object.keys(props)).toEqual(
      expect.arrayContaining(["instances_retrievable", "bindings_retrievable", "allow_context_updates"]),
    );
    expect(props).not.toHaveProperty(["binding_rotatable"]);
    expect(componentSchema("ServicePlan")?.properties).toHaveProperty(["binding_rotatable"]);
  });

  it("provision and update requests and previous_values carry maintenance_info", () => {
    for (const name of ["ProvisionRequest", "UpdateRequest", "PreviousValues"]) {
      expect(componentSchema(name)?.properties, name).toHaveProperty(["maintenance_info"]);
    }
  });

  it("412 is declared on every endpoint", () => {
    for (const { method, path } of operations()) expect(declaredStatuses(method, path)).toContain("412");
  });

  it("X-Broker-API-Request-Identity is a request parameter and a response header", () => {
    const param = deref<{ name: string; in: string }>(
      resolvePointer("#/components/parameters/RequestIdentity"),
    );
    expect(param).toMatchObject({ name: "X-Broker-API-Request-Identity", in: "header" });
    expect(responseFor("get", CATALOG, 200)?.headers).toHaveProperty(["X-Broker-API-Request-Identity"]);
  });

  it("bind requests accept predecessor_binding_id; binding responses carry metadata", () => {
    expect(componentSchema("BindingRequest")?.properties).toHaveProperty(["predecessor_binding_id"]);
    expect(componentSchema("BindingRotationRequest")?.required).toEqual(["predecessor_binding_id"]);
    expect(componentSchema("BindingResponse")?.properties).toHaveProperty(["metadata"]);
    expect(componentSchema("FetchBindingResponse")?.properties).toHaveProperty(["metadata"]);
  });

  it("GETI declares 422 (ConcurrencyError while an update is in progress)", () => {
    expect(declaredStatuses("get", INSTANCE)).toContain("422");
  });

  it("the X-Broker-API-Version header has no default (upstream master regressed it to 2.13)", () => {
    const param = deref<{ schema: Record<string, unknown> }>(
      resolvePointer("#/components/parameters/APIVersion"),
    );
    expect(param.schema).not.toHaveProperty(["default"]);
  });
});

describe("openapi-typescript code generation", () => {
  let generated = "";

  beforeAll(async () => {
    const ast = await openapiTS(pathToFileURL(OSB_OPENAPI_PATH), { silent: true });
    generated = astToString(ast);
  }, 60_000);

  it("generates types for paths, operations and components", () => {
    expect(generated).toContain("export interface paths");
    expect(generated).toContain("export interface operations");
    for (const name of [
      "Catalog",
      "ServiceOffering",
      "ServicePlan",
      "BindingResponse",
      "InstanceLastOperation",
    ]) {
      expect(generated).toMatch(new RegExp(`\\b${name}: \\{`));
    }
    for (const ep of ENDPOINTS) expect(generated).toContain(`${ep.operationId}: {`);
  });

  it("section 15: optional fields with spec defaults stay optional (free, binding_rotatable, plan_updateable)", () => {
    for (const field of ["free", "binding_rotatable", "plan_updateable", "protocol", "instance_usable"]) {
      expect(generated).toMatch(new RegExp(`^\\s+${field}\\?: `, "m"));
      expect(generated).not.toMatch(new RegExp(`^\\s+${field}: `, "m"));
    }
  });

  it("the echoed response headers are optional in the generated types", () => {
    expect(generated).toContain('"X-Broker-API-Request-Identity"?: string;');
    expect(generated).not.toMatch(/"X-Broker-API-Request-Identity": components\["headers"\]/);
  });

  it("the generated TypeScript type-checks under --strict", () => {
    const dir = mkdtempSync(join(tmpdir(), "osb-openapi-"));
    try {
      const file = join(dir, "osb.ts");
      writeFileSync(
        file,
        `${generated}
type Plan = components["schemas"]["ServicePlan"];
const plan: Plan = { id: "p", name: "small", description: "d" };
type Rotation = components["schemas"]["BindRequest"];
const rotation: Rotation = { predecessor_binding_id: "old" };
export const samples = [plan, rotation];
`,
      );
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        types: [],
      });
      const diagnostics = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      expect(diagnostics).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("validator", () => {
  it("fails for undeclared operations and status codes", () => {
    expect(validateResponse("post", CATALOG, 200, {})[0]).toMatch(/no operation POST/);
    expect(validateResponse("put", INSTANCE, 418, {})[0]).toMatch(/no 418 response/);
    expect(validateResponse("get", "/v2/unknown", 200, {})[0]).toMatch(/no operation/);
    expect(validateRequest("post", INSTANCE, {})[0]).toMatch(/no operation/);
  });

  it("matches 5xx statuses to the 5XX range", () => {
    expect(validateResponse("get", CATALOG, 503, { description: "Cloudify Manager unreachable" })).toEqual(
      [],
    );
    expect(validateResponse("get", CATALOG, 500, { message: "x" })).not.toEqual([]);
  });

  it("requires a JSON body where one is declared and none where none is", () => {
    expect(validateResponse("get", CATALOG, 200, undefined)[0]).toMatch(/requires a JSON body/);
    expect(validateResponse("get", CATALOG, 304, undefined)).toEqual([]);
    expect(validateResponse("get", CATALOG, 304, { services: [] })[0]).toMatch(
      /declares no application\/json/,
    );
    expect(validateRequest("get", INSTANCE, undefined)).toEqual([]);
    expect(validateRequest("delete", INSTANCE, {})[0]).toMatch(/takes no request body/);
    expect(validateRequest("put", INSTANCE, undefined)[0]).toMatch(/requires a request body/);
  });

  it("reports readable errors naming the offending location", () => {
    const errors = validateResponse("get", CATALOG, 200, catalog([offering({ plans: [{ name: "p" }] })]));
    expect(errors).toContain(
      "200 /services/0/plans/0 must have required property 'id' (#/components/schemas/ServicePlan/required)",
    );
  });

  it("componentSchema and validateComponent address component schemas by name", () => {
    expect(componentSchema("Catalog")?.required).toEqual(["services"]);
    expect(componentSchema("Nope")).toBeUndefined();
    expect(validateComponent("Nope", {})[0]).toMatch(/no component schema Nope/);
    expect(validateComponent("LastOperationState", "succeeded")).toEqual([]);
  });

  it("pathTemplateFor maps concrete paths (percent-encoded ids, query strings) to templates", () => {
    expect(pathTemplateFor("/v2/catalog")).toBe(CATALOG);
    expect(pathTemplateFor("/v2/service_instances/a%2Fb?accepts_incomplete=true")).toBe(INSTANCE);
    expect(pathTemplateFor("/v2/service_instances/i/last_operation")).toBe(INSTANCE_LO);
    expect(pathTemplateFor("/v2/service_instances/i/service_bindings/b")).toBe(BINDING);
    expect(pathTemplateFor("/v2/service_instances/i/service_bindings/b/last_operation")).toBe(BINDING_LO);
    expect(pathTemplateFor("/v2/service_instances")).toBeUndefined();
  });

  it("jsonPointer escapes path templates", () => {
    expect(jsonPointer("paths", CATALOG)).toBe("/paths/~1v2~1catalog");
  });
});

describe("catalog (CAT)", () => {
  const ok = (body: unknown) => expect(validateResponse("get", CATALOG, 200, body)).toEqual([]);
  const bad = (body: unknown) => expect(validateResponse("get", CATALOG, 200, body)).not.toEqual([]);

  it("C1 services is required and may be empty", () => {
    ok(catalog([]));
    bad({});
    bad({ services: {} });
  });

  it("C2 service offering requires name, id, description, bindable, plans", () => {
    ok(catalog([offering()]));
    for (const field of ["name", "id", "description", "bindable", "plans"]) {
      const o: Record<string, unknown> = offering();
      delete o[field];
      bad(catalog([o]));
    }
    bad(catalog([offering({ name: "" })]));
    bad(catalog([offering({ id: "" })]));
    bad(catalog([offering({ description: "" })]));
    bad(catalog([offering({ plans: [] })]));
    bad(catalog([offering({ bindable: "true" })]));
  });

  it("C2 a complete offering validates (retrievable flags, context updates, requires, metadata, dashboard_client)", () => {
    ok(
      catalog([
        offering({
          tags: ["database", "cloudify"],
          requires: ["syslog_drain", "route_forwarding", "volume_mount"],
          instances_retrievable: true,
          bindings_retrievable: true,
          allow_context_updates: true,
          plan_updateable: true,
          metadata: {
            displayName: "Cloudify DB",
            imageUrl: "data:image/png;base64,iVBORw0KGgo=",
            longDescription: "Long",
            providerDisplayName: "Cloudify",
            documentationUrl: "https://docs.example.com",
            supportUrl: "https://support.example.com",
            shareable: true,
            vendorExtension: { anything: 1 },
          },
          dashboard_client: { id: "client", secret: "s3cret", redirect_uri: "https://dash.example.com" },
        }),
      ]),
    );
  });

  it("C2 requires only allows syslog_drain, route_forwarding, volume_mount", () => {
    bad(catalog([offering({ requires: ["log_drain"] })]));
  });

  it("C2 dashboard_client requires non-empty id and secret", () => {
    bad(catalog([offering({ dashboard_client: { id: "c" } })]));
    bad(catalog([offering({ dashboard_client: { id: "", secret: "s" } })]));
  });

  it("C2 binding_rotatable and misspelt fields are rejected on the offering (closed response schema)", () => {
    bad(catalog([offering({ binding_rotatable: true })]));
    bad(catalog([offering({ plan_updatable: true })]));
  });

  it("C3 plan requires non-empty id, name, description", () => {
    for (const field of ["id", "name", "description"]) {
      const p: Record<string, unknown> = plan();
      delete p[field];
      bad(catalog([offering({ plans: [p] })]));
      bad(catalog([offering({ plans: [plan({ [field]: "" })] })]));
    }
  });

  it("C3 a complete plan validates (free, bindable, rotation, updateable, polling, maintenance, metadata)", () => {
    ok(
      catalog([
        offering({
          plans: [
            plan({
              free: false,
              bindable: true,
              binding_rotatable: true,
              plan_updateable: true,
              maximum_polling_duration: 3600,
              maintenance_info: { version: "1.2.3-rc.1+build.7", description: "OS patches" },
              metadata: {
                displayName: "Small",
                bullets: ["1 GB RAM", "10 GB disk"],
                costs: [{ amount: { usd: 99.0, eur: 89.5 }, unit: "MONTHLY" }],
                custom: true,
              },
              schemas: {
                service_instance: {
                  create: {
                    parameters: { $schema: "http://json-schema.org/draft-04/schema#", type: "object" },
                  },
                  update: { parameters: { $schema: "http://json-schema.org/draft-04/schema#" } },
                },
                service_binding: {
                  create: { parameters: { $schema: "https://json-schema.org/draft/2020-12/schema" } },
                },
              },
            }),
          ],
        }),
      ]),
    );
  });

  it("C3 maintenance_info.version must be semver 2.0", () => {
    bad(catalog([offering({ plans: [plan({ maintenance_info: { version: "1.2" } })] })]));
    bad(catalog([offering({ plans: [plan({ maintenance_info: { description: "no version" } })] })]));
  });

  it("C3 costs need amount (currency → number) and unit", () => {
    bad(catalog([offering({ plans: [plan({ metadata: { costs: [{ unit: "MONTHLY" }] } })] })]));
    bad(
      catalog([offering({ plans: [plan({ metadata: { costs: [{ amount: { usd: "9" }, unit: "M" }] } })] })]),
    );
  });

  it("C3 maximum_polling_duration is an integer number of seconds", () => {
    bad(catalog([offering({ plans: [plan({ maximum_polling_duration: 1.5 })] })]));
    bad(catalog([offering({ plans: [plan({ maximum_polling_duration: "60" })] })]));
  });

  it("C4 schema parameters must declare $schema", () => {
    bad(
      catalog([
        offering({
          plans: [plan({ schemas: { service_instance: { create: { parameters: { type: "object" } } } } })],
        }),
      ]),
    );
  });
});

describe("provision (PROV)", () => {
  const request = (overrides: Record<string, unknown> = {}) => ({
    service_id: "svc",
    plan_id: "plan",
    organization_guid: "org",
    space_guid: "space",
    ...overrides,
  });

  it("PROV request requires service_id, plan_id, organization_guid, space_guid", () => {
    expect(validateRequest("put", INSTANCE, request())).toEqual([]);
    for (const field of ["service_id", "plan_id", "organization_guid", "space_guid"]) {
      const body: Record<string, unknown> = request();
      delete body[field];
      expect(validateRequest("put", INSTANCE, body), field).not.toEqual([]);
    }
  });

  it("X4 empty strings count as missing", () => {
    expect(validateRequest("put", INSTANCE, request({ service_id: "" }))).not.toEqual([]);
    expect(validateRequest("put", INSTANCE, request({ space_guid: "" }))).not.toEqual([]);
  });

  it("H8 unknown request fields are accepted", () => {
    expect(validateRequest("put", INSTANCE, request({ vendor_extension: { a: 1 } }))).toEqual([]);
  });

  it("X5 an empty maintenance_info is accepted; a full one too", () => {
    expect(validateRequest("put", INSTANCE, request({ maintenance_info: {} }))).toEqual([]);
    expect(validateRequest("put", INSTANCE, request({ maintenance_info: { version: "1.0.0" } }))).toEqual([]);
  });

  it("section 14 context requires platform and allows CF, Kubernetes and extra properties", () => {
    const cf = {
      platform: "cloudfoundry",
      organization_guid: "o",
      organization_name: "org",
      space_guid: "s",
      space_name: "space",
      instance_name: "db",
      organization_annotations: { "company.com/owner": "me" },
      space_annotations: {},
      instance_annotations: {},
    };
    const k8s = { platform: "kubernetes", namespace: "ns", clusterid: "c1", instance_name: "db", extra: 1 };
    expect(validateRequest("put", INSTANCE, request({ context: cf }))).toEqual([]);
    expect(validateRequest("put", INSTANCE, request({ context: k8s }))).toEqual([]);
    expect(validateRequest("put", INSTANCE, request({ context: { platform: "nomad" } }))).toEqual([]);
    expect(validateRequest("put", INSTANCE, request({ context: { namespace: "ns" } }))).not.toEqual([]);
  });

  it("PROV 200/201 body: dashboard_url (string or null) and metadata labels/attributes", () => {
    const body = {
      dashboard_url: "https://dash.example.com/i/1",
      metadata: { labels: { a: "b" }, attributes: {} },
    };
    expect(validateResponse("put", INSTANCE, 201, body)).toEqual([]);
    expect(validateResponse("put", INSTANCE, 200, { dashboard_url: null })).toEqual([]);
    expect(validateResponse("put", INSTANCE, 201, {})).toEqual([]);
    expect(validateResponse("put", INSTANCE, 201, { metadata: { tags: {} } })).not.toEqual([]);
  });

  it("A5 operation only in the 202 body, at most 10000 characters, may be null", () => {
    expect(validateResponse("put", INSTANCE, 202, { operation: "task-1", dashboard_url: null })).toEqual([]);
    expect(validateResponse("put", INSTANCE, 202, { operation: null })).toEqual([]);
    expect(validateResponse("put", INSTANCE, 202, { operation: "x".repeat(10_000) })).toEqual([]);
    expect(validateResponse("put", INSTANCE, 202, { operation: "x".repeat(10_001) })).not.toEqual([]);
    expect(validateResponse("put", INSTANCE, 201, { operation: "task-1" })).not.toEqual([]);
  });

  it("H12 provision errors carry error/description only, never instance_usable", () => {
    expect(validateResponse("put", INSTANCE, 409, {})).toEqual([]);
    expect(validateResponse("put", INSTANCE, 400, { error: "BadRequest", description: "bad" })).toEqual([]);
    expect(
      validateResponse("put", INSTANCE, 422, { error: "AsyncRequired", instance_usable: true }),
    ).not.toEqual([]);
    expect(validateResponse("put", INSTANCE, 400, { description: "" })).not.toEqual([]);
  });

  it("H12 error is one CamelCase word", () => {
    expect(validateResponse("put", INSTANCE, 422, { error: "async required" })).not.toEqual([]);
    expect(validateResponse("put", INSTANCE, 422, { error: "asyncRequired" })).not.toEqual([]);
  });
});

describe("fetch instance (GETI)", () => {
  it("GETI 200 body: service_id, plan_id, dashboard_url, parameters, maintenance_info, metadata", () => {
    const body = {
      service_id: "svc",
      plan_id: "plan",
      dashboard_url: "https://dash.example.com",
      parameters: { size: 3 },
      maintenance_info: { version: "2.0.0" },
      metadata: { labels: {}, attributes: { deployment: "d-1" } },
    };
    expect(validateResponse("get", INSTANCE, 200, body)).toEqual([]);
    expect(validateResponse("get", INSTANCE, 200, {})).toEqual([]);
    expect(validateResponse("get", INSTANCE, 200, { maintenance_info: { version: "two" } })).not.toEqual([]);
  });

  it("GETI 422 ConcurrencyError validates", () => {
    expect(validateResponse("get", INSTANCE, 422, { error: "ConcurrencyError" })).toEqual([]);
  });
});

describe("update (UPD)", () => {
  it("UPD request requires only service_id; plan_id, parameters, context, previous_values, maintenance_info optional", () => {
    expect(validateRequest("patch", INSTANCE, { service_id: "svc" })).toEqual([]);
    expect(
      validateRequest("patch", INSTANCE, {
        service_id: "svc",
        plan_id: "large",
        parameters: { size: 5 },
        context: { platform: "cloudfoundry", instance_name: "renamed" },
        previous_values: {
          plan_id: "small",
          service_id: "svc",
          organization_id: "org",
          space_id: "space",
          maintenance_info: { version: "1.0.0" },
        },
        maintenance_info: { version: "1.1.0" },
      }),
    ).toEqual([]);
    expect(validateRequest("patch", INSTANCE, { plan_id: "large" })).not.toEqual([]);
    expect(validateRequest("patch", INSTANCE, { service_id: "" })).not.toEqual([]);
  });

  it("X5 empty maintenance_info in the body and in previous_values is accepted", () => {
    expect(
      validateRequest("patch", INSTANCE, {
        service_id: "s",
        maintenance_info: {},
        previous_values: { maintenance_info: {} },
      }),
    ).toEqual([]);
  });

  it("UPD 200 body is {} or dashboard_url/metadata; 202 operation non-empty when present", () => {
    expect(validateResponse("patch", INSTANCE, 200, {})).toEqual([]);
    expect(validateResponse("patch", INSTANCE, 200, { dashboard_url: "https://x.example.com" })).toEqual([]);
    expect(validateResponse("patch", INSTANCE, 202, { operation: "update-1" })).toEqual([]);
    expect(validateResponse("patch", INSTANCE, 202, {})).toEqual([]);
    expect(validateResponse("patch", INSTANCE, 202, { operation: "" })).not.toEqual([]);
  });

  it("H12 update errors may carry instance_usable and update_repeatable", () => {
    const body = {
      error: "ConcurrencyError",
      description: "busy",
      instance_usable: true,
      update_repeatable: false,
    };
    expect(validateResponse("patch", INSTANCE, 422, body)).toEqual([]);
    expect(validateResponse("patch", INSTANCE, 500, { instance_usable: false })).toEqual([]);
    expect(validateResponse("patch", INSTANCE, 422, { update_repeatable: "no" })).not.toEqual([]);
  });
});

describe("deprovision (DEPROV)", () => {
  it("DEPROV 200 body is {}; 202 carries only operation", () => {
    expect(validateResponse("delete", INSTANCE, 200, {})).toEqual([]);
    expect(validateResponse("delete", INSTANCE, 200, { operation: "x" })).not.toEqual([]);
    expect(validateResponse("delete", INSTANCE, 202, { operation: "delete-1" })).toEqual([]);
    expect(validateResponse("delete", INSTANCE, 202, { operation: "x", dashboard_url: null })).not.toEqual(
      [],
    );
  });

  it("DEPROV 410 for unknown instances accepts {}", () => {
    expect(validateResponse("delete", INSTANCE, 410, {})).toEqual([]);
  });

  it("H12 deprovision errors may carry instance_usable but not update_repeatable", () => {
    expect(
      validateResponse("delete", INSTANCE, 422, { error: "ConcurrencyError", instance_usable: true }),
    ).toEqual([]);
    expect(validateResponse("delete", INSTANCE, 422, { update_repeatable: true })).not.toEqual([]);
  });
});

describe("last operation (LOI, LOB)", () => {
  it("A6 state is one of in progress, succeeded, failed", () => {
    for (const state of ["in progress", "succeeded", "failed"]) {
      expect(validateResponse("get", INSTANCE_LO, 200, { state })).toEqual([]);
      expect(validateResponse("get", BINDING_LO, 200, { state })).toEqual([]);
    }
    expect(validateResponse("get", INSTANCE_LO, 200, { state: "done" })).not.toEqual([]);
    expect(validateResponse("get", BINDING_LO, 200, { state: "in_progress" })).not.toEqual([]);
    expect(validateResponse("get", INSTANCE_LO, 200, {})).not.toEqual([]);
  });

  it("A6 description is non-empty when present", () => {
    expect(validateResponse("get", INSTANCE_LO, 200, { state: "failed", description: "boom" })).toEqual([]);
    expect(validateResponse("get", INSTANCE_LO, 200, { state: "failed", description: "" })).not.toEqual([]);
  });

  it("A6 instance_usable and update_repeatable only on LOI", () => {
    const failed = { state: "failed", instance_usable: false, update_repeatable: true };
    expect(validateResponse("get", INSTANCE_LO, 200, failed)).toEqual([]);
    expect(validateResponse("get", BINDING_LO, 200, failed)).not.toEqual([]);
  });

  it("A7/X7 404 and 410 validate with error bodies", () => {
    expect(validateResponse("get", INSTANCE_LO, 404, {})).toEqual([]);
    expect(validateResponse("get", BINDING_LO, 410, {})).toEqual([]);
  });
});

describe("bind (BIND)", () => {
  it("BIND request requires service_id and plan_id; bind_resource, context, parameters optional", () => {
    const body = {
      service_id: "svc",
      plan_id: "plan",
      context: { platform: "cloudfoundry", organization_guid: "o", space_guid: "s" },
      bind_resource: {
        app_guid: "app",
        route: "www.example.com",
        space_guid: "s",
        app_annotations: { a: "b" },
        credential_client_id: "cc",
      },
      parameters: { role: "ro" },
      app_guid: "app",
    };
    expect(validateRequest("put", BINDING, body)).toEqual([]);
    expect(
      validateRequest("put", BINDING, { service_id: "svc", plan_id: "plan", bind_resource: {} }),
    ).toEqual([]);
    expect(validateRequest("put", BINDING, { service_id: "svc" })).not.toEqual([]);
    expect(validateRequest("put", BINDING, { service_id: "", plan_id: "plan" })).not.toEqual([]);
    expect(validateRequest("put", BINDING, { service_id: "s", plan_id: "p", app_guid: "" })).not.toEqual([]);
  });

  it("BIND rotation body may carry only predecessor_binding_id", () => {
    expect(validateRequest("put", BINDING, { predecessor_binding_id: "old-binding" })).toEqual([]);
    expect(validateRequest("put", BINDING, { predecessor_binding_id: "" })).not.toEqual([]);
    expect(validateRequest("put", BINDING, {})).not.toEqual([]);
  });

  const binding = {
    credentials: { uri: "postgres://u:p@db.example.com:5432/db", password: "p" },
    endpoints: [
      { host: "db.example.com", ports: ["5432"], protocol: "tcp" },
      { host: "10.0.0.7", ports: ["9000-9010", "443"], protocol: "all" },
      { host: "2001:db8::1", ports: ["53"], protocol: "udp" },
    ],
    metadata: { expires_at: "2026-01-01T00:00:00.0Z", renew_before: "2025-12-01T00:00:00.0Z" },
    syslog_drain_url: "syslog://logs.example.com:514",
    route_service_url: "https://route.example.com",
    volume_mounts: [
      {
        driver: "nfsv3driver",
        container_dir: "/data",
        mode: "rw",
        device_type: "shared",
        device: { volume_id: "vol-1", mount_config: { source: "nfs://x" } },
      },
    ],
  };

  it("BIND 200/201 body: credentials, endpoints, metadata, syslog_drain_url, route_service_url, volume_mounts", () => {
    expect(validateResponse("put", BINDING, 201, binding)).toEqual([]);
    expect(validateResponse("put", BINDING, 200, binding)).toEqual([]);
    expect(validateResponse("put", BINDING, 201, {})).toEqual([]);
  });

  it("BIND endpoints need host and a non-empty ports array; protocol is tcp, udp or all", () => {
    expect(validateResponse("put", BINDING, 201, { endpoints: [{ host: "h", ports: [] }] })).not.toEqual([]);
    expect(validateResponse("put", BINDING, 201, { endpoints: [{ ports: ["1"] }] })).not.toEqual([]);
    expect(validateResponse("put", BINDING, 201, { endpoints: [{ host: "h", ports: [443] }] })).not.toEqual(
      [],
    );
    expect(
      validateResponse("put", BINDING, 201, { endpoints: [{ host: "h", ports: ["1"], protocol: "http" }] }),
    ).not.toEqual([]);
    expect(
      validateResponse("put", BINDING, 201, { endpoints: [{ host: "not a host", ports: ["1"] }] }),
    ).not.toEqual([]);
  });

  it("BIND metadata expires_at / renew_before are ISO 8601 date-times", () => {
    expect(validateResponse("put", BINDING, 201, { metadata: { expires_at: "tomorrow" } })).not.toEqual([]);
  });

  it("BIND volume_mounts need driver, container_dir, mode r|rw, device_type shared, device.volume_id", () => {
    const mount = binding.volume_mounts[0] as Record<string, unknown>;
    for (const field of ["driver", "container_dir", "mode", "device_type", "device"]) {
      const m = { ...mount };
      delete m[field];
      expect(validateResponse("put", BINDING, 201, { volume_mounts: [m] }), field).not.toEqual([]);
    }
    expect(validateResponse("put", BINDING, 201, { volume_mounts: [{ ...mount, mode: "w" }] })).not.toEqual(
      [],
    );
    expect(validateResponse("put", BINDING, 201, { volume_mounts: [{ ...mount, device: {} }] })).not.toEqual(
      [],
    );
  });

  it("BIND 202 carries only operation, never credentials", () => {
    expect(validateResponse("put", BINDING, 202, { operation: "bind-1" })).toEqual([]);
    expect(validateResponse("put", BINDING, 202, { operation: "bind-1", credentials: {} })).not.toEqual([]);
  });

  it("H13 BIND 422 RequiresApp validates", () => {
    expect(
      validateResponse("put", BINDING, 422, { error: "RequiresApp", description: "app needed" }),
    ).toEqual([]);
  });

  it("GETB 200 body is a binding plus parameters", () => {
    expect(validateResponse("get", BINDING, 200, { ...binding, parameters: { role: "ro" } })).toEqual([]);
    expect(validateResponse("put", BINDING, 201, { ...binding, parameters: {} })).not.toEqual([]);
  });

  it("UNBIND 200 body is {}; 202 carries operation; 410 for unknown bindings", () => {
    expect(validateResponse("delete", BINDING, 200, {})).toEqual([]);
    expect(validateResponse("delete", BINDING, 202, { operation: "unbind-1" })).toEqual([]);
    expect(validateResponse("delete", BINDING, 410, {})).toEqual([]);
    expect(validateResponse("delete", BINDING, 422, { instance_usable: true })).not.toEqual([]);
  });
});
