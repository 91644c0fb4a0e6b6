/**
 * The OSB protocol layer every endpoint shares (contract sections 1 and 16), over real HTTP
 * against a broker running the example broker.yaml without Cloudify: version header (H1-H3,
 * X1, X2), auth (H6), their order (X3), request identity (H5), originating identity (H4),
 * error bodies (H12), content type (X9), unknown routes and methods, body limits and
 * malformed bodies (H7, H14).
 */
import http from "node:http";
import { describe, expect, it } from "vitest";
import type { OsbClient, OsbResponse } from "./support/osb-client.js";
import { validateComponent, validateResponse } from "./support/osb-openapi.js";
import { newId, PG, type Stack, startStack, useStack } from "./support/stack.js";

const NEXT = { BROKER_NEXT_USERNAME: "platform-next", BROKER_NEXT_PASSWORD: "next-platform-password" };
const MAX_BODY = 1048576; // broker.yaml: broker.max_body_bytes

let stack: Stack;
let osb: OsbClient;

useStack(
  (started) => {
    stack = started.stack;
    osb = stack.osb;
  },
  { emulator: false, env: NEXT },
);

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

/** H12: an error body is {error, description}, both non-empty, nothing else. */
function expectErrorBody(response: OsbResponse, status: number, error: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(Object.keys(response.body).sort()).toEqual(["description", "error"]);
  expect(response.body.error).toBe(error);
  expect(response.body.description.length).toBeGreaterThan(0);
  expect(validateComponent("Error", response.body)).toEqual([]);
}

describe("H1-H3 X1 X2 X-Broker-API-Version", () => {
  it("H3 X1 412 when X-Broker-API-Version is missing or empty", async () => {
    const missing = await osb.get("/v2/catalog", { headers: { "X-Broker-API-Version": undefined } });
    expectErrorBody(missing, 412, "PreconditionFailed");
    expect(missing.body.description).toMatch(/no X-Broker-API-Version header/);
    const empty = await osb.get("/v2/catalog", { headers: { "X-Broker-API-Version": "" } });
    expectErrorBody(empty, 412, "PreconditionFailed");
    expect(validateResponse("get", "/v2/catalog", 412, empty.body)).toEqual([]);
  });

  it("H2 412 for malformed, 1.x, 2.12 and 3.x versions, naming the supported versions", async () => {
    for (const version of ["2", "two", "2.x", "v2.17", "2.17.0", "1.13", "2.12", "3.0"]) {
      const response = await osb.get("/v2/catalog", { headers: { "X-Broker-API-Version": version } });
      expectErrorBody(response, 412, "PreconditionFailed");
      expect(response.body.description, version).toContain("2.13 to 2.17");
      expect(response.body.description, version).toContain(JSON.stringify(version));
    }
  });

  it("X2 2.13, 2.14 and 2.17 are served", async () => {
    for (const version of ["2.13", "2.14", "2.17"]) {
      const response = await osb.get("/v2/catalog", { headers: { "X-Broker-API-Version": version } });
      expect(response.status, version).toBe(200);
    }
  });

  it("H1 the version is required on every /v2 endpoint, not only the catalog", async () => {
    const response = await osb.get(`/v2/service_instances/${newId()}/last_operation`, {
      headers: { "X-Broker-API-Version": undefined },
    });
    expectErrorBody(response, 412, "PreconditionFailed");
  });
});

