import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkPlanExamples, planExamples } from "../../broker/catalog/plan-examples.js";
import { ConfigError, hasErrors } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../log/logger.js";
import { startBrokerServer } from "../../server/broker-server.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { type ExampleOutcome, runExample, type Step } from "../examples/run-example.js";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.js";
import { findPlan } from "../plan-lookup.js";

/** Exit code after SIGINT, as shells report it (128 + 2). */
const EXIT_INTERRUPTED = 130;

/**
 * `cfy-broker examples`: runs every plan example of broker.yaml end to end against the
 * configured Cloudify manager, through a broker started in this process on 127.0.0.1 with a
 * throw-away state directory: the smoke test to run after changing broker.yaml. Prints
 * progress on a terminal, a summary table on stdout, exits 1 when any example failed, and
 * removes what it created even when a step fails or Ctrl-C interrupts it.
 */
export async function examplesCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("examples", args, {
    plan: { type: "string" },
    example: { type: "string" },
    timeout: { type: "string" },
  });
  const file = configPath(values);
  const { loaded, issues } = await loadConfig(file, { mode: "serve" });
  if (!loaded?.runtime) throw new ConfigError(issues);
  const exampleIssues = checkPlanExamples(loaded.catalog, loaded.source);
  if (hasErrors(exampleIssues)) throw new ConfigError(exampleIssues);

  const plan = values.plan ? findPlan(loaded.catalog, values.plan) : undefined;
  const selected = planExamples(loaded.catalog).filter(
    (ref) => (!plan || ref.plan === plan) && (!values.example || ref.example.name === values.example),
  );
  if (!selected.length)
    throw new UsageError("cfy-broker examples: no plan example matches (see `examples:` of the plans)");
  const timeoutSeconds = values.timeout ? Number(values.timeout) : undefined;
  if (timeoutSeconds !== undefined && !(timeoutSeconds > 0))
    throw new UsageError("cfy-broker examples: --timeout must be a number of seconds");

  const stateDir = await mkdtemp(join(tmpdir(), "cfy-broker-examples-"));
  const broker = await startBrokerServer({
    configFile: file,
    overrides: { host: "127.0.0.1", port: 0, stateDir },
    logger: createLogger({ level: process.env.LOG_LEVEL ?? "warn", destination: process.stderr }),
  });
  const user = loaded.runtime.users[0];
  if (!user) throw new UsageError("cfy-broker examples: broker.auth has no enabled user");
  const target = { url: broker.url, ...user };

  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED); // a second Ctrl-C: give up cleaning
    interrupted = true;
    process.stderr.write("\ninterrupted: cleaning up what the examples created (Ctrl-C again to abandon)\n");
    abort.abort();
  };
  process.on("SIGINT", onSigint);
  const progress = new Progress(process.stderr);
  const results: { label: string; outcome: ExampleOutcome }[] = [];
  try {
    for (const ref of selected) {
      const label = `${ref.plan.service.config.name}/${ref.plan.name}/${ref.example.name}`;
      if (interrupted) {
        results.push({ label, outcome: { ok: false, detail: "not run (interrupted)", seconds: 0 } });
        continue;
      }
      const outcome = await runExample(target, ref, {
        timeoutSeconds: timeoutSeconds ?? ref.plan.config.maximum_polling_duration ?? 1800,
        pollMs: Math.max(50, Math.min(2000, loaded.runtime.operations.pollIntervalMs)),
        signal: abort.signal,
        onStep: (step: Step) => progress.step(label, step),
      });
      progress.done(label, outcome);
      results.push({ label, outcome });
    }
  } finally {
    process.off("SIGINT", onSigint);
    await broker.close();
    await rm(stateDir, { recursive: true, force: true });
  }
  process.stdout.write(summaryTable(results));
  if (interrupted) return EXIT_INTERRUPTED;
  return results.every((r) => r.outcome.ok) ? EXIT_OK : EXIT_INVALID;
}

/** One rewritten line per example on a terminal; one line per step otherwise (CI logs). */
class Progress {
  private readonly tty: boolean;
  private started = Date.now();

  constructor(private readonly out: NodeJS.WriteStream) {
    this.tty = Boolean(out.isTTY);
  }

  step(label: string, step: Step): void {
    if (step === "provision") this.started = Date.now();
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(0);
    if (this.tty) this.out.write(`\r\x1b[K${label}: ${step}... (${elapsed} s)`);
    else this.out.write(`${label}: ${step}\n`);
  }

  done(label: string, outcome: ExampleOutcome): void {
    const line = `${label}: ${outcome.ok ? "passed" : `FAILED: ${outcome.detail}`} (${outcome.seconds.toFixed(1)} s)`;
    this.out.write(this.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  }
}

function summaryTable(results: { label: string; outcome: ExampleOutcome }[]): string {
  const rows = [
    ["EXAMPLE", "RESULT", "SECONDS", "DETAIL"],
    ...results.map(({ label, outcome }) => [
      label,
      outcome.ok ? "passed" : "FAILED",
      outcome.seconds.toFixed(1),
      outcome.detail,
    ]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell))
      .join("  ")
      .trimEnd(),
  );
  const passed = results.filter((r) => r.outcome.ok).length;
  return `${lines.join("\n")}\n${passed}/${results.length} examples passed\n`;
}
