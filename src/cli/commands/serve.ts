import { startBrokerServer } from "../../server/broker-server.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { runUntilStopped } from "../lifecycle.js";

export const SERVE_HELP = `Usage: cfy-broker serve [--config FILE] [--host HOST] [--port PORT] [--state DIR] [--watch]

Runs the broker until SIGTERM or SIGINT.
  --config FILE  broker.yaml to serve (default ./broker.yaml)
  --host HOST    interface to bind (overrides broker.listen.host)
  --port PORT    TCP port, 0 for any free one (overrides broker.listen.port)
  --state DIR    state directory (overrides broker.state.dir)
  --watch        reload when broker.yaml or a file it names changes (Kubernetes ConfigMap
                 and Secret updates included); SIGHUP always reloads

SIGTERM stops gracefully: no new connections, connected clients are answered, engine steps
reach their commit, state is flushed and the lock released; exit 0, or 1 if
broker.shutdown_timeout_seconds (default 25) passed first.
`;

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
