import { setOwn } from "../util/own-property.js";
import { type CompiledTemplate, compileTemplate, type RenderOptions } from "./compile-template.js";
import { TemplateSyntaxError, type ValuePath } from "./errors.js";

/**
 * Templates embedded in a YAML value (e.g. a plan's deployment inputs): every string leaf containing "{{"
 * is compiled; keys and other leaves are literal. Rendering rebuilds the containers, so callers may mutate
 * the result without touching the compiled config.
 */
export interface CompiledValueTree {
  readonly name: string;
  /** Compiled leaves, in document order. */
  readonly templates: readonly CompiledTemplate[];
  /** Union of the leaves' references, deduplicated. */
  readonly references: string[];
  /** Union of the leaves' secret keys, deduplicated. */
  readonly secretKeys: string[];
  readonly usesSeed: boolean;
  render(context: object, options?: RenderOptions): unknown;
}

type Node =
  | { kind: "literal"; value: unknown }
  | { kind: "template"; template: CompiledTemplate }
  | { kind: "list"; items: Node[] }
  | { kind: "map"; entries: [string, Node][] };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Leaf names: `name.key.sub` for object keys, `name.list[0]` for list items. */
function childName(parent: string, key: string | number): string {
  return typeof key === "number" ? `${parent}[${key}]` : `${parent}.${key}`;
}

function build(value: unknown, name: string, path: (string | number)[], templates: CompiledTemplate[]): Node {
  if (typeof value === "string") {
    if (!value.includes("{{")) return { kind: "literal", value };
    try {
      const template = compileTemplate(value, { name });
      templates.push(template);
      return { kind: "template", template };
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      const valuePath: ValuePath = Object.freeze([...path]);
      throw new TemplateSyntaxError(error.templateName, error.reason, error, valuePath, {
        cause: error.cause,
      });
    }
  }
  if (Array.isArray(value)) {
    return {
      kind: "list",
      items: value.map((item, i) => build(item, childName(name, i), [...path, i], templates)),
    };
  }
  if (isPlainObject(value)) {
    return {
      kind: "map",
      entries: Object.keys(value).map((key) => [
        key,
        build(value[key], childName(name, key), [...path, key], templates),
      ]),
    };
  }
  return { kind: "literal", value };
}

function renderNode(node: Node, context: object, options: RenderOptions | undefined): unknown {
  switch (node.kind) {
    case "literal":
      return node.value;
    case "template":
      return node.template.render(context, options);
    case "list":
      return node.items.map((item) => renderNode(item, context, options));
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [key, child] of node.entries) setOwn(out, key, renderNode(child, context, options));
      return out;
    }
  }
}

function union(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())];
}

export function compileValueTree(value: unknown, name: string): CompiledValueTree {
  const templates: CompiledTemplate[] = [];
  const root = build(value, name, [], templates);
  return {
    name,
    templates: Object.freeze(templates),
    references: union(templates.map((t) => t.references)),
    secretKeys: union(templates.map((t) => t.secretKeys)),
    usesSeed: templates.some((t) => t.usesSeed),
    render: (context, options) => renderNode(root, context, options),
  };
}
