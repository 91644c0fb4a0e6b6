import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { UsageError } from "./args.js";

/**
 * A JSON object given on the command line, inline (`'{"a":1}'`) or from a file (`@file`, JSON
 * or YAML). Undefined when the option is absent.
 */
export function objectArg(option: string, value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  if (value.startsWith("@")) {
    const file = value.slice(1);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new UsageError(`--${option}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
    }
    try {
      parsed = parse(text);
    } catch (error) {
      throw new UsageError(`--${option}: ${file} is not JSON or YAML: ${(error as Error).message}`);
    }
  } else {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new UsageError(`--${option}: not JSON (${(error as Error).message}); use @FILE for a file`);
    }
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new UsageError(`--${option}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}