describe("H6 HTTP Basic auth", () => {
  it("H6 401 without credentials, with an OSB error body and a Basic challenge", async () => {
    const response = await osb.get("/v2/catalog", { headers: { Authorization: undefined } });
    expectErrorBody(response, 401, "Unauthorized");
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    expect(validateResponse("get", "/v2/catalog", 401, response.body)).toEqual([]);
  });

  it("H6 401 with a wrong password, a wrong user, or a malformed Authorization header", async () => {
    const user = stack.env.BROKER_USERNAME!;
    const password = stack.env.BROKER_PASSWORD!;
    for (const authorization of [
      basic(user, "wrong"),
      basic("intruder", password),
      basic(user, `${password}x`),
      basic(user, password.slice(0, -1)),
      basic(NEXT.BROKER_NEXT_USERNAME, password),
      `Bearer ${password}`,
      "Basic !!!",
      `Basic ${Buffer.from(`${user}${password}`).toString("base64")}`,
    ]) {
      const response = await osb.get("/v2/catalog", { headers: { Authorization: authorization } });
      expectErrorBody(response, 401, "Unauthorized");
    }
  });

  it("H6 a second credential pair authenticates too (password rotation)", async () => {
    const response = await osb.get("/v2/catalog", {
      headers: { Authorization: basic(NEXT.BROKER_NEXT_USERNAME, NEXT.BROKER_NEXT_PASSWORD) },
    });
    expect(response.status).toBe(200);
  });

  it("H6 a pair with an empty username or password is disabled, never a wildcard", async () => {
    const half = await startStack({ emulator: false, env: { BROKER_NEXT_USERNAME: "platform-next" } });
    try {
      for (const authorization of [basic("", ""), basic("platform-next", ""), basic("", "anything")]) {
        const response = await half.osb.get("/v2/catalog", { headers: { Authorization: authorization } });
        expectErrorBody(response, 401, "Unauthorized");
      }
      expect((await half.osb.get("/v2/catalog")).status).toBe(200);
    } finally {
      await half.stop();
    }
  });
});

describe("H6 no path spelling reaches an endpoint without credentials", () => {
  it("H6 encoded, doubled, dotted or re-cased paths to the catalog are refused or unknown", async () => {
    const { port } = new URL(stack.broker.url);
    const raw = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        // node:http sends the path exactly as written (fetch would normalise dot segments).
        const request = http.get(
          { host: "127.0.0.1", port: Number(port), path, headers: { "X-Broker-API-Version": "2.17" } },
          (response) => {
            let body = "";
            response.setEncoding("utf8").on("data", (chunk: string) => {
              body += chunk;
            });
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
          },
        );
        request.on("error", reject);
      });
    for (const path of [
      "/v2/catalog",
      "/%762/catalog",
      "/v2/%63atalog",
      "/v2//catalog",
      "/v2/./catalog",
      "/x/../v2/catalog",
      "//v2/catalog",
      "/V2/catalog",
      "/v2/catalog/",
      "/v2%2Fcatalog",
    ]) {
      const response = await raw(path);
      expect([401, 404], path).toContain(response.status);
      expect(Object.keys(JSON.parse(response.body)).sort(), path).toEqual(["description", "error"]);
    }
  });
});

describe("X3 order of checks: auth, then version, then the request itself", () => {
  it("X3 401 comes before 412", async () => {
    const response = await osb.get("/v2/catalog", {
      headers: { Authorization: undefined, "X-Broker-API-Version": "1.0" },
    });
    expectErrorBody(response, 401, "Unauthorized");
  });

  it("X3 412 comes before body and query validation", async () => {
    const response = await osb.request("PUT", `/v2/service_instances/${newId()}`, undefined, {
      raw: "{not json",
      query: { accepts_incomplete: "maybe" },
      headers: { "X-Broker-API-Version": undefined },
    });
    expectErrorBody(response, 412, "PreconditionFailed");
  });

  it("X3 401 comes before 404 and 405", async () => {
    const unknown = await osb.get("/v2/unknown", { headers: { Authorization: undefined } });
    expectErrorBody(unknown, 401, "Unauthorized");
    const method = await osb.request("POST", "/v2/catalog", undefined, {
      headers: { Authorization: undefined },
    });
    expectErrorBody(method, 401, "Unauthorized");
  });
});

