import { type ParseArgsConfig, parseArgs } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

export class UsageError extends Error {}

/** parseArgs with the shared --config flag and usage errors that name the command. */
export function parseCommandArgs<O extends Options>(
  command: string,
  args: string[],
  options: O,
  allowPositionals = 0,
) {
  try {
    const parsed = parseArgs({
      args,
      options: { config: { type: "string", short: "c" }, ...options },
      allowPositionals: allowPositionals > 0,
      strict: true,
    });
    if (parsed.positionals.length > allowPositionals) {
      throw new UsageError(`unexpected argument ${parsed.positionals[allowPositionals]}`);
    }
    return parsed;
  } catch (error) {
    throw new UsageError(`cfy-broker ${command}: ${(error as Error).message}`);
  }
}

export function configPath(
  values: { config?: string | boolean | (string | boolean)[] },
  positional?: string,
): string {
  return (typeof values.config === "string" ? values.config : undefined) ?? positional ?? "broker.yaml";
}
