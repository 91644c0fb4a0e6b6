import { randomUUID } from "node:crypto";
import type { PlanExampleRef } from "../../broker/catalog/plan-examples.js";

/** A broker reachable over OSB HTTP (the examples command starts one in-process). */
export interface OsbTarget {
  url: string;
  username: string;
  password: string;
}

export interface ExampleOutcome {
  ok: boolean;
  /** The step that failed, and why (Cloudify's own reason where the broker gave one). */
  detail: string;
  seconds: number;
}

/** Steps an example goes through, in order, for the progress display. */
export type Step =
  | "provision"
  | "update"
  | "bind"
  | "check credentials"
  | "unbind"
  | "deprovision"
  | "cleanup";

interface Response {
  status: number;
  body: Record<string, unknown>;
}

class StepFailed extends Error {}

/**
 * One example end to end through the broker's OSB API: provision, poll, (update, poll), bind,
 * (poll), check the credential keys, unbind, (poll), deprovision, poll. Whatever it created is
 * removed even when a step fails or `signal` aborts (SIGINT).
 */
export async function runExample(
  target: OsbTarget,
  ref: PlanExampleRef,
  options: { timeoutSeconds: number; pollMs: number; signal: AbortSignal; onStep: (step: Step) => void },
): Promise<ExampleOutcome> {
  const started = Date.now();
  const { plan, example } = ref;
  const instanceId = randomUUID();
  const bindingId = randomUUID();
  const instancePath = `/v2/service_instances/${instanceId}`;
  const bindingPath = `${instancePath}/service_bindings/${bindingId}`;
  const ids = `service_id=${plan.service.config.id}&plan_id=${plan.id}`;
  let provisioned = false;
  let bound = false;

  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const response = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${target.username}:${target.password}`).toString("base64")}`,
        "x-broker-api-version": "2.17",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { description: text };
    }
    return { status: response.status, body: parsed };
  };
  const expect = (response: Response, statuses: number[], what: string): Response => {
    if (!statuses.includes(response.status)) {
      const reason = response.body.description ?? response.body.error ?? JSON.stringify(response.body);
      throw new StepFailed(`${what}: HTTP ${response.status}: ${reason}`);
    }
    return response;
  };
  /** Polls last_operation until it leaves "in progress"; 410 counts as done for deletions. */
  const poll = async (path: string, what: string, goneIsDone: boolean, signal?: AbortSignal) => {
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    for (;;) {
      if (signal?.aborted) throw new StepFailed(`${what}: interrupted`);
      const response = await call("GET", `${path}/last_operation`);
      if (goneIsDone && response.status === 410) return;
      expect(response, [200], `${what} (last_operation)`);
      const state = response.body.state;
      if (state === "succeeded") return;
      if (state === "failed")
        throw new StepFailed(`${what} failed: ${response.body.description ?? "no description"}`);
      if (Date.now() > deadline)
        throw new StepFailed(`${what}: still in progress after ${options.timeoutSeconds} s`);
      await sleep(options.pollMs, signal);
    }
  };

  const run = async () => {
    const signal = options.signal;
    options.onStep("provision");
    const context = example.context ?? {
      platform: "kubernetes",
      namespace: "cfy-broker-examples",
      instance_name: example.name,
    };
    expect(
      await call("PUT", `${instancePath}?accepts_incomplete=true`, {
        service_id: plan.service.config.id,
        plan_id: plan.id,
        organization_guid: "cfy-broker-examples",
        space_guid: "cfy-broker-examples",
        context,
        parameters: example.parameters ?? {},
      }),
      [201, 202],
      "provision",
    );
    provisioned = true;
    await poll(instancePath, "provision", false, signal);

    if (example.update_parameters !== undefined) {
      options.onStep("update");
      const updated = expect(
        await call("PATCH", `${instancePath}?accepts_incomplete=true`, {
          service_id: plan.service.config.id,
          parameters: example.update_parameters,
        }),
        [200, 202],
        "update",
      );
      if (updated.status === 202) await poll(instancePath, "update", false, signal);
    }

    if (plan.bindable) {
      options.onStep("bind");
      const response = expect(
        await call("PUT", `${bindingPath}?accepts_incomplete=true`, {
          service_id: plan.service.config.id,
          plan_id: plan.id,
          bind_resource: example.bind_resource ?? { app_guid: "cfy-broker-examples" },
          parameters: example.bind_parameters ?? {},
        }),
        [200, 201, 202],
        "bind",
      );
      bound = true;
      let binding = response.body;
      if (response.status === 202) {
        await poll(bindingPath, "bind", false, signal);
        binding = expect(await call("GET", bindingPath), [200], "fetch binding").body;
      }
      options.onStep("check credentials");
      const credentials = (binding.credentials ?? {}) as Record<string, unknown>;
      const missing = (example.credentials ?? []).filter((key) => !(key in credentials));
      if (missing.length)
        throw new StepFailed(
          `credentials lack ${missing.join(", ")} (they have ${Object.keys(credentials).join(", ") || "nothing"})`,
        );
      options.onStep("unbind");
      await unbind();
    }
    options.onStep("deprovision");
    await deprovision();
  };

  const unbind = async () => {
    const response = expect(
      await call("DELETE", `${bindingPath}?accepts_incomplete=true&${ids}`),
      [200, 202, 410],
      "unbind",
    );
    if (response.status === 202) await poll(bindingPath, "unbind", true);
    bound = false;
  };
  const deprovision = async () => {
    const response = expect(
      await call("DELETE", `${instancePath}?accepts_incomplete=true&${ids}`),
      [200, 202, 410],
      "deprovision",
    );
    if (response.status === 202) await poll(instancePath, "deprovision", true);
    provisioned = false;
  };

  try {
    await run();
    return { ok: true, detail: "", seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    const detail = error instanceof StepFailed ? error.message : String((error as Error).message ?? error);
    // Leave nothing behind: the binding, then the instance (a deprovision also halts a provision).
    options.onStep("cleanup");
    const leftovers: string[] = [];
    if (bound) await unbind().catch((e) => leftovers.push(`binding ${bindingId}: ${(e as Error).message}`));
    if (provisioned)
      await deprovision().catch((e) => leftovers.push(`instance ${instanceId}: ${(e as Error).message}`));
    const cleanup = leftovers.length ? `; CLEANUP FAILED, remove by hand: ${leftovers.join("; ")}` : "";
    return { ok: false, detail: `${detail}${cleanup}`, seconds: (Date.now() - started) / 1000 };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal?.addEventListener("abort", wake, { once: true });
  });
}
