import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import {
  CloudifyApiError,
  type CloudifyClient,
  CloudifyNetworkError,
  isNotFound,
  isTransient,
} from "../src/cloudify/index.js";
import { clientFor, FAST_WAIT, raw, startTestEmulator } from "./support/emulator.js";

let emulator: EmulatorHandle;
let client: CloudifyClient;

beforeAll(async () => {
  emulator = await startTestEmulator();
  client = clientFor(emulator);
});

afterEach(() => {
  emulator.faults.clear();
  emulator.requests.clear();
});

afterAll(async () => {
  await client.close();
  await emulator.close();
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
}

const BLUEPRINT_PATH = "/api/v3.1/blueprints/redis";

describe("retries of reads and deletes", () => {
  it("retries a GET through a burst of 503s from a proxy", async () => {
    emulator.faults.add({ type: "http_error", status: 503, times: 2, method: "GET", path: BLUEPRINT_PATH });
    const bp = await client.blueprints.get("redis");
    expect(bp.id).toBe("redis");
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(3);
  });

  it("gives up after the configured attempts with a transient 503 error", async () => {
    emulator.faults.add({ type: "http_error", status: 503, times: 10, path: BLUEPRINT_PATH });
    const error = await failure(client.blueprints.get("redis"));
    expect(error).toBeInstanceOf(CloudifyApiError);
    const api = error as CloudifyApiError;
    expect(api.status).toBe(503);
    expect(api.errorCode).toBeNull();
    expect(api.serverMessage).toContain("503 Service Temporarily Unavailable");
    expect(isTransient(api)).toBe(true);
    expect(emulator.requests.count({ path: BLUEPRINT_PATH })).toBe(3);
  });

  it("keeps the error code of a maintenance-mode answer and treats it as transient", async () => {
    const once = clientFor(emulator, { retry: { attempts: 1 } });
    emulator.faults.add({ type: "http_error", status: 503, errorCode: "maintenance_mode_active", times: 1 });
    const error = (await failure(once.blueprints.get("redis"))) as CloudifyApiError;
    expect(error.errorCode).toBe("maintenance_mode_active");
    expect(isTransient(error)).toBe(true);
    await once.close();
  });

  it("retries a GET whose connection is dropped without an answer", async () => {
    emulator.faults.add({ type: "drop", times: 2, method: "GET", path: BLUEPRINT_PATH });
    expect((await client.blueprints.get("redis")).id).toBe("redis");
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(3);
  });

  it("reports a dropped connection as a reset network error when retries run out", async () => {
    const once = clientFor(emulator, { retry: { attempts: 1 } });
    emulator.faults.add({ type: "drop", times: 1 });
    const error = await failure(once.blueprints.get("redis"));
    expect(error).toBeInstanceOf(CloudifyNetworkError);
    expect((error as CloudifyNetworkError).kind).toBe("reset");
    expect(isTransient(error)).toBe(true);
    await once.close();
  });

  it("retries a DELETE through a dropped connection and a 502", async () => {
    const dep = await client.deployments.create("r-del", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    emulator.faults.add({ type: "drop", times: 1, method: "DELETE" });
    emulator.faults.add({ type: "http_error", status: 502, times: 1, method: "DELETE" });
    await client.deployments.delete("r-del");
    expect(emulator.requests.count({ method: "DELETE", path: "/api/v3.1/deployments/r-del" })).toBe(3);
    await client.deployments.waitUntilGone("r-del", FAST_WAIT);
  });

  it("does not retry a client error", async () => {
    const error = await failure(client.deployments.get("missing"));
    expect(isNotFound(error)).toBe(true);
    expect(isTransient(error)).toBe(false);
    expect(emulator.requests.count({ path: "/api/v3.1/deployments/missing" })).toBe(1);
  });
});

describe("no automatic repetition of writes", () => {
  it("sends a POST /executions once even when the answer is a 503", async () => {
    const dep = await client.deployments.create("r-post", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    emulator.faults.add({
      type: "http_error",
      status: 503,
      times: 1,
      method: "POST",
      path: "/api/v3.1/executions",
    });
    const error = await failure(client.executions.start({ deploymentId: "r-post", workflowId: "install" }));
    expect((error as CloudifyApiError).status).toBe(503);
    expect(emulator.requests.count({ method: "POST", path: "/api/v3.1/executions" })).toBe(1);
    // The caller looks the execution up instead of repeating the POST.
    expect(await client.executions.list({ deploymentId: "r-post", workflowId: "install" })).toEqual([]);
  });

  it("sends a POST once when its connection is dropped", async () => {
    emulator.faults.add({ type: "drop", times: 1, method: "POST" });
    const error = await failure(client.executions.start({ deploymentId: "r-post", workflowId: "install" }));
    expect(error).toBeInstanceOf(CloudifyNetworkError);
    expect(emulator.requests.count({ method: "POST" })).toBe(1);
  });

  it("sends a PUT /deployments once when its connection is dropped", async () => {
    emulator.faults.add({ type: "drop", times: 1, method: "PUT" });
    const error = await failure(client.deployments.create("r-put", { blueprintId: "redis" }));
    expect(error).toBeInstanceOf(CloudifyNetworkError);
    expect(emulator.requests.count({ method: "PUT", path: "/api/v3.1/deployments/r-put" })).toBe(1);
    expect(isNotFound(await failure(client.deployments.get("r-put")))).toBe(true);
  });
});

describe("timeouts, refused connections and restarts", () => {
  it("times out a slow answer and retries it", async () => {
    const impatient = clientFor(emulator, { timeoutMs: 100, retry: { attempts: 1 } });
    emulator.faults.add({ type: "latency", ms: 400, times: 1, path: BLUEPRINT_PATH });
    const error = await failure(impatient.blueprints.get("redis"));
    expect(error).toBeInstanceOf(CloudifyNetworkError);
    expect((error as CloudifyNetworkError).kind).toBe("timeout");
    await impatient.close();

    const patient = clientFor(emulator, { timeoutMs: 100, retry: { attempts: 2, baseDelayMs: 5 } });
    emulator.faults.add({ type: "latency", ms: 400, times: 1, path: BLUEPRINT_PATH });
    expect((await patient.blueprints.get("redis")).id).toBe("redis");
    await patient.close();
  });

  it("reports a refused connection as a transient network error", async () => {
    const nowhere = clientFor(emulator, {
      url: "http://127.0.0.1:1",
      retry: { attempts: 2, baseDelayMs: 5 },
    });
    const error = await failure(nowhere.version());
    expect(error).toBeInstanceOf(CloudifyNetworkError);
    expect((error as CloudifyNetworkError).kind).toBe("refused");
    expect(isTransient(error)).toBe(true);
    expect((error as Error).message).not.toContain("admin");
    await nowhere.close();
  });

  it("rides out a manager restart that keeps its data", async () => {
    const dep = await client.deployments.create("r-keep", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    const restarting = emulator.restart({ downMs: 150, keepData: true });
    const patient = clientFor(emulator, { retry: { attempts: 8, baseDelayMs: 40, maxDelayMs: 200 } });
    const once = clientFor(emulator, { retry: { attempts: 1 } });
    const during = await failure(once.deployments.get("r-keep"));
    expect((during as CloudifyNetworkError).kind).toBe("refused");
    await once.close();
    expect((await patient.deployments.get("r-keep")).id).toBe("r-keep");
    await restarting;
    await patient.close();
  });

  it("comes back empty after a restart that loses its data", async () => {
    const dep = await client.deployments.create("r-lose", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    await emulator.restart({ downMs: 20, keepData: false });
    expect(isNotFound(await failure(client.deployments.get("r-lose")))).toBe(true);
    expect((await client.blueprints.get("redis")).id).toBe("redis");
  });

  it("keeps waiting for a deletion through transient errors", async () => {
    const dep = await client.deployments.create("r-wait", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    await client.deployments.delete("r-wait");
    emulator.faults.add({
      type: "http_error",
      status: 503,
      times: 6,
      method: "GET",
      path: "/api/v3.1/deployments/r-wait",
    });
    await client.deployments.waitUntilGone("r-wait", FAST_WAIT);
    expect(emulator.faults.list()).toEqual([]);
  });
});

describe("the admin endpoint", () => {
  it("injects faults and lists requests over HTTP", async () => {
    const add = await fetch(`${emulator.url}/_emulator/faults`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "http_error", status: 504, times: 1, path: "/api/version" }),
    });
    expect(add.status).toBe(201);
    const listed = (await (await fetch(`${emulator.url}/_emulator/faults`)).json()) as { items: unknown[] };
    expect(listed.items).toHaveLength(1);
    const once = clientFor(emulator, { retry: { attempts: 1 } });
    expect(((await failure(once.version())) as CloudifyApiError).status).toBe(504);
    await once.close();
    const requests = (await (await fetch(`${emulator.url}/_emulator/requests`)).json()) as {
      items: Array<{ method: string; path: string }>;
    };
    expect(requests.items).toContainEqual(expect.objectContaining({ method: "GET", path: "/api/version" }));
    const bad = await fetch(`${emulator.url}/_emulator/faults`, {
      method: "POST",
      body: '{"type":"explode"}',
    });
    expect(bad.status).toBe(400);
  });

  it("fails a workflow a limited number of times through an HTTP-registered fault", async () => {
    await fetch(`${emulator.url}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({
        type: "fail_workflow",
        workflowId: "install",
        blueprintId: "redis",
        message: "boom",
        times: 1,
      }),
    });
    const dep = await client.deployments.create("r-fail", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    const first = await client.executions.start({ deploymentId: "r-fail", workflowId: "install" });
    expect((await client.executions.waitForEnd(first.id, FAST_WAIT)).status).toBe("failed");
    const second = await client.executions.start({ deploymentId: "r-fail", workflowId: "install" });
    expect((await client.executions.waitForEnd(second.id, FAST_WAIT)).status).toBe("terminated");
  });

  it("restarts the manager on request", async () => {
    const response = await fetch(`${emulator.url}/_emulator/restart`, {
      method: "POST",
      body: JSON.stringify({ downMs: 50, keepData: true }),
    });
    expect(response.status).toBe(202);
    const patient = clientFor(emulator, { retry: { attempts: 10, baseDelayMs: 20, maxDelayMs: 100 } });
    expect((await patient.version()).version).toBe("7.0.4");
    await patient.close();
  });
});

describe("gateway timeouts (the manager performs the request after the gateway gave up)", () => {
  it.each(["504", "drop"] as const)(
    "answer %s: the client sees a failure, yet the execution appears later",
    async (answer) => {
      const dep = await client.deployments.create(`gw-${answer}`, { blueprintId: "redis" });
      await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
      emulator.faults.add({
        type: "gateway_timeout",
        answer,
        performAfterMs: 50,
        method: "POST",
        path: "/api/v3.1/executions",
      });
      const once = clientFor(emulator, { retry: { attempts: 1 } });
      const error = await failure(
        once.executions.start({ deploymentId: `gw-${answer}`, workflowId: "install" }),
      );
      await once.close();
      if (answer === "504") expect((error as CloudifyApiError).status).toBe(504);
      else expect(error).toBeInstanceOf(CloudifyNetworkError);
      const installs = () =>
        emulator.state.executions(`gw-${answer}`).filter((e) => e.workflow_id === "install");
      expect(installs()).toHaveLength(0);
      await expect.poll(() => installs().length, { timeout: 5_000 }).toBe(1);
    },
  );
});

describe("408, 429 and Retry-After; 401 and fresh credentials (issue 9 item 4)", () => {
  const EXECUTIONS = "/api/v3.1/executions";

  it("the emulator's proxy answers 429 with Retry-After, as nginx limit_req does", async () => {
    emulator.faults.add({ type: "http_error", status: 429, retryAfter: "7", path: BLUEPRINT_PATH });
    const res = await raw(emulator, "GET", BLUEPRINT_PATH);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(res.text).toContain("429 Too Many Requests");
  });

  it("retries a GET answered 429, waiting at least the Retry-After it was given", async () => {
    emulator.faults.add({ type: "http_error", status: 429, retryAfter: "1", times: 1, path: BLUEPRINT_PATH });
    const started = Date.now();
    expect((await client.blueprints.get("redis")).id).toBe("redis");
    // The client's own backoff here is at most 20 ms: only the header makes it wait this long.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(2);
  });

  it("retries a GET answered 408 (the request was not read in time)", async () => {
    emulator.faults.add({ type: "http_error", status: 408, times: 2, path: BLUEPRINT_PATH });
    expect((await client.blueprints.get("redis")).id).toBe("redis");
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(3);
  });

  it("retries a read-only search (POST /searches) like a GET", async () => {
    emulator.faults.add({
      type: "http_error",
      status: 429,
      times: 1,
      path: "/api/v3.1/searches/deployments",
    });
    expect(Array.isArray(await client.deployments.searchByLabels({ "osb-broker": "none" }))).toBe(true);
    expect(emulator.requests.count({ method: "POST", path: "/api/v3.1/searches/deployments" })).toBe(2);
  });

  it("hands a Retry-After longer than it may wait to the caller, transient and with the delay", async () => {
    emulator.faults.add({
      type: "http_error",
      status: 429,
      retryAfter: "120",
      times: 1,
      path: BLUEPRINT_PATH,
    });
    const error = (await failure(client.blueprints.get("redis"))) as CloudifyApiError;
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(120_000);
    expect(isTransient(error)).toBe(true);
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(1);
  });

  it("never repeats a POST /executions answered 429: transient, for the caller to look up and retry", async () => {
    const dep = await client.deployments.create("r-429", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    emulator.faults.add({
      type: "http_error",
      status: 429,
      retryAfter: "0",
      times: 1,
      method: "POST",
      path: EXECUTIONS,
    });
    const error = (await failure(
      client.executions.start({ deploymentId: "r-429", workflowId: "install" }),
    )) as CloudifyApiError;
    expect(error.status).toBe(429);
    expect(isTransient(error)).toBe(true);
    expect(emulator.requests.count({ method: "POST", path: EXECUTIONS })).toBe(1);
  });

  async function mintToken(): Promise<{ id: string; value: string }> {
    const res = await raw(emulator, "POST", "/api/v3.1/tokens", { body: { description: "broker" } });
    expect(res.status).toBe(200);
    return res.json();
  }

  it("the emulator expires a token for real: 401 'Token is expired' on every later use", async () => {
    const token = await mintToken();
    const headers = { "Authentication-Token": token.value };
    expect((await raw(emulator, "GET", BLUEPRINT_PATH, { auth: false, headers })).status).toBe(200);
    expect(emulator.state.expireTokens(token.id)).toBe(1);
    for (let i = 0; i < 2; i++) {
      const res = await raw(emulator, "GET", BLUEPRINT_PATH, { auth: false, headers });
      expect(res.status).toBe(401);
      expect(res.json()).toEqual({
        message: "User unauthorized: Token is expired",
        error_code: "unauthorized_error",
        server_traceback: null,
      });
    }
  });

  it("the admin endpoint expires tokens for clients driving a standalone emulator", async () => {
    const token = await mintToken();
    const expire = await fetch(`${emulator.url}/_emulator/tokens/expire`, {
      method: "POST",
      body: JSON.stringify({ id: token.id }),
    });
    expect(await expire.json()).toEqual({ expired: 1 });
    const res = await raw(emulator, "GET", BLUEPRINT_PATH, {
      auth: false,
      headers: { "Authentication-Token": token.value },
    });
    expect(res.status).toBe(401);
    expect(res.json().message).toBe("User unauthorized: Token is expired");
  });

  it("after a 401 reads the credentials again and repeats the call once with the new ones", async () => {
    const old = await mintToken();
    const fresh = await mintToken();
    let reads = 0;
    const rotating = clientFor(emulator, {
      auth: { token: old.value },
      reauthenticate: async () => {
        reads += 1;
        return { token: fresh.value };
      },
    });
    emulator.state.expireTokens(old.id);
    expect((await rotating.blueprints.get("redis")).id).toBe("redis");
    expect(reads).toBe(1);
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(2);
    // The new token is kept: no 401 and no re-read on the next call.
    expect((await rotating.blueprints.get("redis")).id).toBe("redis");
    expect(reads).toBe(1);
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(3);
    await rotating.close();
  });

  it("a POST refused with 401 is sent again with fresh credentials: nothing was performed, one execution", async () => {
    const dep = await client.deployments.create("r-401", { blueprintId: "redis" });
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    const old = await mintToken();
    const fresh = await mintToken();
    const rotating = clientFor(emulator, {
      auth: { token: old.value },
      reauthenticate: async () => ({ token: fresh.value }),
    });
    emulator.state.expireTokens(old.id);
    const execution = await rotating.executions.start({ deploymentId: "r-401", workflowId: "install" });
    expect(execution.workflow_id).toBe("install");
    expect(emulator.requests.count({ method: "POST", path: EXECUTIONS })).toBe(2);
    expect(emulator.state.executions("r-401").filter((e) => e.workflow_id === "install")).toHaveLength(1);
    await rotating.close();
  });

  it("a 401 with unchanged credentials stands after one re-read: no blind repetition", async () => {
    const old = await mintToken();
    let reads = 0;
    const stale = clientFor(emulator, {
      auth: { token: old.value },
      reauthenticate: async () => {
        reads += 1;
        return { token: old.value };
      },
    });
    emulator.state.expireTokens(old.id);
    const error = (await failure(stale.blueprints.get("redis"))) as CloudifyApiError;
    expect(error.status).toBe(401);
    expect(error.serverMessage).toBe("User unauthorized: Token is expired");
    expect(isTransient(error)).toBe(false);
    expect(reads).toBe(1);
    expect(emulator.requests.count({ method: "GET", path: BLUEPRINT_PATH })).toBe(1);
    await stale.close();
  });
});
