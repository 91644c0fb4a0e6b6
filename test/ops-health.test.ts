/**
 * /livez, /readyz and the /healthz alias tell the truth: readiness fails with the reason in
 * the body when Cloudify stops answering (the emulator really stopped), when broker.yaml is
 * broken on disk, and recovers when each is fixed.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { packageRoot } from "../src/util/package-root.js";
import { FAST_TIMINGS, type Stack, startStack } from "./support/stack.js";

const FAST_HEALTH = { BROKER_CLOUDIFY_UNREACHABLE_SECONDS: "1", BROKER_CLOUDIFY_PROBE_INTERVAL_SECONDS: "1" };

let stack: Stack | undefined;
let dir: string | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function probe(url: string, path: string) {
  const response = await fetch(new URL(path, url));
  return {
    status: response.status,
    body: (await response.json()) as { status: string; checks: Record<string, string> },
  };
}

/** Polls `path` until its status is `status` (bounded), returning the last answer. */
async function until(url: string, path: string, status: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe(url, path);
    if (answer.status === status) return answer;
    if (Date.now() > deadline)
      throw new Error(`${path} still ${answer.status}: ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("health endpoints", () => {
  it("all answer 200 with every check ok while the broker can work", async () => {
    stack = await startStack({ env: FAST_HEALTH });
    for (const path of ["/livez", "/healthz", "/readyz"]) {
      const { status, body } = await probe(stack.broker.url, path);
      expect(status, path).toBe(200);
      expect(body.status).toBe("ok");
      expect(Object.values(body.checks).every((v) => v === "ok")).toBe(true);
    }
    expect((await probe(stack.broker.url, "/readyz")).body.checks).toMatchObject({
      state: "ok",
      config: "ok",
      cloudify: "ok",
    });
  }, 120_000);

  it("/readyz fails while Cloudify does not answer, /livez stays ok, and both recover", async () => {
    stack = await startStack({ env: FAST_HEALTH });
    const port = Number(new URL(stack.emulator!.url).port);
    await stack.emulator!.close();
    stack.emulator = undefined;

    const down = await until(stack.broker.url, "/readyz", 503);
    expect(down.body.status).toBe("failing");
    expect(down.body.checks.cloudify).toMatch(/^no answer for \d+ s: no answer \(refused\)/);
    expect((await probe(stack.broker.url, "/livez")).status).toBe(200);

    // The manager comes back on the same address: the probe notices without any OSB traffic.
    stack.emulator = await startEmulator({ port, timings: FAST_TIMINGS, logger: silentLogger });
    const up = await until(stack.broker.url, "/readyz", 200);
    expect(up.body.checks.cloudify).toBe("ok");
  }, 120_000);

  it("/readyz fails while Cloudify is frozen (accepts, never answers), /livez stays ok, and both recover", async () => {
    // Found by test/reliability/outages.test.ts: no call had failed yet (each waits up to
    // cloudify.timeout_ms, 30 s), so readiness said ok through a whole frozen manager.
    stack = await startStack({ env: FAST_HEALTH });
    const frozen = stack.emulator!.faults.add({ type: "hold" });
    try {
      const down = await until(stack.broker.url, "/readyz", 503);
      expect(down.body.checks.cloudify).toMatch(
        /^no answer for \d+ s: a request has waited \d+ s for an answer/,
      );
      expect((await probe(stack.broker.url, "/livez")).status).toBe(200);
    } finally {
      stack.emulator!.faults.remove(frozen);
    }
    const up = await until(stack.broker.url, "/readyz", 200);
    expect(up.body.checks.cloudify).toBe("ok");
  }, 120_000);

  it("/readyz fails with file:line:column while broker.yaml on disk is broken, and recovers when fixed", async () => {
    dir = await mkdtemp(join(tmpdir(), "osb-health-"));
    const file = join(dir, "broker.yaml");
    await copyFile(join(packageRoot(), "broker.yaml"), file);
    stack = await startStack({ env: FAST_HEALTH, configFile: file });
    const good = await readFile(file, "utf8");

    await writeFile(file, good.replace("  max_body_bytes: 1048576\n", "  max_body_bytes: lots\n"));
    expect((await stack.broker.reload()).ok).toBe(false);
    const broken = await probe(stack.broker.url, "/readyz");
    expect(broken.status).toBe(503);
    expect(broken.body.checks.config).toMatch(
      new RegExp(
        `previous configuration is in force: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: error: `,
      ),
    );
    // Alive all along: the previous configuration keeps serving.
    expect((await probe(stack.broker.url, "/livez")).status).toBe(200);
    expect((await stack.osb.get("/v2/catalog")).status).toBe(200);

    await writeFile(file, good);
    expect((await stack.broker.reload()).ok).toBe(true);
    expect((await probe(stack.broker.url, "/readyz")).status).toBe(200);
  }, 120_000);
});
