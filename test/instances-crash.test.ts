/**
 * Crash recovery with real processes: the broker runs as a child (`cfy-broker serve` on the
 * example broker.yaml), is killed with SIGKILL in the middle of Cloudify work, and restarted on
 * the same state directory. The emulator runs in this process, so the test sees exactly what
 * Cloudify was asked to do: every operation completes, and no Cloudify work is done twice.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type EmulatorHandle, shippedBlueprintsPath, startEmulator } from "../emulator/index.js";
import { CloudifyClient } from "../src/cloudify/index.js";
import { silentLogger } from "../src/log/logger.js";
import { packageRoot } from "../src/util/package-root.js";
import { freePort } from "./support/ports.js";
import {
  ASYNC,
  brokerEnv,
  deploymentPath,
  FAST_TIMINGS,
  instancePath,
  newId,
  PG,
  provisionBody,
  ValidatingOsbClient,
  waitForInstanceOperation,
} from "./support/stack.js";

const ROOT = packageRoot();

let emulator: EmulatorHandle;
/** Plays Cloudify's side of a lost answer (see below). */
let cloudify: CloudifyClient;
let stateDir: string;
let env: Record<string, string>;
const children = new Set<ChildProcess>();

interface Broker {
  proc: ChildProcess;
  osb: ValidatingOsbClient;
}

beforeAll(async () => {
  // The child runs the compiled CLI: build it first. tsc emits even when it reports type errors
  // (from work in progress elsewhere), so insist on fresh output rather than on its exit code.
  const buildStart = Date.now();
  await promisify(execFile)("npm", ["run", "build"], { cwd: ROOT }).catch(() => undefined);
  for (const file of [
    "dist/src/cli/main.js",
    "dist/src/broker/instances/instance-service.js",
    "dist/src/broker/operations/operation-engine.js",
  ]) {
    const { mtimeMs } = await stat(join(ROOT, file));
    if (mtimeMs < buildStart - 2_000) throw new Error(`npm run build did not emit ${file}`);
  }

  // Workflows long enough to be caught running (the shipped timings scaled to 1.5 s each).
  const catalogue = parse(await readFile(shippedBlueprintsPath(), "utf8"), { merge: true }) as {
    blueprints: { id: string; workflows: Record<string, Record<string, unknown>> }[];
  };
  const postgresql = catalogue.blueprints.find((b) => b.id === "postgresql")!;
  postgresql.workflows = Object.fromEntries(
    Object.entries(postgresql.workflows).map(([name, workflow]) => [
      name,
      ["install", "uninstall", "update"].includes(name) ? { ...workflow, duration_ms: 1500 } : workflow,
    ]),
  );
  emulator = await startEmulator({
    blueprints: catalogue,
    timings: { ...FAST_TIMINGS, scale: 1 },
    logger: silentLogger,
  });
  cloudify = new CloudifyClient({
    url: emulator.url,
    tenant: "default_tenant",
    auth: { username: "admin", password: "admin" },
  });
  stateDir = await mkdtemp(join(tmpdir(), "osb-crash-"));
  // One environment (hence one encryption key) for every run of the broker on this state.
  env = brokerEnv(emulator.url, stateDir);
}, 240_000);

afterEach(async () => {
  for (const proc of children) await kill9(proc);
  emulator.faults.clear();
});

