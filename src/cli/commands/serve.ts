import { startBrokerServer } from "../../server/broker-server.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { runUntilStopped } from "../lifecycle.js";

/** `cfy-broker serve`: the broker in the foreground. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("serve", args, {
    host: { type: "string" },
    port: { type: "string" },
    state: { type: "string" },
    watch: { type: "boolean" },
    "allow-missing-state": { type: "boolean" },
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`cfy-broker serve: --port must be a TCP port, got ${values.port}`);
  }
  // An invalid config (ConfigError), an unreadable file, a port in use or a locked state
  // directory is reported by the CLI's main in one line.
  const server = await startBrokerServer({
    configFile: configPath(values),
    overrides: { host: values.host, port, stateDir: values.state },
    allowMissingState: values["allow-missing-state"] === true,
  });
  return runUntilStopped(server, { log: server.log, watch: values.watch === true });
}
