import {
  type BlockStatement,
  type CallNode,
  type Expression,
  type Hash,
  isScoped,
  isSimpleName,
  type MustacheStatement,
  type PathExpression,
  type Program,
  type SourceLocation,
  type Statement,
} from "./ast.js";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "./derive.js";
import { positionOf, type TemplatePosition, TemplateSyntaxError } from "./errors.js";
import { HELPERS, type HelperSpec } from "./helpers.js";
import { INTERNAL_PREFIX } from "./internal-helpers.js";

/**
 * Compile-time validation and static analysis of a parsed template, in one walk:
 * - rejects what the engine does not support (partials, decorators, unknown helpers, wrong arity, a
 *   computed `secret` key, prototype-reaching path segments) with the position inside the template;
 * - collects the variable paths read (`references`) and the literal secret keys (`secretKeys`);
 * - classifies every mustache as a plain variable read or a helper call, and lists seeded helper calls,
 *   for the rewrite in transform.ts, so both passes agree on Handlebars' name resolution rules.
 */

/** Marks references relative to a block context the analysis could not resolve to the root. */
export const RELATIVE_REFERENCE_PREFIX = "this";

export function isRelativeReference(reference: string): boolean {
  return reference === RELATIVE_REFERENCE_PREFIX || reference.startsWith(`${RELATIVE_REFERENCE_PREFIX}.`);
}

/** Path segment standing for "any element" of a list (or any value of an object) iterated by #each. */
export const ANY_ELEMENT = "*";

export interface Analysis {
  references: string[];
  /** Where each reference is first read (1-based line and column in the template). */
  referencePositions: Map<string, TemplatePosition>;
  secretKeys: string[];
  /** Mustaches that read a variable directly (undefined is an error at render time). */
  plainVariables: Set<MustacheStatement>;
  /** password/uuid calls in source order (a template with any needs a seed to render). */
  seededCalls: CallNode[];
  /** The only mustache of a template that consists of it plus whitespace/comments. */
  singleExpression: MustacheStatement | undefined;
}

// Data variables Handlebars provides to templates. Anything else under @ is refused: render-time engine
// state lives in the data frame and must stay out of reach.
const DATA_VARIABLES = new Set(["root", "index", "key", "first", "last"]);

// The same names Handlebars' prototype-access control denies; refused in paths and literal lookup keys so
// the author gets a compile error instead of a silently undefined value.
const FORBIDDEN_SEGMENTS = new Set([
  "__proto__",
  "constructor",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
]);

/** Where a block's context (or a block parameter) points: a path from the root, or unknown. */
type Base = readonly string[] | null;

type Binding = { kind: "value"; base: Base } | { kind: "meta" };

type Resolved = { kind: "root" | "relative"; parts: readonly string[] } | { kind: "meta" };

type CallPosition = "inline" | "subexpression" | "block";

class Analyzer {
  /** Each reference read, with where it is first read; insertion order is reading order. */
  private readonly referencePositions = new Map<string, TemplatePosition>();
  private readonly secretKeys = new Set<string>();
  private readonly plainVariables = new Set<MustacheStatement>();
  private readonly seededCalls: CallNode[] = [];
  /** Context bases; only #each and #with change the context (what `../` counts). */
  private readonly contexts: Base[] = [[]];
  /** Block parameter scopes, innermost last. */
  private readonly blockParams: Map<string, Binding>[] = [];

  constructor(private readonly templateName: string) {}

  run(program: Program): Analysis {
    this.program(program);
    return {
      references: [...this.referencePositions.keys()],
      referencePositions: this.referencePositions,
      secretKeys: [...this.secretKeys],
      plainVariables: this.plainVariables,
      seededCalls: this.seededCalls,
      singleExpression: singleExpressionOf(program),
    };
  }

  private error(loc: SourceLocation | undefined, reason: string): TemplateSyntaxError {
    return new TemplateSyntaxError(this.templateName, reason, positionOf(loc));
  }

  private program(program: Program): void {
    for (const statement of program.body) this.statement(statement);
  }

  private statement(statement: Statement): void {
    switch (statement.type) {
      case "ContentStatement":
      case "CommentStatement":
        return;
      case "MustacheStatement":
        this.mustache(statement);
        return;
      case "BlockStatement":
        this.block(statement);
        return;
      case "PartialStatement":
      case "PartialBlockStatement":
        throw this.error(statement.loc, "partials ({{> name}}) are not supported");
      case "Decorator":
      case "DecoratorBlock":
        throw this.error(statement.loc, "decorators ({{* name}}) are not supported");
      default:
        throw this.error((statement as Statement).loc, "unsupported template construct");
    }
  }

  private mustache(node: MustacheStatement): void {
    const callee = this.callee(node);
    const helper = this.helperNamed(callee);
    if (!helper && node.params.length === 0 && !node.hash) {
      this.plainVariables.add(node);
      this.variable(callee);
      return;
    }
    this.call(node, callee, helper, "inline");
  }

