import { ConfigError, type ConfigIssue, formatIssue } from "../config/issues.js";
import { type LoadedConfig, loadConfig } from "../config/load.js";
import type { Logger } from "../log/logger.js";

export interface ConfigOverrides {
  host?: string;
  port?: number;
  stateDir?: string;
}

/** The config currently in force. */
export interface ConfigGeneration {
  loaded: LoadedConfig;
  loadedAt: Date;
}

/**
 * Holds the config in force and swaps it atomically on reload: a request sees either the
 * old generation or the new one, never a mix, and a broken edit keeps the old one running.
 */
export class LiveConfig {
  private current: ConfigGeneration;

  private constructor(
    readonly file: string,
    private readonly overrides: ConfigOverrides,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
    first: ConfigGeneration,
  ) {
    this.current = first;
  }

  static async load(
    file: string,
    overrides: ConfigOverrides,
    env: NodeJS.ProcessEnv,
    log: Logger,
  ): Promise<LiveConfig> {
    return new LiveConfig(file, overrides, env, log, await LiveConfig.generation(file, overrides, env, log));
  }

  get(): ConfigGeneration {
    return this.current;
  }

  /** Re-reads the file. Returns the issues; the new config is in force only if there were no errors. */
  async reload(): Promise<{ ok: boolean; issues: ConfigIssue[] }> {
    try {
      this.current = await LiveConfig.generation(this.file, this.overrides, this.env, this.log);
      this.log.info({ file: this.file }, "configuration reloaded");
      return { ok: true, issues: [] };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const issue of error.issues) this.log.error(formatIssue(issue));
      this.log.error(
        { file: this.file },
        "configuration reload failed; the previous configuration stays in force",
      );
      return { ok: false, issues: error.issues };
    }
  }

  private static async generation(
    file: string,
    overrides: ConfigOverrides,
    env: NodeJS.ProcessEnv,
    log: Logger,
  ): Promise<ConfigGeneration> {
    const { loaded, issues } = await loadConfig(file, { mode: "serve", env });
    for (const issue of issues) if (issue.severity === "warning") log.warn(formatIssue(issue));
    if (!loaded?.runtime) throw new ConfigError(issues);
    const runtime = loaded.runtime;
    if (overrides.host !== undefined) runtime.listen.host = overrides.host;
    if (overrides.port !== undefined) runtime.listen.port = overrides.port;
    if (overrides.stateDir !== undefined) runtime.stateDir = overrides.stateDir;
    return { loaded, loadedAt: new Date() };
  }
}
