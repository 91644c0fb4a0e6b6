/**
 * Child process hosting what the HTTP benchmarks load: the Cloudify emulator, the broker
 * (startBrokerServer with the example broker.yaml, exactly as tests start it) and two bare Hono
 * apps on the same @hono/node-server. It runs apart from the load generator so that the
 * generator's own CPU does not dilute the servers' costs (2 cores: one each). Controlled over
 * IPC by bench/lib/servers.ts.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { open } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import {
  type EmulatorHandle,
  type EmulatorTimings,
  type FaultSpec,
  startEmulator,
} from "../../emulator/index.js";
import { silentLogger } from "../../src/log/logger.js";
import type { BrokerServer } from "../../src/server/broker-server.js";
import { packageRoot } from "../../src/util/package-root.js";

export interface StartMessage {
  type: "start";
  stateDir: string;
  emulatorTimings?: Partial<EmulatorTimings>;
  emulatorFaults?: FaultSpec[];
  pollIntervalMs: number;
  /** broker.yaml to serve (default: the example one). */
  configFile?: string;
  /** When set, `barePutUrl` answers every PUT after appending its body here and fdatasyncing. */
  barePutFile?: string;
}

export interface ReadyMessage {
  type: "ready";
  brokerUrl: string;
  /** Serves the broker's catalog body as a constant string. */
  bareStaticUrl: string;
  /** Serves the broker's catalog object with c.json (serialised per request, like the handler). */
  bareJsonUrl: string;
  /**
   * node:http alone: the same Basic auth check (SHA-256 digests compared in constant time) and
   * version check, then the catalog's bytes, gzip-compressed once when the client accepts gzip.
   */
  bareNodeAuthUrl: string;
  /** A bare Hono app with the same auth and version checks, answering the same bytes. */
  bareHonoAuthUrl: string;
  /** node:http answering the bytes registered for a path (`{type: "static"}`), no checks. */
  bareStaticNodeUrl: string;
  /**
   * node:http answering every PUT 201 `{}` once its body is appended to `barePutFile` and
   * fdatasynced, one fdatasync per request and no checks (a bare durable PUT); with barePutFile only.
   */
  barePutUrl?: string;
  username: string;
  password: string;
  /** The broker's settled catalog body (GET /v2/catalog, version 2.17), which the bare servers answer. */
  catalog: string;
  /** Milliseconds startBrokerServer took (config, state load, listen). */
  brokerStartMs: number;
  /** CPU milliseconds (user + system) of the process meanwhile: steadier than wall time on a busy machine. */
  brokerStartCpuMs: number;
}

/** The child's memory, on request (`{type: "stats"}`). */
export interface StatsMessage {
  type: "stats";
  rssBytes: number;
  heapUsedBytes: number;
  /** Requests the emulator in this process served since the last `clearRequests`. */
  cloudifyRequests: number;
}

/** Asks for StatsMessage; `gc` collects garbage first (the child runs with --expose-gc). */
export interface StatsRequest {
  type: "stats";
  gc?: boolean;
  /** Restart the count of the emulator's requests (after this reading). */
  clearRequests?: boolean;
}

/**
 * The broker as it ships: the build in dist/ (`npm run build`) when BENCH_FROM_SOURCE is unset,
 * else the TypeScript sources through tsx (whose transpiled output differs, e.g. esbuild's
 * name-keeping wrappers around every function).
 */
async function brokerModule(): Promise<typeof import("../../src/server/broker-server.js")> {
  const built = join(packageRoot(), "dist", "src", "server", "broker-server.js");
  if (!process.env.BENCH_FROM_SOURCE && existsSync(built)) return import(pathToFileURL(built).href);
  return import("../../src/server/broker-server.js");
}

/** Reloads broker.yaml as SIGHUP does (`startBrokerServer`'s reload); answered by ReloadedMessage. */
export interface ReloadMessage {
  type: "reload";
}

export interface ReloadedMessage {
  type: "reloaded";
  ok: boolean;
  /** Milliseconds reload() took in the server process. */
  ms: number;
}

type Reply =
  | ReadyMessage
  | StatsMessage
  | ReloadedMessage
  | { type: "static" }
  | { type: "stopped" }
  | { type: "error"; message: string };

const USERNAME = "platform";
const PASSWORD = randomBytes(18).toString("base64url");

const sha256 = (value: string) => createHash("sha256").update(value).digest();
const USER_DIGEST = sha256(USERNAME);
const PASSWORD_DIGEST = sha256(PASSWORD);

