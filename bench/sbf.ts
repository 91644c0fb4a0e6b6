/**
 * Peer comparison: the broker against @sap/sbf 6.11.2 (SAP's Node.js service broker framework,
 * on Express 5) on the requests where the peer applies. The peer is not a dependency of this
 * project: it is installed on demand into a cache directory outside the repository
 * (os.tmpdir()/cfy-broker-bench-peers, `npm install --prefix <dir> --no-save`, once per
 * machine); when that fails (no registry) the suite says so in one line and measures nothing.
 *
 * The peer runs in its own child process (plain node, no tsx) with the configuration its README
 * gives a broker without custom code: a catalog file (SBF_CATALOG_FILE), plain-text Basic
 * credentials (SBF_BROKER_CREDENTIALS, one user as ours has), audit logging off
 * (SBF_ENABLE_AUDITLOG=false: it needs a Cloud Foundry audit-log service) and
 * `autoCredentials: false`, which makes it use no credentials provider (XSUAA) and requires an
 * `onBind` hook, here one answering constant credentials. Its catalog has one service and one
 * plan, with the ids of our example's PostgreSQL service and `small` plan, so that the request
 * bodies are ours. A second peer process serves our broker's whole catalog (the same bytes ours
 * answers), to tell the framework's cost from the body's size.
 *
 * What each side does per request:
 *   - catalog: ours answers pre-serialised bytes; the peer copies its catalog (catalog suffixes),
 *     serialises it and hashes the body for an ETag on every request;
 *   - provision (`?accepts_incomplete=true`, bench/provision.ts's body): ours authenticates,
 *     validates body and parameters, renders the plan's inputs, appends the instance to its
 *     journal and fdatasyncs before answering 202 (the emulator holds the deployment calls, as in
 *     bench/provision.ts); the peer, with no provision hook, validates the body and answers
 *     201 `{}` synchronously, storing nothing. Its validation builds a new Ajv and compiles the
 *     request's JSON Schema (and Ajv's meta-schema) on every request
 *     (lib/middleware/validation-middleware.js), about 8 ms of CPU in a profile: most of its cost;
 *   - bind (outputs mode, as bench/bind.ts, on 16 succeeded instances; a second broker process
 *     whose emulator completes deployments quickly): ours reads the deployment's outputs,
 *     renders, seals and fdatasyncs the binding before 201; the peer validates the same way and
 *     its `onBind` hook answers constant credentials, storing nothing.
 * The peer's figures are those of a stateless framework, not of a broker doing the same work.
 * Ratios are ours / the peer's (throughput: > 1 means ours serves more; latency: > 1 means ours
 * is slower), medians of interleaved rounds with the middle half as the spread.
 */
import { execFile, fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type BenchRequest, LoadTarget } from "./lib/load.js";
import {
  fixed,
  type Headline,
  line,
  median,
  paired,
  pairedSummary,
  ratios,
  ratioWithSpread,
  rotate,
} from "./lib/measure.js";
import {
  LARGE_PLAN,
  osbClient,
  osbHeaders,
  POSTGRES_SERVICE,
  provisionBody,
  QUICK_MANAGER,
  SMALL_PLAN,
  startProvision,
  waitProvisioned,
} from "./lib/osb-client.js";
import { type Servers, startServers } from "./lib/servers.js";

const PEER = "@sap/sbf";
const PEER_VERSION = "6.11.2";
const PEER_LABEL = `${PEER} ${PEER_VERSION}`;
/** Outside the repository, kept between runs: the install happens once per machine. */
const PEER_DIR = join(tmpdir(), "cfy-broker-bench-peers");
const INSTALL_TIMEOUT_MS = 180_000;

const CONNECTIONS = 16;
const CATALOG_PHASE_MS = 400;
const CATALOG_ROUNDS = 9;
const PHASE_MS = 500;
const ROUNDS = 7;
const PAIRS = 300;
const INSTANCES = 16;

const run = promisify(execFile);