describe("H5 X-Broker-API-Request-Identity", () => {
  it("H5 is echoed on success and on every kind of error", async () => {
    const id = newId();
    const headers = { "X-Broker-API-Request-Identity": id };
    const answers = [
      await osb.get("/v2/catalog", { headers }),
      await osb.get("/v2/catalog", { headers: { ...headers, Authorization: undefined } }),
      await osb.get("/v2/catalog", { headers: { ...headers, "X-Broker-API-Version": "1.0" } }),
      await osb.get("/v2/nothing-here", { headers }),
      await osb.request("POST", "/v2/catalog", undefined, { headers }),
      await osb.put(`/v2/service_instances/${newId()}`, undefined, { headers, raw: "{" }),
      await osb.put(`/v2/service_instances/${newId()}`, undefined, {
        headers,
        raw: " ".repeat(MAX_BODY + 1),
      }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 401, 412, 404, 405, 400, 413]);
    for (const answer of answers) expect(answer.headers.get("x-broker-api-request-identity")).toBe(id);
  });

  it("H5 nothing is echoed when the platform sends none", async () => {
    const response = await osb.get("/v2/catalog");
    expect(response.headers.get("x-broker-api-request-identity")).toBeNull();
  });
});

describe("H4 X-Broker-API-Originating-Identity", () => {
  it("H4 a well-formed identity is accepted", async () => {
    const value = Buffer.from(JSON.stringify({ user_id: "683ea748-3092-4ff4-b656-39cacc4d5360" })).toString(
      "base64",
    );
    const response = await osb.get("/v2/catalog", {
      headers: { "X-Broker-API-Originating-Identity": `cloudfoundry ${value}` },
    });
    expect(response.status).toBe(200);
  });

  it("H4 a malformed identity is never a failure", async () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    for (const header of [
      "garbage",
      "cloudfoundry",
      "cloudfoundry not-base64!!",
      `cloudfoundry ${b64("not json")}`,
      `cloudfoundry ${b64("[1,2]")}`,
      `cloudfoundry ${b64("null")}`,
      ` ${b64("{}")}`,
    ]) {
      const response = await osb.get("/v2/catalog", {
        headers: { "X-Broker-API-Originating-Identity": header },
      });
      expect(response.status, header).toBe(200);
    }
  });
});

