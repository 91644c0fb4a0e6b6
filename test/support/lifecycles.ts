/**
 * Whole OSB lifecycles driven by a platform-like client, and the check of what they left in
 * the broker and in Cloudify, for the reliability suite (test/reliability/): kill -9 of the
 * broker, Cloudify outages. The client behaves as a platform does (OSB spec: Orphan
 * Mitigation, Polling Last Operation): it sends the same PUT/PATCH/DELETE again after a
 * dropped connection or a 503 with Retry-After, and polls last_operation until the operation
 * ends. Nothing here asserts: the callers count and assert on the tally.
 */
import type { EmulatorHandle, ExecutionHistoryEntry } from "../../emulator/index.js";
import { deploymentIdFor } from "../../src/broker/model/ids.js";
import { bindBody, bindingPath, usernameOf } from "../fixtures/bindings-helpers.js";
import type { OsbClient, OsbResponse, RequestOptions } from "./osb-client.js";
import { instancePath, newId, PG, provisionBody } from "./stack.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the platform saw, over every request it sent. */
export interface PlatformCounts {
  requests: number;
  /** Requests that got no answer (connection refused, reset or closed). */
  noAnswer: number;
  /** Every 5xx answer. */
  fiveXx: number;
  /** The 5xx that were 503 with Retry-After (the broker saying "not now": expected during an outage). */
  unavailable: number;
  /** A sample of the 5xx answers, for the failure message. */
  fiveXxSamples: string[];
}

/**
 * A platform: re-sends a request that got no answer, or a 503 with Retry-After, until it gets
 * an answer or `deadlineMs` passes (then throws: that request is stuck).
 */
export class Platform {
  readonly counts: PlatformCounts = {
    requests: 0,
    noAnswer: 0,
    fiveXx: 0,
    unavailable: 0,
    fiveXxSamples: [],
  };

  constructor(
    private readonly osb: OsbClient,
    private readonly deadlineMs = 60_000,
  ) {}

