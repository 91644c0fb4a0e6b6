import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import type { BrokerConfig, SecretValue } from "../../generated/broker-config.js";
import { KeyringError, parseKeySpec } from "../crypto/index.js";
import type { CompiledCatalog } from "./compile-catalog.js";
import type { ConfigIssue } from "./issues.js";
import type { ConfigSource, Path } from "./source.js";

/** Everything the server needs from the `broker` and `cloudify` sections, secrets resolved. */
export interface RuntimeSettings {
  listen: { host: string; port: number };
  users: { username: string; password: string }[];
  /** State directory of the file backend (the default). */
  stateDir: string;
  /** Present when `broker.state.backend` is postgres: the shared store replaces the directory. */
  postgres?: PostgresSettings;
  encryption: { keys: string[]; allowPlaintext: boolean };
  logLevel: string;
  /** Files the settings were read from besides broker.yaml (secret files, the CA bundle): `serve --watch` watches them too. */
  files: string[];
  maxBodyBytes: number;
  /** How long a graceful shutdown may take before the rest is forced. */
  shutdownTimeoutMs: number;
  health: { cloudifyUnreachableMs: number; cloudifyProbeIntervalMs: number };
  operations: {
    pollIntervalMs: number;
    retryAfterSeconds: number;
    tombstoneSeconds: number;
    defaultTimeoutSeconds: number;
  };
  cloudify: {
    url: string;
    tenant: string;
    auth: { username: string; password: string } | { token: string };
    /** The file the token or password was read from, if it came from one: read again after a 401. */
    authFile?: string;
    caFile?: string;
    insecure: boolean;
    timeoutMs: number;
    retries: number;
    lookupWindowMs: number;
  };
}

export interface PostgresSettings {
  url: string;
  schema: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; insecure: boolean };
  poolSize: number;
  leaseSeconds: number;
}

type SecretReader = (value: SecretValue | undefined, path: Path) => Promise<string>;

