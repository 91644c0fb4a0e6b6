/**
 * The container image without a container engine: the Dockerfile's runtime stage is parsed,
 * checked against the README (paths, non-root user, exec-form entrypoint), and its exact
 * ENTRYPOINT (+ CMD) runs as a plain child process with the container paths mapped to
 * temporary ones and the environment the README documents, against an in-process Cloudify
 * emulator. The HEALTHCHECK command is run as written against it, and SIGTERM must stop it
 * cleanly and promptly, as `docker stop` would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../emulator/index.js";
import { findBrokerPids } from "../src/container/healthcheck.js";
import { silentLogger } from "../src/log/logger.js";
import { packageRoot } from "../src/util/package-root.js";
import { freePort } from "./support/ports.js";

const ROOT = packageRoot();
const CONFIG_PATH = "/etc/cfy-broker/broker.yaml";
const STATE_PATH = "/var/lib/cfy-broker";

// ---- a small Dockerfile reader: stages, instructions, JSON (exec) forms ----

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

interface Dockerfile {
  /** ARGs before the first FROM (they parameterise FROM lines). */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

/** Joins `\` continuations, drops comments and blank lines, splits into stages at FROM. */
function parseDockerfile(text: string): Dockerfile {
  const stages: Stage[] = [];
  const globalArgs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let current = lines[i]!;
    if (/^\s*(#|$)/.test(current)) continue;
    while (/\\\s*$/.test(current) && i + 1 < lines.length) {
      current = current.replace(/\\\s*$/, " ");
      i++;
      // Comment lines inside a continuation are ignored by Docker too.
      if (!/^\s*#/.test(lines[i]!)) current += lines[i]!;
    }
    const match = current.trim().match(/^(\S+)\s*(.*)$/s);
    if (!match) continue;
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 };
    if (instruction.keyword === "FROM") {
      const from = instruction.args.match(/^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i);
      if (!from) throw new Error(`Dockerfile:${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ from: from[1]!, name: from[2], instructions: [] });
    } else if (instruction.keyword === "ARG" && stages.length === 0) {
      const [name, ...value] = instruction.args.split("=");
      globalArgs[name!] = value.join("=");
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile:${instruction.line}: ${instruction.keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** Exec form only: shell form would run under /bin/sh, which does not forward SIGTERM. */
function execForm(instruction: Instruction | undefined, what: string): string[] {
  if (!instruction) throw new Error(`the runtime stage has no ${what}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(instruction.args);
  } catch {
    throw new Error(
      `Dockerfile:${instruction.line}: ${what} is not in JSON (exec) form: ${instruction.args}`,
    );
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string"))
    throw new Error(`Dockerfile:${instruction.line}: ${what} must be a JSON array of strings`);
  return parsed;
}

function last(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}

/** `ENV A=1 B="two"` (and the legacy `ENV A 1`). */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.keyword === "ENV")) {
    if (!args.includes("=")) {
      const [key, ...rest] = args.split(/\s+/);
      env[key!] = rest.join(" ");
      continue;
    }
    for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      env[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    }
  }
  return env;
}

/** Where each COPY of the stage lands: absolute destination -> sources (and --from). */
function copies(stage: Stage): Array<{ from?: string; sources: string[]; dest: string }> {
  let workdir = "/";
  const out: Array<{ from?: string; sources: string[]; dest: string }> = [];
  for (const instruction of stage.instructions) {
    if (instruction.keyword === "WORKDIR") workdir = posix.resolve(workdir, instruction.args);
    if (instruction.keyword !== "COPY") continue;
    const words = instruction.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith("--"));
    const paths = words.filter((w) => !w.startsWith("--"));
    const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
    out.push({ from, sources: paths.slice(0, -1), dest: posix.resolve(workdir, paths.at(-1)!) });
  }
  return out;
}

// ---- helpers for the process ----

function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** `node` in an image is the Node.js on PATH; here it is the one running the tests. */
function hostArgv(argv: string[]): string[] {
  expect(argv[0], "the command starts with node (resolved on the image's PATH)").toBe("node");
  return [process.execPath, ...argv.slice(1)];
}

