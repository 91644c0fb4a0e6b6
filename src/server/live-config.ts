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
  /** 1 for the configuration the broker started with, +1 per successful reload. */
  number: number;
}

export interface ReloadResult {
  ok: boolean;
  issues: ConfigIssue[];
}

/**
 * Holds the config in force and swaps it atomically on reload: a request sees either the
 * old generation or the new one, never a mix, and a broken edit keeps the old one running.
 */
export class LiveConfig {
  private current: ConfigGeneration;
  /** Why the latest load failed (first error, located); undefined after a successful one. */
  problem: string | undefined;
  /** Reloads that failed since start. */
  failedReloads = 0;
  /** The latest reload asked for: reloads run one after the other, so the last file read wins. */
  private reloading: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly overrides: ConfigOverrides,
    private readonly env: NodeJS.ProcessEnv,
    private log: Logger,
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
    return new LiveConfig(
      file,
      overrides,
      env,
      log,
      await LiveConfig.generation(file, overrides, env, log, 1),
    );
  }

  get(): ConfigGeneration {
    return this.current;
  }

  /**
   * The first load logs through a boot logger (its level from LOG_LEVEL, since no config is
   * known yet); reloads log through the broker's own, at the configured level.
   */
  logTo(log: Logger): void {
    this.log = log;
  }

  /**
   * Re-reads the file. The new config is in force only if it has no errors; settings that need
   * a restart (listen address, state location) keep their running values, with a log line.
   * `apply` switches what depends on the new settings (Cloudify connection, keys); if it
   * throws, the previous configuration stays in force. Never throws. A reload asked for while
   * another runs (it lets requests run meanwhile) starts when that one has finished.
   */
  reload(apply: (next: ConfigGeneration) => void = () => {}): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.reloadNow(apply));
    this.reloading = run;
    return run;
  }

  private async reloadNow(apply: (next: ConfigGeneration) => void): Promise<ReloadResult> {
    let next: ConfigGeneration;
    try {
      next = await LiveConfig.generation(
        this.file,
        this.overrides,
        this.env,
        this.log,
        this.current.number + 1,
      );
      this.keepRestartOnlySettings(next);
      apply(next);
    } catch (error) {
      const issues = error instanceof ConfigError ? error.issues : [];
      for (const issue of issues)
        this.log.error({ file: issue.file, line: issue.line, column: issue.column }, formatIssue(issue));
      const firstError = issues.find((i) => i.severity === "error");
      this.problem = firstError ? formatIssue(firstError) : (error as Error).message;
      this.failedReloads++;
      this.log.error(
        { file: this.file, reason: this.problem },
        "configuration reload failed; the previous configuration stays in force",
      );
      return { ok: false, issues };
    }
    this.current = next;
    this.problem = undefined;
    this.log.info({ file: this.file, generation: next.number }, "configuration reloaded");
    return { ok: true, issues: [] };
  }

  private keepRestartOnlySettings(next: ConfigGeneration): void {
    const now = this.current.loaded.runtime!;
    const wanted = next.loaded.runtime!;
    if (wanted.listen.host !== now.listen.host || wanted.listen.port !== now.listen.port) {
      this.log.error(
        { file: this.file, listening: now.listen, configured: wanted.listen },
        "the listen address cannot change without a restart; the broker keeps listening where it is",
      );
      wanted.listen = { ...now.listen };
    }
    if (wanted.stateDir !== now.stateDir) {
      this.log.error(
        { file: this.file, state_dir: now.stateDir, configured: wanted.stateDir },
        "the state location cannot change without a restart; the broker keeps using the current one",
      );
      wanted.stateDir = now.stateDir;
    }
  }

  private static async generation(
    file: string,
    overrides: ConfigOverrides,
    env: NodeJS.ProcessEnv,
    log: Logger,
    number: number,
  ): Promise<ConfigGeneration> {
    // A reload runs while requests are served: the heavy parts leave the event loop to them.
    const { loaded, issues } = await loadConfig(file, { mode: "serve", env, offEventLoop: number > 1 });
    for (const issue of issues)
      if (issue.severity === "warning")
        log.warn({ file: issue.file, line: issue.line, column: issue.column }, formatIssue(issue));
    if (!loaded?.runtime) throw new ConfigError(issues);
    const runtime = loaded.runtime;
    if (overrides.host !== undefined) runtime.listen.host = overrides.host;
    if (overrides.port !== undefined) runtime.listen.port = overrides.port;
    if (overrides.stateDir !== undefined) runtime.stateDir = overrides.stateDir;
    return { loaded, loadedAt: new Date(), number };
  }
}
