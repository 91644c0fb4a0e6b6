import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import type { Alias, Node, YAMLError } from "yaml";
import { EventLocator, type Located, UNKNOWN } from "./event-locator.js";
import type { ConfigIssue } from "./issues.js";
import { pathToString } from "./issues.js";
import { parseQuickly } from "./quick-parse.js";

export type Path = (string | number)[];

export interface Position {
  line: number;
  column: number;
}

/**
 * A parsed YAML document that still knows where every value came from, so any later check
 * (schema, semantics, templates) can report `file:line:column`.
 */
export class ConfigSource {
  private constructor(
    readonly file: string,
    readonly text: string,
    /** The document with positions; parsed on first use when the value came from elsewhere. */
    private tree?: { root: Node | null },
  ) {}

  private eventLocator?: EventLocator;
  private lineStarts?: number[];

  static parse(file: string, text: string): { source: ConfigSource; value: unknown; issues: ConfigIssue[] } {
    const quick = parseQuickly(text);
    if (quick) return { source: ConfigSource.parsedElsewhere(file, text), value: quick.value, issues: [] };
    return ConfigSource.parseWithYaml(file, text);
  }

  /** The parse that reports every YAML mistake at its position (and places every value with `yaml`). */
  static parseWithYaml(
    file: string,
    text: string,
  ): { source: ConfigSource; value: unknown; issues: ConfigIssue[] } {
    const doc = parseWithPositions(text);
    const source = new ConfigSource(file, text, { root: (doc.contents as Node | null) ?? null });
    const issues: ConfigIssue[] = [];
    for (const [severity, list] of [
      ["error", syntaxErrors(text, doc.errors)],
      ["warning", doc.warnings],
    ] as const) {
      for (const problem of list) {
        const pos = source.positionOfOffset(problem.pos[0]);
        issues.push({ severity, file, ...pos, path: "", message: `YAML: ${firstLine(problem.message)}` });
      }
    }
    // A duplicate key breaks nothing else (the last one holds, as for every check below, which
    // finds keys from the end): the document is still checked, so its other errors show too.
    const broken = doc.errors.some((e) => !INDEPENDENT.has(e.code));
    if (broken) return { source, value: undefined, issues };
    const yamlError = (offset: number, message: string) =>
      issues.push({ severity: "error", file, ...source.positionOfOffset(offset), path: "", message });
    // The parser accepts an alias of an anchor never set (or set after it); building the value
    // then throws. Each is an error at the alias.
    const aliases: Alias[] = [];
    yaml().visit(doc, {
      Alias(_, alias) {
        aliases.push(alias);
      },
    });
    const unresolved = aliases.filter((alias) => !alias.resolve(doc));
    for (const alias of unresolved) {
      yamlError(
        alias.range?.[0] ?? 0,
        `YAML: *${alias.source} refers to no anchor (set &${alias.source} on a value above it)`,
      );
    }
    if (unresolved.length) return { source, value: undefined, issues };
    try {
      return { source, value: doc.toJS(TO_JS_OPTIONS), issues };
    } catch (error) {
      // Too many aliases expanded (a "billion laughs" document): at the first alias.
      yamlError(aliases[0]?.range?.[0] ?? 0, `YAML: ${firstLine((error as Error).message)}`);
      return { source, value: undefined, issues };
    }
  }

  /**
   * The source of `text` whose value was parsed elsewhere (by the quick parse, or off the event
   * loop, of the same text, finding no error or warning): positions are read only when an issue
   * needs one, and the text is parsed again with positions then.
   */
  static parsedElsewhere(file: string, text: string): ConfigSource {
    return new ConfigSource(file, text);
  }

  private positions(): { root: Node | null } {
    this.tree ??= { root: (parseWithPositions(this.text).contents as Node | null) ?? null };
    return this.tree;
  }

  /** Places values without `yaml`'s document, for a text that parsed cleanly elsewhere. */
  private events(): EventLocator | undefined {
    if (this.tree) return undefined;
    this.eventLocator ??= EventLocator.build(this.text);
    return this.eventLocator;
  }

