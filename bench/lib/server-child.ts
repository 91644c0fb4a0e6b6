/**
 * Child process hosting what the HTTP benchmarks load: the Cloudify emulator, the broker
 * (startBrokerServer with the example broker.yaml, exactly as tests start it) and two bare Hono
 * apps on the same @hono/node-server. It runs apart from the load generator so that the
 * generator's own CPU does not dilute the servers' costs (2 cores: one each). Controlled over
 * IPC by bench/lib/servers.ts.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import {
  type EmulatorHandle,
  type EmulatorTimings,
  type FaultSpec,
  startEmulator,
} from "../../emulator/index.js";
import { silentLogger } from "../../src/log/logger.js";
import { type BrokerServer, startBrokerServer } from "../../src/server/broker-server.js";
import { packageRoot } from "../../src/util/package-root.js";

export interface StartMessage {
  type: "start";
  stateDir: string;
  emulatorTimings?: Partial<EmulatorTimings>;
  emulatorFaults?: FaultSpec[];
  pollIntervalMs: number;
}

export interface ReadyMessage {
  type: "ready";
  brokerUrl: string;
  /** Serves the broker's catalog body as a constant string. */
  bareStaticUrl: string;
  /** Serves the broker's catalog object with c.json (serialised per request, like the handler). */
  bareJsonUrl: string;
  username: string;
  password: string;
  catalogBytes: number;
}

type Reply = ReadyMessage | { type: "stopped" } | { type: "error"; message: string };

const USERNAME = "platform";
const PASSWORD = randomBytes(18).toString("base64url");

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
  broker = await startBrokerServer({
    configFile: join(packageRoot(), "broker.yaml"),
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

  // The baselines answer with exactly the broker's catalog body.
  const response = await fetch(`${broker.url}/v2/catalog`, {
    headers: {
      Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`,
      "X-Broker-API-Version": "2.17",
    },
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`catalog answered ${response.status}: ${text}`);
  const contentType = response.headers.get("content-type") ?? "application/json";
  const catalog: unknown = JSON.parse(text);

  const bareStatic = new Hono();
  bareStatic.get("/v2/catalog", (c) => c.body(text, 200, { "Content-Type": contentType }));
  const bareJson = new Hono();
  bareJson.get("/v2/catalog", (c) => c.json(catalog as object));

  return {
    type: "ready",
    brokerUrl: broker.url,
    bareStaticUrl: await listen(bareStatic),
    bareJsonUrl: await listen(bareJson),
    username: USERNAME,
    password: PASSWORD,
    catalogBytes: Buffer.byteLength(text),
  };
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

process.on("message", (message: StartMessage | { type: "stop" }) => {
  if (message.type === "start") {
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
});
// Never outlive the benchmark run.
process.on("disconnect", () => process.exit(0));