const { globalArgs, stages: dockerfile } = parseDockerfile(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const runtime = dockerfile.at(-1)!;
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

describe("Dockerfile (static)", () => {
  it("builds with dev dependencies in one stage and runs with production dependencies only in the last", () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    const build = dockerfile.find((s) => s.name && copies(runtime).some((c) => c.from === s.name));
    expect(build, "the runtime stage copies from a named build stage").toBeDefined();
    const buildRuns = build!.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(buildRuns.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))).toBe(true);
    expect(buildRuns.some((r) => /\bnpm run build\b/.test(r))).toBe(true);

    // node_modules comes from a stage that installed production dependencies only;
    // `prepare` would run the TypeScript build, which needs the dev dependencies.
    const modules = copies(runtime).find((c) => c.dest === "/app/node_modules");
    const deps = dockerfile.find((s) => s.name === modules?.from);
    expect(deps, "the runtime stage copies node_modules from a named stage").toBeDefined();
    const depsRuns = deps!.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(depsRuns.some((r) => /\bnpm ci\b.*--omit=dev/.test(r) && /--ignore-scripts/.test(r))).toBe(true);
    const runtimeRuns = runtime.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(runtimeRuns.some((r) => /\bnpm (ci|install|run)\b/.test(r))).toBe(false);
    const dist = copies(runtime).find((c) => c.from === build!.name && c.dest === "/app/dist");
    expect(dist?.sources).toEqual(["/app/dist"]);

    // Node.js 22 LTS in every stage, the runtime on the slim variant.
    for (const stage of dockerfile) {
      const image = stage.from.replace(/\$\{(\w+)\}/g, (_, name: string) => globalArgs[name] ?? "");
      expect(image, `FROM ${stage.from}`).toMatch(/^node:22(\.|-|$)/);
    }
    expect(runtime.from).toBe(`\${NODE_IMAGE}-slim`);
  });

  it("runs as a non-root user", () => {
    const user = last(runtime, "USER");
    expect(user, "the runtime stage sets USER").toBeDefined();
    expect(user!.args.split(":")[0]).not.toMatch(/^(root|0)$/);
    // USER must come after everything that needs root and before the entrypoint runs.
    const lastRun = runtime.instructions.filter((i) => i.keyword === "RUN").at(-1)!;
    expect(user!.line).toBeGreaterThan(lastRun.line);
  });

  it("uses the paths and port the README documents", () => {
    expect(readme).toContain(CONFIG_PATH);
    expect(readme).toContain(STATE_PATH);
    expect(readme).toMatch(
      /`tini` as PID 1, then `cfy-broker serve --config\s+\/etc\/cfy-broker\/broker\.yaml --state \/var\/lib\/cfy-broker`/,
    );

    const entrypoint = execForm(last(runtime, "ENTRYPOINT"), "ENTRYPOINT");
    // tini is PID 1: it forwards signals and reaps zombies (installed by the runtime stage).
    expect(entrypoint.slice(0, 2)).toEqual(["/usr/bin/tini", "--"]);
    expect(
      runtime.instructions.some((i) => i.keyword === "RUN" && /apt-get install.*\btini\b/.test(i.args)),
    ).toBe(true);
    expect(entrypoint.slice(2, 5)).toEqual(["node", "/app/bin/cfy-broker.js", "serve"]);
    expect(entrypoint.join(" ")).toContain(`--config ${CONFIG_PATH}`);
    expect(entrypoint.join(" ")).toContain(`--state ${STATE_PATH}`);

    const all = copies(runtime);
    expect(all.some((c) => c.dest === CONFIG_PATH && c.sources.includes("broker.yaml"))).toBe(true);
    // What `serve` needs is in /app, where the bin finds it; the emulator and codegen are not.
    for (const file of ["bin", "dist", "schema", "node_modules"]) {
      expect(
        all.some((c) => c.dest === `/app/${file}`),
        `COPY ... /app/${file}`,
      ).toBe(true);
    }
    expect(all.flatMap((c) => c.sources).filter((source) => /emulator|codegen/.test(source))).toEqual([]);
    // package.json marks the package root the CLI resolves schema/ and emulator/ from.
    expect(all.some((c) => c.dest === "/app" && c.sources.includes("package.json"))).toBe(true);

    const volumes = runtime.instructions.filter((i) => i.keyword === "VOLUME").map((i) => i.args);
    expect(volumes.join(" ")).toContain(STATE_PATH);
    // The directory must exist, owned by the runtime user, before VOLUME copies it into new volumes.
    const user = last(runtime, "USER")!.args.split(":")[0]!;
    const prepares = runtime.instructions.find(
      (i) => i.keyword === "RUN" && i.args.includes(`chown ${user}`) && i.args.includes(STATE_PATH),
    );
    expect(prepares, `a RUN that creates ${STATE_PATH} owned by ${user}`).toBeDefined();
    const volume = runtime.instructions.find((i) => i.keyword === "VOLUME")!;
    expect(prepares!.line).toBeLessThan(volume.line);

    expect(last(runtime, "EXPOSE")?.args.split(/\s+/)).toContain("8080");
    const healthcheck = last(runtime, "HEALTHCHECK");
    expect(healthcheck?.args).toMatch(/\bCMD\s+\[/);
    expect(healthcheck?.args).toContain("/app/dist/src/container/healthcheck.js");
  });
});

