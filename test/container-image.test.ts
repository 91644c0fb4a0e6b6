/**
 * The container image, built and run for real with podman: scripts/build-image.sh builds it
 * (the base is cached in podman's storage, so this is quick after the first run), then the
 * container runs against the Cloudify emulator on this host (host networking) and a platform
 * drives a full lifecycle through it: provision, poll, bind (a Cloudify workflow), fetch the
 * binding, unbind, deprovision. The image's HEALTHCHECK runs inside the container, and
 * SIGTERM must stop it with exit code 0.
 *
 * Skipped, saying why, only where podman cannot run containers (not root, no podman/runc).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../src/util/package-root.js";
import { startTestEmulator } from "./support/emulator.js";
import { OsbClient, type OsbResponse } from "./support/osb-client.js";
import { freePort } from "./support/ports.js";

const ROOT = packageRoot();
const PODMAN = ["--runtime", "/usr/sbin/runc"];
const LIMITS = ["--network", "host", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"];
const NODE_UID = 1000;
const MAX_NODE_MODULES_BYTES = 30 * 1_000_000;
const CODEGEN_PACKAGES = ["json-schema-to-typescript", "openapi-typescript", "typescript", "vitest", "tsx"];

// The example broker.yaml's postgresql service; its `small` plan binds through a workflow.
const SERVICE_ID = "6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11";
const PLAN_ID = "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01";

function podmanUnavailable(): string | undefined {
  if (process.platform !== "linux") return `podman containers need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "podman runs as root here (rootless podman is not set up)";
  const probe = spawnSync("podman", [...PODMAN, "info", "--format", "{{.Host.OCIRuntime.Name}}"], {
    encoding: "utf8",
  });
  if (probe.error)
    return `podman is not installed (${probe.error.message}); scripts/build-image.sh installs it`;
  if (probe.status !== 0) return `podman cannot run: ${probe.stderr.trim().split("\n").at(-1)}`;
  return undefined;
}

const unavailable = podmanUnavailable();
// CI (.ci/run sets CI=true) installs podman: there a missing podman fails the suite rather than
// skipping it. A developer's machine without podman skips, and says so.
const required = Boolean(process.env.CI);
if (unavailable && !required) console.warn(`container-image.test.ts skipped: ${unavailable}`);

/** `out` is the command's stdout; podman's own complaints (e.g. no systemd for health timers) stay in `err`. */
function podman(args: string[], timeoutMs = 60_000): { code: number | null; out: string; err: string } {
  const result = spawnSync("podman", [...PODMAN, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe.skipIf(unavailable !== undefined && !required)("container image (podman)", () => {
  const tag = `localhost/cfy-broker:test-${randomBytes(4).toString("hex")}`;
  const name = `cfy-broker-test-${randomBytes(4).toString("hex")}`;
  let emulator: Awaited<ReturnType<typeof startTestEmulator>>;
  let stateDir: string;
  let container: ChildProcess | undefined;
  let logs = "";
  let exited: Promise<number | null>;

  beforeAll(async () => {
    if (unavailable) throw new Error(`podman is required in CI: ${unavailable}`);
    // The script, as CI and users run it; a rebuild reuses podman's layer cache.
    const build = spawnSync(join(ROOT, "scripts/build-image.sh"), ["--tag", tag], {
      encoding: "utf8",
      timeout: 20 * 60_000,
    });
    if (build.status !== 0) throw new Error(`build-image.sh failed:\n${build.stdout}${build.stderr}`);
    emulator = await startTestEmulator();
    stateDir = mkdtempSync(join(tmpdir(), "container-state-"));
    chownSync(stateDir, NODE_UID, NODE_UID);
  }, 20 * 60_000);

  afterAll(async () => {
    if (container && container.exitCode === null) podman(["rm", "--force", "--time", "0", name]);
    podman(["rmi", "--force", tag]);
    await emulator?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("runs Node.js 22 with production dependencies under 30 MB and no emulator or codegen", () => {
    const inImage = (script: string) =>
      podman(["run", "--rm", "--no-healthcheck", ...LIMITS, "--entrypoint", "/bin/sh", tag, "-c", script]);

    const version = inImage("node --version");
    expect(version.out.trim()).toMatch(/^v22\./);

    const size = inImage("du -sb /app/node_modules");
    expect(size.code, size.err).toBe(0);
    const bytes = Number(size.out.trim().split(/\s+/)[0]);
    console.log(`container image: /app/node_modules is ${(bytes / 1e6).toFixed(1)} MB`);
    expect(bytes).toBeGreaterThan(1_000_000); // the dependencies are there at all
    expect(bytes).toBeLessThan(MAX_NODE_MODULES_BYTES);

    for (const pkg of CODEGEN_PACKAGES) {
      const resolved = inImage(`cd /app && node -e 'require.resolve("${pkg}/package.json")'`);
      expect(resolved.code, `${pkg} must not be in the image`).not.toBe(0);
    }
    const emulatorFiles = inImage("find /app -path /app/node_modules -prune -o -ipath '*emulator*' -print");
    expect(emulatorFiles.code, emulatorFiles.err).toBe(0);
    expect(emulatorFiles.out.trim()).toBe("");
    // The broker itself does run from what is there.
    const help = inImage("node /app/bin/cfy-broker.js validate /etc/cfy-broker/broker.yaml");
    expect(help.code, `${help.out}${help.err}`).toBe(0);
  }, 120_000);

  it("serves a full lifecycle against the emulator, reports healthy, and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const password = randomBytes(12).toString("hex");
    const env = {
      BROKER_USERNAME: "platform",
      BROKER_PASSWORD: password,
      BROKER_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      CLOUDIFY_URL: emulator.url,
      // Host networking: keep to loopback on a free port.
      BROKER_HOST: "127.0.0.1",
      BROKER_PORT: String(port),
      BROKER_POLL_INTERVAL_MS: "100",
      BROKER_RETRY_AFTER_SECONDS: "1",
    };
    const envArgs = Object.entries(env).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
    container = spawn(
      "podman",
      [
        ...PODMAN,
        "run",
        "--rm",
        "--name",
        name,
        "--hostname",
        "cfy-broker-test",
        ...LIMITS,
        ...envArgs,
        "--volume",
        `${stateDir}:/var/lib/cfy-broker`,
        tag,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    container.stdout!.on("data", (chunk) => (logs += chunk));
    container.stderr!.on("data", (chunk) => (logs += chunk));
    exited = new Promise((resolve) => container!.once("exit", (code) => resolve(code)));

    const base = `http://127.0.0.1:${port}`;
    await until(
      `the container's /healthz\n${logs}`,
      async () => ((await fetch(`${base}/healthz`)).status === 200 ? true : undefined),
      60_000,
    );
    // The image's own HEALTHCHECK, run by podman inside the container.
    const health = podman(["healthcheck", "run", name]);
    expect(health.code, `${health.out}${health.err}\n${logs}`).toBe(0);
    // tini is PID 1, the broker its child.
    const pid1 = podman(["exec", name, "cat", "/proc/1/cmdline"]);
    expect(pid1.out.split("\0")[0]).toBe("/usr/bin/tini");

    const osb = new OsbClient(base, "platform", password);
    const instance = `/v2/service_instances/${randomUUID()}`;
    const binding = `${instance}/service_bindings/${randomUUID()}`;
    const async = { query: { accepts_incomplete: "true" } };
    const settle = (path: string) =>
      until(
        `${path}/last_operation to finish\n${logs}`,
        async () => {
          const { body } = await osb.get(`${path}/last_operation`);
          return body?.state === "in progress" ? undefined : (body as { state: string });
        },
        60_000,
      );
    const expectStatus = (response: OsbResponse, status: number) =>
      expect(response.status, `${JSON.stringify(response.body)}\n${logs}`).toBe(status);

    const provision = await osb.put(
      instance,
      {
        service_id: SERVICE_ID,
        plan_id: PLAN_ID,
        organization_guid: "org",
        space_guid: "space",
        parameters: { db_name: "orders" },
      },
      async,
    );
    expectStatus(provision, 202);
    expect(await settle(instance)).toMatchObject({ state: "succeeded" });

    const bind = await osb.put(
      binding,
      { service_id: SERVICE_ID, plan_id: PLAN_ID, bind_resource: { app_guid: "checkout" } },
      async,
    );
    expectStatus(bind, 202);
    expect(await settle(binding)).toMatchObject({ state: "succeeded" });
    const fetched = await osb.get(binding);
    expectStatus(fetched, 200);
    expect(fetched.body.credentials).toMatchObject({ database: "orders", port: 5432 });
    expect(fetched.body.credentials.password).toEqual(expect.any(String));

    const unbind = await osb.delete(binding, {
      query: { ...async.query, service_id: SERVICE_ID, plan_id: PLAN_ID },
    });
    expect([200, 202], JSON.stringify(unbind.body)).toContain(unbind.status);
    if (unbind.status === 202) expect(await settle(binding)).toMatchObject({ state: "succeeded" });

    // Cloudify was really driven: each step's workflow ran on the instance's deployment.
    const executions = emulator.state.executions() as Array<{ deployment_id: string; workflow_id: string }>;
    const deploymentId = executions.find((e) => e.workflow_id === "install")?.deployment_id;
    expect(deploymentId).toEqual(expect.any(String));
    expect(executions.filter((e) => e.deployment_id === deploymentId).map((e) => e.workflow_id)).toEqual(
      expect.arrayContaining(["install", "create_user", "delete_user"]),
    );

    const deprovision = await osb.delete(instance, {
      query: { ...async.query, service_id: SERVICE_ID, plan_id: PLAN_ID },
    });
    expectStatus(deprovision, 202);
    expect(await settle(instance)).toMatchObject({ state: "succeeded" });
    expectStatus(await osb.get(instance), 404);
    // ...and the deployment is gone (uninstalled, then deleted).
    expect(emulator.state.deployment(deploymentId!)).toBeUndefined();

    // `docker stop` / the kubelet: SIGTERM to PID 1 (tini), passed on to the broker.
    const stop = podman(["kill", "--signal", "TERM", name]);
    expect(stop.code, stop.err).toBe(0);
    const code = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`still running 30 s after SIGTERM:\n${logs}`)), 30_000),
      ),
    ]);
    expect(code, logs).toBe(0);
    // The broker logged JSON lines from inside the container, and released its lock.
    expect(logs).toMatch(/^\{.*"msg"/m);
    expect(execFileSync("ls", ["-A", stateDir], { encoding: "utf8" })).not.toContain("lock");
  }, 240_000);
});