  positionOfOffset(offset: number): Position {
    this.lineStarts ??= lineStartsOf(this.text);
    const starts = this.lineStarts;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - starts[low]! + 1 };
  }

  /** The node at `path`, or the deepest existing ancestor when the path does not exist. */
  private nodeAt(path: Path): Located | null {
    const quick = this.events()?.nodeAt(path) ?? UNKNOWN;
    if (quick !== UNKNOWN) return quick;
    const node = yamlNodeAt(this.positions().root, path);
    return node?.range ? { start: node.range[0], end: node.range[1], scalar: yaml().isScalar(node) } : null;
  }

  /** The position of the key of the entry at `path` (where an editor should point for a bad key). */
  keyPosition(path: Path): Position | undefined {
    const locator = this.events();
    const quick = locator ? locator.keyStart(path) : UNKNOWN;
    if (quick !== UNKNOWN) return quick === undefined ? undefined : this.positionOfOffset(quick);
    const parent = yamlNodeAt(this.positions().root, path.slice(0, -1));
    if (!yaml().isMap(parent)) return undefined;
    const pair = lastPairWithKey(parent, path[path.length - 1]!);
    const range = pair && yaml().isScalar(pair.key) ? pair.key.range : undefined;
    return range ? this.positionOfOffset(range[0]) : undefined;
  }

  position(path: Path): Position {
    const node = this.nodeAt(path);
    return node ? this.positionOfOffset(node.start) : { line: 1, column: 1 };
  }

  /** Raw source text and start offset of the scalar at `path`, used to place template errors. */
  scalarSource(path: Path): { start: number; raw: string } | undefined {
    const node = this.nodeAt(path);
    if (!node?.scalar || node.end === undefined) return undefined;
    return { start: node.start, raw: this.text.slice(node.start, node.end) };
  }

  issue(severity: ConfigIssue["severity"], path: Path, message: string, at?: Position): ConfigIssue {
    const pos = at ?? this.position(path);
    return {
      severity,
      file: this.file,
      line: pos.line,
      column: pos.column,
      path: pathToString(path),
      message,
    };
  }
}

let yamlModule: typeof Yaml | undefined;

/**
 * `yaml`, loaded on first use (~50 ms): a file the quick parse reads cleanly never needs it
 * (issue 14). Loaded through require, which is synchronous; its node-type checks compare
 * Symbol.for keys, so they hold whichever of its builds made a node.
 */
function yaml(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof Yaml;
  return yamlModule;
}

/** The parse every reader of broker.yaml shares (the off-thread one too: config/parse-off-thread.ts). */
export const YAML_OPTIONS = { prettyErrors: false, uniqueKeys: true, merge: true } as const;
/** toJS's options, likewise shared. */
export const TO_JS_OPTIONS = { maxAliasCount: 1000 } as const;

function parseWithPositions(text: string) {
  return yaml().parseDocument(text, YAML_OPTIONS);
}

/** Where each line starts, as `yaml`'s LineCounter counts them (after each "\n"). */
function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) starts.push(at + 1);
  return starts;
}

/** The last entry of `map` whose key is `segment` (yaml's value keeps the last of equal keys). */
function lastPairWithKey(map: Yaml.YAMLMap, segment: string | number): Yaml.Pair | undefined {
  return map.items.findLast(
    (item) => yaml().isScalar(item.key) && String(item.key.value) === String(segment),
  );
}

