import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CloudifyCall } from "../cloudify/index.js";

/** What the broker's own gauges read at scrape time; each is O(1) (see `countsCache`). */
export interface MetricSources {
  /** One row per instance and binding (the domain's inventory). */
  inventory: { instances(): Row[]; bindings(): Row[] };
  storeWritable: () => boolean;
  configGeneration: () => number;
  failedReloads: () => number;
  lastReloadFailed: () => boolean;
  cloudifyLastAnswerAt: () => number;
  version: string;
}

interface Row {
  planId: string;
  status: string;
}

/** A finished operation, as the engine reports it. */
interface FinishedOperation {
  type: string;
  state: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
}

/** What the engine's sweep saw in progress (its InProgressSummary). */
interface InProgressSummary {
  byType: Record<string, number>;
  oldestStartedAt: number | undefined;
}

/** Seconds: OSB answers take milliseconds, Cloudify calls up to the client timeout. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Operations take seconds to hours. */
const OPERATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

/** How long instance and binding tallies may be reused: the walk over every record is paid at most this often. */
const COUNTS_TTL_MS = 15_000;

/**
 * The broker's Prometheus metrics on a registry of its own (several brokers may share a
 * process in tests): runtime defaults, OSB request latency, Cloudify call latency and
 * errors, operation durations and the oldest operation still running, config reloads,
 * store health and build info. Names and label sets are the contract alert rules rely on.
 */
