// biome-ignore-all lint/suspicious/noTemplateCurlyInString: broker.yaml spells environment references ${VAR}
/**
 * Reload of everything broker.yaml sets, in a real `cfy-broker serve` process, by a real SIGHUP
 * and by `serve --watch` on a Kubernetes-style mount (a `..data` symlink swapped atomically):
 * the Cloudify manager (URL and credentials: the next provision lands on another emulator),
 * the encryption keys (a new primary, the old key still reads), the platform's credentials and
 * the log level. A broken file is refused: the old configuration keeps serving, the refusal is
 * logged as JSON lines naming file:line:column, and readiness and the metrics say so. Clients
 * under load see no failed request across repeated SIGHUPs.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../emulator/index.js";
import { BINDINGS, INSTANCES } from "../src/broker/model/records.js";
import { silentLogger } from "../src/log/logger.js";
import { readStateDir } from "../src/state/index.js";
import { bindBody, bindingPath } from "./fixtures/bindings-helpers.js";
import { example, positionOf, tempDir } from "./fixtures/configs/helpers.js";
import { type BrokerProcess, startBrokerProcess } from "./support/broker-process.js";
import { runLoad } from "./support/load.js";
import { OsbClient } from "./support/osb-client.js";
import {
  brokerEnv,
  FAST_TIMINGS,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  waitForInstanceOperation,
} from "./support/stack.js";

interface Settings {
  cloudifyUrl: string;
  cloudifyUser: string;
  cloudifyPassword: string;
  /** The platform's password for user `platform`. */
  password: string;
  /** Primary encryption key (`id:base64`). */
  key: string;
  previousKey?: string;
  logLevel: string;
  smallDescription?: string;
}

const USER = "platform";
const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;

/** The example broker.yaml with every reloadable setting written literally (an env var cannot change under a running process). */
function configText(s: Settings, password = `        password: ${s.password}\n`): string {
  return example(
    ["        password: ${BROKER_PASSWORD}\n", password],
    ["    key: ${BROKER_ENCRYPTION_KEY}\n", `    key: "${s.key}"\n`],
    ["      - ${BROKER_PREVIOUS_ENCRYPTION_KEY:-}\n", `      - "${s.previousKey ?? ""}"\n`],
    ["  log_level: ${LOG_LEVEL:-info}\n", `  log_level: ${s.logLevel}\n`],
    ["  url: ${CLOUDIFY_URL:-http://127.0.0.1:8100}\n", `  url: ${s.cloudifyUrl}\n`],
    ["    username: ${CLOUDIFY_USERNAME:-admin}\n", `    username: ${s.cloudifyUser}\n`],
    ["    password: ${CLOUDIFY_PASSWORD:-admin}\n", `    password: ${s.cloudifyPassword}\n`],
    [
      "        description: 1 vCPU, 2 GB memory, 10 GB storage\n",
      `        description: ${s.smallDescription ?? "1 vCPU, 2 GB memory, 10 GB storage"}\n`,
    ],
  );
}

/** Settings for a manager with the emulator's default user, a fresh key and info logs. */
const baseSettings = (cloudifyUrl: string, password: string): Settings => ({
  cloudifyUrl,
  cloudifyUser: "admin",
  cloudifyPassword: "admin",
  password,
  key: key("k1"),
  logLevel: "info",
});

const emulators: EmulatorHandle[] = [];
let broker: BrokerProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  broker?.kill();
  for (const emulator of emulators.splice(0)) await emulator.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  broker = dir = undefined;
});

async function emulator(users?: { username: string; password: string }[]) {
  const started = await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger, users });
  emulators.push(started);
  return started;
}

/** `serve` on a free port; the state directory comes from broker.yaml (BROKER_STATE_DIR) unless `--state` is among `extraArgs`. */
async function serve(file: string, extraArgs: string[] = []) {
  const env = brokerEnv("http://127.0.0.1:9", join(dir!, "state"), { LOG_LEVEL: "silent" });
  broker = await startBrokerProcess(
    ["serve", "--config", file, "--host", "127.0.0.1", "--port", "0", ...extraArgs],
    { env, cwd: dir },
  );
  return broker;
}