/** The `yaml` node at `path`, or the deepest existing ancestor when the path does not exist. */
function yamlNodeAt(root: Node | null, path: Path): Node | null {
  let node: Node | null = root;
  for (const segment of path) {
    if (yaml().isMap(node)) {
      const pair = lastPairWithKey(node, segment);
      if (!pair) return node;
      node = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (yaml().isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (!item) return node;
      node = item;
    } else {
      return node;
    }
  }
  return node;
}

/** Errors the YAML parser reports on their own, each true whatever else is wrong. */
const INDEPENDENT = new Set(["DUPLICATE_KEY"]);

type Kept = { pos: [number, number]; message: string };

/**
 * The YAML errors worth showing. After a syntax error the parser re-synchronises on the lines
 * that follow and reports each of them (a missing `]` gave 11 errors, the first a line late),
 * so only the first syntax error is kept, with independent ones (duplicate keys) before it.
 * Where the parser notices a mistake later than it was made, the error is moved to the
 * mistake, with the fix: an unclosed quote (noticed at the end of the file) or `[`/`{`
 * (noticed on the next line) where it opens; a line indented deeper than its sibling keys
 * (noticed as a multi-line key on the line above) on that line.
 */
function syntaxErrors(text: string, errors: readonly YAMLError[]): Kept[] {
  const sorted = [...errors].sort((a, b) => a.pos[0] - b.pos[0]);
  const first = sorted.findIndex((e) => !INDEPENDENT.has(e.code));
  if (first < 0) return sorted;
  const kept: Kept[] = sorted.slice(0, first);
  const syntax = sorted[first]!;
  const tokens = cstTokens(text);
  kept.push(
    unclosedQuote(tokens, syntax) ??
      unclosedFlow(tokens, syntax.pos[0]) ??
      continuedKey(text, tokens, syntax) ?? {
        pos: [lineContentStart(text, syntax.pos[0]), syntax.pos[1]],
        message: `${firstLine(syntax.message)}${hint(syntax)}`,
      },
  );
  return kept;
}

function hint(error: YAMLError): string {
  if (error.code === "TAB_AS_INDENT") return " (YAML indents with spaces only)";
  if (error.code === "MISSING_CHAR" && /quote/i.test(error.message))
    return " (a quoted string must end on a matching quote)";
  if (error.code === "MISSING_CHAR" && /sequence item/i.test(error.message))
    return " (check this line's indentation: the keys of one mapping must start at the same column)";
  if (error.code === "MULTILINE_IMPLICIT_KEY" || error.code === "BLOCK_AS_IMPLICIT_KEY")
    return " (a key without `:` after it, or an unclosed quote or bracket above)";
  if (error.code === "UNEXPECTED_TOKEN" && /flow-(seq|map)-end/.test(error.message))
    return " (it closes nothing: remove it, or add the bracket it should close)";
  if (error.code === "UNEXPECTED_TOKEN" && /scalar at node end/.test(error.message))
    return " (text after the end of a value, such as after its closing quote: quote the whole value)";
  return "";
}

/** A token of the parser's concrete syntax tree (only the fields read here). */
interface CstToken {
  type?: string;
  offset?: number;
  source?: string;
  start?: { offset: number; source: string };
  end?: { source?: string }[];
}

function cstTokens(text: string): CstToken[] {
  const out: CstToken[] = [];
  const visit = (token: unknown): void => {
    if (!token || typeof token !== "object") return;
    out.push(token as CstToken);
    for (const value of Object.values(token)) {
      if (Array.isArray(value)) for (const item of value) visit(item);
      else if (value && typeof value === "object") visit(value);
    }
  };
  for (const token of new (yaml().Parser)().parse(text)) visit(token);
  return out;
}

/**
 * An unclosed `[` or `{` opened before `before`: the innermost (last opened), which is the
 * one to close first (in `{ a: [x }` the `]` is missing, not the `}`).
 */
function unclosedFlow(tokens: readonly CstToken[], before: number): Kept | undefined {
  let found: { offset: number; source: string } | undefined;
  for (const t of tokens) {
    if (t.type !== "flow-collection" || !t.start || t.start.offset >= before) continue;
    const close = t.start.source === "[" ? "]" : "}";
    if (t.end?.some((e) => e.source === close)) continue;
    if (!found || t.start.offset > found.offset) found = t.start;
  }
  if (!found) return undefined;
  const close = found.source === "[" ? "]" : "}";
  const what = found.source === "[" ? "list" : "mapping";
  return {
    pos: [found.offset, found.offset + 1],
    message: `this ${found.source} is never closed: add ${close} where the ${what} ends (the parser noticed only on a later line)`,
  };
}

/** A quoted string the parser ran past the end of (often to the end of the file): where it opens. */
function unclosedQuote(tokens: readonly CstToken[], error: YAMLError): Kept | undefined {
  if (error.code !== "MISSING_CHAR" || !/quote/i.test(error.message)) return undefined;
  const at = error.pos[0];
  const scalar = tokens.find(
    (t) =>
      (t.type === "single-quoted-scalar" || t.type === "double-quoted-scalar") &&
      t.offset !== undefined &&
      t.source !== undefined &&
      t.offset <= at &&
      at <= t.offset + t.source.length,
  );
  if (scalar?.offset === undefined) return undefined;
  const quote = scalar.type === "single-quoted-scalar" ? "'" : '"';
  return {
    pos: [scalar.offset, scalar.offset + 1],
    message: `this ${quote} is never closed: end the string with ${quote} (a quoted string must end on a matching quote)`,
  };
}

/**
 * `name: small` followed by a key indented deeper than `name` makes one plain value of both
 * lines, which the parser rejects as a key spanning lines, at the line above: the mistake is
 * the second line's indentation.
 */
function continuedKey(text: string, tokens: readonly CstToken[], error: YAMLError): Kept | undefined {
  if (error.code !== "MULTILINE_IMPLICIT_KEY" && error.code !== "BLOCK_AS_IMPLICIT_KEY") return undefined;
  const scalar = tokens.find(
    (t) => t.type === "scalar" && t.offset === error.pos[0] && t.source?.includes("\n"),
  );
  if (scalar?.offset === undefined || scalar.source === undefined) return undefined;
  // The scalar must be a value after a key on its line, and the next line deeper than that key
  // (a key line missing its `:` also spans lines, at the same indentation: a different mistake).
  const lineStart = text.lastIndexOf("\n", scalar.offset - 1) + 1;
  const indent = lineContentStart(text, lineStart) - lineStart;
  if (lineStart + indent === scalar.offset) return undefined;
  const breakAt = scalar.source.indexOf("\n");
  const nextIndent = /^ */.exec(scalar.source.slice(breakAt + 1))?.[0].length ?? 0;
  if (nextIndent <= indent) return undefined;
  const next = scalar.offset + breakAt + 1 + nextIndent;
  return {
    pos: [next, next + 1],
    message:
      "this line is indented deeper than the key above it, so YAML reads it as part of that key's value: indent it like its sibling keys (or quote the value above if this `:` belongs to it)",
  };
}

/** Past the indentation, when `offset` is at the start of a line (a line's error, not a character's). */
function lineContentStart(text: string, offset: number): number {
  if (offset > 0 && text[offset - 1] !== "\n") return offset;
  let i = offset;
  while (text[i] === " ") i++;
  return i;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
