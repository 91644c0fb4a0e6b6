import { ConfigError, ConfigReadError, formatIssue } from "../config/issues.js";
import { UsageError } from "./args.js";
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { HELP } from "./help.js";
import { runTool } from "./tools.js";

type Command = (args: string[]) => Promise<number>;

/**
 * Each command's module is loaded only when it runs: `validate` never loads the server stack.
 * codegen, emulator and demo are tools outside the runtime package (see tools.ts).
 */
const COMMANDS: Record<
  string,
  {
    run: Command;
    summary: string;
    invalid?: string /** Its log is JSON: so are its failures. */;
    jsonLines?: boolean;
  }
> = {
  validate: {
    run: async (args) => (await import("./commands/validate.js")).validateCommand(args),
    summary: "check broker.yaml; prints file:line:column for every problem",
  },
  codegen: {
    run: (args) => runTool("codegen", "scripts/codegen/command.ts", "codegenCommand", args),
    summary: "regenerate generated/ from schema/ (--check: fail if stale)",
  },
  catalog: {
    run: async (args) => (await import("./commands/catalog.js")).catalogCommand(args),
    summary: "print the catalog JSON the broker serves (--state DIR or --cloudify for derived schemas)",
  },
  render: {
    run: async (args) => (await import("./commands/render.js")).renderCommand(args),
    summary: "print what a provision and bind of --plan would send to Cloudify and answer (no manager)",
  },
  examples: {
    run: async (args) => (await import("./commands/examples.js")).examplesCommand(args),
    summary: "run every plan's examples end to end against the configured manager (--plan, --example)",
    invalid: "cannot run the examples of an invalid configuration",
  },
  serve: {
    run: async (args) => (await import("./commands/serve.js")).serveCommand(args),
    summary: "run the broker (--config, --host, --port, --state, --allow-missing-state)",
    invalid: "cannot serve an invalid configuration",
    jsonLines: true,
  },
  emulator: {
    run: (args) => runTool("emulator", "emulator/command.ts", "emulatorCommand", args),
    summary: "run the bundled Cloudify Manager emulator (--port, --blueprints)",
  },
  state: {
    run: async (args) => (await import("./commands/state.js")).stateCommand(args),
    summary: "inspect or maintain the state directory (export, rekey)",
  },
  instances: {
    run: async (args) => (await import("./commands/instances.js")).instancesCommand(args),
    summary: "list the service instances in the state: plan, status, deployment, last operation, age",
  },
  operations: {
    run: async (args) => (await import("./commands/operations.js")).operationsCommand(args),
    summary: "operations in progress (--stuck); fail ID --reason TEXT, purge ID: ways out of a stuck one",
  },
  upgrade: {
    run: async (args) => (await import("./commands/upgrade.js")).upgradeCommand(args),
    summary: "apply pending maintenance_info upgrades to every instance behind, through the running broker",
    invalid: "cannot upgrade with an invalid configuration",
  },
  orphans: {
    run: async (args) => (await import("./commands/orphans.js")).orphansCommand(args),
    summary:
      "list Cloudify deployments of the broker that no instance owns, and instances whose deployment is gone",
  },
  demo: {
    run: (args) => runTool("demo", "emulator/demo.ts", "demoCommand", args),
    summary: "run the broker against the bundled emulator with generated demo credentials",
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : EXIT_USAGE;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`cfy-broker: unknown command "${name}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  // Every command answers --help without loading anything; state and emulator print their own.
  const help = HELP[name];
  if (help && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(help);
    return EXIT_OK;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    return expectedFailure(error, command.invalid, command.jsonLines === true);
  }
}

/**
 * The failures every command can meet, turned into a message and an exit code in one place:
 * bad usage, an unreadable file, a locked or damaged state directory, a port in use, Cloudify
 * unreachable (2); an invalid configuration (1, every issue listed).
 */
const EXPECTED_ERRORS = new Set([
  "StateError",
  "StateMissingError",
  "StateLockedError",
  "StateCorruptError",
  "StateFormatError",
  "StateStoreFailedError",
  "StateUnavailableError",
  "CloudifyNetworkError",
  "CloudifyApiError",
]);

function expectedFailure(error: unknown, invalid: string | undefined, jsonLines: boolean): number {
  // A command that logs JSON (serve) reports these as JSON lines too, so a log pipeline reads
  // a failed start like any other log line; the others print plain lines for people.
  const say = (message: string, fields: Record<string, unknown> = {}) =>
    process.stderr.write(
      jsonLines
        ? `${JSON.stringify({ level: "error", time: new Date().toISOString(), ...fields, msg: message })}\n`
        : `${message}\n`,
    );
  if (error instanceof UsageError || error instanceof ConfigReadError) {
    say(error.message);
    return EXIT_USAGE;
  }
  // By name, so that commands which never touch the state or Cloudify do not load those modules.
  if (error instanceof Error && EXPECTED_ERRORS.has(error.name)) {
    say(`cfy-broker: ${error.message}`);
    return EXIT_USAGE;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE" || code === "EADDRNOTAVAIL" || code === "EACCES") {
    const { address, port } = error as { address?: string; port?: number };
    const reason =
      code === "EADDRINUSE"
        ? "the address is already in use"
        : code === "EACCES"
          ? "permission denied"
          : "no such local address";
    say(`cfy-broker: cannot listen on ${address ?? "?"}:${port ?? "?"}: ${reason}`);
    return EXIT_USAGE;
  }
  if (error instanceof ConfigError) {
    for (const issue of error.issues)
      say(formatIssue(issue), {
        severity: issue.severity,
        file: issue.file,
        line: issue.line,
        column: issue.column,
        path: issue.path,
      });
    const file = error.issues[0]?.file;
    if (invalid && file) say(`${file}: ${invalid}`, { file });
    return EXIT_INVALID;
  }
  throw error;
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: cfy-broker <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nCommands that read the configuration take --config FILE (default ./broker.yaml).\nEvery command takes --help.\n`;
}
