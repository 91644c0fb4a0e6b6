import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createLogger, type Logger } from "../log/logger.js";
import { createOsbApp } from "../osb/app.js";
import { type ConfigOverrides, LiveConfig } from "./live-config.js";

export interface BrokerServerOptions {
  configFile: string;
  overrides?: ConfigOverrides;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

export interface BrokerServer {
  url: string;
  port: number;
  config: LiveConfig;
  reload(): ReturnType<LiveConfig["reload"]>;
  close(): Promise<void>;
}

/**
 * Starts the broker: loads and validates the config (throwing ConfigError with every issue),
 * then serves OSB over HTTP. The catalog needs nothing but the config, so it is served even
 * when Cloudify is unreachable.
 */
export async function startBrokerServer(options: BrokerServerOptions): Promise<BrokerServer> {
  const env = options.env ?? process.env;
  const bootLog = options.logger ?? createLogger({ level: env.LOG_LEVEL });
  const config = await LiveConfig.load(options.configFile, options.overrides ?? {}, env, bootLog);
  const runtime = () => config.get().loaded.runtime!;
  const log = options.logger ?? createLogger({ level: runtime().logLevel });

  const app = createOsbApp({
    log,
    credentials: () => runtime().users,
    maxBodyBytes: () => runtime().maxBodyBytes,
    catalog: () => config.get().catalog,
    health: () => ({ status: "ok", checks: { config: "loaded" } }),
  });

  const { host, port } = runtime().listen;
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url, config: config.file }, "broker listening");

  return {
    url,
    port: address.port,
    config,
    reload: () => config.reload(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets would hold close() open; platforms reconnect.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
