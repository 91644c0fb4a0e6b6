import { INSTANCES, type InstanceRecord } from "../../broker/model/records.js";
import { ConfigError } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../log/logger.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.js";
import { findPlan } from "../plan-lookup.js";
import { readState, stateLocation } from "../state-location.js";
import { table } from "../table.js";

interface Outcome {
  instance: InstanceRecord;
  from: string;
  to: string;
  result: "upgraded" | "failed";
  detail?: string;
}

/**
 * `cfy-broker upgrade --all`: applies every pending maintenance_info upgrade, as a platform
 * would (`cf update-service --upgrade`): a PATCH with the plan's current version to the running
 * broker for each provisioned instance whose version is behind, then last_operation until it
 * ends. Going through the broker keeps it the only writer of the state and of Cloudify.
 */
export async function upgradeCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("upgrade", args, {
    all: { type: "boolean" },
    plan: { type: "string" },
    concurrency: { type: "string" },
    url: { type: "string" },
    state: { type: "string" },
    timeout: { type: "string" },
  });
  if (!values.all) throw new UsageError("cfy-broker upgrade: give --all (optionally with --plan ID|NAME)");
  const concurrency = Number(values.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError("cfy-broker upgrade: --concurrency must be a positive integer");
  const timeoutMs = Number(values.timeout ?? 3600) * 1000;
  if (!(timeoutMs > 0)) throw new UsageError("cfy-broker upgrade: --timeout must be a number of seconds");
  const file = configPath(values);
  const { loaded, issues } = await loadConfig(file, { mode: "serve" });
  if (!loaded?.runtime) throw new ConfigError(issues);
  const only = values.plan ? findPlan(loaded.catalog, values.plan) : undefined;
  const user = loaded.runtime.users[0]!;
  const { host, port } = loaded.runtime.listen;
  const local = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const base = values.url ?? `http://${local.includes(":") ? `[${local}]` : local}:${port}`;

  const state = await readState(
    await stateLocation(file, values.state),
    createLogger({ level: "warn", destination: process.stderr }),
  );
  const behind = (Object.values(state[INSTANCES] ?? {}) as unknown as InstanceRecord[])
    .filter((i) => i.status === "provisioned" && (!only || i.planId === only.id))
    .flatMap((instance) => {
      const version = loaded.catalog.plansById.get(instance.planId)?.config.maintenance_info?.version;
      return version && version !== instance.maintenanceVersion ? [{ instance, to: version }] : [];
    });

  const headers = {
    Authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`,
    "X-Broker-API-Version": "2.17",
    "Content-Type": "application/json",
  };
  const tty = process.stderr.isTTY === true;
  let done = 0;
  const progress = () => {
    if (!tty) return;
    const width = 30;
    const filled = behind.length ? Math.round((done / behind.length) * width) : width;
    process.stderr.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${behind.length}`);
  };

  const upgrade = async ({ instance, to }: { instance: InstanceRecord; to: string }): Promise<Outcome> => {
    const outcome = (result: Outcome["result"], detail?: string): Outcome => ({
      instance,
      from: instance.maintenanceVersion ?? "-",
      to,
      result,
      ...(detail ? { detail } : {}),
    });
    const path = `${base}/v2/service_instances/${encodeURIComponent(instance.id)}`;
    try {
      const response = await fetch(`${path}?accepts_incomplete=true`, {
        method: "PATCH",
        headers,
        body: JSON.stringify({
          service_id: instance.serviceId,
          plan_id: instance.planId,
          maintenance_info: { version: to },
          previous_values: {
            plan_id: instance.planId,
            maintenance_info: { version: instance.maintenanceVersion },
          },
        }),
      });
      const body = (await response.json().catch(() => ({}))) as { operation?: string; description?: string };
      if (response.status === 200) return outcome("upgraded");
      if (response.status !== 202) return outcome("failed", `${response.status}: ${body.description ?? ""}`);
      const query = body.operation ? `?operation=${encodeURIComponent(body.operation)}` : "";
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const poll = await fetch(`${path}/last_operation${query}`, { headers });
        const last = (await poll.json().catch(() => ({}))) as { state?: string; description?: string };
        if (poll.status === 200 && last.state === "succeeded") return outcome("upgraded");
        if (poll.status === 200 && last.state === "failed") return outcome("failed", last.description);
        if (poll.status !== 200) return outcome("failed", `last_operation answered ${poll.status}`);
        if (Date.now() > deadline) return outcome("failed", "still in progress at --timeout");
      }
    } catch (error) {
      return outcome("failed", `cannot reach the broker at ${base}: ${(error as Error).message}`);
    } finally {
      done++;
      progress();
    }
  };

  progress();
  const outcomes: Outcome[] = [];
  const queue = [...behind];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) outcomes.push(await upgrade(next));
    }),
  );
  if (tty) process.stderr.write("\n");

  const failed = outcomes.filter((o) => o.result === "failed");
  if (outcomes.length) {
    process.stdout.write(
      table(
        ["INSTANCE", "PLAN", "FROM", "TO", "RESULT"],
        outcomes.map((o) => {
          const plan = loaded.catalog.plansById.get(o.instance.planId);
          return [
            o.instance.id,
            plan ? `${plan.service.config.name}/${plan.name}` : o.instance.planId,
            o.from,
            o.to,
            o.detail ? `${o.result}: ${o.detail}` : o.result,
          ];
        }),
      ),
    );
  }
  process.stderr.write(
    `${behind.length} instance(s) behind: ${outcomes.length - failed.length} upgraded, ${failed.length} failed\n`,
  );
  return failed.length ? EXIT_INVALID : EXIT_OK;
}
