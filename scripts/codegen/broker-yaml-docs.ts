import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

/**
 * docs/broker-yaml.md, the reference of every broker.yaml property, generated from
 * schema/broker.schema.json so that the reference never drifts from what `validate` enforces.
 *
 * Every property the schema names is listed by its path (`services[].plans[].inputs.<name>`):
 * type, whether required, default, description and an example. The example is the schema's
 * own `examples[0]`, else its `default`, else the first value at that path in the example
 * broker.yaml. A property without a description or without any example is an error, so a
 * schema change cannot add an undocumented property: codegen (and CI with it) fails and names it.
 *
 * The output depends only on the two inputs (schema order, document order): no dates, no
 * sorting by anything unstable, so CI can compare it with the committed file.
 */

export interface SchemaNode {
  $ref?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
}

/** One documented property. */
export interface PropertyDoc {
  path: string;
  type: string;
  /** "variant": required in one of the alternative forms (oneOf) the value may take. */
  required: boolean | "variant";
  default?: unknown;
  description?: string;
  /** The YAML shown as the example (the property's key and value), absent when none was found. */
  example?: string;
}

/** Thrown when the schema has properties the reference cannot document. */
export class UndocumentedPropertiesError extends Error {
  constructor(readonly problems: string[]) {
    super(`schema/broker.schema.json: properties the reference cannot document:\n  ${problems.join("\n  ")}`);
  }
}

const MAP_KEY = "<name>";

export function renderBrokerYamlDocs(schema: SchemaNode, exampleYaml: string): string {
  const properties = collectProperties(schema, exampleYaml);
  const problems = properties.flatMap((property) => [
    ...(property.description ? [] : [`${property.path}: no description`]),
    ...(property.example !== undefined
      ? []
      : [`${property.path}: no example (add \`examples\` to the schema)`]),
  ]);
  if (problems.length) throw new UndocumentedPropertiesError(problems);
  return renderMarkdown(schema, properties);
}

/** Every property below the root, in schema order, depth first. */
export function collectProperties(schema: SchemaNode, exampleYaml: string): PropertyDoc[] {
  const definitions = schema.definitions ?? {};
  const resolve = (node: SchemaNode): SchemaNode => {
    if (!node.$ref) return node;
    const name = node.$ref.replace(/^#\/definitions\//, "");
    const target = definitions[name];
    if (!target) throw new Error(`unresolvable $ref ${node.$ref}`);
    // The reference's own description (if any) is more specific than the definition's.
    return { ...resolve(target), ...(node.description ? { description: node.description } : {}) };
  };
  const example = parseYaml(exampleYaml) as unknown;
  const out: PropertyDoc[] = [];

  const visitProperty = (
    node: SchemaNode,
    segments: string[],
    required: PropertyDoc["required"],
    refs: string[],
  ) => {
    if (node.$ref && refs.includes(node.$ref)) return; // a recursive schema: documented once
    const resolved = resolve(node);
    const path = joinPath(segments);
    out.push({
      path,
      type: typeOf(resolved, resolve),
      required,
      ...(resolved.default !== undefined ? { default: resolved.default } : {}),
      ...(resolved.description ? { description: resolved.description.trim() } : {}),
      ...exampleOf(node, resolved, segments, example),
    });
    visitChildren(node, segments, node.$ref ? [...refs, node.$ref] : refs);
  };

  const visitChildren = (node: SchemaNode, segments: string[], refs: string[]) => {
    const resolved = resolve(node);
    const variants = [resolved, ...(resolved.oneOf ?? []), ...(resolved.anyOf ?? [])].map(resolve);
    const seen = new Set<string>();
    for (const variant of variants) {
      for (const [key, child] of Object.entries(variant.properties ?? {})) {
        if (seen.has(key)) continue; // the same key in two variants: documented once
        seen.add(key);
        const required = (variant.required ?? []).includes(key) && (variant === resolved || "variant");
        visitProperty(child, [...segments, key], required, refs);
      }
      // A map whose values have a shape of their own (inputs, credentials) documents one entry.
      const values = variant.additionalProperties;
      if (typeof values === "object" && (values.$ref || values.properties)) {
        visitProperty(values, [...segments, MAP_KEY], false, refs);
      }
      if (variant.items) visitChildren(variant.items, [...segments, "[]"], refs);
    }
  };

  visitChildren(schema, [], []);
  return out;
}

function joinPath(segments: string[]): string {
  return segments.reduce(
    (path, segment) => (segment === "[]" ? `${path}[]` : path ? `${path}.${segment}` : segment),
    "",
  );
}

function typeOf(node: SchemaNode, resolve: (node: SchemaNode) => SchemaNode): string {
  if (node.enum) return node.enum.map((value) => JSON.stringify(value)).join(" | ");
  const variants = node.oneOf ?? node.anyOf;
  if (variants) return unique(variants.map((variant) => typeOf(resolve(variant), resolve))).join(" | ");
  const types = node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type];
  if (types.length === 0) return "any";
  return types
    .map((type) => {
      if (type === "array" && node.items) return `array of ${typeOf(resolve(node.items), resolve)}`;
      if (type === "object" && typeof node.additionalProperties === "object") {
        return `map of ${typeOf(resolve(node.additionalProperties), resolve)}`;
      }
      return type;
    })
    .join(" | ");
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * The example as YAML of `key: value`, the key being the path's last name (a real one for
 * `<name>`). The property's own `examples` (also next to a `$ref`) come first, then the example
 * broker.yaml (real use says more than a default), then the default, and last the examples of
 * a shared definition, which fit every use but describe none in particular.
 */