  private block(node: BlockStatement): void {
    const callee = this.callee(node);
    const helper = this.helperNamed(callee);
    this.call(node, callee, helper, "block");
    const name = callee.parts[0];
    const declared = node.program?.blockParams ?? [];
    const max = helper?.maxBlockParams ?? 0;
    if (declared.length > max) {
      throw this.error(
        node.loc,
        max === 0
          ? `{{#${name}}} does not provide block parameters`
          : `{{#${name}}} provides at most ${max} block parameter${max === 1 ? "" : "s"}`,
      );
    }
    for (const param of declared) {
      if (param.startsWith(INTERNAL_PREFIX)) {
        throw this.error(node.loc, `block parameter names must not start with "${INTERNAL_PREFIX}"`);
      }
    }

    if (name === "each" || name === "with") {
      const target = this.baseOf(node.params[0]);
      const inner: Base = target === null ? null : name === "each" ? [...target, ANY_ELEMENT] : target;
      const bindings = new Map<string, Binding>();
      declared.forEach((param, i) => {
        bindings.set(param, i === 0 ? { kind: "value", base: inner } : { kind: "meta" });
      });
      this.contexts.push(inner);
      this.blockParams.push(bindings);
      if (node.program) this.program(node.program);
      this.blockParams.pop();
      this.contexts.pop();
    } else if (node.program) {
      this.program(node.program);
    }
    // {{else}} runs in the enclosing context for every block helper.
    if (node.inverse) this.program(node.inverse);
  }

  /** The expression naming what a mustache/block/sub-expression calls, which must be a path. */
  private callee(node: CallNode): PathExpression {
    if (node.path.type !== "PathExpression") {
      throw this.error(
        node.path.loc ?? node.loc,
        "a literal cannot stand alone in {{ }}; write the value without braces or pass it to a helper",
      );
    }
    return node.path;
  }

  /** The helper a path names, following Handlebars: block parameters shadow helpers. */
  private helperNamed(path: PathExpression): HelperSpec | undefined {
    if (!isSimpleName(path)) return undefined;
    const name = path.parts[0] as string;
    if (this.blockParam(name)) return undefined;
    return HELPERS.get(name);
  }

  private call(
    node: CallNode,
    callee: PathExpression,
    helper: HelperSpec | undefined,
    position: CallPosition,
  ): void {
    const written = callee.original;
    if (!helper) {
      throw this.error(
        callee.loc ?? node.loc,
        isSimpleName(callee)
          ? `unknown helper "${written}"`
          : `"${written}" is not a helper; only helpers take arguments or open blocks`,
      );
    }
    if (position === "block" && !helper.block) {
      throw this.error(
        callee.loc ?? node.loc,
        `helper "${written}" cannot open a block; write {{${written} ...}}`,
      );
    }
    if (position !== "block" && helper.block) {
      throw this.error(
        callee.loc ?? node.loc,
        `"${written}" is a block helper; write {{#${written} ...}}...{{/${written}}}`,
      );
    }
    this.checkArity(node, callee, helper);
    this.checkHash(node.hash, helper);
    if (helper.name === "secret") this.secret(node);
    if (helper.name === "password") this.passwordLength(node);
    if (helper.seeded) this.seededCalls.push(node);

    for (const param of node.params) this.expression(param);
    for (const pair of node.hash?.pairs ?? []) this.expression(pair.value);
    if (helper.name === "lookup") this.lookup(node);
  }

  private checkArity(node: CallNode, callee: PathExpression, helper: HelperSpec): void {
    const count = node.params.length;
    if (count >= helper.minArgs && count <= helper.maxArgs) return;
    const expected =
      helper.maxArgs === helper.minArgs
        ? `${helper.minArgs} argument${helper.minArgs === 1 ? "" : "s"}`
        : helper.maxArgs === Number.POSITIVE_INFINITY
          ? `at least ${helper.minArgs} arguments`
          : `${helper.minArgs} to ${helper.maxArgs} arguments`;
    // A bare {{json}} is a helper call in Handlebars, which surprises authors who meant a variable.
    const hint =
      count === 0 && node.type === "MustacheStatement"
        ? ` (to read a variable named "${helper.name}", write {{this.${helper.name}}})`
        : "";
    const extra = node.params[helper.maxArgs];
    throw this.error(
      count > helper.maxArgs ? (extra?.loc ?? node.loc) : (callee.loc ?? node.loc),
      `helper "${helper.name}" takes ${expected}, got ${count}${hint}`,
    );
  }

  private checkHash(hash: Hash | undefined, helper: HelperSpec): void {
    for (const pair of hash?.pairs ?? []) {
      if (!helper.hashKeys.includes(pair.key)) {
        throw this.error(
          pair.loc ?? hash?.loc,
          helper.hashKeys.length === 0
            ? `helper "${helper.name}" takes no named arguments`
            : `helper "${helper.name}" accepts only the named argument${helper.hashKeys.length === 1 ? "" : "s"} ${helper.hashKeys.join(", ")}`,
        );
      }
    }
  }