  /** The answer, and whether the request had to be sent more than once. */
  async send(
    method: string,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<OsbResponse & { resent: boolean }> {
    const deadline = Date.now() + this.deadlineMs;
    let resent = false;
    for (;;) {
      if (Date.now() > deadline)
        throw new Error(`${method} ${path}: no usable answer in ${this.deadlineMs} ms`);
      this.counts.requests++;
      let response: OsbResponse;
      try {
        response = await this.osb.request(method, path, body, {
          ...options,
          signal: AbortSignal.timeout(this.deadlineMs),
        });
      } catch {
        // Connection refused, reset, or closed without an answer: the broker may or may not
        // have acted on it. A platform sends the same request again.
        this.counts.noAnswer++;
        resent = true;
        await sleep(50 + Math.random() * 100);
        continue;
      }
      if (response.status >= 500) {
        this.counts.fiveXx++;
        const retryAfter = response.headers.get("retry-after");
        if (response.status === 503 && retryAfter !== null) this.counts.unavailable++;
        else if (this.counts.fiveXxSamples.length < 10)
          this.counts.fiveXxSamples.push(
            `${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`,
          );
        resent = true;
        await sleep(Math.min(Number(retryAfter) || 0.2, 1) * 1000);
        continue;
      }
      return { ...response, resent };
    }
  }

  /** Polls a last_operation until it leaves `in progress`; the final answer. */
  async poll(path: string): Promise<OsbResponse> {
    const deadline = Date.now() + this.deadlineMs;
    for (;;) {
      const response = await this.send("GET", `${path}/last_operation`);
      if (response.status !== 200 || response.body?.state !== "in progress") return response;
      if (Date.now() > deadline) throw new Error(`${path}: still in progress after ${this.deadlineMs} ms`);
      await sleep(40);
    }
  }
}

export type LifecycleKind =
  /** pg small: provision, update, workflow bind (create_user), workflow unbind, deprovision. */
  | "workflow"
  /** pg large: provision, synchronous bind (outputs), synchronous unbind, deprovision. */
  | "sync"
  /** pg small: provision, then at once a deprovision that halts it. */
  | "halting";

export type OpName = "provision" | "update" | "bind" | "unbind" | "deprovision";

export interface Op {
  name: OpName;
  /** The broker answered 2xx (or 410 to a re-sent delete whose first attempt it had taken). */
  acknowledged: boolean;
  completed: boolean;
  /** Why it is not completed, or what was unexpected. */
  problem?: string;
  /** The acknowledged thing is gone or forgotten. */
  lost?: boolean;
}

export interface Lifecycle {
  kind: LifecycleKind;
  instanceId: string;
  planId: string;
  bindingId?: string;
  /** Kept (not unbound, not deprovisioned): must still exist at the end. */
  keep: boolean;
  ops: Op[];
}

const UPDATED_RETENTION = 14;

const deleteQuery = (planId: string): RequestOptions => ({
  query: { accepts_incomplete: "true", service_id: PG.service, plan_id: planId },
});

/** Runs one lifecycle to its end (or to its first problem); never throws for the broker's answers. */
export async function runLifecycle(
  platform: Platform,
  kind: LifecycleKind,
  keep: boolean,
): Promise<Lifecycle> {
  const planId = kind === "sync" ? PG.large : PG.small;
  const life: Lifecycle = { kind, instanceId: newId(), planId, keep: keep && kind !== "halting", ops: [] };
  const iid = life.instanceId;
  const op = (name: OpName): Op => {
    const o: Op = { name, acknowledged: false, completed: false };
    life.ops.push(o);
    return o;
  };
  /** Notes what the broker answered unexpectedly; the lifecycle ends there. */
  const unexpected = (o: Op, what: string, r: OsbResponse): Lifecycle => {
    o.problem = `${what} answered ${r.status} ${JSON.stringify(r.body)}`;
    return life;
  };
  try {
    const provision = op("provision");
    const prov = await platform.send("PUT", instancePath(iid), provisionBody(planId), {
      query: { accepts_incomplete: "true" },
    });
    if (prov.status !== 202 && prov.status !== 200) return unexpected(provision, "provision", prov);
    provision.acknowledged = true;

    if (kind === "halting") {
      const deprovision = op("deprovision");
      if (!(await runDelete(platform, deprovision, instancePath(iid), deleteQuery(planId)))) return life;
      // The provision ended as the platform asked: halted and deleted.
      provision.completed = deprovision.completed;
      return life;
    }

    if (!(await finish(platform, provision, instancePath(iid)))) return life;

    if (kind === "workflow") {
      const update = op("update");
      const upd = await platform.send(
        "PATCH",
        instancePath(iid),
        { service_id: PG.service, parameters: { backup_retention_days: UPDATED_RETENTION } },
        { query: { accepts_incomplete: "true" } },
      );
      if (upd.status !== 202 && upd.status !== 200) return unexpected(update, "update", upd);
      update.acknowledged = true;
      if (upd.status === 202 && !(await finish(platform, update, instancePath(iid)))) return life;
      const fetched = await platform.send("GET", instancePath(iid));
      if (fetched.status !== 200) return unexpected(update, "fetch after update", fetched);
      if (fetched.body.parameters?.backup_retention_days !== UPDATED_RETENTION) {
        update.lost = true;
        update.problem = `update acknowledged, instance parameters ${JSON.stringify(fetched.body.parameters)}`;
        return life;
      }
      update.completed = true;
    }

    const bid = newId();
    life.bindingId = bid;
    const bind = op("bind");
    const path = bindingPath(iid, bid);
    const bound = await platform.send("PUT", path, bindBody(planId), {
      query: { accepts_incomplete: "true" },
    });
    if (![200, 201, 202].includes(bound.status)) return unexpected(bind, "bind", bound);
    bind.acknowledged = true;
    if (bound.status === 202 && !(await finish(platform, bind, path))) return life;
    const binding = await platform.send("GET", path);
    if (binding.status !== 200 || !binding.body.credentials?.password) {
      bind.lost = binding.status === 404;
      return unexpected(bind, "fetch of the binding", binding);
    }
    bind.completed = true;
    if (life.keep) return life;

    const unbind = op("unbind");
    if (!(await runDelete(platform, unbind, path, deleteQuery(planId)))) return life;
    const gone = await platform.send("GET", path);
    if (gone.status !== 404) {
      unbind.completed = false;
      return unexpected(unbind, "fetch after unbind", gone);
    }

    const deprovision = op("deprovision");
    await runDelete(platform, deprovision, instancePath(iid), deleteQuery(planId));
  } catch (error) {
    const last = life.ops.at(-1);
    if (last) last.problem = `stuck: ${(error as Error).message}`;
  }
  return life;
}

/** Polls the operation an acknowledged request started until it succeeds. */
async function finish(platform: Platform, o: Op, path: string): Promise<boolean> {
  const last = await platform.poll(path);
  if (last.status === 200 && last.body.state === "succeeded") {
    o.completed = true;
    return true;
  }
  if (last.status === 404 || last.status === 410) o.lost = true;
  o.problem = `${o.name} ended ${last.status} ${JSON.stringify(last.body)}`;
  return false;
}

/**
 * DELETE (unbind or deprovision) and poll. 410 counts as done only when the request was sent
 * again (its first attempt was taken but its answer lost); a first-attempt 410 is a lost resource.
 */
async function runDelete(platform: Platform, o: Op, path: string, query: RequestOptions): Promise<boolean> {
  const r = await platform.send("DELETE", path, undefined, query);
  if (r.status === 410 && r.resent) {
    o.acknowledged = o.completed = true;
    return true;
  }
  if (r.status !== 200 && r.status !== 202) {
    o.lost = r.status === 410;
    o.problem = `${o.name} answered ${r.status} ${JSON.stringify(r.body)}`;
    return false;
  }
  o.acknowledged = true;
  if (r.status === 200) {
    o.completed = true;
    return true;
  }
  const last = await platform.poll(path);
  if (last.status === 410 || (last.status === 200 && last.body.state === "succeeded")) {
    o.completed = true;
    return true;
  }
  o.problem = `${o.name} ended ${last.status} ${JSON.stringify(last.body)}`;
  return false;
}

export interface Verdict {
  acknowledged: number;
  completed: number;
  lost: number;
  duplicated: number;
  /** Lifecycles whose operation never left `in progress`, or whose Cloudify work never ended. */
  stuck: number;
  problems: string[];
}

const ACTIVE = new Set(["pending", "started", "queued", "scheduled", "cancelling", "force_cancelling"]);

/**
 * Checks every lifecycle against Cloudify's record of what it was asked to run (the emulator's
 * execution history, which keeps executions of deleted deployments) and against the broker:
 * one deployment per instance, at most one install/uninstall per instance, exactly one update
 * per acknowledged update, one create_user/delete_user per binding; kept instances and bindings
 * still there, deprovisioned ones gone; no Cloudify work still running.
 */
export async function verifyLifecycles(
  platform: Platform,
  emulator: EmulatorHandle,
  lifecycles: readonly Lifecycle[],
): Promise<Verdict> {
  const verdict: Verdict = { acknowledged: 0, completed: 0, lost: 0, duplicated: 0, stuck: 0, problems: [] };
  const problem = (life: Lifecycle, text: string) =>
    verdict.problems.push(`${life.kind} ${life.instanceId}: ${text}`);
  for (const life of lifecycles) {
    for (const o of life.ops) {
      if (o.acknowledged) verdict.acknowledged++;
      if (o.completed) verdict.completed++;
      if (o.lost) verdict.lost++;
      if (o.problem?.startsWith("stuck")) verdict.stuck++;
      if (o.problem) problem(life, o.problem);
    }
    const acked = (name: OpName) => life.ops.some((o) => o.name === name && o.acknowledged);
    if (!acked("provision")) continue;
    const deploymentId = deploymentIdFor(life.instanceId);
    const history = emulator.state.history(deploymentId);
    const runs = (workflowId: string, username?: string): ExecutionHistoryEntry[] =>
      history.filter(
        (e) => e.workflowId === workflowId && (username === undefined || e.parameters.username === username),
      );
    const expectRuns = (workflowId: string, min: number, max: number, username?: string) => {
      const n = runs(workflowId, username).length;
      if (n > max) {
        verdict.duplicated += n - max;
        problem(life, `${n} ${workflowId} executions${username ? ` for ${username}` : ""}`);
      } else if (n < min) {
        problem(life, `${n} ${workflowId} executions${username ? ` for ${username}` : ""}, expected ${min}`);
      }
    };
    const completedAll = life.ops.every((o) => o.completed);
    // A deprovision accepted before the provision reached Cloudify: nothing is ever created.
    expectRuns("create_deployment_environment", life.kind === "halting" ? 0 : 1, 1);
    expectRuns("install", life.kind === "halting" ? 0 : 1, 1);
    expectRuns("uninstall", 0, 1);
    expectRuns("delete_deployment_environment", 0, 1);
    if (life.kind === "workflow" && acked("update")) expectRuns("update", 1, 1);
    if (life.bindingId && life.kind === "workflow") {
      const username = usernameOf(life.bindingId);
      if (acked("bind")) expectRuns("create_user", 1, 1, username);
      if (acked("unbind")) expectRuns("delete_user", completedAll ? 1 : 0, 1, username);
    }
    const running = emulator.state.executions(deploymentId).filter((e) => ACTIVE.has(String(e.status)));
    if (running.length) {
      verdict.stuck++;
      problem(life, `Cloudify still runs ${running.map((e) => e.workflow_id).join(", ")}`);
    }
    if (!completedAll) continue;
    const deployment = emulator.state.deployment(deploymentId);
    const instance = await platform.send("GET", instancePath(life.instanceId));
    const last = await platform.send("GET", `${instancePath(life.instanceId)}/last_operation`);
    if (last.status === 200 && last.body.state === "in progress") {
      verdict.stuck++;
      problem(life, "last_operation still in progress");
    }
    if (acked("deprovision")) {
      if (deployment) problem(life, "deprovisioned, but its deployment is still in Cloudify");
      if (instance.status !== 404 && instance.status !== 410)
        problem(life, `deprovisioned, but GET instance answers ${instance.status}`);
      continue;
    }
    // Kept: the instance, its binding and its deployment are all still there.
    if (!deployment || instance.status !== 200) {
      verdict.lost++;
      problem(
        life,
        `kept instance missing (deployment ${deployment ? "present" : "gone"}, GET ${instance.status})`,
      );
    }
    if (life.bindingId) {
      const binding = await platform.send("GET", bindingPath(life.instanceId, life.bindingId));
      if (binding.status !== 200) {
        verdict.lost++;
        problem(life, `kept binding missing (GET ${binding.status})`);
      }
    }
  }
  return verdict;
}

/** A row of test/reliability/RESULTS.md: scenario | faults | acknowledged | completed | lost | duplicated | 5xx. */
export function resultRow(
  scenario: string,
  faults: string,
  // A scenario that ends in a refusal says so in words where a count does not apply.
  verdict: Record<"acknowledged" | "completed" | "lost" | "duplicated", number | string>,
  fiveXx: number | string,
): string {
  return `| ${scenario} | ${faults} | ${verdict.acknowledged} | ${verdict.completed} | ${verdict.lost} | ${verdict.duplicated} | ${fiveXx} |`;
}
