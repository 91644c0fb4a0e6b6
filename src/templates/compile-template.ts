import type Handlebars from "handlebars";
import { analyzeTemplate } from "./analyze.js";
import type { Program } from "./ast.js";
import { type DirectRead, directRead, readPath } from "./direct-read.js";
import { compileProgram } from "./environment.js";
import { positionOf, TemplateError, TemplateRenderError, TemplateSyntaxError } from "./errors.js";
import { parseTemplate } from "./parse.js";
import { type RenderState, STATE_KEY } from "./render-state.js";
import { rewriteTemplate } from "./transform.js";

export interface RenderOptions {
  /** Per-binding seed for `password`/`uuid`; the same seed gives the same values. */
  seed?: string;
  /** Secrets fetched from Cloudify before rendering, by key (see `secretKeys`). */
  secrets?: Readonly<Record<string, string>>;
}

export interface CompileOptions {
  /** Names the template in errors (e.g. "plans.small.inputs.db_name") and keys password derivation. */
  name: string;
}

export interface CompiledTemplate {
  readonly name: string;
  /**
   * True for a template that is one mustache expression (plus whitespace/comments): render returns the
   * expression's value with its type. Otherwise render returns a string.
   */
  readonly typed: boolean;
  /**
   * Variable paths the template reads, e.g. "parameters.db_name", resolved from the root through #each
   * ("parameters.list.*.name") and #with; "@root.x" is reported as "x". Paths relative to a block context
   * that could not be resolved start with "this." (see isRelativeReference).
   */
  readonly references: string[];
  /** Literal keys passed to `secret`: fetch these before rendering. */
  readonly secretKeys: string[];
  /** Uses `password`/`uuid`, so rendering needs a seed. */
  readonly usesSeed: boolean;
  render(context: object, options?: RenderOptions): unknown;
}

/** Renders a compiled template; all per-render state is in one small object passed as Handlebars data. */
class HandlebarsTemplate implements CompiledTemplate {
  constructor(
    readonly name: string,
    readonly typed: boolean,
    readonly references: string[],
    readonly secretKeys: string[],
    readonly usesSeed: boolean,
    private readonly delegate: Handlebars.TemplateDelegate | undefined,
    /** Text of a template without any mustache: nothing to evaluate. */
    private readonly constant: string,
    /** Single-variable template read without Handlebars (direct-read.ts): its path and its text. */
    private readonly direct?: DirectRead,
  ) {}

  render(context: object, options: RenderOptions = {}): unknown {
    if (context === null || typeof context !== "object") {
      throw new TypeError(`template "${this.name}": render context must be an object`);
    }
    if (this.direct) {
      const value = readPath(context, this.direct.parts);
      if (value === undefined) {
        const variable = this.direct.variable;
        throw new TemplateRenderError(this.name, `variable "${variable}" is not set`, { variable });
      }
      return value;
    }
    if (!this.delegate) return this.constant;
    const state: RenderState = {
      template: this.name,
      seed: options.seed,
      secrets: options.secrets,
      captured: undefined,
      occurrences: undefined,
    };
    let text: string;
    try {
      // `root` set up front makes Handlebars use this object as the data frame instead of copying it.
      text = this.delegate(context, { data: { root: context, [STATE_KEY]: state } });
    } catch (error) {
      if (error instanceof TemplateError) throw error;
      // Handlebars' and JavaScript's own messages describe code paths, not values.
      const message = error instanceof Error ? error.message : "unknown error";
      throw new TemplateRenderError(this.name, `rendering failed: ${message}`, {}, { cause: error });
    }
    return this.typed ? state.captured : text;
  }
}

function constantText(program: Program): string | undefined {
  let text = "";
  for (const statement of program.body) {
    if (statement.type === "ContentStatement") text += statement.value;
    else if (statement.type !== "CommentStatement") return undefined;
  }
  return text;
}

/**
 * Parses, validates, analyses and compiles a template once; the result renders without parsing.
 * Throws TemplateSyntaxError with a 1-based line/column inside `source`.
 */
export function compileTemplate(source: string, options: CompileOptions): CompiledTemplate {
  const name = options.name;
  if (typeof source !== "string") throw new TypeError(`template "${name}": source must be a string`);
  const program = parseTemplate(source, name);
  const analysis = analyzeTemplate(program, name);
  const { references, secretKeys } = analysis;
  const usesSeed = analysis.seededCalls.length > 0;

  const constant = constantText(program);
  if (constant !== undefined) {
    return new HandlebarsTemplate(name, false, references, secretKeys, usesSeed, undefined, constant);
  }
  const direct = directRead(analysis);
  if (direct) {
    return new HandlebarsTemplate(name, true, references, secretKeys, usesSeed, undefined, "", direct);
  }
  const rewritten = rewriteTemplate(program, analysis);
  let delegate: Handlebars.TemplateDelegate;
  try {
    delegate = compileProgram(rewritten.program);
  } catch (error) {
    // Analysis should reject everything the code generator would; this keeps an escape typed and located.
    const loc = (error as { lineNumber?: unknown; column?: unknown }) ?? {};
    const position =
      typeof loc.lineNumber === "number" && typeof loc.column === "number"
        ? { line: loc.lineNumber, column: loc.column + 1 }
        : positionOf(undefined);
    const message = error instanceof Error ? error.message : "unknown error";
    throw new TemplateSyntaxError(name, `cannot compile: ${message}`, position, undefined, { cause: error });
  }
  return new HandlebarsTemplate(name, rewritten.typed, references, secretKeys, usesSeed, delegate, "");
}
