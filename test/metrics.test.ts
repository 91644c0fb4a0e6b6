import { expect, test } from "vitest";
import { startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { FAST_TIMINGS, newId, provisionInstance, type Stack, useStack } from "./support/stack.js";

let stack: Stack;
useStack(
  (started) => {
    stack = started.stack;
  },
  { env: { BROKER_CLOUDIFY_UNREACHABLE_SECONDS: "1", BROKER_CLOUDIFY_PROBE_INTERVAL_SECONDS: "1" } },
);

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

test("/metrics: runtime defaults, latency histograms, operation durations, Cloudify calls, build info", async () => {
  await provisionInstance(stack.osb, newId());
  const text = await scrape();
  // prom-client's process and Node.js runtime defaults.
  expect(text).toContain("# TYPE process_cpu_user_seconds_total counter");
  expect(text).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
  expect(
    value(
      text,
      'osb_request_duration_seconds_count{method="GET",route="/v2/service_instances/:instance_id/last_operation",status="200"}',
    ),
  ).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/^osb_request_duration_seconds_bucket\{le="0\.005",method="PUT",/m);
  expect(
    value(text, 'osb_operation_duration_seconds_count{type="provision",state="succeeded"}'),
  ).toBeGreaterThanOrEqual(1);
  // Cloudify calls by resource (never by id) and status.
  expect(
    value(
      text,
      'osb_cloudify_request_duration_seconds_count{method="PUT",resource="deployments",status="201"}',
    ),
  ).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/^osb_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v\d+/m);
  expect(value(text, "osb_state_writable")).toBe(1);
  expect(value(text, "osb_config_last_reload_successful")).toBe(1);
  expect(value(text, "osb_oldest_operation_in_progress_seconds")).toBeGreaterThanOrEqual(0);
});

test("/metrics: Cloudify network errors are counted by kind", async () => {
  const port = Number(new URL(stack.emulator!.url).port);
  const before =
    value(
      await scrape(),
      'osb_cloudify_request_errors_total{method="GET",resource="version",kind="refused"}',
    ) ?? 0;
  await stack.emulator!.close();
  try {
    // The readiness probe asks for the version once nothing else answered (every second here).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const now =
        value(
          await scrape(),
          'osb_cloudify_request_errors_total{method="GET",resource="version",kind="refused"}',
        ) ?? 0;
      if (now > before) break;
      if (Date.now() > deadline) throw new Error("no refused version call counted");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    stack.emulator = await startEmulator({ port, timings: FAST_TIMINGS, logger: silentLogger });
  }
}, 60_000);