const reloaded = (b: BrokerProcess, generation: number) =>
  b.waitForLog(
    (l) => l.msg === "configuration reloaded" && l.generation === generation,
    `configuration generation ${generation}`,
  );

const metric = (text: string, name: string) =>
  Number(
    text
      .split("\n")
      .find((line) => line.startsWith(`${name} `))
      ?.split(" ")[1],
  );

describe("reload by SIGHUP", () => {
  it("switches the Cloudify manager and its credentials, the keys, the platform's credentials and the log level", async () => {
    dir = await tempDir("reload-sighup-");
    const first = await emulator();
    const second = await emulator([{ username: "ops", password: "second-manager-password" }]);
    const before = baseSettings(first.url, "first-platform-password");
    const file = join(dir, "broker.yaml");
    await writeFile(file, configText(before));
    const b = await serve(file);

    const osb = new OsbClient(b.url, USER, before.password);
    const cache = newId();
    await provisionInstance(osb, cache, provisionBody(REDIS.small));
    const oldBinding = newId();
    const bound = await osb.put(bindingPath(cache, oldBinding), bindBody(REDIS.small));
    expect(bound.status).toBe(201);
    expect(first.state.deployment(`osb-${cache}`)).toBeDefined();
    expect(b.logs().some((l) => l.level === "debug")).toBe(false);

    const after: Settings = {
      cloudifyUrl: second.url,
      cloudifyUser: "ops",
      cloudifyPassword: "second-manager-password",
      password: "second-platform-password",
      key: key("k2"),
      previousKey: before.key,
      logLevel: "debug",
    };
    await writeFile(file, configText(after));
    b.child.kill("SIGHUP");
    await reloaded(b, 2);

    // Platform credentials: the old password is refused at once, the new one works.
    expect((await osb.get("/v2/catalog")).status).toBe(401);
    const osb2 = new OsbClient(b.url, USER, after.password);
    expect((await osb2.get("/v2/catalog")).status).toBe(200);

    // The manager: the next provision goes to the second emulator, with its credentials.
    const db = newId();
    const mark = b.logs().length;
    await provisionInstance(osb2, db, provisionBody(REDIS.small));
    expect(second.state.deployment(`osb-${db}`)).toBeDefined();
    expect(first.state.deployment(`osb-${db}`)).toBeUndefined();
    // Log level: debug lines (each Cloudify call) now appear.
    expect(
      b
        .logs()
        .slice(mark)
        .some((l) => l.level === "debug" && l.msg === "Cloudify call"),
    ).toBe(true);

    // Keys: the binding sealed with k1 still reads; a new one is sealed with k2. The old
    // instance's deployment is on the first manager: the second must hold it too (as after a
    // migration), or GETB would rightly say it is gone (CONTRACT A13).
    const migrated = await fetch(`${second.url}/api/v3.1/deployments/osb-${cache}`, {
      method: "PUT",
      headers: {
        Authorization: `Basic ${Buffer.from("ops:second-manager-password").toString("base64")}`,
        Tenant: "default_tenant",
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ blueprint_id: "redis" }),
    });
    expect(migrated.status).toBe(201);
    const fetched = await osb2.get(bindingPath(cache, oldBinding));
    expect(fetched.status).toBe(200);
    expect(fetched.body.credentials).toEqual(bound.body.credentials);
    const newBinding = newId();
    expect((await osb2.put(bindingPath(db, newBinding), bindBody(REDIS.small))).status).toBe(201);
    const state = await readStateDir(join(dir, "state"));
    const kids = (id: string) =>
      [...JSON.stringify(state[BINDINGS]?.[id]).matchAll(/"kid":"([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(kids(oldBinding))).toEqual(new Set(["k1"]));
    expect(new Set(kids(newBinding))).toEqual(new Set(["k2"]));

    // And back to info: debug lines stop.
    await writeFile(file, configText({ ...after, logLevel: "info" }));
    b.child.kill("SIGHUP");
    await reloaded(b, 3);
    const quiet = b.logs().length;
    await provisionInstance(osb2, newId(), provisionBody(REDIS.small));
    expect(
      b
        .logs()
        .slice(quiet)
        .some((l) => l.level === "debug"),
    ).toBe(false);
    expect(
      b
        .logs()
        .slice(quiet)
        .some((l) => l.msg === "request"),
    ).toBe(true);
  }, 180_000);

  it("refuses a broken file: the old configuration serves, JSON lines name file:line:column, readiness and metrics report it", async () => {
    dir = await tempDir("reload-refused-");
    const manager = await emulator();
    const settings = baseSettings(manager.url, "platform-password");
    const file = join(dir, "broker.yaml");
    const good = configText(settings);
    await writeFile(file, good);
    const b = await serve(file);
    const osb = new OsbClient(b.url, USER, settings.password);

    // A broken edit that also changes the password: nothing of it may take effect.
    const broken = configText({ ...settings, password: "never-in-force" }).replace(
      "  max_body_bytes: 1048576\n",
      "  max_body_bytes: lots\n",
    );
    const at = positionOf(broken, "lots");
    await writeFile(file, broken);
    const mark = b.logs().length;
    b.child.kill("SIGHUP");
    await b.waitForLog((l) => String(l.msg).startsWith("configuration reload failed"), "the refusal");
    const lines = b.logs().slice(mark);
    const issue = lines.find((l) => l.level === "error" && l.line === at.line);
    expect(issue, JSON.stringify(lines)).toMatchObject({ file, line: at.line, column: at.column });
    expect(String(issue?.msg)).toContain(`${file}:${at.line}:${at.column}: error:`);
    const refusal = lines.find((l) => String(l.msg).startsWith("configuration reload failed"));
    expect(refusal).toMatchObject({ level: "error", file });
    // Every line of stdout and stderr is JSON (no plain text from the refusal).
    const { stdout, stderr } = b.output();
    for (const line of `${stdout}${stderr}`.split("\n").filter(Boolean))
      expect(() => JSON.parse(line), line).not.toThrow();

    expect((await osb.get("/v2/catalog")).status).toBe(200);
    expect((await new OsbClient(b.url, USER, "never-in-force").get("/v2/catalog")).status).toBe(401);
    const ready = await fetch(`${b.url}/readyz`);
    expect(ready.status).toBe(503);
    const report = (await ready.json()) as { checks: { config: string } };
    expect(report.checks.config).toContain(`${file}:${at.line}:${at.column}: error:`);
    expect((await fetch(`${b.url}/livez`)).status).toBe(200);
    let metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metric(metrics, "osb_config_last_reload_successful")).toBe(0);
    expect(metric(metrics, "osb_config_reloads_failed_total")).toBe(1);
    expect(metric(metrics, "osb_config_generation")).toBe(1);

    // Fixed: in force, ready again.
    await writeFile(file, good);
    b.child.kill("SIGHUP");
    await reloaded(b, 2);
    expect((await fetch(`${b.url}/readyz`)).status).toBe(200);
    metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metric(metrics, "osb_config_last_reload_successful")).toBe(1);
    expect(metric(metrics, "osb_config_reloads_failed_total")).toBe(1);
    expect(metric(metrics, "osb_config_generation")).toBe(2);

    // A setting that needs a restart (the state location) is refused with a line saying so;
    // the rest of the file is in force, and the state stays where it was.
    const moved = configText({ ...settings, smallDescription: "moved" }).replace(
      "    dir: ${BROKER_STATE_DIR:-./.state}\n",
      `    dir: ${join(dir, "elsewhere")}\n`,
    );
    await writeFile(file, moved);
    b.child.kill("SIGHUP");
    await reloaded(b, 3);
    expect(
      b.logs().find((l) => String(l.msg).startsWith("the state location cannot change without a restart")),
    ).toMatchObject({ level: "error", state_dir: join(dir, "state"), configured: join(dir, "elsewhere") });
    const kept = newId();
    await provisionInstance(osb, kept, provisionBody(REDIS.small));
    expect((await readStateDir(join(dir, "state")))[INSTANCES]?.[kept]).toBeDefined();
    expect(existsSync(join(dir, "elsewhere"))).toBe(false);
  }, 180_000);

  it("clients under load see no failed request across repeated SIGHUPs", async () => {
    dir = await tempDir("reload-load-");
    const manager = await emulator();
    const settings = baseSettings(manager.url, "platform-password");
    const file = join(dir, "broker.yaml");
    await writeFile(file, configText(settings));
    const b = await serve(file);

    const RELOADS = 10;
    const reloads = (async () => {
      await b.waitForLog(() => b.logs().filter((l) => l.msg === "request").length >= 40, "load to build up");
      for (let n = 2; n <= RELOADS + 1; n++) {
        // Each reload changes the catalog and rotates the key (the old one stays readable).
        const previous = settings.key;
        settings.key = key(`k${n}`);
        await writeFile(
          file,
          configText({ ...settings, previousKey: previous, smallDescription: `generation ${n}` }),
        );
        b.child.kill("SIGHUP");
        await reloaded(b, n);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const result = await runLoad({
      url: b.url,
      username: USER,
      password: settings.password,
      clients: 6,
      maxPerClient: 100_000,
      until: reloads,
    });
    await reloads;
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
    // Every accepted provision completes on the manager in force.
    const osb = new OsbClient(b.url, USER, settings.password);
    for (const id of result.provisioned.slice(-5)) {
      expect((await waitForInstanceOperation(osb, id, 30_000)).body.state).toBe("succeeded");
    }
    const catalog = await osb.get("/v2/catalog");
    const small = catalog.body.services
      .flatMap((s: { plans: { id: string }[] }) => s.plans)
      .find((p: { id: string }) => p.id === PG.small);
    expect(small.description).toBe(`generation ${RELOADS + 1}`);
    expect(b.logs().some((l) => String(l.msg).includes("reload failed"))).toBe(false);
  }, 240_000);
});

describe("serve --watch", () => {
  it("reloads when a Kubernetes-style mount swaps its ..data symlink (ConfigMap and Secret)", async () => {
    dir = await tempDir("reload-watch-");
    const manager = await emulator();
    const settings = baseSettings(manager.url, "unused");
    // A volume as the kubelet writes it: a timestamped directory, `..data` pointing at it, and
    // each key a symlink through `..data`. An update writes a new directory and renames a new
    // `..data` symlink over the old one, so the files' own inodes never change.
    const mount = async (root: string, files: Record<string, string>, version: number) => {
      const versioned = join(root, `..2026_12_02_00_00_0${version}`);
      await mkdir(versioned, { recursive: true });
      for (const [name, text] of Object.entries(files)) await writeFile(join(versioned, name), text);
      await symlink(`..2026_12_02_00_00_0${version}`, join(root, "..data_tmp"));
      await rename(join(root, "..data_tmp"), join(root, "..data"));
      for (const name of Object.keys(files)) {
        await symlink(join("..data", name), join(root, name)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== "EEXIST") throw error;
        });
      }
    };
    const configMap = join(dir, "config");
    const secret = join(dir, "secret");
    const passwordFile = join(secret, "password");
    const text = (description: string) =>
      configText(
        { ...settings, smallDescription: description },
        `        password: { file: ${passwordFile} }\n`,
      );
    await mount(configMap, { "broker.yaml": text("first") }, 1);
    await mount(secret, { password: "first-password\n" }, 1);
    const b = await serve(join(configMap, "broker.yaml"), ["--watch"]);
    await b.waitForLog((l) => l.msg === "watching configuration files", "the watch");
    const smallDescription = async (password: string) => {
      const response = await new OsbClient(b.url, USER, password).get("/v2/catalog");
      expect(response.status).toBe(200);
      return response.body.services
        .flatMap((s: { plans: { id: string; description: string }[] }) => s.plans)
        .find((p: { id: string }) => p.id === PG.small).description;
    };
    expect(await smallDescription("first-password")).toBe("first");

    // The ConfigMap changes.
    await mount(configMap, { "broker.yaml": text("second") }, 2);
    await reloaded(b, 2);
    expect(await smallDescription("first-password")).toBe("second");

    // The Secret changes: a file broker.yaml names, in another directory.
    await mount(secret, { password: "second-password\n" }, 2);
    await reloaded(b, 3);
    expect((await new OsbClient(b.url, USER, "first-password").get("/v2/catalog")).status).toBe(401);
    expect(await smallDescription("second-password")).toBe("second");

    // A swap to the same content reloads nothing.
    await mount(configMap, { "broker.yaml": text("second") }, 3);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(b.logs().filter((l) => l.msg === "configuration reloaded")).toHaveLength(2);
  }, 180_000);
});