/** Installs the peer into PEER_DIR unless that version is there; the reason when it cannot. */
async function ensurePeer(): Promise<string | undefined> {
  const manifest = join(PEER_DIR, "node_modules", ...PEER.split("/"), "package.json");
  const installed = async () => {
    try {
      return (JSON.parse(await readFile(manifest, "utf8")) as { version?: string }).version === PEER_VERSION;
    } catch {
      return false;
    }
  };
  if (await installed()) return undefined;
  try {
    await mkdir(PEER_DIR, { recursive: true });
    await run(
      process.platform === "win32" ? "npm.cmd" : "npm",
      [
        "install",
        "--prefix",
        PEER_DIR,
        "--no-save",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--fetch-retries=1",
        `${PEER}@${PEER_VERSION}`,
      ],
      { cwd: PEER_DIR, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 << 20 },
    );
  } catch (error) {
    const e = error as Error & { stderr?: string; killed?: boolean };
    // npm's error lines: the one naming the cause (the request that failed and why, a 404),
    // else the first (`code ENOENT`, ...), else the exception's own message (npm not found).
    const errors = (e.stderr ?? "")
      .split("\n")
      .filter((l) => /^npm (error|ERR!)/.test(l))
      .map((l) => l.replace(/^npm (error|ERR!)\s*/, "").trim())
      .filter(Boolean);
    const detail = e.killed
      ? `timed out after ${INSTALL_TIMEOUT_MS / 1000} s`
      : (errors.find((l) => /reason:|not found|ETARGET|no matching version/i.test(l)) ??
        errors[0] ??
        e.message.split("\n")[0]);
    return `npm install ${PEER}@${PEER_VERSION} into ${PEER_DIR} failed: ${detail}`;
  }
  return (await installed()) ? undefined : `npm install left no ${PEER} ${PEER_VERSION} in ${PEER_DIR}`;
}

/**
 * The peer's start script, CommonJS like the package. Everything but `autoCredentials` and the
 * `onBind` hook (options only, no environment variable) comes from the environment, as its README
 * has a broker without code configured. Listens on 127.0.0.1, port 0, and reports the port.
 */
const PEER_SCRIPT = `"use strict";
const Broker = require("${PEER}");
const broker = new Broker({
  autoCredentials: false,
  hooks: {
    onBind: (params, callback) =>
      callback(null, { credentials: JSON.parse(process.env.PEER_BIND_CREDENTIALS) }),
  },
});
const server = broker.app.listen(0, "127.0.0.1", () => process.send({ type: "ready", port: server.address().port }));
server.on("error", (error) => { process.send({ type: "error", message: String(error) }); process.exit(1); });
process.on("message", (message) => { if (message && message.type === "stop") server.close(() => process.exit(0)); });
`;

interface Peer {
  url: string;
  /** Basic auth (the peer's own password) and X-Broker-API-Version, as osbHeaders gives ours. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

/** The peer's user: our bench user's name, a password of its own (ours changes with each server process). */
const PEER_USER = { username: "platform", password: randomBytes(24).toString("base64url") };

async function startPeer(name: string, catalog: unknown): Promise<Peer> {
  const script = join(PEER_DIR, "bench-sbf-peer.cjs");
  const catalogFile = join(PEER_DIR, `bench-sbf-${name}-catalog.json`);
  await writeFile(script, PEER_SCRIPT);
  await writeFile(catalogFile, JSON.stringify(catalog));
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith("SBF_") && key !== "VCAP_SERVICES" && key !== "NODE_OPTIONS") env[key] = value;
  const child = fork(script, [], {
    cwd: PEER_DIR,
    execArgv: [],
    env: {
      ...env,
      NODE_ENV: "production",
      SBF_CATALOG_FILE: catalogFile,
      SBF_BROKER_CREDENTIALS: JSON.stringify({ [PEER_USER.username]: PEER_USER.password }),
      SBF_ENABLE_AUDITLOG: "false",
      PEER_BIND_CREDENTIALS: JSON.stringify(BIND_CREDENTIALS),
    },
    // Its log lines (startup, errors) would mix with the report; stderr is kept for a failed start.
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString("utf8");
  });
  const started = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no answer within 30 s")), 30_000);
    child.on("message", (message: { type: string; port?: number; message?: string }) => {
      clearTimeout(timer);
      if (message.type === "ready") resolve(message.port!);
      else reject(new Error(message.message));
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal})`));
    });
  });
  let port: number;
  try {
    port = await started;
  } catch (error) {
    child.kill("SIGKILL");
    const last = stderr
      .split("\n")
      .filter((l) => /\S/.test(l))
      .slice(-2)
      .join(" | ");
    throw new Error(`${(error as Error).message}${last ? `: ${last}` : ""}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    headers: osbHeaders(PEER_USER),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.send({ type: "stop" });
      await exited;
      clearTimeout(timer);
    },
  };
}

