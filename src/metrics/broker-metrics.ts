import { Metrics } from "./registry.js";

/** What the gauges count, computed at scrape time (the domain's inventory provides it). */
export interface MetricsSource {
  operationsInProgress(): Map<string, number>;
  instances(): { planId: string; status: string }[];
  bindings(): { planId: string; status: string }[];
}

/** The broker's metrics: what operators alert on (stuck operations, failures, Cloudify trouble). */
export function brokerMetrics(
  source: MetricsSource,
  replicas?: { own: () => string; all: () => { configFingerprint: string }[] },
) {
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

  const authFailures = metrics.counter(
    "osb_auth_failures_total",
    "Requests refused by Basic auth, by outcome: rejected (wrong or missing credentials) or locked_out (client over the failure limit).",
  );

  metrics.gauge("osb_operations_in_progress", "Operations in progress, by type.", () =>
    [...source.operationsInProgress()].map(([type, value]) => ({ labels: { type }, value })),
  );
  metrics.gauge("osb_service_instances", "Service instances known to the broker, by plan and status.", () =>
    tally(source.instances().map(({ planId, status }) => ({ plan_id: planId, status }))),
  );
  metrics.gauge("osb_service_bindings", "Service bindings known to the broker, by plan and status.", () =>
    tally(source.bindings().map(({ planId, status }) => ({ plan_id: planId, status }))),
  );

  if (replicas) {
    metrics.gauge(
      "osb_broker_config_info",
      "Always 1; the label is the fingerprint of this replica's broker.yaml (catalog, templates, Cloudify).",
      () => [{ labels: { config_fingerprint: replicas.own() }, value: 1 }],
    );
    metrics.gauge(
      "osb_broker_replicas",
      "Live replicas sharing the state database, by config fingerprint; more than one series = different broker.yaml versions.",
      () => tally(replicas.all().map((r) => ({ config_fingerprint: r.configFingerprint }))),
    );
  }

  return {
    render: () => metrics.render(),
    request: (method: string, route: string, status: number) =>
      requests({ method, route, status: String(status) }),
    operationFinished: (op: { type: string; state: string }) => finished({ type: op.type, state: op.state }),
    cloudifyTransientFailure: () => transient(),
    authFailure: (outcome: "rejected" | "locked_out") => authFailures({ outcome }),
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
