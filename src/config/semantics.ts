import type { BrokerConfig } from "../../generated/broker-config.js";
import { type CheckScope, EVERYTHING } from "./check-scope.js";
import type { ConfigIssue } from "./issues.js";
import type { ConfigSource, Path } from "./source.js";

/** OSB C2/C3 recommend CLI-friendly names; spaces and other punctuation break platform CLIs. */
const CLI_FRIENDLY = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/**
 * OSB C3: maintenance_info.version is a Semantic Versioning 2.0.0 string (the regex semver.org
 * gives). semver.valid() is looser: it accepts "v1.2.0" and " 1.2.0", which the catalog would
 * then serve verbatim.
 */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
/** OSB H15 recommends catalog strings of at most 255 characters. */
const MAX_CATALOG_STRING = 255;

/** Checks a schema cannot express. Assumes the document already passed the JSON Schema. */
export function checkSemantics(
  config: BrokerConfig,
  source: ConfigSource,
  /** What to check (all by default; the shape-valid parts when the schema failed). */
  scope: CheckScope = EVERYTHING,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const error = (path: Path, message: string) => issues.push(source.issue("error", path, message));
  const warn = (path: Path, message: string) => issues.push(source.issue("warning", path, message));

  const ids = new Map<string, string>();
  const claimId = (id: string, path: Path, what: string) => {
    const previous = ids.get(id);
    if (previous)
      error(path, `${what} id "${id}" is already used by ${previous}; ids must be unique across the catalog`);
    else ids.set(id, `${what} at ${pathLabel(path)}`);
  };
  const serviceNames = new Map<string, number>();

  config.services.forEach((service, s) => {
    if (!scope.plans(s)) return;
    const at: Path = ["services", s];
    if (scope.service(s)) {
      claimId(service.id, [...at, "id"], "service");
      const firstWithName = serviceNames.get(service.name);
      if (firstWithName !== undefined) {
        error(
          [...at, "name"],
          `service name "${service.name}" is already used by services[${firstWithName}]`,
        );
      } else serviceNames.set(service.name, s);
      checkName(service.name, [...at, "name"], "service", error);
      checkLength(service.description, [...at, "description"], warn);
    }

    const requires = new Set(service.requires ?? []);
    const planNames = new Map<string, number>();
    service.plans.forEach((plan, p) => {
      if (!scope.plan(s, p)) return;
      const planAt: Path = [...at, "plans", p];
      claimId(plan.id, [...planAt, "id"], "plan");
      const first = planNames.get(plan.name);
      if (first !== undefined)
        error(
          [...planAt, "name"],
          `plan name "${plan.name}" is already used in this service by plans[${first}]`,
        );
      else planNames.set(plan.name, p);
      checkName(plan.name, [...planAt, "name"], "plan", error);
      checkLength(plan.description, [...planAt, "description"], warn);

      const version = plan.maintenance_info?.version;
      if (version !== undefined && !SEMVER.test(version)) {
        error(
          [...planAt, "maintenance_info", "version"],
          `"${version}" is not a semantic version (e.g. 1.2.0)`,
        );
      }
      if (!plan.blueprint_id && !service.blueprint_id) {
        error(planAt, "no blueprint: set blueprint_id on the plan or on its service");
      }

      const bindable = plan.bindable ?? service.bindable;
      const binding = plan.binding;
      if (!bindable && plan.binding_rotatable) {
        error([...planAt, "binding_rotatable"], "binding_rotatable needs a bindable plan");
      }
      if (!bindable && binding) warn([...planAt, "binding"], "ignored: the plan is not bindable");
      if (!bindable && plan.schemas?.service_binding) {
        warn([...planAt, "schemas", "service_binding"], "ignored: the plan is not bindable");
      }
      if (plan.schemas?.service_binding?.create && "from_blueprint" in plan.schemas.service_binding.create) {
        error(
          [...planAt, "schemas", "service_binding", "create", "from_blueprint"],
          "binding parameters cannot be derived from blueprint inputs; give an explicit schema",
        );
      }
      if (binding) {
        const mode = binding.mode ?? "outputs";
        if (mode === "workflow" && !binding.workflow) {
          error([...planAt, "binding", "mode"], 'mode "workflow" needs binding.workflow.create');
        }
        if (mode === "outputs" && binding.workflow) {
          error([...planAt, "binding", "workflow"], 'binding.workflow is only used with mode "workflow"');
        }
        const needs = [
          ["syslog_drain_url", "syslog_drain"],
          ["route_service_url", "route_forwarding"],
          ["volume_mounts", "volume_mount"],
        ] as const;
        for (const [field, permission] of needs) {
          if (binding[field] !== undefined && !requires.has(permission)) {
            error([...planAt, "binding", field], `${field} needs "${permission}" in the service's requires`);
          }
        }
        const lifetime = binding.credential_lifetime;
        if (
          lifetime?.renew_before_seconds !== undefined &&
          lifetime.renew_before_seconds > lifetime.expires_in_seconds
        ) {
          error(
            [...planAt, "binding", "credential_lifetime", "renew_before_seconds"],
            "must not exceed expires_in_seconds (OSB: renew_before <= expires_at)",
          );
        }
      }
    });
  });

  const port = config.broker.listen?.port;
  if (port !== undefined && port !== "" && !isPort(port)) {
    error(
      ["broker", "listen", "port"],
      `${JSON.stringify(port)} is not a TCP port (0-65535; 0 picks a free one)`,
    );
  }
  return issues;
}

function checkName(
  name: string,
  path: Path,
  what: string,
  error: (path: Path, message: string) => void,
): void {
  if (!CLI_FRIENDLY.test(name)) {
    error(
      path,
      `${what} name "${name}" is not CLI-friendly: use letters, digits, ".", "-" and "_" only (OSB C2/C3)`,
    );
  } else if (name.length > MAX_CATALOG_STRING) {
    error(path, `${what} name is longer than ${MAX_CATALOG_STRING} characters`);
  }
}

function checkLength(text: string, path: Path, warn: (path: Path, message: string) => void): void {
  if (text.length > MAX_CATALOG_STRING)
    warn(path, `longer than ${MAX_CATALOG_STRING} characters (OSB H15 recommends less)`);
}

export function isPort(value: unknown): boolean {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 65535;
}

function pathLabel(path: Path): string {
  return path
    .map((s) => (typeof s === "number" ? `[${s}]` : `.${s}`))
    .join("")
    .replace(/^\./, "");
}