/** What the peer's `onBind` answers, constant: the first six fields of our `large` plan's credentials. */
const BIND_CREDENTIALS = {
  host: "10.0.0.12",
  port: 5432,
  database: "analytics",
  username: "app_user",
  password: "s3cr3t-s3cr3t-s3cr3t",
  uri: "postgres://app_user:s3cr3t-s3cr3t-s3cr3t@10.0.0.12:5432/analytics",
};

/** The peer's catalog: one service, one plan, with the ids of ours. */
const MINIMAL_CATALOG = {
  services: [
    {
      id: POSTGRES_SERVICE,
      name: "postgresql",
      description: "PostgreSQL databases",
      bindable: true,
      plans: [{ id: SMALL_PLAN, name: "small", description: "1 vCPU, 2 GB memory, 10 GB storage" }],
    },
  ],
};

export async function benchSbf(): Promise<Headline[]> {
  const missing = await ensurePeer();
  if (missing) {
    line(`## Peer ${PEER_LABEL}: not measured (${missing})`);
    line();
    return [];
  }
  const root = await mkdtemp(join(tmpdir(), "bench-sbf-"));
  const peers: Peer[] = [];
  let servers: Servers | undefined;
  try {
    servers = await startServers({
      stateDir: join(root, "state-provision"),
      pollIntervalMs: 60_000,
      // As bench/provision.ts: deployments held, so that only the acceptance is measured.
      emulatorFaults: [{ type: "latency", ms: 600_000, method: "PUT", path: "/api/v3.1/deployments" }],
    });
    // The settled catalog (bench/lib/server-child.ts waits for the blueprint-derived schemas).
    const ourCatalog = servers.catalog;
    try {
      peers.push(await startPeer("minimal", MINIMAL_CATALOG));
      peers.push(await startPeer("same", JSON.parse(ourCatalog)));
    } catch (error) {
      line(`## Peer ${PEER_LABEL}: not measured (its broker did not start: ${(error as Error).message})`);
      line();
      return [];
    }
    const [minimal, same] = peers as [Peer, Peer];
    line(`## Peer comparison: broker vs ${PEER_LABEL} (installed in ${PEER_DIR}), ratios broker / peer`);
    line(
      "peer configured by catalog file, SBF_BROKER_CREDENTIALS, SBF_ENABLE_AUDITLOG=false, autoCredentials false, an onBind hook answering constant credentials, no provision hook",
    );
    const headlines = await catalogAndProvision(servers, minimal, same);
    await servers.stop();
    servers = undefined;
    servers = await startServers({
      stateDir: join(root, "state-bind"),
      pollIntervalMs: 2000,
      emulatorTimings: QUICK_MANAGER,
    });
    headlines.push(...(await bind(servers, minimal)));
    line();
    return headlines;
  } finally {
    for (const peer of peers) await peer.stop();
    await servers?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** One request outside the timed loops: its status and body. */
async function answer(target: LoadTarget, request: BenchRequest): Promise<{ status: number; body: string }> {
  const response = await target.pool.request(request);
  return { status: response.statusCode, body: await response.body.text() };
}

async function catalogAndProvision(servers: Servers, minimal: Peer, same: Peer): Promise<Headline[]> {
  const brokerHeaders = osbHeaders(servers);
  const targets = {
    broker: new LoadTarget(servers.brokerUrl, CONNECTIONS),
    peer: new LoadTarget(minimal.url, CONNECTIONS),
    peerSame: new LoadTarget(same.url, CONNECTIONS),
  };
  try {
    // Catalog: the bytes each answers to the same request (no Accept-Encoding).
    const catalogRequests = {
      broker: { method: "GET", path: "/v2/catalog", headers: brokerHeaders },
      peer: { method: "GET", path: "/v2/catalog", headers: minimal.headers },
      peerSame: { method: "GET", path: "/v2/catalog", headers: same.headers },
    } satisfies Record<keyof typeof targets, BenchRequest>;
    const bodies: Partial<Record<keyof typeof targets, string>> = {};
    const bytes = async (name: keyof typeof targets) => {
      const { status, body } = await answer(targets[name], catalogRequests[name]);
      if (status !== 200)
        throw new Error(`GET /v2/catalog of ${name} answered ${status}: ${body.slice(0, 300)}`);
      bodies[name] = body;
      return fixed(Buffer.byteLength(body));
    };
    line(
      `GET /v2/catalog, ${CONNECTIONS} keep-alive connections, ${CATALOG_ROUNDS} rounds × ${CATALOG_PHASE_MS} ms per side; bodies: broker ${await bytes("broker")} bytes, peer minimal ${await bytes("peer")}, peer with our catalog ${await bytes("peerSame")} (${bodies.peerSame === bodies.broker ? "the same bytes" : "NOT the same bytes: the broker's catalog changed"})`,
    );
    const catalog =
      (name: keyof typeof targets, durationMs = CATALOG_PHASE_MS) =>
      () =>
        targets[name]
          .run({
            concurrency: CONNECTIONS,
            durationMs,
            expectStatus: 200,
            request: () => catalogRequests[name],
          })
          .then((r) => r.opsPerSecond);
    for (const name of ["broker", "peer", "peerSame"] as const) await catalog(name, 400)(); // warm-up
    const catalogRps = await rotate(CATALOG_ROUNDS, {
      broker: catalog("broker"),
      peer: catalog("peer"),
      peerSame: catalog("peerSame"),
    });
    const catalogVsPeer = ratios(catalogRps.broker, catalogRps.peer);
    const catalogVsSame = ratios(catalogRps.broker, catalogRps.peerSame);
    line(
      `  median req/s (informative only): broker ${fixed(median(catalogRps.broker))}, peer minimal ${fixed(median(catalogRps.peer))}, peer with our catalog ${fixed(median(catalogRps.peerSame))}`,
    );
    line(`  broker / peer (1 service, 1 plan):   ${ratioWithSpread(catalogVsPeer)}`);
    line(`  broker / peer (our catalog's bytes): ${ratioWithSpread(catalogVsSame)}`);

    // Provision: ours 202 after a durable commit, the peer 201 `{}` with nothing stored.
    const body = provisionBody();
    const put = (headers: Record<string, string>) => {
      const putHeaders = { ...headers, "Content-Type": "application/json" };
      return (): BenchRequest => ({
        method: "PUT",
        path: `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`,
        headers: putHeaders,
        body,
      });
    };
    const brokerProvision = put(brokerHeaders);
    const peerProvision = put(minimal.headers);
    const first = await answer(targets.peer, peerProvision());
    const peerStatus = first.status;
    if (peerStatus !== 201 && peerStatus !== 202 && peerStatus !== 200)
      throw new Error(`the peer's provision answered ${peerStatus}: ${first.body.slice(0, 300)}`);
    line(
      `provision (PUT ?accepts_incomplete=true, bench/provision.ts's body): broker answers 202 after fdatasync; peer answers ${peerStatus} ${first.body} (synchronous, nothing stored)`,
    );
    const provisions = (
      target: LoadTarget,
      request: () => BenchRequest,
      status: number,
      durationMs = PHASE_MS,
    ) =>
      target
        .run({ concurrency: CONNECTIONS, durationMs, expectStatus: status, request })
        .then((r) => r.opsPerSecond);
    await provisions(targets.broker, brokerProvision, 202, 1000); // warm-up
    await provisions(targets.peer, peerProvision, peerStatus, 1000);
    const sequential = await paired(
      PAIRS,
      () => targets.peer.send(peerProvision(), peerStatus),
      () => targets.broker.send(brokerProvision(), 202),
    );
    line(
      `  sequential, ${PAIRS} alternated pairs: median ms (informative only) broker ${fixed(median(sequential.subject), 2)}, peer ${fixed(median(sequential.baseline), 2)}`,
    );
    line(`  latency, broker / peer: ${pairedSummary(sequential)}`);
    const provisionRps = await rotate(ROUNDS, {
      broker: () => provisions(targets.broker, brokerProvision, 202),
      peer: () => provisions(targets.peer, peerProvision, peerStatus),
    });
    const provisionVsPeer = ratios(provisionRps.broker, provisionRps.peer);
    line(
      `  ${CONNECTIONS} concurrent clients, ${ROUNDS} rounds × ${PHASE_MS} ms: median req/s (informative only) broker ${fixed(median(provisionRps.broker))}, peer ${fixed(median(provisionRps.peer))}`,
    );
    line(`  throughput, broker / peer: ${ratioWithSpread(provisionVsPeer)}`);
    return [
      {
        suite: "sbf",
        what: `GET /v2/catalog req/s, broker / ${PEER}`,
        ratio: median(catalogVsPeer),
        note: "peer: 1 service, 1 plan",
      },
      {
        suite: "sbf",
        what: `GET /v2/catalog req/s, broker / ${PEER} serving our catalog`,
        ratio: median(catalogVsSame),
        note: "same body bytes",
      },
      {
        suite: "sbf",
        what: `provision req/s (${CONNECTIONS} concurrent), broker / ${PEER}`,
        ratio: median(provisionVsPeer),
        note: `ours 202 + fdatasync; peer ${peerStatus}, nothing stored`,
      },
      {
        suite: "sbf",
        what: `provision latency (sequential), broker / ${PEER}`,
        ratio: sequential.ratio,
        note: ">1: ours slower",
      },
    ];
  } finally {
    for (const target of Object.values(targets)) await target.close();
  }
}

async function bind(servers: Servers, minimal: Peer): Promise<Headline[]> {
  const call = osbClient(servers);
  const brokerHeaders = { ...osbHeaders(servers), "Content-Type": "application/json" };
  const peerHeaders = { ...minimal.headers, "Content-Type": "application/json" };
  const broker = new LoadTarget(servers.brokerUrl, CONNECTIONS);
  const peer = new LoadTarget(minimal.url, CONNECTIONS);
  try {
    const instances = Array.from({ length: INSTANCES }, () => randomUUID());
    for (const [i, id] of instances.entries())
      await startProvision(call, id, LARGE_PLAN, { db_name: `bench${i}` });
    for (const id of instances) await waitProvisioned(call, id);
    let next = 0;
    const request = (instanceId: string, planId: string, headers: Record<string, string>): BenchRequest => ({
      method: "PUT",
      path: `/v2/service_instances/${instanceId}/service_bindings/${randomUUID()}`,
      headers,
      body: JSON.stringify({ service_id: POSTGRES_SERVICE, plan_id: planId }),
    });
    const brokerBind = () => request(instances[next++ % INSTANCES]!, LARGE_PLAN, brokerHeaders);
    // The peer keeps no instances: any instance id binds; its only plan has `small`'s id.
    const peerBind = () => request(randomUUID(), SMALL_PLAN, peerHeaders);
    const sizes: string[] = [];
    for (const [name, target, make] of [
      ["broker", broker, brokerBind],
      ["peer", peer, peerBind],
    ] as const) {
      const { status, body } = await answer(target, make());
      if (status !== 201) throw new Error(`bind of ${name} answered ${status}: ${body.slice(0, 300)}`);
      sizes.push(`${name} ${fixed(Buffer.byteLength(body))} bytes`);
    }
    line(
      `bind (PUT .../service_bindings/:id, 201; answers: ${sizes.join(", ")}): broker in outputs mode on ${INSTANCES} succeeded instances (seal + fdatasync), peer's onBind constant credentials; ${CONNECTIONS} clients, ${ROUNDS} rounds × ${PHASE_MS} ms`,
    );
    const binds = (target: LoadTarget, make: () => BenchRequest, durationMs = PHASE_MS) =>
      target
        .run({ concurrency: CONNECTIONS, durationMs, expectStatus: 201, request: make })
        .then((r) => r.opsPerSecond);
    await binds(broker, brokerBind, 500); // warm-up
    await binds(peer, peerBind, 500);
    const rps = await rotate(ROUNDS, {
      broker: () => binds(broker, brokerBind),
      peer: () => binds(peer, peerBind),
    });
    const vsPeer = ratios(rps.broker, rps.peer);
    line(
      `  median req/s (informative only): broker ${fixed(median(rps.broker))}, peer ${fixed(median(rps.peer))}`,
    );
    line(`  throughput, broker / peer: ${ratioWithSpread(vsPeer)}`);
    return [
      {
        suite: "sbf",
        what: `bind req/s (${CONNECTIONS} concurrent, ${INSTANCES} instances), broker / ${PEER}`,
        ratio: median(vsPeer),
        note: "ours outputs + fdatasync; peer constant, nothing stored",
      },
    ];
  } finally {
    await broker.close();
    await peer.close();
  }
}