  private secret(node: CallNode): void {
    const key = node.params[0];
    if (key?.type !== "StringLiteral") {
      throw this.error(
        key?.loc ?? node.loc,
        'the key of "secret" must be a quoted literal such as {{secret "db_password"}}: secrets are fetched before rendering, so the key cannot be computed',
      );
    }
    if (key.value === "") throw this.error(key.loc, 'the key of "secret" must not be empty');
    this.secretKeys.add(key.value);
  }

  private passwordLength(node: CallNode): void {
    const length = node.params[0];
    if (!length || length.type === "PathExpression" || length.type === "SubExpression") return;
    if (
      length.type !== "NumberLiteral" ||
      !Number.isInteger(length.value) ||
      length.value < PASSWORD_MIN_LENGTH ||
      length.value > PASSWORD_MAX_LENGTH
    ) {
      throw this.error(
        length.loc ?? node.loc,
        `password length must be an integer from ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH}`,
      );
    }
  }

  /** `lookup x "key"` with a literal key reads x.key, which is worth reporting as such. */
  private lookup(node: CallNode): void {
    const [object, key] = node.params;
    if (key?.type !== "StringLiteral") return;
    if (FORBIDDEN_SEGMENTS.has(key.value)) {
      throw this.error(key.loc, `"${key.value}" cannot be looked up`);
    }
    if (object?.type !== "PathExpression") return;
    const resolved = this.resolve(object);
    if (resolved.kind !== "meta")
      this.addReference({ kind: resolved.kind, parts: [...resolved.parts, key.value] }, object.loc);
  }

  private expression(expression: Expression): void {
    if (expression.type === "PathExpression") {
      this.variable(expression);
    } else if (expression.type === "SubExpression") {
      const callee = this.callee(expression);
      this.call(expression, callee, this.helperNamed(callee), "subexpression");
    }
  }

  private variable(path: PathExpression): void {
    for (const part of path.parts) {
      if (FORBIDDEN_SEGMENTS.has(part)) {
        throw this.error(path.loc, `path segment "${part}" is not allowed`);
      }
    }
    this.addReference(this.resolve(path), path.loc);
  }

  private addReference(resolved: Resolved, loc: SourceLocation | undefined): void {
    if (resolved.kind === "meta") return;
    let reference: string;
    if (resolved.kind === "relative") reference = [RELATIVE_REFERENCE_PREFIX, ...resolved.parts].join(".");
    // Reading the whole root context (`{{json this}}`) names no particular variable.
    else if (resolved.parts.length > 0) reference = resolved.parts.join(".");
    else return;
    if (!this.referencePositions.has(reference)) this.referencePositions.set(reference, positionOf(loc));
  }

  private blockParam(name: string): Binding | undefined {
    for (let i = this.blockParams.length - 1; i >= 0; i--) {
      const binding = this.blockParams[i]?.get(name);
      if (binding) return binding;
    }
    return undefined;
  }

  /** Resolves a path as Handlebars would at render time, relative to the root where possible. */
  private resolve(path: PathExpression): Resolved {
    if (path.data) {
      const [head = "", ...rest] = path.parts;
      if (!DATA_VARIABLES.has(head)) {
        throw this.error(
          path.loc,
          `unknown data variable "@${head}"; available: @root, @index, @key, @first, @last`,
        );
      }
      return head === "root" ? { kind: "root", parts: rest } : { kind: "meta" };
    }
    if (path.depth === 0 && !isScoped(path) && path.parts.length > 0) {
      const binding = this.blockParam(path.parts[0] as string);
      if (binding) {
        if (binding.kind === "meta") return { kind: "meta" };
        return extend(binding.base, path.parts.slice(1));
      }
    }
    // `../` past the root reads nothing in Handlebars; treating it as the root keeps the reference visible.
    const index = Math.max(0, this.contexts.length - 1 - path.depth);
    const base = this.contexts[index];
    return extend(base === undefined ? [] : base, path.parts);
  }

  /** The base a block argument gives its body; unknown for computed values. */
  private baseOf(expression: Expression | undefined): Base {
    if (expression?.type !== "PathExpression") return null;
    const resolved = this.resolve(expression);
    return resolved.kind === "root" ? resolved.parts : null;
  }
}

function extend(base: Base, parts: readonly string[]): Resolved {
  return base === null ? { kind: "relative", parts } : { kind: "root", parts: [...base, ...parts] };
}

function singleExpressionOf(program: Program): MustacheStatement | undefined {
  let found: MustacheStatement | undefined;
  for (const statement of program.body) {
    if (statement.type === "CommentStatement") continue;
    if (statement.type === "ContentStatement" && statement.value.trim() === "") continue;
    if (statement.type !== "MustacheStatement" || found) return undefined;
    found = statement;
  }
  return found;
}

export function analyzeTemplate(program: Program, templateName: string): Analysis {
  return new Analyzer(templateName).run(program);
}