/** Reads `SecretValue`s (inline, or from a file relative to broker.yaml), recording files and problems. */
function secretReader(
  source: ConfigSource,
  baseDir: string,
  issues: ConfigIssue[],
  files: string[],
): SecretReader {
  return async (value, path) => {
    if (value === undefined) return "";
    if (typeof value === "string") return value;
    const file = isAbsolute(value.file) ? value.file : resolve(baseDir, value.file);
    files.push(file);
    try {
      return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
    } catch (error) {
      issues.push(
        source.issue(
          "error",
          [...path, "file"],
          `cannot read secret file ${value.file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
        ),
      );
      return "";
    }
  };
}

/** What reaches Cloudify and the state: all `cfy-broker orphans` needs (no platform users, no keys). */
export interface ConnectionSettings {
  cloudify: RuntimeSettings["cloudify"];
  stateDir: string;
  postgres?: PostgresSettings;
}

export async function resolveConnectionSettings(
  config: BrokerConfig,
  source: ConfigSource,
  configPath: string,
): Promise<{ settings?: ConnectionSettings; issues: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const baseDir = dirname(configPath);
  const settings = await connectionSettings(
    config,
    source,
    baseDir,
    secretReader(source, baseDir, issues, []),
    issues,
  );
  return issues.some((i) => i.severity === "error") ? { issues } : { settings, issues };
}

async function connectionSettings(
  config: BrokerConfig,
  source: ConfigSource,
  baseDir: string,
  secret: SecretReader,
  issues: ConfigIssue[],
): Promise<ConnectionSettings> {
  const cfy = config.cloudify;
  const authSecret = "token" in cfy.auth ? cfy.auth.token : cfy.auth.password;
  const authFile =
    typeof authSecret === "object"
      ? isAbsolute(authSecret.file)
        ? authSecret.file
        : resolve(baseDir, authSecret.file)
      : undefined;
  const auth =
    "token" in cfy.auth
      ? { token: await secret(cfy.auth.token, ["cloudify", "auth", "token"]) }
      : {
          username: cfy.auth.username,
          password: await secret(cfy.auth.password, ["cloudify", "auth", "password"]),
        };

  const state = config.broker.state ?? {};
  let postgres: PostgresSettings | undefined;
  if (state.backend === "postgres") {
    const url = await secret(state.url, ["broker", "state", "url"]);
    if (!/^postgres(ql)?:\/\//.test(url)) {
      issues.push(
        source.issue(
          "error",
          ["broker", "state", "url"],
          "the postgres backend needs a connection URL postgres://user:password@host:port/database",
        ),
      );
    }
    postgres = {
      url,
      schema: state.schema ?? "cfy_broker",
      ...(state.tls
        ? {
            tls: {
              caFile: state.tls.ca_file,
              certFile: state.tls.cert_file,
              keyFile: state.tls.key_file,
              insecure: state.tls.insecure ?? false,
            },
          }
        : {}),
      poolSize: state.pool_size ?? 10,
      leaseSeconds: state.lease_seconds ?? 30,
    };
  }

  return {
    cloudify: {
      url: cfy.url,
      tenant: cfy.tenant ?? "default_tenant",
      auth,
      ...(authFile ? { authFile } : {}),
      caFile: cfy.tls?.ca_file,
      insecure: cfy.tls?.insecure ?? false,
      timeoutMs: cfy.timeout_ms ?? 30_000,
      retries: cfy.retries ?? 3,
      lookupWindowMs: cfy.lookup_window_ms ?? 180_000,
    },
    stateDir: resolve(state.dir ?? "./.state"),
    ...(postgres ? { postgres } : {}),
  };
}

export async function resolveRuntimeSettings(
  config: BrokerConfig,
  catalog: CompiledCatalog,
  source: ConfigSource,
  configPath: string,
): Promise<{ settings?: RuntimeSettings; issues: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const baseDir = dirname(configPath);
  const files: string[] = [];
  const secret = secretReader(source, baseDir, issues, files);

  const users: RuntimeSettings["users"] = [];
  for (const [i, user] of config.broker.auth.users.entries()) {
    const password = await secret(user.password, ["broker", "auth", "users", i, "password"]);
    // An empty pair is how the example leaves a rotation slot unused: disabled, never "any password".
    if (user.username && password) users.push({ username: user.username, password });
  }
  if (!users.length) {
    issues.push(
      source.issue(
        "error",
        ["broker", "auth", "users"],
        "no usable credentials: every pair has an empty username or password",
      ),
    );
  }

  const encryption = config.broker.encryption;
  const keys: string[] = [];
  const keyIds = new Set<string>();
  let unusableKey = false;
  // The keyring is built from these at startup; a key it cannot use is a config error here,
  // at its position, instead of an exception (and a stack trace) when the server starts.
  const addKey = (key: string, path: Path, value: SecretValue) => {
    const at = typeof value === "string" ? path : [...path, "file"];
    try {
      const entry = parseKeySpec(key, "encryption key");
      entry.key.fill(0);
      if (keyIds.has(entry.id))
        issues.push(source.issue("error", at, "the same encryption key is listed twice"));
      keyIds.add(entry.id);
      keys.push(key);
    } catch (error) {
      if (!(error instanceof KeyringError)) throw error;
      // KeyringError messages name where the key came from and its length, never key material.
      issues.push(source.issue("error", at, error.message));
      unusableKey = true;
    }
  };
  if (encryption?.key !== undefined) {
    const key = await secret(encryption.key, ["broker", "encryption", "key"]);
    if (key) addKey(key, ["broker", "encryption", "key"], encryption.key);
  }
  for (const [i, previous] of (encryption?.previous_keys ?? []).entries()) {
    const key = await secret(previous, ["broker", "encryption", "previous_keys", i]);
    if (key && keys.length) addKey(key, ["broker", "encryption", "previous_keys", i], previous);
  }
  const allowPlaintext = encryption?.allow_plaintext ?? false;
  const anyBindable = [...catalog.plansById.values()].some((plan) => plan.bindable);
  if (anyBindable && !keys.length && !allowPlaintext && !unusableKey) {
    issues.push(
      source.issue(
        "error",
        ["broker", "encryption"],
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shows broker.yaml's ${VAR} syntax to the user
        "a plan is bindable but no encryption key is configured: set broker.encryption.key (e.g. ${BROKER_ENCRYPTION_KEY}) or, unsafely, allow_plaintext: true",
      ),
    );
  }

  const { cloudify, stateDir, postgres } = await connectionSettings(config, source, baseDir, secret, issues);
  const cfy = config.cloudify;

  const ops = config.broker.operations ?? {};
  const settings: RuntimeSettings = {
    listen: {
      host: config.broker.listen?.host ?? "0.0.0.0",
      port: Number(config.broker.listen?.port ?? 8080),
    },
    users,
    stateDir,
    ...(postgres ? { postgres } : {}),
    encryption: { keys, allowPlaintext },
    logLevel: config.broker.log_level ?? "info",
    files: cfy.tls?.ca_file && cfy.url.startsWith("https:") ? [...files, resolve(cfy.tls.ca_file)] : files,
    maxBodyBytes: config.broker.max_body_bytes ?? 1024 * 1024,
    shutdownTimeoutMs: (config.broker.shutdown_timeout_seconds ?? 25) * 1000,
    health: {
      cloudifyUnreachableMs: (config.broker.health?.cloudify_unreachable_seconds ?? 60) * 1000,
      cloudifyProbeIntervalMs: (config.broker.health?.cloudify_probe_interval_seconds ?? 10) * 1000,
    },
    operations: {
      pollIntervalMs: ops.poll_interval_ms ?? 2000,
      retryAfterSeconds: ops.retry_after_seconds ?? 5,
      tombstoneSeconds: ops.tombstone_seconds ?? 3600,
      defaultTimeoutSeconds: ops.default_timeout_seconds ?? 7200,
    },
    cloudify,
  };
  return { settings, issues };
}
