import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseCommandArgs } from "../src/cli/args.js";
import { runUntilStopped } from "../src/cli/lifecycle.js";
import { createLogger } from "../src/log/logger.js";
import { startBrokerServer } from "../src/server/broker-server.js";
import { packageRoot } from "../src/util/package-root.js";
import { startEmulator } from "./index.js";

/**
 * `cfy-broker demo`: the bundled Cloudify emulator and the broker with the example config,
 * in one process, with generated credentials. State, the platform password and the
 * encryption key live in --dir (default ./.demo) so a restarted demo keeps its instances.
 */
export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("demo", args, {
    dir: { type: "string" },
    port: { type: "string" },
    "emulator-port": { type: "string" },
  });
  const options = {
    dir: resolve(values.dir ?? ".demo"),
    port: Number(values.port ?? 8080),
    emulatorPort: Number(values["emulator-port"] ?? 8100),
    config: typeof values.config === "string" ? values.config : join(packageRoot(), "broker.yaml"),
  };

  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const password = await persistent(join(options.dir, "broker-password"), () =>
    randomBytes(12).toString("base64url"),
  );
  const key = await persistent(join(options.dir, "encryption-key"), () => randomBytes(32).toString("base64"));
  const log = createLogger({ level: process.env.LOG_LEVEL ?? "info" });

  const emulator = await startEmulator({
    port: options.emulatorPort,
    logger: log.child({ component: "emulator" }),
  });
  let broker: Awaited<ReturnType<typeof startBrokerServer>>;
  try {
    broker = await startBrokerServer({
      configFile: options.config,
      logger: log,
      applyLogLevel: true,
      env: {
        ...process.env,
        BROKER_USERNAME: process.env.BROKER_USERNAME ?? "platform",
        BROKER_PASSWORD: process.env.BROKER_PASSWORD ?? password,
        BROKER_ENCRYPTION_KEY: process.env.BROKER_ENCRYPTION_KEY ?? key,
        BROKER_STATE_DIR: join(options.dir, "state"),
        BROKER_HOST: process.env.BROKER_HOST ?? "127.0.0.1",
        BROKER_PORT: String(options.port),
        BROKER_POLL_INTERVAL_MS: process.env.BROKER_POLL_INTERVAL_MS ?? "500",
        BROKER_RETRY_AFTER_SECONDS: process.env.BROKER_RETRY_AFTER_SECONDS ?? "1",
        CLOUDIFY_URL: emulator.url,
      },
    });
  } catch (error) {
    // The CLI's main reports an invalid config; the emulator must not keep the process alive.
    await emulator.close();
    throw error;
  }

  const user = process.env.BROKER_USERNAME ?? "platform";
  const pass = process.env.BROKER_PASSWORD ?? password;
  process.stdout.write(
    [
      "",
      `Cloudify emulator: ${emulator.url} (admin/admin, default_tenant)`,
      `Broker:            ${broker.url}  (user ${user}, password in ${join(options.dir, "broker-password")})`,
      "",
      "Try:",
      `  curl -s -u ${user}:${pass} -H 'X-Broker-API-Version: 2.17' ${broker.url}/v2/catalog`,
      "",
      "Ctrl-C stops both; SIGHUP reloads broker.yaml.",
      "",
    ].join("\n"),
  );

  return runUntilStopped(broker, { log, afterStop: () => emulator.close() });
}

/** A generated secret kept in a 0600 file, so the demo keeps the same one across restarts. */
async function persistent(file: string, make: () => string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const value = make();
    await writeFile(file, `${value}\n`, { mode: 0o600 });
    return value;
  }
}