describe("Dockerfile entrypoint as a process", () => {
  let emulator: EmulatorHandle;
  let dir: string;
  let configFile: string;
  let stateDir: string;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let broker: ChildProcess | undefined;
  let output = "";

  /**
   * The container's paths mapped to temporary ones; /app is this checkout (see the COPY checks).
   * Any other absolute path in the command fails the test rather than touch this machine
   * (an HTTP path after `--path` is no file).
   */
  function hostCommand(argv: string[]): string[] {
    return hostArgv(argv).map((arg, index, all) => {
      if (index === 0 || all[index - 1] === "--path") return arg;
      if (arg === CONFIG_PATH) return configFile;
      if (arg === STATE_PATH) return stateDir;
      if (arg.startsWith("/app/")) return join(ROOT, arg.slice("/app/".length));
      if (arg.startsWith("/"))
        throw new Error(`the entrypoint uses ${arg}, which the README does not document`);
      return arg;
    });
  }

  beforeAll(async () => {
    if (!existsSync(join(ROOT, "dist/src/cli/main.js"))) {
      throw new Error("dist/ is missing: run `npm run build` (npm test does) before this test");
    }
    emulator = await startEmulator({ logger: silentLogger });
    dir = mkdtempSync(join(tmpdir(), "container-"));
    mkdirSync(join(dir, "etc"));
    configFile = join(dir, "etc", "broker.yaml");
    // The default config the image ships is the example broker.yaml.
    const shipped = copies(runtime).find((c) => c.dest === CONFIG_PATH)!;
    copyFileSync(join(ROOT, shipped.sources[0]!), configFile);
    stateDir = join(dir, "state");
    mkdirSync(stateDir, { mode: 0o700 });
    port = await freePort();
    env = {
      PATH: process.env.PATH,
      ...envOf(runtime),
      BROKER_USERNAME: "platform",
      BROKER_PASSWORD: "container-test-password",
      BROKER_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      CLOUDIFY_URL: emulator.url,
      BROKER_PORT: String(port),
      // The image listens on 0.0.0.0 by default; a test keeps to loopback.
      BROKER_HOST: "127.0.0.1",
      LOG_LEVEL: "info",
    };
  });

  afterAll(async () => {
    if (broker && broker.exitCode === null && broker.signalCode === null) broker.kill("SIGKILL");
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves /healthz and the catalog, passes its HEALTHCHECK, and exits 0 promptly on SIGTERM", async () => {
    const cmdInstruction = last(runtime, "CMD");
    const cmd = cmdInstruction ? execForm(cmdInstruction, "CMD") : [];
    // tini is not on this host; the broker runs as tini's child would.
    const entrypoint = execForm(last(runtime, "ENTRYPOINT"), "ENTRYPOINT").slice(2);
    const argv = hostCommand([...entrypoint, ...cmd]);
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    broker = child;
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;

    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    let health: Response | undefined;
    while (!health) {
      if (child.exitCode !== null)
        throw new Error(`the entrypoint exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`no /healthz answer within 20 s:\n${output}`);
      health = await fetch(`${base}/healthz`).catch(() => undefined);
      if (!health) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });

    const catalog = await fetch(`${base}/v2/catalog`, {
      headers: {
        Authorization: `Basic ${Buffer.from(`${env.BROKER_USERNAME}:${env.BROKER_PASSWORD}`).toString("base64")}`,
        "X-Broker-API-Version": "2.17",
      },
    });
    expect(catalog.status).toBe(200);
    const body = (await catalog.json()) as { services: Array<{ name: string }> };
    expect(body.services.map((s) => s.name)).toEqual(["postgresql", "redis"]);
    // The state went where the entrypoint said, under the lock.
    expect(readdirSync(stateDir)).toContain("lock");

    // The HEALTHCHECK as written, with the container's environment. Other brokers may run on
    // this machine (in the container the broker is the only one), so it is pointed at ours.
    expect(findBrokerPids()).toContain(child.pid);
    const healthcheck = last(runtime, "HEALTHCHECK")!;
    const timeoutSeconds = Number(healthcheck.args.match(/--timeout=(\d+)s/)?.[1] ?? 30);
    const probe = [
      ...hostCommand(
        execForm({ ...healthcheck, args: healthcheck.args.replace(/^.*?\bCMD\s+/, "") }, "HEALTHCHECK CMD"),
      ),
      "--pid",
      String(child.pid),
    ];
    const healthy = await run(probe, env, timeoutSeconds * 1000);
    expect(healthy, healthy.output).toMatchObject({ code: 0, signal: null });
    expect(healthy.output).toContain(`:${port}/`);
    // It probes the port the broker listens on, not one guessed from the environment.
    const elsewhere = await run(
      probe,
      { ...env, BROKER_PORT: String(await freePort()) },
      timeoutSeconds * 1000,
    );
    expect(elsewhere, elsewhere.output).toMatchObject({ code: 0, signal: null });

    // `docker stop`: SIGTERM, then SIGKILL after 10 s. The broker must be gone well before.
    const stopAt = Date.now();
    child.kill("SIGTERM");
    const [code, signal] = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`still running 8 s after SIGTERM:\n${output}`)), 8000),
      ),
    ]);
    expect({ code, signal }, output).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopAt).toBeLessThan(8000);
    // ...and a broker that is gone is reported unhealthy.
    const unhealthy = await run(probe, env, timeoutSeconds * 1000);
    expect(unhealthy.code, unhealthy.output).toBe(1);
    expect(unhealthy.output).toMatch(/^unhealthy: /);
    // A clean stop releases the state lock, so the next container starts without a takeover.
    expect(readdirSync(stateDir)).not.toContain("lock");
  }, 60_000);
});
