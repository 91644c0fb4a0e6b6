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

/**
 * The inverse of pathToString, also for template names (which write every key as `.key`):
 * `services[0].plans[1].inputs.db_name` gives `["services", 0, "plans", 1, "inputs", "db_name"]`.
 */
export function pathFromString(text: string): (string | number)[] {
  const path: (string | number)[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === "[") {
      const close = text[i + 1] === '"' ? closingQuote(text, i + 1) + 1 : text.indexOf("]", i);
      if (close < 0 || text[close] !== "]") break;
      const inner = text.slice(i + 1, close);
      path.push(/^\d+$/.test(inner) ? Number(inner) : (JSON.parse(inner) as string));
      i = close + 1;
    } else {
      if (text[i] === ".") i++;
      let end = i;
      while (end < text.length && text[end] !== "." && text[end] !== "[") end++;
      path.push(text.slice(i, end));
      i = end;
    }
  }
  return path;
}

function closingQuote(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return -1;
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
