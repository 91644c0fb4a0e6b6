import type { HealthReport } from "../osb/ports.js";
import type { CloudifyReachability } from "./cloudify-connection.js";

export interface HealthSources {
  /** Whether the state store can commit now (no I/O). */
  store: () => { writable: boolean; reason?: string; recovering?: boolean };
  /** Why the latest attempt to load broker.yaml failed; undefined while the file in force is the one on disk. */
  configProblem: () => string | undefined;
  cloudify: CloudifyReachability;
  cloudifyUnreachableMs: () => number;
  /** Set once a shutdown began: the broker takes no new work. */
  stopping: () => boolean;
  /**
   * Facts reported beside the checks without failing a probe (several replicas on PostgreSQL:
   * the database and the replicas' config fingerprints; different versions during a rolling
   * upgrade are expected).
   */
  info?: () => Record<string, string>;
  now?: () => number;
}

/**
 * Liveness and readiness, computed from state the broker keeps anyway (no I/O per probe):
 * - live: the broker can work at all; a restart is what would help. A store that has stopped
 *   makes every state change fail. A full disk or an unreachable database is not a liveness
 *   failure (the store retries by itself and a restart would only lose the in-memory work),
 *   nor is a Cloudify outage (a restarted broker would wait for the same manager).
 * - ready: it should get traffic. Also needs the configuration on disk to be the one in force,
 *   Cloudify to have answered recently, and no shutdown under way.
 */
export function healthChecks(sources: HealthSources) {
  const now = sources.now ?? Date.now;
  const storeCheck = () => {
    const health = sources.store();
    return health.writable ? "ok" : `cannot write: ${health.reason ?? "unknown reason"}`;
  };
  const report = (checks: Record<string, string>): HealthReport => ({
    status: Object.values(checks).every((v) => v === "ok") ? "ok" : "failing",
    checks: { ...checks, ...sources.info?.() },
  });
  return {
    liveness: (): HealthReport => {
      const health = sources.store();
      return report({ state: health.writable || health.recovering ? "ok" : storeCheck() });
    },
    readiness: (): HealthReport => {
      const config = sources.configProblem();
      const silentMs = now() - sources.cloudify.lastAnswerAt;
      const { lastFailure, waitingSince } = sources.cloudify;
      // A failed call, or a probe still waiting (a frozen manager fails nothing until timeouts).
      const why =
        lastFailure ??
        (waitingSince !== undefined
          ? `a request has waited ${Math.round((now() - waitingSince) / 1000)} s for an answer`
          : undefined);
      const cloudify =
        silentMs > sources.cloudifyUnreachableMs() && why
          ? `no answer for ${Math.round(silentMs / 1000)} s: ${why}`
          : "ok";
      return report({
        state: storeCheck(),
        config: config ? `the last load failed, the previous configuration is in force: ${config}` : "ok",
        cloudify,
        ...(sources.stopping() ? { shutdown: "shutting down" } : {}),
      });
    },
  };
}

export type HealthChecks = ReturnType<typeof healthChecks>;

/**
 * What /healthz and /readyz report about several replicas on PostgreSQL: whether the database
 * takes writes, and the live replicas with their config fingerprints (different versions during
 * a rolling upgrade are expected: reported, not failing).
 */
export function replicaInfo(
  shared: {
    health(): { writable: boolean; reason?: string };
    knownReplicas(): readonly { configFingerprint: string }[];
  },
  ownFingerprint: string,
): Record<string, string> {
  const state = shared.health();
  const replicas = shared.knownReplicas();
  const prints = [...new Set(replicas.map((r) => r.configFingerprint))].sort();
  return {
    database: state.writable
      ? "postgres reachable"
      : `postgres not writable: ${state.reason ?? "unknown reason"}`,
    config_fingerprint: ownFingerprint,
    replicas:
      prints.length > 1
        ? `${replicas.length} live, config fingerprints differ: ${prints.join(", ")}`
        : `${replicas.length} live, same config`,
  };
}
