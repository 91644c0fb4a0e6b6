import { expect, test } from "vitest";
import { newId, provisionInstance, type Stack, useStack } from "./support/stack.js";

let stack: Stack;
useStack((started) => {
  stack = started.stack;
});

async function scrape(): Promise<string> {
  const response = await fetch(new URL("/metrics", stack.broker.url));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
}

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("/metrics counts requests by route pattern, finished operations, and instances by plan and status", async () => {
  const id = newId();
  await provisionInstance(stack.osb, id);
  await stack.osb.get("/v2/catalog");
  await stack.osb.get("/v2/catalog", { headers: { "X-Broker-API-Version": "1.0" } });

  const text = await scrape();
  expect(
    value(text, 'osb_requests_total{method="GET",route="/v2/catalog",status="200"}'),
  ).toBeGreaterThanOrEqual(1);
  // Refused by middleware before any route matched: counted under the middleware's pattern.
  expect(value(text, 'osb_requests_total{method="GET",route="/v2/*",status="412"}')).toBeGreaterThanOrEqual(
    1,
  );
  expect(
    value(text, 'osb_requests_total{method="PUT",route="/v2/service_instances/:instance_id",status="202"}'),
  ).toBe(1);
  expect(value(text, 'osb_operations_finished_total{type="provision",state="succeeded"}')).toBe(1);
  expect(
    value(text, 'osb_service_instances{plan_id="0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01",status="provisioned"}'),
  ).toBe(1);
  expect(text).toContain("# TYPE osb_operations_in_progress gauge");
  // Route patterns, never ids: an instance must not become its own time series.
  expect(text).not.toContain(id);
});

test("/metrics counts transient Cloudify failures the engine retried", async () => {
  const before = value(await scrape(), "osb_cloudify_transient_failures_total") ?? 0;
  // More 503s than the client's own GET retries absorb, so the engine sees the failure.
  const fault = stack.emulator!.faults.add({
    type: "http_error",
    status: 503,
    method: "GET",
    path: "/api/v3.1/executions/",
    times: 12,
  });
  await provisionInstance(stack.osb, newId());
  stack.emulator!.faults.remove(fault);
  expect(value(await scrape(), "osb_cloudify_transient_failures_total")).toBeGreaterThan(before);
});