function exampleOf(
  node: SchemaNode,
  resolved: SchemaNode,
  segments: string[],
  document: unknown,
): { example?: string } {
  const key = segments[segments.length - 1]!;
  if (node.examples?.length) return { example: yamlEntry(key, node.examples[0]) };
  const found = lookup(document, segments);
  if (found) return { example: yamlEntry(found.key, found.value) };
  if (resolved.default !== undefined) return { example: yamlEntry(key, resolved.default) };
  if (resolved.examples?.length) return { example: yamlEntry(key, resolved.examples[0]) };
  return {};
}

/** The first value at `segments` in document order: `[]` visits every element, `<name>` every key. */
function lookup(value: unknown, segments: string[]): { key: string; value: unknown } | undefined {
  const [head, ...rest] = segments;
  if (head === undefined) return undefined;
  if (head === "[]") {
    if (!Array.isArray(value)) return undefined;
    for (const element of value) {
      const found = lookup(element, rest);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const entries = Object.entries(value).filter(([key]) => head === MAP_KEY || key === head);
  for (const [key, child] of entries) {
    if (rest.length === 0) return { key, value: child };
    const found = lookup(child, rest);
    if (found) return found;
  }
  return undefined;
}

/** Longer examples (whole sections of broker.yaml) are cut: their parts are documented below them. */
const EXAMPLE_MAX_LINES = 16;

function yamlEntry(key: string, value: unknown): string {
  const lines = stringifyYaml({ [key]: value }, { lineWidth: 0 })
    .trimEnd()
    .split("\n");
  if (lines.length <= EXAMPLE_MAX_LINES) return lines.join("\n");
  return [...lines.slice(0, EXAMPLE_MAX_LINES), "# ... (cut; the parts are documented one by one)"].join(
    "\n",
  );
}

function renderMarkdown(schema: SchemaNode, properties: PropertyDoc[]): string {
  const lines = [
    "<!-- DO NOT EDIT. Generated by `cfy-broker codegen` from schema/broker.schema.json and broker.yaml.",
    "     Edit the schema (descriptions, defaults, examples) and run `npm run codegen`. -->",
    "",
    "# broker.yaml reference",
    "",
    schema.description?.trim() ?? "",
    "",
    "Paths: `a.b` is the key `b` inside `a`, `a[]` an element of the list `a`, `a.<name>` any key",
    "of the map `a`. Examples come from the schema or from the example broker.yaml at the",
    "repository root. Templates and their contexts are described in [TEMPLATES.md](TEMPLATES.md).",
    "",
  ];
  let section = "";
  for (const property of properties) {
    const top = property.path.split(/[.[]/)[0]!;
    if (top !== section) {
      section = top;
      lines.push(`## ${top}`, "");
    }
    lines.push(`### \`${property.path}\``, "", property.description ?? "", "");
    lines.push(`- Type: \`${property.type}\``);
    const required = { true: "yes", false: "no", variant: "yes, in the form of the value that has it" };
    lines.push(`- Required: ${required[`${property.required}`]}`);
    if (property.default !== undefined) lines.push(`- Default: \`${JSON.stringify(property.default)}\``);
    const example = property.example ?? "";
    if (example.includes("\n")) lines.push("- Example:", "", "  ```yaml", ...indent(example), "  ```");
    else lines.push(`- Example: \`${example}\``);
    lines.push("");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

function indent(text: string): string[] {
  return text.split("\n").map((line) => (line ? `  ${line}` : line));
}
