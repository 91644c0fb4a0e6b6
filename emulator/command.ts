import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseCommandArgs, UsageError } from "../src/cli/args.js";
import { EXIT_INVALID, EXIT_USAGE } from "../src/cli/exit-codes.js";
import { createLogger } from "../src/log/logger.js";
import { startEmulator } from "./index.js";
import { DEFAULT_TIMINGS, type EmulatorTimings } from "./timings.js";

const USAGE = `Usage: cfy-broker emulator [options]

Runs an emulated Cloudify Manager 7.x (REST API v3.1) until SIGINT/SIGTERM.

  --host HOST             listen address (default 127.0.0.1)
  --port PORT             listen port, 0 for a free one (default 8100)
  --blueprints FILE       blueprint catalogue (default: the shipped emulator/blueprints.yaml)
  --username NAME         admin user (default admin)
  --password PASSWORD     admin password (default admin)
  --tls-cert FILE         serve HTTPS with this PEM certificate (needs --tls-key)
  --tls-key FILE          PEM private key for --tls-cert
  --pending-ms N          pending → started for every execution (default ${DEFAULT_TIMINGS.pendingMs})
  --create-env-ms N       create_deployment_environment duration (default ${DEFAULT_TIMINGS.createEnvMs})
  --delete-env-ms N       delete_deployment_environment duration (default ${DEFAULT_TIMINGS.deleteEnvMs})
  --workflow-ms N         workflows without a declared duration (default ${DEFAULT_TIMINGS.workflowMs})
  --cancel-ms N           cancelling → cancelled (default ${DEFAULT_TIMINGS.cancelMs})
  --time-scale X          multiplier for blueprint-declared durations (default ${DEFAULT_TIMINGS.scale})
  --log-level LEVEL       pino level (default info)

Fault injection and restarts: POST/GET/DELETE /_emulator/faults, POST /_emulator/restart.
`;

const TIMING_FLAGS: Record<string, keyof EmulatorTimings> = {
  "pending-ms": "pendingMs",
  "create-env-ms": "createEnvMs",
  "delete-env-ms": "deleteEnvMs",
  "workflow-ms": "workflowMs",
  "cancel-ms": "cancelMs",
  "time-scale": "scale",
};

function number(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`cfy-broker emulator: --${flag} must be a non-negative number, got ${raw}`);
  }
  return value;
}

/** `cfy-broker emulator`: an in-memory Cloudify Manager for demos and manual testing. */
export async function emulatorCommand(args: string[]): Promise<number> {
  let options: Parameters<typeof startEmulator>[0];
  try {
    const { values } = parseCommandArgs("emulator", args, {
      host: { type: "string" },
      port: { type: "string" },
      blueprints: { type: "string" },
      username: { type: "string" },
      password: { type: "string" },
      "log-level": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      help: { type: "boolean", short: "h" },
      ...Object.fromEntries(Object.keys(TIMING_FLAGS).map((f) => [f, { type: "string" as const }])),
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const port = values.port === undefined ? 8100 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageError(`cfy-broker emulator: --port must be a TCP port, got ${values.port}`);
    }
    const timings: Partial<EmulatorTimings> = {};
    for (const [flag, key] of Object.entries(TIMING_FLAGS)) {
      const raw = (values as Record<string, unknown>)[flag];
      if (typeof raw === "string") timings[key] = number(flag, raw);
    }
    const certFile = values["tls-cert"];
    const keyFile = values["tls-key"];
    if ((typeof certFile === "string") !== (typeof keyFile === "string")) {
      throw new UsageError("cfy-broker emulator: --tls-cert and --tls-key go together");
    }
    let tls: { cert: string; key: string } | undefined;
    if (typeof certFile === "string" && typeof keyFile === "string") {
      try {
        tls = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
      } catch (error) {
        throw new UsageError(`cfy-broker emulator: ${(error as Error).message}`);
      }
    }
    const username = typeof values.username === "string" ? values.username : "admin";
    const password = typeof values.password === "string" ? values.password : "admin";
    options = {
      host: typeof values.host === "string" ? values.host : "127.0.0.1",
      port,
      // A relative --blueprints is relative to where the user runs the command.
      ...(typeof values.blueprints === "string" ? { blueprints: resolve(values.blueprints) } : {}),
      timings,
      ...(tls ? { tls } : {}),
      users: [{ username, password }],
      logger: createLogger({
        level: typeof values["log-level"] === "string" ? values["log-level"] : undefined,
        name: "emulator",
      }),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n${USAGE}`);
    return EXIT_USAGE;
  }

  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    emulator = await startEmulator(options);
  } catch (error) {
    process.stderr.write(`cfy-broker emulator: ${(error as Error).message}\n`);
    return EXIT_INVALID;
  }
  process.stdout.write(`Cloudify Manager emulator listening on ${emulator.url}\n`);

  return new Promise<number>((done) => {
    const stop = () => {
      void emulator.close().then(() => done(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
