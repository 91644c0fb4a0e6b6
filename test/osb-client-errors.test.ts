/**
 * Requests refused by Node's HTTP parser before the application sees them still get an OSB
 * error body (H12). Found by the fuzzer (test/reliability/fuzz.test.ts): a 20,000-character
 * instance id, or an originating identity header over 16 KiB, was answered by a bare
 * `431` with no body and no Content-Type.
 */
import { connect } from "node:net";
import { Pool } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import type { OsbClient } from "./support/osb-client.js";
import { instancePath, newId, type Stack, useStack } from "./support/stack.js";

let osb: OsbClient;
let stack: Stack;
useStack((started) => {
  ({ osb, stack } = started);
});
const pools: Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

function headersOf(client: OsbClient): Record<string, string> {
  return {
    authorization: `Basic ${Buffer.from(`${client.username}:${client.password}`).toString("base64")}`,
    "x-broker-api-version": "2.17",
  };
}

async function expectOsbError(response: Awaited<ReturnType<Pool["request"]>>, status: number, error: string) {
  const text = await response.body.text();
  expect(response.statusCode, text).toBe(status);
  expect(response.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(body.error).toBe(error);
  expect(body.description).toMatch(/\S/);
}

describe("requests the HTTP parser refuses", () => {
  it("a 20,000-character instance id is a 431 with an OSB error body, also on a reused connection", async () => {
    const pool = new Pool(stack.broker.url, { connections: 1 });
    pools.push(pool);
    // The same keep-alive connection answered a request before.
    const first = await pool.request({ method: "GET", path: "/v2/catalog", headers: headersOf(osb) });
    await first.body.text();
    expect(first.statusCode).toBe(200);
    const long = await pool.request({
      method: "GET",
      path: instancePath("i".repeat(20_000)),
      headers: headersOf(osb),
    });
    await expectOsbError(long, 431, "RequestHeaderFieldsTooLarge");
    // The broker still serves (a new connection).
    expect((await osb.get(instancePath(newId()))).status).toBe(404);
  });

  it("a header over 16 KiB (originating identity) is a 431 with an OSB error body", async () => {
    const pool = new Pool(stack.broker.url);
    pools.push(pool);
    const identity = `kubernetes ${Buffer.from(JSON.stringify({ username: "x".repeat(20_000) })).toString("base64")}`;
    const response = await pool.request({
      method: "GET",
      path: "/v2/catalog",
      headers: { ...headersOf(osb), "x-broker-api-originating-identity": identity },
    });
    await expectOsbError(response, 431, "RequestHeaderFieldsTooLarge");
  });

  it("bytes that are not HTTP are a 400 with an OSB error body", async () => {
    const { port } = new URL(stack.broker.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => socket.write("NOT HTTP\r\n\r\n"));
      let text = "";
      socket.setEncoding("utf8").on("data", (chunk: string) => {
        text += chunk;
      });
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    const [head, body] = answer.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(body!)).toMatchObject({
      error: "BadRequest",
      description: expect.stringMatching(/\S/),
    });
  });
});
