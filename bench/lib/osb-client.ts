/**
 * The OSB requests the benchmarks make outside their timed loops (setting up instances and
 * bindings) and the headers of the timed ones, against a broker started by bench/lib/servers.ts.
 */
import type { EmulatorTimings } from "../../emulator/index.js";
import type { Servers } from "./servers.js";

/** Emulator timings under which an operation finishes in tens of milliseconds (set-up, not timed). */
export const QUICK_MANAGER: Partial<EmulatorTimings> = {
  pendingMs: 5,
  createEnvMs: 20,
  deleteEnvMs: 20,
  workflowMs: 20,
  cancelMs: 5,
  scale: 0.01,
};

/** The example broker.yaml's PostgreSQL service and plans. */
export const POSTGRES_SERVICE = "6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11";
/** `small`: the richest plan (explicit schemas, templates); workflow binding. */
export const SMALL_PLAN = "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01";
/** `large`: outputs-mode binding (outputs, capabilities and a secret), bindings_retrievable. */
export const LARGE_PLAN = "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b02";

export function osbHeaders(servers: Pick<Servers, "username" | "password">): Record<string, string> {
  return {
    Authorization: `Basic ${Buffer.from(`${servers.username}:${servers.password}`).toString("base64")}`,
    "X-Broker-API-Version": "2.17",
  };
}

export interface OsbAnswer {
  status: number;
  text: string;
  type: string | null;
}

export type OsbCall = (method: string, path: string, body?: unknown) => Promise<OsbAnswer>;

/** One request with the broker's credentials, uncompressed answer. */
export function osbClient(servers: Pick<Servers, "brokerUrl" | "username" | "password">): OsbCall {
  const headers = osbHeaders(servers);
  return async (method, path, body) => {
    const response = await fetch(`${servers.brokerUrl}${path}`, {
      method,
      headers: { ...headers, "Content-Type": "application/json", "Accept-Encoding": "identity" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: response.status,
      text: await response.text(),
      type: response.headers.get("content-type"),
    };
  };
}

/** Provisions `instanceId` (202 expected); does not wait for the operation. */
export async function startProvision(
  call: OsbCall,
  instanceId: string,
  planId: string,
  parameters: Record<string, unknown>,
): Promise<void> {
  const answer = await call("PUT", `/v2/service_instances/${instanceId}?accepts_incomplete=true`, {
    service_id: POSTGRES_SERVICE,
    plan_id: planId,
    organization_guid: "org-guid-1",
    space_guid: "space-guid-1",
    parameters,
  });
  if (answer.status !== 202) throw new Error(`provision answered ${answer.status}: ${answer.text}`);
}

/** Polls last_operation until the provision of `instanceId` succeeded (throws if it failed). */
export async function waitProvisioned(call: OsbCall, instanceId: string, pollMs = 50): Promise<void> {
  const path = `/v2/service_instances/${instanceId}/last_operation`;
  for (let attempt = 0; ; attempt++) {
    const answer = await call("GET", path);
    const state = JSON.parse(answer.text).state as string;
    if (state === "succeeded") return;
    if (state === "failed" || attempt > 60_000 / pollMs) throw new Error(`provision ended ${state}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The provision request body the provision, sbf and postgres suites send (the example's `small` plan). */
export function provisionBody(): string {
  return JSON.stringify({
    service_id: POSTGRES_SERVICE,
    plan_id: SMALL_PLAN,
    organization_guid: "org-guid-1",
    space_guid: "space-guid-1",
    parameters: { db_name: "orders", backup_retention_days: 14 },
    context: {
      platform: "cloudfoundry",
      organization_guid: "org-guid-1",
      space_guid: "space-guid-1",
      instance_name: "orders-db",
    },
  });
}
