import { startBrokerServer } from "../../server/broker-server.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";

/**
 * `cfy-broker serve`: runs until SIGINT/SIGTERM. SIGHUP reloads broker.yaml; a broken edit
 * is reported and the running configuration stays in force.
 */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("serve", args, {
    host: { type: "string" },
    port: { type: "string" },
    state: { type: "string" },
    "allow-missing-state": { type: "boolean" },
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`cfy-broker serve: --port must be a TCP port, got ${values.port}`);
  }
  const options = {
    configFile: configPath(values),
    overrides: { host: values.host, port, stateDir: values.state },
    allowMissingState: values["allow-missing-state"] === true,
  };
  // An invalid config (ConfigError) or an unreadable file is reported by the CLI's main.
  const server = await startBrokerServer(options);

  // A reload that cannot even read the file (an editor saving by rename, a mounted ConfigMap
  // being swapped) rejects instead of reporting issues; it must not end the process.
  process.on("SIGHUP", () => {
    server.reload().catch((error: unknown) => {
      process.stderr.write(
        `${options.configFile}: reload failed, the previous configuration stays in force: ${(error as Error).message}\n`,
      );
    });
  });
  return new Promise<number>((resolve) => {
    const stop = () => {
      void server.close().then(() => resolve(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
