/** A problem found in a config file, located precisely enough for an editor to jump to it. */
export interface ConfigIssue {
  severity: "error" | "warning";
  file: string;
  line: number;
  column: number;
  /** Where inside the document, as a dotted path like `services[0].plans[1].id` (empty for the root). */
  path: string;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path ? ` (${issue.path})` : "";
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.severity}: ${issue.message}${where}`;
}

export function hasErrors(issues: readonly ConfigIssue[]): boolean {
  return issues.some((issue) => issue.severity === "error");
}

/** Thrown where a config must be usable (serve, reload); carries every issue, not just the first. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(
      issues
        .filter((i) => i.severity === "error")
        .map(formatIssue)
        .join("\n") || "invalid configuration",
    );
    this.name = "ConfigError";
  }
}

/** JSON-pointer-like path segments to the dotted form used in messages. */
export function pathToString(path: readonly (string | number)[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The file could not be read at all (exit code 2 territory, unlike an invalid file). */
export class ConfigReadError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`);
    this.name = "ConfigReadError";
  }
}