export function brokerMetrics(
  sources: MetricSources,
  replicas?: { own: () => string; all: () => { configFingerprint: string }[] },
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "osb_requests_total",
    help: "OSB requests answered, by method, route pattern and status.",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  // Every histogram of the broker is made here: one registry, buckets by what is timed.
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  const requestSeconds = histogram(
    "osb_request_duration_seconds",
    "Time to answer OSB requests, by method, route pattern and status.",
    ["method", "route", "status"],
    HTTP_BUCKETS,
  );
  const cloudifySeconds = histogram(
    "osb_cloudify_request_duration_seconds",
    "Cloudify REST calls (each retry counted), by method, resource and status (or network failure kind).",
    ["method", "resource", "status"],
    HTTP_BUCKETS,
  );
  const cloudifyErrors = new Counter({
    name: "osb_cloudify_request_errors_total",
    help: "Cloudify calls without a usable answer: network failures (refused, reset, timeout, other) and 5xx.",
    labelNames: ["method", "resource", "kind"],
    registers: [registry],
  });
  const transient = new Counter({
    name: "osb_cloudify_transient_failures_total",
    help: "Operation steps that failed transiently (Cloudify unreachable or 5xx) and will be retried.",
    registers: [registry],
  });
  const finished = new Counter({
    name: "osb_operations_finished_total",
    help: "Operations that ended, by type and final state.",
    labelNames: ["type", "state"],
    registers: [registry],
  });
  const operationSeconds = histogram(
    "osb_operation_duration_seconds",
    "Duration of finished operations from request to final state, by type and final state.",
    ["type", "state"],
    OPERATION_BUCKETS,
  );
  const authFailures = new Counter({
    name: "osb_auth_failures_total",
    help: "Requests refused by Basic auth, by outcome: rejected (wrong or missing credentials) or locked_out (client over the failure limit).",
    labelNames: ["outcome"],
    registers: [registry],
  });

  // Operations in progress: published by the engine's sweep, which reads every record anyway.
  let running: InProgressSummary = { byType: {}, oldestStartedAt: undefined };
  new Gauge({
    name: "osb_operations_in_progress",
    help: "Operations in progress, by type (as of the engine's latest sweep).",
    labelNames: ["type"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, count] of Object.entries(running.byType)) this.set({ type }, count);
    },
  });
  new Gauge({
    name: "osb_oldest_operation_in_progress_seconds",
    help: "Age of the oldest operation still in progress (0 when none): a stuck operation makes it grow.",
    registers: [registry],
    collect() {
      this.set(running.oldestStartedAt === undefined ? 0 : (Date.now() - running.oldestStartedAt) / 1000);
    },
  });

  const counts = countsCache(sources.inventory);
  for (const [name, collection, what] of [
    ["osb_service_instances", "instances", "Service instances"],
    ["osb_service_bindings", "bindings", "Service bindings"],
  ] as const) {
    new Gauge({
      name,
      help: `${what} known to the broker, by plan and status (recounted at most every ${COUNTS_TTL_MS / 1000} s).`,
      labelNames: ["plan_id", "status"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [key, value] of counts(collection)) {
          const [plan_id, status] = JSON.parse(key) as [string, string];
          this.set({ plan_id, status }, value);
        }
      },
    });
  }

  new Gauge({
    name: "osb_config_generation",
    help: "Generation of the configuration in force: 1 at start, +1 per successful reload.",
    registers: [registry],
    collect() {
      this.set(sources.configGeneration());
    },
  });
  new Gauge({
    name: "osb_config_last_reload_successful",
    help: "1 when the latest load of broker.yaml succeeded, 0 while a broken file is on disk.",
    registers: [registry],
    collect() {
      this.set(sources.lastReloadFailed() ? 0 : 1);
    },
  });
  new Counter({
    name: "osb_config_reloads_failed_total",
    help: "Reloads of broker.yaml that failed (the previous configuration stayed in force).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.failedReloads());
    },
  });
  new Gauge({
    name: "osb_state_writable",
    help: "1 when the state store can commit, 0 when it cannot (full disk, failed write).",
    registers: [registry],
    collect() {
      this.set(sources.storeWritable() ? 1 : 0);
    },
  });
  new Gauge({
    name: "osb_cloudify_last_answer_age_seconds",
    help: "Seconds since Cloudify last answered a call with accepted credentials.",
    registers: [registry],
    collect() {
      this.set((Date.now() - sources.cloudifyLastAnswerAt()) / 1000);
    },
  });
  if (replicas) {
    new Gauge({
      name: "osb_broker_config_info",
      help: "Always 1; the label is the fingerprint of this replica's broker.yaml (catalog, templates, Cloudify).",
      labelNames: ["config_fingerprint"],
      registers: [registry],
      collect() {
        this.reset();
        this.set({ config_fingerprint: replicas.own() }, 1);
      },
    });
    new Gauge({
      name: "osb_broker_replicas",
      help: "Live replicas sharing the state database, by config fingerprint; more than one series = different broker.yaml versions.",
      labelNames: ["config_fingerprint"],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of replicas.all()) this.inc({ config_fingerprint: r.configFingerprint });
      },
    });
  }

  new Gauge({
    name: "osb_build_info",
    help: "Always 1; the labels say which broker build and Node.js runtime run.",
    labelNames: ["version", "node_version"],
    registers: [registry],
  }).set({ version: sources.version, node_version: process.version }, 1);

  const requestSeries = new Map<
    string,
    { count: { inc(): void }; seconds: { observe(value: number): void } }
  >();
  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    request: (method: string, route: string, status: number, seconds: number) => {
      // The labelled children are looked up once per (method, route, status): prom-client
      // hashes the label object on every call otherwise, on every request.
      const key = `${method} ${status} ${route}`;
      let series = requestSeries.get(key);
      if (!series) {
        const labels = { method, route, status: String(status) };
        series = { count: requests.labels(labels), seconds: requestSeconds.labels(labels) };
        requestSeries.set(key, series);
      }
      series.count.inc();
      series.seconds.observe(seconds);
    },
    cloudifyCall: (call: CloudifyCall) => {
      const status = call.status === undefined ? (call.failure ?? "other") : String(call.status);
      cloudifySeconds.observe({ method: call.method, resource: call.resource, status }, call.ms / 1000);
      if (call.status === undefined || call.status >= 500) {
        cloudifyErrors.inc({
          method: call.method,
          resource: call.resource,
          kind: call.status === undefined ? (call.failure ?? "other") : "http_5xx",
        });
      }
    },
    operationFinished: (op: FinishedOperation) => {
      finished.inc({ type: op.type, state: op.state });
      const end = Date.parse(op.finishedAt ?? op.updatedAt);
      const start = Date.parse(op.startedAt);
      if (Number.isFinite(end) && Number.isFinite(start)) {
        operationSeconds.observe({ type: op.type, state: op.state }, Math.max(0, end - start) / 1000);
      }
    },
    cloudifyTransientFailure: () => transient.inc(),
    authFailure: (outcome: "rejected" | "locked_out") => authFailures.inc({ outcome }),
    operationsSwept: (summary: InProgressSummary) => {
      running = summary;
    },
  };
}

export type BrokerMetrics = ReturnType<typeof brokerMetrics>;

/** Tallies by plan and status, recomputed from the store at most every COUNTS_TTL_MS. */
function countsCache(inventory: MetricSources["inventory"]) {
  const cache = new Map<string, { at: number; counts: Map<string, number> }>();
  return (collection: "instances" | "bindings") => {
    const cached = cache.get(collection);
    if (cached && Date.now() - cached.at < COUNTS_TTL_MS) return cached.counts;
    const counts = new Map<string, number>();
    for (const value of inventory[collection]()) {
      const key = JSON.stringify([value.planId, value.status]);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    cache.set(collection, { at: Date.now(), counts });
    return counts;
  };
}
