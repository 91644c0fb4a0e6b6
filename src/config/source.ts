import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { ConfigIssue } from "./issues.js";
import { pathToString } from "./issues.js";

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
  private readonly lineCounter: LineCounter;

  private constructor(
    readonly file: string,
    readonly text: string,
    private readonly root: Node | null,
    lineCounter: LineCounter,
  ) {
    this.lineCounter = lineCounter;
  }

  static parse(file: string, text: string): { source: ConfigSource; value: unknown; issues: ConfigIssue[] } {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
    const source = new ConfigSource(file, text, (doc.contents as Node | null) ?? null, lineCounter);
    const issues: ConfigIssue[] = [];
    for (const [severity, list] of [
      ["error", doc.errors],
      ["warning", doc.warnings],
    ] as const) {
      for (const problem of list) {
        const pos = source.positionOfOffset(problem.pos[0]);
        issues.push({ severity, file, ...pos, path: "", message: `YAML: ${firstLine(problem.message)}` });
      }
    }
    const value = issues.some((i) => i.severity === "error") ? undefined : doc.toJS({ maxAliasCount: 1000 });
    return { source, value, issues };
  }

  positionOfOffset(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  /** The YAML node at `path`, or the deepest existing ancestor when the path does not exist. */
  nodeAt(path: Path): Node | null {
    let node: Node | null = this.root;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (!pair) return node;
        node = (pair.value as Node | null) ?? (pair.key as Node);
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment] as Node | undefined;
        if (!item) return node;
        node = item;
      } else {
        return node;
      }
    }
    return node;
  }

  /** The position of the key of the entry at `path` (where an editor should point for a bad key). */
  keyPosition(path: Path): Position | undefined {
    const parent = this.nodeAt(path.slice(0, -1));
    const last = path[path.length - 1];
    if (!isMap(parent)) return undefined;
    const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(last));
    const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
    return range ? this.positionOfOffset(range[0]) : undefined;
  }

  position(path: Path): Position {
    const range = this.nodeAt(path)?.range;
    return range ? this.positionOfOffset(range[0]) : { line: 1, column: 1 };
  }

  /** Raw source text and start offset of the scalar at `path`, used to place template errors. */
  scalarSource(path: Path): { start: number; raw: string } | undefined {
    const node = this.nodeAt(path);
    if (!isScalar(node) || !node.range) return undefined;
    return { start: node.range[0], raw: this.text.slice(node.range[0], node.range[1]) };
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

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