describe("routes, methods, bodies", () => {
  it("404 for an unknown route is a JSON OSB error, inside and outside /v2", async () => {
    expectErrorBody(await osb.get("/v2/catalogue"), 404, "NotFound");
    expectErrorBody(await osb.get("/v2/catalog/extra"), 404, "NotFound");
    const outside = await osb.get("/v3/catalog", { headers: { Authorization: undefined } });
    expectErrorBody(outside, 404, "NotFound");
  });

  it("405 with Allow for a method a known path does not serve, as a JSON OSB error", async () => {
    const cases: [string, string, string][] = [
      ["POST", "/v2/catalog", "GET, HEAD"],
      ["DELETE", "/v2/catalog", "GET, HEAD"],
      ["PUT", "/v2/catalog", "GET, HEAD"],
      ["POST", `/v2/service_instances/${newId()}`, "PUT, PATCH, DELETE, GET, HEAD"],
      ["DELETE", `/v2/service_instances/${newId()}/last_operation`, "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const response = await osb.request(method, path);
      expectErrorBody(response, 405, "MethodNotAllowed");
      expect(response.headers.get("allow"), `${method} ${path}`).toBe(allow);
    }
  });

  it("413 for a body over broker.max_body_bytes, declared by Content-Length", async () => {
    const response = await osb.put(`/v2/service_instances/${newId()}`, undefined, {
      raw: JSON.stringify({ padding: "x".repeat(MAX_BODY) }),
    });
    expectErrorBody(response, 413, "PayloadTooLarge");
    expect(response.body.description).toContain(String(MAX_BODY));
  });

  it("413 for a streamed body of unknown length over the limit", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_BODY + chunk.length) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const response = await fetch(new URL(`/v2/service_instances/${newId()}`, stack.broker.url), {
      method: "PUT",
      body,
      duplex: "half",
      headers: {
        Authorization: basic(osb.username, osb.password),
        "X-Broker-API-Version": "2.17",
        "Content-Type": "application/json",
      },
    } as RequestInit);
    expectErrorBody(
      { status: response.status, body: await response.json(), headers: response.headers },
      413,
      "PayloadTooLarge",
    );
  });

  it("a body the broker refuses without reading it does not break the client's next requests", async () => {
    const big = JSON.stringify({ padding: "x".repeat(256 * 1024) });
    const refusals: [string, string, number][] = [
      ["PUT", "/v2/catalog", 405],
      ["PUT", "/v2/nothing-here", 404],
      ["PUT", `/v2/service_instances/${newId()}?accepts_incomplete=maybe`, 400],
    ];
    for (const [method, path, status] of refusals) {
      const refused = await osb.request(method, path, undefined, { raw: big });
      expect(refused.status, `${method} ${path}`).toBe(status);
      for (let i = 0; i < 3; i++) expect((await osb.get("/v2/catalog")).status).toBe(200);
    }
    const tooLarge = await osb.request("PUT", `/v2/service_instances/${newId()}`, undefined, {
      raw: " ".repeat(MAX_BODY + 1),
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("connection")).toBe("close");
    for (let i = 0; i < 3; i++) expect((await osb.get("/v2/catalog")).status).toBe(200);
  });

  it("H7 H14 400 for a malformed body, saying what is wrong", async () => {
    const path = `/v2/service_instances/${newId()}`;
    const query = { accepts_incomplete: "true" };
    const notJson = await osb.put(path, undefined, { raw: '{"service_id": ', query });
    expectErrorBody(notJson, 400, "BadRequest");
    expect(notJson.body.description).toMatch(/^The request body is not valid JSON: /);
    const array = await osb.put(path, undefined, { raw: "[]", query });
    expectErrorBody(array, 400, "BadRequest");
    expect(array.body.description).toBe("The request body must be a JSON object, not an array.");
    const empty = await osb.put(path, undefined, { raw: "", query });
    expectErrorBody(empty, 400, "BadRequest");
    expect(empty.body.description).toBe("The request body is empty; a JSON object is required.");
    const number = await osb.put(path, undefined, { raw: "42", query });
    expect(number.body.description).toBe("The request body must be a JSON object, not a number.");
    const nothingSaved = await osb.get(path);
    expect(nothingSaved.status).toBe(404);
  });

  it("H7 a JSON body without a Content-Type is still parsed", async () => {
    const response = await fetch(new URL(`/v2/service_instances/${newId()}`, stack.broker.url), {
      method: "PUT",
      body: "{oops",
      headers: { Authorization: basic(osb.username, osb.password), "X-Broker-API-Version": "2.17" },
    });
    const body = (await response.json()) as { description: string };
    expect(response.status).toBe(400);
    expect(body.description).toMatch(/not valid JSON/);
  });

  it("GET /healthz answers without credentials or version header", async () => {
    const response = await fetch(new URL("/healthz", stack.broker.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ status: "ok", checks: expect.any(Object) });
  });

  it("X9 every answer is application/json with a JSON body", async () => {
    const answers = [
      await osb.get("/v2/catalog"),
      await osb.get("/v2/catalog", { headers: { Authorization: undefined } }),
      await osb.get("/v2/catalog", { headers: { "X-Broker-API-Version": "" } }),
      await osb.get("/v2/none"),
      await osb.request("PATCH", "/v2/catalog"),
      await osb.put(`/v2/service_instances/${newId()}`, undefined, { raw: "nope" }),
      await osb.get(`/v2/service_instances/${newId()}`, { query: { service_id: PG.service } }),
    ];
    for (const answer of answers) {
      expect(answer.headers.get("content-type"), String(answer.status)).toMatch(/^application\/json/);
      expect(typeof answer.body, String(answer.status)).toBe("object");
    }
  });

  it("H12 errors outside update and deprovision never carry instance_usable or update_repeatable", async () => {
    const answers = [
      await osb.get("/v2/catalog", { headers: { Authorization: undefined } }),
      await osb.get("/v2/catalog", { headers: { "X-Broker-API-Version": "2.0" } }),
      await osb.get("/v2/none"),
      await osb.request("POST", "/v2/catalog"),
      await osb.put(`/v2/service_instances/${newId()}`, undefined, { raw: "[" }),
    ];
    for (const answer of answers) {
      expect(answer.body).not.toHaveProperty("instance_usable");
      expect(answer.body).not.toHaveProperty("update_repeatable");
      expect(validateComponent("Error", answer.body)).toEqual([]);
    }
  });
});
