import type { Event, ScalarEvent } from "js-yaml";
import * as jsYaml from "js-yaml";

/** A value's place in the text: where its node starts and ends (`end` known for scalars only). */
export interface Located {
  start: number;
  end?: number;
  scalar: boolean;
}

/** The locator cannot place this exactly as the `yaml` parser would: ask that parser. */
export const UNKNOWN = Symbol("unknown");
type Answer<T> = T | typeof UNKNOWN;

type EventNode =
  | { kind: "map"; start: number; keys: EventNode[]; values: EventNode[] }
  | { kind: "seq"; start: number; items: EventNode[] }
  | { kind: "scalar"; event: ScalarEvent; at?: Located; key?: string }
  | { kind: "unknown" };
type KnownNode = Exclude<EventNode, { kind: "unknown" }>;

const { EVENT_ID, SCALAR_STYLE } = jsYaml;
const KEY_SCHEMA = jsYaml.CORE_SCHEMA;

/**
 * Places values of a document that parsed cleanly (config/quick-parse.ts) from js-yaml's event
 * stream, which carries source offsets: ~90 ms for 1,000 plans where `yaml`'s document with
 * positions takes ~1.5 s. One warning about an unset variable in a large file then no longer
 * costs the whole positional parse (issue 14). It answers exactly where `yaml` would place the
 * node (its range's start, a scalar's raw text with its quotes) and UNKNOWN for what it cannot
 * place that way: block scalars (`yaml` starts them at the `|`/`>` header), empty values,
 * and documents with tags, anchors, aliases or directives; the caller then asks the `yaml` document
 * (test/config-quick-parse.test.ts compares both on generated documents).
 */
export class EventLocator {
  private constructor(
    private readonly text: string,
    private readonly root: EventNode,
  ) {}

  static build(text: string): EventLocator {
    let events: Event[];
    try {
      events = jsYaml.parseEvents(text, {});
    } catch {
      return new EventLocator(text, { kind: "unknown" });
    }
    return new EventLocator(text, treeOf(events));
  }

  /** The node at `path`, or the deepest existing ancestor (ConfigSource.nodeAt's contract). */
  nodeAt(path: readonly (string | number)[]): Answer<Located> {
    const node = this.walk(path);
    return node === UNKNOWN ? UNKNOWN : this.located(node);
  }

  /** Where the key of the entry at `path` starts; undefined when there is no such key. */
  keyStart(path: readonly (string | number)[]): Answer<number | undefined> {
    const parent = this.walk(path.slice(0, -1));
    if (parent === UNKNOWN) return UNKNOWN;
    if (parent.kind !== "map") return undefined;
    const index = this.findKey(parent, path[path.length - 1]!);
    if (index === UNKNOWN) return UNKNOWN;
    if (index < 0) return undefined;
    const at = this.located(parent.keys[index]!);
    return at === UNKNOWN ? UNKNOWN : at.start;
  }

  /** The node at `path` (or its deepest existing ancestor); never an unknown one: UNKNOWN then. */
  private walk(path: readonly (string | number)[]): Answer<KnownNode> {
    let node = this.root;
    for (const segment of path) {
      if (node.kind === "unknown") return UNKNOWN;
      if (node.kind === "map") {
        const index = this.findKey(node, segment);
        if (index === UNKNOWN) return UNKNOWN;
        if (index < 0) return node;
        node = node.values[index]!;
      } else if (node.kind === "seq" && typeof segment === "number") {
        const item = node.items[segment];
        if (!item) return node;
        node = item;
      } else {
        return node;
      }
    }
    return node.kind === "unknown" ? UNKNOWN : node;
  }

  /** The last pair whose key is `segment` (as `yaml` keeps the last of equal keys), or -1. */
  private findKey(map: Extract<EventNode, { kind: "map" }>, segment: string | number): Answer<number> {
    const wanted = String(segment);
    for (let i = map.keys.length - 1; i >= 0; i--) {
      const key = this.keyString(map.keys[i]!);
      if (key === UNKNOWN) return UNKNOWN;
      if (key === wanted) return i;
    }
    return -1;
  }

  /** A key as ConfigSource matches it in `yaml`'s document: the resolved scalar as a string. */
  private keyString(node: EventNode): Answer<string> {
    if (node.kind !== "scalar") return UNKNOWN;
    if (node.key === undefined) {
      const { event } = node;
      if (event.valueStart < 0) return UNKNOWN;
      if (event.style !== SCALAR_STYLE.PLAIN) node.key = jsYaml.getScalarValue(this.text, event);
      else {
        const value = jsYaml.load(this.text.slice(event.valueStart, event.valueEnd), { schema: KEY_SCHEMA });
        node.key = String(value);
      }
    }
    return node.key;
  }

  private located(node: EventNode): Answer<Located> {
    switch (node.kind) {
      case "map":
      case "seq":
        return { start: node.start, scalar: false };
      case "unknown":
        return UNKNOWN;
      case "scalar":
        node.at ??= this.scalarAt(node.event);
        return node.at ?? UNKNOWN;
    }
  }

  private scalarAt(event: ScalarEvent): Located | undefined {
    const { valueStart, valueEnd, style } = event;
    if (valueStart < 0) return undefined;
    if (style === SCALAR_STYLE.PLAIN) return { start: valueStart, end: valueEnd, scalar: true };
    const quote =
      style === SCALAR_STYLE.SINGLE_QUOTED ? "'" : style === SCALAR_STYLE.DOUBLE_QUOTED ? '"' : undefined;
    if (!quote || this.text[valueStart - 1] !== quote || this.text[valueEnd] !== quote) return undefined;
    return { start: valueStart - 1, end: valueEnd + 1, scalar: true };
  }
}

/** The document's tree of collections and scalars, or unknown where it has an anchor, alias, tag or directive. */
function treeOf(events: readonly Event[]): EventNode {
  const unknown: EventNode = { kind: "unknown" };
  let root: EventNode | undefined;
  let documents = 0;
  const open: EventNode[] = [];
  const attach = (node: EventNode) => {
    const parent = open[open.length - 1];
    if (!parent) root ??= node;
    else if (parent.kind === "seq") parent.items.push(node);
    else if (parent.kind === "map") {
      if (parent.keys.length === parent.values.length) parent.keys.push(node);
      else parent.values.push(node);
    }
  };
  for (const event of events) {
    switch (event.type) {
      case EVENT_ID.DOCUMENT:
        documents++;
        if (event.directives.length) return unknown;
        break;
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE: {
        if (event.tagStart >= 0 || event.anchorStart >= 0) return unknown;
        const node: EventNode =
          event.type === EVENT_ID.MAPPING
            ? { kind: "map", start: event.start, keys: [], values: [] }
            : { kind: "seq", start: event.start, items: [] };
        attach(node);
        open.push(node);
        break;
      }
      case EVENT_ID.SCALAR:
        if (event.tagStart >= 0 || event.anchorStart >= 0) return unknown;
        attach({ kind: "scalar", event });
        break;
      case EVENT_ID.ALIAS:
        return unknown;
      case EVENT_ID.POP:
        open.pop();
        break;
    }
  }
  return documents === 1 && root ? root : unknown;
}