/** The baselines' Basic auth: digests of the presented pair compared in constant time. */
function checkBasic(header: string | undefined): boolean {
  if (!header?.startsWith("Basic ")) return false;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  const user = timingSafeEqual(sha256(decoded.slice(0, colon)), USER_DIGEST);
  const password = timingSafeEqual(sha256(decoded.slice(colon + 1)), PASSWORD_DIGEST);
  return user && password;
}

/** What the bare static server answers, by request path. */
const staticBodies = new Map<string, { body: Buffer; contentType: string }>();

/** Registers a static answer (`{type: "static"}`): the parent copies a broker answer's bytes. */
export interface StaticMessage {
  type: "static";
  path: string;
  body: string;
  contentType: string;
}

let emulator: EmulatorHandle | undefined;
let broker: BrokerServer | undefined;
const bareServers: Array<ReturnType<typeof serve>> = [];

function reply(message: Reply): void {
  process.send?.(message);
}

function listen(app: Hono): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) =>
      resolve(`http://127.0.0.1:${info.port}`),
    );
    server.once("error", reject);
    bareServers.push(server);
  });
}

async function start(message: StartMessage): Promise<ReadyMessage> {
  emulator = await startEmulator({
    timings: message.emulatorTimings,
    faults: message.emulatorFaults,
    logger: silentLogger,
  });
  // Loaded before the clock starts: the start measured is the broker's, not module loading
  // (which the static import of the sources did before, too).
  const { startBrokerServer } = await brokerModule();
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  broker = await startBrokerServer({
    configFile: message.configFile ?? join(packageRoot(), "broker.yaml"),
    env: {
      PATH: process.env.PATH ?? "",
      BROKER_USERNAME: USERNAME,
      BROKER_PASSWORD: PASSWORD,
      BROKER_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      BROKER_HOST: "127.0.0.1",
      BROKER_PORT: "0",
      BROKER_STATE_DIR: message.stateDir,
      BROKER_POLL_INTERVAL_MS: String(message.pollIntervalMs),
      CLOUDIFY_URL: emulator.url,
      LOG_LEVEL: "silent",
    },
    logger: silentLogger,
  });
  const brokerStartMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  const brokerStartCpuMs = (cpu.user + cpu.system) / 1000;

  // The baselines answer with exactly the broker's catalog body: the settled one. Just after
  // startup a plan whose schemas derive from its blueprint is served without them until the
  // blueprint has been read, so the body is fetched until two answers in a row agree.
  const brokerUrl = broker.url;
  const fetchCatalog = async () => {
    const response = await fetch(`${brokerUrl}/v2/catalog`, {
      headers: {
        Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`,
        "X-Broker-API-Version": "2.17",
      },
    });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`catalog answered ${response.status}: ${body}`);
    return { body, contentType: response.headers.get("content-type") ?? "application/json" };
  };
  let settled = await fetchCatalog();
  for (let attempt = 0; attempt < 50; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const next = await fetchCatalog();
    if (next.body === settled.body) break;
    settled = next;
  }
  const { body: text, contentType } = settled;
  const catalog: unknown = JSON.parse(text);

  const identity = Buffer.from(text);
  const gzipped = gzipSync(identity);
  const authorised = (authorization: string | undefined, version: string | undefined) =>
    checkBasic(authorization) && /^2\.(\d+)$/.test(version?.trim() ?? "");

  const bareNode = createServer((req, res) => {
    if (!authorised(req.headers.authorization, req.headers["x-broker-api-version"] as string | undefined)) {
      res.writeHead(401, { "Content-Type": "application/json" }).end('{"description":"no"}');
      return;
    }
    const gzip = /\bgzip\b/.test(req.headers["accept-encoding"] ?? "");
    const body = gzip ? gzipped : identity;
    res.writeHead(200, {
      "Content-Type": contentType,
      "Content-Length": body.length,
      ...(gzip ? { "Content-Encoding": "gzip" } : {}),
    });
    res.end(body);
  });
  const bareNodeAuthUrl = await new Promise<string>((resolve, reject) => {
    bareNode.once("error", reject);
    bareNode.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(bareNode.address() as AddressInfo).port}`),
    );
  });
  bareServers.push(bareNode as unknown as ReturnType<typeof serve>);

  const bareStaticNode = createServer((req, res) => {
    const entry = staticBodies.get(req.url ?? "");
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { "Content-Type": entry.contentType, "Content-Length": entry.body.length })
      .end(entry.body);
  });
  const bareStaticNodeUrl = await new Promise<string>((resolve, reject) => {
    bareStaticNode.once("error", reject);
    bareStaticNode.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(bareStaticNode.address() as AddressInfo).port}`),
    );
  });
  bareServers.push(bareStaticNode as unknown as ReturnType<typeof serve>);

  const barePutUrl = message.barePutFile ? await bareDurablePut(message.barePutFile) : undefined;

  const bareHonoAuth = new Hono();
  bareHonoAuth.use("/v2/*", async (c, next) => {
    if (!authorised(c.req.header("Authorization"), c.req.header("X-Broker-API-Version")))
      return c.json({ description: "no" }, 401);
    await next();
  });
  bareHonoAuth.get("/v2/catalog", (c) => {
    const gzip = /\bgzip\b/.test(c.req.header("Accept-Encoding") ?? "");
    return c.body(gzip ? gzipped : identity, 200, {
      "Content-Type": contentType,
      ...(gzip ? { "Content-Encoding": "gzip" } : {}),
    });
  });

  const bareStatic = new Hono();
  bareStatic.get("/v2/catalog", (c) => c.body(text, 200, { "Content-Type": contentType }));
  const bareJson = new Hono();
  bareJson.get("/v2/catalog", (c) => c.json(catalog as object));

  return {
    type: "ready",
    brokerUrl: broker.url,
    bareStaticUrl: await listen(bareStatic),
    bareJsonUrl: await listen(bareJson),
    bareNodeAuthUrl,
    bareStaticNodeUrl,
    barePutUrl,
    bareHonoAuthUrl: await listen(bareHonoAuth),
    username: USERNAME,
    password: PASSWORD,
    catalog: text,
    brokerStartMs,
    brokerStartCpuMs,
  };
}

/** The bare durable PUT (see ReadyMessage.barePutUrl). */
async function bareDurablePut(file: string): Promise<string> {
  const handle = await open(file, "a", 0o600);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      handle
        .appendFile(Buffer.concat(chunks))
        .then(() => handle.datasync())
        .then(
          () => res.writeHead(201, { "Content-Type": "application/json", "Content-Length": 2 }).end("{}"),
          () => res.writeHead(500).end(),
        );
    });
  });
  server.on("close", () => void handle.close());
  bareServers.push(server as unknown as ReturnType<typeof serve>);
  return new Promise<string>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

/**
 * Closes everything, but gives up after a few seconds: a benchmark that parks the engine's
 * Cloudify calls (provision) leaves requests in flight that a graceful close would wait for.
 * The process exits right after either way, and its state directory is thrown away.
 */
async function stop(): Promise<void> {
  const graceful = async () => {
    for (const server of bareServers) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    }
    await broker?.close();
    await emulator?.close();
  };
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([graceful(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000)))]);
  clearTimeout(timer);
}

process.on(
  "message",
  (message: StartMessage | StaticMessage | ReloadMessage | StatsRequest | { type: "stop" }) => {
    if (message.type === "static") {
      staticBodies.set(message.path, { body: Buffer.from(message.body), contentType: message.contentType });
      reply({ type: "static" });
    } else if (message.type === "stats") {
      if (message.gc) (globalThis as { gc?: () => void }).gc?.();
      const memory = process.memoryUsage();
      const cloudifyRequests = emulator?.requests.count() ?? 0;
      if (message.clearRequests) emulator?.requests.clear();
      reply({ type: "stats", rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, cloudifyRequests });
    } else if (message.type === "reload") {
      const startedAt = performance.now();
      broker!.reload().then(
        (result) => reply({ type: "reloaded", ok: result.ok, ms: performance.now() - startedAt }),
        (error: Error) => reply({ type: "error", message: error.stack ?? String(error) }),
      );
    } else if (message.type === "start") {
      start(message).then(reply, (error: Error) =>
        reply({ type: "error", message: error.stack ?? String(error) }),
      );
    } else if (message.type === "stop") {
      stop().then(
        () => {
          reply({ type: "stopped" });
          process.disconnect?.();
          process.exit(0);
        },
        (error: Error) => reply({ type: "error", message: error.stack ?? String(error) }),
      );
    }
  },
);
// Never outlive the benchmark run.
process.on("disconnect", () => process.exit(0));
