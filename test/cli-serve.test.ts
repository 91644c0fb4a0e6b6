// biome-ignore-all lint/suspicious/noTemplateCurlyInString: broker.yaml spells environment references ${VAR}
/**
 * `cfy-broker serve` as a child process, without Cloudify (CLOUDIFY_URL is a closed port):
 * it serves the catalog, reloads broker.yaml on SIGHUP (a broken edit or a missing file keeps
 * the running catalog and is reported), and exits 0 on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BIN,
  example,
  exampleText,
  FULL_ENV,
  positionOf,
  runCli,
  tempDir,
  writeConfig,
} from "./fixtures/configs/helpers.js";
import { PG } from "./support/stack.js";

const SMALL_DESCRIPTION = "        description: 1 vCPU, 2 GB memory, 10 GB storage\n";
const ENV = { ...FULL_ENV, CLOUDIFY_URL: "http://127.0.0.1:9", LOG_LEVEL: "info" };

let dir: string;
let file: string;
let child: ChildProcess;
let stdout = "";
let stderr = "";
let url: string;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

/** Resolves when `predicate` holds for the output so far; fails after `timeoutMs`. */
function waitForOutput(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) {
        clearInterval(timer);
        clearTimeout(deadline);
        resolve();
      }
    };
    const timer = setInterval(check, 20);
    const deadline = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`timed out waiting for ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    check();
  });
}

async function catalog() {
  const response = await fetch(new URL("/v2/catalog", url), {
    headers: {
      Authorization: `Basic ${Buffer.from(`${FULL_ENV.BROKER_USERNAME}:${FULL_ENV.BROKER_PASSWORD}`).toString("base64")}`,
      "X-Broker-API-Version": "2.17",
    },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { services: { plans: { id: string; description: string }[] }[] };
}

const smallDescription = async () =>
  (await catalog()).services.flatMap((s) => s.plans).find((p) => p.id === PG.small)?.description;

/** Polls the catalog until the small plan's description is `expected` (the reload is asynchronous). */
async function waitForDescription(expected: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await smallDescription();
    if (current === expected) return;
    if (Date.now() > deadline) throw new Error(`description still ${JSON.stringify(current)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  dir = await tempDir("serve-");
  file = await writeConfig(dir, exampleText());
  child = spawn(
    process.execPath,
    [BIN, "serve", "--config", file, "--state", join(dir, "state"), "--host", "127.0.0.1", "--port", "0"],
    { cwd: dir, env: { PATH: process.env.PATH ?? "", ...ENV }, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  await waitForOutput(() => /"msg":"broker listening"/.test(stdout), "the broker to listen");
  const line = stdout.split("\n").find((l) => l.includes('"msg":"broker listening"')) ?? "";
  url = JSON.parse(line).url;
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("cfy-broker serve", () => {
  it("serves the catalog without Cloudify", async () => {
    expect(await smallDescription()).toBe("1 vCPU, 2 GB memory, 10 GB storage");
  });

  it("SIGHUP reloads broker.yaml: an edited description is served", async () => {
    await writeConfig(dir, example([SMALL_DESCRIPTION, "        description: reloaded by SIGHUP\n"]));
    child.kill("SIGHUP");
    await waitForDescription("reloaded by SIGHUP");
  });

  it("SIGHUP with a broken edit logs every issue and keeps the running catalog", async () => {
    const broken = example(
      [SMALL_DESCRIPTION, "        description: never served\n"],
      ["        name: large\n", "        name: small # twice\n"],
    );
    await writeConfig(dir, broken);
    const mark = stdout.length;
    child.kill("SIGHUP");
    await waitForOutput(
      () => stdout.slice(mark).includes("configuration reload failed"),
      "the reload failure",
    );
    const { line, column } = positionOf(broken, "small # twice");
    expect(stdout.slice(mark)).toContain(
      `${file}:${line}:${column}: error: plan name \\"small\\" is already used in this service by plans[0] (services[0].plans[1].name)`,
    );
    expect(await smallDescription()).toBe("reloaded by SIGHUP");
  });

  it("SIGHUP while broker.yaml is missing is reported and the broker keeps serving", async () => {
    await rename(file, `${file}.moved`);
    const mark = stdout.length;
    child.kill("SIGHUP");
    await waitForOutput(() => stdout.slice(mark).includes("reload failed"), "the reload failure");
    // One JSON line on stdout, like every other log line; nothing on stderr.
    const failure = stdout
      .slice(mark)
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg.includes("reload failed"));
    expect(failure).toMatchObject({ level: "error", reason: `cannot read ${file}: ENOENT` });
    expect(stderr).toBe("");
    expect(await smallDescription()).toBe("reloaded by SIGHUP");

    await rename(`${file}.moved`, file);
    await writeConfig(dir, example([SMALL_DESCRIPTION, "        description: back again\n"]));
    child.kill("SIGHUP");
    await waitForDescription("back again");
  });

  it("a second broker on the same port fails with one JSON line saying so, exit 2, no stack trace", async () => {
    const { hostname, port } = new URL(url);
    const second = await runCli(
      ["serve", "--config", file, "--state", join(dir, "second-state"), "--host", hostname, "--port", port],
      { cwd: dir, env: ENV },
    );
    expect(second.code, second.stderr).toBe(2);
    const lines = second.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      level: "error",
      msg: `cfy-broker: cannot listen on ${hostname}:${port}: the address is already in use`,
    });
    // The first broker is untouched.
    expect(await smallDescription()).toBe("back again");
  });

  it("SIGTERM stops the broker with exit code 0", async () => {
    child.kill("SIGTERM");
    const exit = await exited;
    expect(exit, stderr).toEqual({ code: 0, signal: null });
  });
});

describe("cfy-broker serve refuses an unusable runtime setting", () => {
  it("an encryption key that is not 32 bytes of base64: exit 1 at its position, key never printed", async () => {
    const result = await runCli(["serve", "--config", "broker.yaml", "--state", join(dir, "bad-key-state")], {
      env: { ...ENV, BROKER_ENCRYPTION_KEY: "dG9vLXNob3J0LWtleQ==" },
    });
    expect(result.code).toBe(1);
    const { line, column } = positionOf(exampleText(), "${BROKER_ENCRYPTION_KEY}");
    expect(result.stderr).toContain(
      `broker.yaml:${line}:${column}: error: encryption key: key must be base64 of 32 bytes, decodes to 13 (broker.encryption.key)`,
    );
    expect(result.stderr + result.stdout).not.toContain("dG9vLXNob3J0LWtleQ==");
  });
});