afterAll(async () => {
  await cloudify?.close();
  await emulator?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** Starts `cfy-broker serve` on the shared state and waits until it answers. */
async function startBroker(): Promise<Broker> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["bin/cfy-broker.js", "serve", "--config", "broker.yaml"], {
    cwd: ROOT,
    env: { ...env, BROKER_PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(proc);
  let stderr = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const osb = new ValidatingOsbClient(`http://127.0.0.1:${port}`, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the broker exited with ${proc.exitCode}: ${stderr}`);
    try {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      await health.arrayBuffer();
      if (health.status === 200) return { proc, osb };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the broker did not come up: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function kill9(proc: ChildProcess): Promise<void> {
  children.delete(proc);
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.kill("SIGKILL");
  await exited;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const executions = (id: string, workflowId: string) =>
  emulator.state.executions(`osb-${id}`).filter((e) => e.workflow_id === workflowId);

// Each test starts two or three real broker processes; on a loaded machine that alone takes
// longer than the default 30 s.
describe("kill -9 of the broker mid-operation", { timeout: 120_000 }, () => {
  it("PROV crash while Cloudify installs: the restarted broker completes it; one deployment, one install", async () => {
    const id = newId();
    const first = await startBroker();
    const accepted = await first.osb.put(instancePath(id), provisionBody(), ASYNC);
    expect(accepted.status).toBe(202);
    await until("the install runs", () => executions(id, "install")[0]?.status === "started");
    await kill9(first.proc);

    const second = await startBroker();
    const last = await waitForInstanceOperation(second.osb, id, 20_000);
    expect(last.body.state).toBe("succeeded");
    // The same operation, resumed (a re-send of the PUT would be 200 now, not a new provision).
    expect((await second.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(200);
    expect((await second.osb.get(instancePath(id))).status).toBe(200);
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
    expect(executions(id, "create_deployment_environment")).toHaveLength(1);
    expect(executions(id, "install").map((e) => e.status)).toEqual(["terminated"]);
    await kill9(second.proc);
  });

  it("PROV crash cutting the create request before Cloudify acted: the restarted broker creates it, once", async () => {
    const id = newId();
    // Cloudify sits on the request long enough for the broker to die waiting; the cut request is
    // then never carried out.
    emulator.faults.add({ type: "latency", ms: 400, method: "PUT", path: deploymentPath(id), times: 1 });
    const first = await startBroker();
    expect((await first.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    await until(
      "the create request reached Cloudify",
      () => emulator.requests.count({ method: "PUT", path: deploymentPath(id) }) > 0,
    );
    await kill9(first.proc);

    const second = await startBroker();
    expect((await waitForInstanceOperation(second.osb, id, 20_000)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeDefined();
    expect(executions(id, "create_deployment_environment")).toHaveLength(1);
    expect(executions(id, "install").map((e) => e.status)).toEqual(["terminated"]);
    await kill9(second.proc);
  });

  /*
   * A lost answer: Cloudify did the work but the broker died before it recorded the answer. The
   * emulator cannot answer after its client died, so the test plays that Cloudify: the broker is
   * held (503) at the step, killed, and the test then does at Cloudify exactly what the lost
   * request asked for. The restarted broker must adopt that work, never repeat it.
   */
  it("PROV lost answer to creating the deployment: the restarted broker adopts the deployment", async () => {
    const id = newId();
    const hold = emulator.faults.add({
      type: "http_error",
      status: 503,
      method: "PUT",
      path: deploymentPath(id),
      times: 1_000_000,
    });
    const first = await startBroker();
    expect((await first.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    await until(
      "the broker tried to create the deployment",
      () => emulator.requests.count({ method: "PUT", path: deploymentPath(id) }) > 0,
    );
    await kill9(first.proc);
    emulator.faults.remove(hold);
    await cloudify.deployments.create(`osb-${id}`, {
      blueprintId: "postgresql",
      inputs: { instance_name: "orders-db" },
      labels: [{ "osb-instance-id": id }],
      asyncCreate: true,
    });
    const putsBefore = emulator.requests.count({ method: "PUT", path: deploymentPath(id) });

    const second = await startBroker();
    expect((await waitForInstanceOperation(second.osb, id, 20_000)).body.state).toBe("succeeded");
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(putsBefore);
    expect(executions(id, "create_deployment_environment")).toHaveLength(1);
    expect(executions(id, "install").map((e) => e.status)).toEqual(["terminated"]);
    await kill9(second.proc);
  });

  it("PROV lost answer to starting install: the restarted broker adopts the install instead of starting another", async () => {
    const id = newId();
    const hold = emulator.faults.add({
      type: "http_error",
      status: 503,
      method: "POST",
      path: "/api/v3.1/executions",
      times: 1_000_000,
    });
    // The emulator's request log is shared by the file's tests: count only this test's attempts.
    const postsBefore = emulator.requests.count({ method: "POST", path: "/api/v3.1/executions" });
    const first = await startBroker();
    expect((await first.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    await until(
      "the environment exists and the broker tried to start install",
      () =>
        executions(id, "create_deployment_environment")[0]?.status === "terminated" &&
        emulator.requests.count({ method: "POST", path: "/api/v3.1/executions" }) > postsBefore,
    );
    await kill9(first.proc);
    emulator.faults.remove(hold);
    await cloudify.executions.start({ deploymentId: `osb-${id}`, workflowId: "install" });
    const startsBefore = emulator.requests.count({ method: "POST", path: "/api/v3.1/executions" });

    const second = await startBroker();
    const outcome = (await waitForInstanceOperation(second.osb, id, 20_000)).body;
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ state: "succeeded" });
    expect(emulator.requests.count({ method: "POST", path: "/api/v3.1/executions" })).toBe(startsBefore);
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
    expect(executions(id, "install").map((e) => e.status)).toEqual(["terminated"]);
    await kill9(second.proc);
  });

  it("UPD crash while Cloudify runs the deployment update: completed after restart, one update execution", async () => {
    const id = newId();
    const first = await startBroker();
    expect((await first.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    expect((await waitForInstanceOperation(first.osb, id, 20_000)).body.state).toBe("succeeded");
    const patched = await first.osb.patch(
      instancePath(id),
      { service_id: PG.service, parameters: { backup_retention_days: 14 } },
      ASYNC,
    );
    expect(patched.status).toBe(202);
    await until("the update runs", () => executions(id, "update")[0]?.status === "started");
    await kill9(first.proc);

    const second = await startBroker();
    expect((await waitForInstanceOperation(second.osb, id, 20_000)).body.state).toBe("succeeded");
    expect((await second.osb.get(instancePath(id))).body.parameters).toEqual({ backup_retention_days: 14 });
    expect(executions(id, "update").map((e) => e.status)).toEqual(["terminated"]);
    expect(
      emulator.requests.count({
        method: "POST",
        path: `/api/v3.1/deployment-updates/osb-${id}/update/initiate`,
      }),
    ).toBe(1);
    await kill9(second.proc);
  });

  it("DEPROV crash while Cloudify uninstalls: the restarted broker finishes the deletion; one uninstall", async () => {
    const id = newId();
    const first = await startBroker();
    expect((await first.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    expect((await waitForInstanceOperation(first.osb, id, 20_000)).body.state).toBe("succeeded");
    const deleted = await first.osb.delete(instancePath(id), {
      query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" },
    });
    expect(deleted.status).toBe(202);
    await until("the uninstall runs", () => executions(id, "uninstall")[0]?.status === "started");
    await kill9(first.proc);

    // Hold the final deletion to count uninstalls before Cloudify drops the deployment's executions.
    const hold = emulator.faults.add({
      type: "http_error",
      status: 503,
      method: "DELETE",
      path: deploymentPath(id),
      times: 1_000_000,
    });
    const second = await startBroker();
    await until(
      "the restarted broker deletes the deployment",
      () => emulator.requests.count({ method: "DELETE", path: deploymentPath(id) }) > 0,
    );
    expect(executions(id, "uninstall").map((e) => e.status)).toEqual(["terminated"]);
    emulator.faults.remove(hold);
    const last = await waitForInstanceOperation(second.osb, id, 20_000);
    expect(last.status).toBe(200);
    expect(last.body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
    expect((await second.osb.get(instancePath(id))).status).toBe(404);
    await kill9(second.proc);
  });
});
