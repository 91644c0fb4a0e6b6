import * as jsYaml from "js-yaml";

/** What the quick parse needs of js-yaml (the main thread imports it; the parse worker requires it). */
export type QuickYaml = Pick<typeof jsYaml, "load" | "CORE_SCHEMA" | "mergeTag">;

/**
 * The value of broker.yaml when js-yaml reads it exactly as `yaml` (ConfigSource's parser, with
 * YAML_OPTIONS) would, or undefined: then the caller parses with `yaml`, which reports any
 * mistake at its position. js-yaml builds the value directly, ~13× faster than `yaml`'s
 * document with positions (1,000 plans: ~110 ms against ~1.45 s), which was most of what
 * validate, startup and reload cost for large files (issue 14). Positions are then read only
 * when an issue needs one.
 *
 * Where the two differ, this answers undefined (test/config-quick-parse.test.ts compares them
 * on generated documents):
 * - anything js-yaml refuses (syntax, duplicate keys, complex keys, depth over 100), and every
 *   alias (`yaml` bounds their expansion; js-yaml would share the objects);
 * - explicit tags (`!!float 1` is an error for `yaml`) and directives (`%YAML 1.1` changes how
 *   scalars resolve), found in the text;
 * - a null key (`~:`, `null:`), which `yaml` names "" and js-yaml "null": any key "null".
 * Both resolve plain scalars by the YAML 1.2 core schema and apply `<<` merge keys.
 *
 * The parse worker (parse-off-thread.ts) runs this function from its source text, so it uses
 * nothing but its parameters: no imports, no helpers, no nested functions.
 */
export function parseQuicklyWith(yaml: QuickYaml, text: string): { value: unknown } | undefined {
  if (/(?:^|[\s[\]{},:?-])!/.test(text) || /^%/m.test(text)) return undefined;
  let value: unknown;
  try {
    value = yaml.load(text, { schema: yaml.CORE_SCHEMA.withTags(yaml.mergeTag), maxAliases: 0 });
  } catch {
    return undefined;
  }
  const pending: unknown[] = [value];
  while (pending.length) {
    const item = pending.pop();
    if (item === null || typeof item !== "object") continue;
    if (Array.isArray(item)) {
      for (const element of item) pending.push(element);
      continue;
    }
    for (const key of Object.keys(item)) {
      if (key === "null") return undefined;
      pending.push((item as Record<string, unknown>)[key]);
    }
  }
  return { value };
}

export function parseQuickly(text: string): { value: unknown } | undefined {
  return parseQuicklyWith(jsYaml, text);
}
