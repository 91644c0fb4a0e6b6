import { BINDINGS, INSTANCES, type Operation } from "../broker/model/records.js";
import type { StateStore } from "../state/index.js";
import { Metrics } from "./registry.js";

/** The broker's metrics: what operators alert on (stuck operations, failures, Cloudify trouble). */
export function brokerMetrics(store: StateStore) {
  const metrics = new Metrics();
  const requests = metrics.counter(
    "osb_requests_total",
    "OSB requests answered, by method, route and status.",
  );
  const finished = metrics.counter(
    "osb_operations_finished_total",
    "Operations that ended, by type and final state.",
  );
  const transient = metrics.counter(
    "osb_cloudify_transient_failures_total",
    "Cloudify calls that failed transiently (unreachable, 5xx) and were retried later.",
  );

  metrics.gauge("osb_operations_in_progress", "Operations in progress, by type.", () => {
    const counts = new Map<string, number>();
    for (const collection of [INSTANCES, BINDINGS]) {
      for (const { value } of store.list<{ operation?: Operation }>(collection)) {
        if (value.operation?.state === "in progress")
          counts.set(value.operation.type, (counts.get(value.operation.type) ?? 0) + 1);
      }
    }
    return [...counts].map(([type, value]) => ({ labels: { type }, value }));
  });
  metrics.gauge("osb_service_instances", "Service instances known to the broker, by plan and status.", () =>
    tally(
      store
        .list<{ planId: string; status: string }>(INSTANCES)
        .map(({ value }) => ({ plan_id: value.planId, status: value.status })),
    ),
  );
  metrics.gauge("osb_service_bindings", "Service bindings known to the broker, by plan and status.", () =>
    tally(
      store
        .list<{ planId: string; status: string }>(BINDINGS)
        .map(({ value }) => ({ plan_id: value.planId, status: value.status })),
    ),
  );

  return {
    render: () => metrics.render(),
    request: (method: string, route: string, status: number) =>
      requests({ method, route, status: String(status) }),
    operationFinished: (op: Operation) => finished({ type: op.type, state: op.state }),
    cloudifyTransientFailure: () => transient(),
  };
}

export type BrokerMetrics = ReturnType<typeof brokerMetrics>;

function tally(rows: Record<string, string>[]) {
  const counts = new Map<string, { labels: Record<string, string>; value: number }>();
  for (const labels of rows) {
    const key = JSON.stringify(labels);
    const entry = counts.get(key);
    if (entry) entry.value++;
    else counts.set(key, { labels, value: 1 });
  }
  return [...counts.values()];
}
