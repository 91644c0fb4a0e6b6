/**
 * `cfy-broker <command> --help`: what each command does, its options and its exit codes. Kept
 * apart from the commands so that asking for help loads no command module (serve's would load
 * the whole server). `state` and `emulator` print their own.
 */
const EXITS = `Exit codes: 0 done; 1 invalid input or a check failed; 2 could not run (bad usage,
unreadable file, state locked, Cloudify unreachable).`;

export const HELP: Record<string, string> = {
  validate: `Usage: cfy-broker validate [FILE | --config FILE] [--json] [--state DIR | --cloudify]

Checks broker.yaml without serving it: YAML, the schema, semantics, every template and parameter
schema, the plans' examples. Prints every problem as file:line:column: severity: message (path).
Unset environment variables are warnings (CI rarely holds the secrets).
  --json         print {"valid", "issues"} on stdout instead
  --state DIR    check examples against schemas derived from the state's cached blueprint inputs
  --cloudify     ... or derived from the configured manager
With either, a plan that leaves a required blueprint input unset (neither fixed in its inputs
nor offered as a parameter) is a warning: every provision of it would fail in Cloudify.

Exit codes: 0 valid (warnings allowed); 1 errors found; 2 could not read the file.
`,
  codegen: `Usage: cfy-broker codegen [--check]

Regenerates generated/ (TypeScript types) and docs/broker-yaml.md (the
broker.yaml reference) from schema/; fails naming any schema property
without a description or example. A development tool: available in a
source checkout only.
  --check        change nothing; exit 1 listing the files that are stale

${EXITS}
`,
  catalog: `Usage: cfy-broker catalog [FILE | --config FILE] [--state DIR | --cloudify] [--compact]

Prints the catalog JSON exactly as the broker serves it at GET /v2/catalog. Plans whose
parameter schemas are derived from blueprint inputs need those inputs:
  --state DIR    from the blueprint-input cache of a state directory (safe while the broker runs)
  --cloudify     from the configured Cloudify manager
Without either, such plans are printed without their derived schemas, and stderr says which
plans and why.
  --compact      the exact bytes the broker serves (default: indented)

${EXITS}
`,
  render: `Usage: cfy-broker render --plan ID|NAME [options]

Prints what a provision (and, given outputs, a bind) of the plan would send to Cloudify and
answer, without touching a manager: deployment id and labels, inputs, workflow parameters,
dashboard URL, binding credentials and endpoints. Secrets are masked unless --reveal.
  --config FILE          broker.yaml (default ./broker.yaml)
  --plan ID|NAME         plan id, name, or service/plan
  --parameters JSON|@F   provision parameters
  --context JSON|@F      the platform's context object
  --instance-id ID       --binding-id ID   (fixed defaults keep renders diffable)
  --bind-parameters JSON|@F  --bind-resource JSON|@F
  --outputs JSON|@F      deployment outputs (enables the binding part)
  --capabilities JSON|@F --secrets JSON|@F
  --reveal               print secrets in clear
  --state DIR | --cloudify   derived parameter schemas, as for catalog

${EXITS}
`,
  examples: `Usage: cfy-broker examples [--config FILE] [--plan ID|NAME] [--example NAME] [--timeout S]

Runs each plan example of broker.yaml end to end against the configured Cloudify manager:
provision, poll, bind, check the credential keys, unbind, deprovision, poll. A broker runs in
this process with a throw-away state; what an example created is removed even on Ctrl-C.
  --plan ID|NAME     only this plan's examples
  --example NAME     only the example of this name
  --timeout S        per operation (default: the plan's maximum_polling_duration)

Exit codes: 0 every example passed; 1 one failed (or config invalid); 2 could not run;
130 interrupted.
`,
  serve: `Usage: cfy-broker serve [--config FILE] [--host HOST] [--port PORT] [--state DIR] [--watch]
                       [--allow-missing-state]

Runs the broker until SIGTERM or SIGINT.
  --config FILE  broker.yaml to serve (default ./broker.yaml)
  --host HOST    interface to bind (overrides broker.listen.host)
  --port PORT    TCP port, 0 for any free one (overrides broker.listen.port)
  --state DIR    state directory (overrides broker.state.dir)
  --watch        reload when broker.yaml or a file it names changes (Kubernetes ConfigMap
                 and Secret updates included); SIGHUP always reloads
  --allow-missing-state  open a state directory whose marker says data existed but is gone

SIGHUP reloads broker.yaml (docs/OPERATIONS.md, "What a reload changes"). SIGTERM stops
gracefully: no new connections, connected clients are answered, engine steps reach their
commit, state is flushed and the lock released; exit 0, or 1 if
broker.shutdown_timeout_seconds (default 25) passed first.

Exit codes: 0 clean stop; 1 invalid config, or the shutdown deadline passed; 2 could not start
(port in use, state locked, unreadable file).
`,
  instances: `Usage: cfy-broker instances [--config FILE | --state DIR|URL] [--all] [--json]

Lists the service instances in the state: id, service/plan, status, Cloudify deployment, last
operation (and its step while in progress) and age. Read-only and lock-free: safe while the
broker runs. Needs only the state's location: --state, or broker.state of broker.yaml (no
secrets needed); plan names come from broker.yaml when it loads.
  --all          include deprovisioned instances (tombstones)
  --json         one object per instance, snake_case fields

${EXITS}
`,
  operations: `Usage: cfy-broker operations [list] [--stuck [--older-than MIN]] [--json]
       cfy-broker operations fail ID --reason TEXT [--yes]
       cfy-broker operations purge ID [--yes]

list (default): operations in progress, on instances and bindings. Read-only, safe while the
  broker runs. --stuck keeps those past their deadline, failing transiently 5 times in a row,
  or running longer than --older-than minutes (default 60), and exits 1 if there are any.
fail ID: ends the operation in progress of instance or binding ID as failed, with TEXT as the
  description the platform shows; the resource's status follows as if Cloudify had failed it
  (a failed provision can then be deprovisioned, a failed deprovision retried).
purge ID: forgets instance ID and its bindings, only if its Cloudify deployment is gone
  (checked with the manager of broker.yaml; only its cloudify and broker.state settings must
  resolve).
fail and purge change the state: stop the broker first (a state directory is locked while it
runs; a PostgreSQL schema must have no live replica). They ask for confirmation on a terminal;
--yes confirms without asking. The state is --state DIR|URL, or broker.state of broker.yaml.

Exit codes: 0 done (or nothing stuck); 1 stuck operations found, refused, or not confirmed;
2 could not run (bad usage, state locked, Cloudify unreachable).
`,
  upgrade: `Usage: cfy-broker upgrade --all [--plan ID|NAME] [--concurrency N] [--url URL]
                         [--config FILE] [--state DIR|URL] [--timeout S]

Applies maintenance_info upgrades to every provisioned instance whose version is behind its
plan's, as a platform would: a PATCH with the plan's version to the running broker (at
broker.listen, or --url), then last_operation until it ends. The broker stays the only writer.
  --plan ID|NAME     only this plan's instances
  --concurrency N    upgrades at a time (default 4)
  --timeout S        per upgrade (default 3600)
A progress bar on a terminal (stderr); a table of the outcomes on stdout; a summary line.

Exit codes: 0 all upgraded (or none behind); 1 an upgrade failed or config invalid; 2 could
not run.
`,
  orphans: `Usage: cfy-broker orphans [--config FILE] [--state DIR]

Lists Cloudify deployments labelled as this broker's that no live instance owns, and
provisioned instances whose deployment is gone, as JSON. Read-only: safe while the broker runs.

Exit codes: 0 nothing found; 1 found some; 2 could not run (Cloudify unreachable...).
`,
  demo: `Usage: cfy-broker demo [--dir DIR] [--port PORT] [--emulator-port PORT] [--config FILE]

Runs the broker against the bundled Cloudify emulator with generated credentials (kept in DIR,
default ./.demo). A development tool: available in a source checkout only. SIGHUP reloads.

${EXITS}
`,
};
