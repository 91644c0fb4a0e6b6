import type Handlebars from "handlebars";
import { analyzeTemplate } from "./analyze.js";
import type { Program } from "./ast.js";
import { compileProgram } from "./environment.js";
import {
  positionOf,
  TemplateError,
  type TemplatePosition,
  TemplateRenderError,
  TemplateSyntaxError,
} from "./errors.js";
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
  /** Where each of `references` is first read (1-based line and column in the source). */
  readonly referencePositions: ReadonlyMap<string, TemplatePosition>;
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
    readonly referencePositions: ReadonlyMap<string, TemplatePosition>,
    readonly secretKeys: string[],
    readonly usesSeed: boolean,
    private readonly delegate: Handlebars.TemplateDelegate | undefined,
    /** Text of a template without any mustache: nothing to evaluate. */
    private readonly constant: string,
  ) {}

  render(context: object, options: RenderOptions = {}): unknown {
    if (context === null || typeof context !== "object") {
      throw new TypeError(`template "${this.name}": render context must be an object`);
    }
    if (!this.delegate) return this.constant;
    const state: RenderState = {
      template: this.name,
      seed: options.seed,
      secrets: options.secrets,
      captured: undefined,
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
  const cached = compiledBySource.get(source);
  const parts = cached ?? compileParts(source, name);
  if (!cached) {
    if (compiledBySource.size >= MAX_CACHED_SOURCES) compiledBySource.clear();
    compiledBySource.set(source, parts);
  }
  return new HandlebarsTemplate(
    name,
    parts.typed,
    [...parts.references],
    parts.referencePositions,
    [...parts.secretKeys],
    parts.usesSeed,
    parts.delegate,
    parts.constant,
  );
}

/** What compiling a source yields, whatever the template's name (names only appear in errors). */
interface CompiledParts {
  typed: boolean;
  references: readonly string[];
  referencePositions: ReadonlyMap<string, TemplatePosition>;
  secretKeys: readonly string[];
  usesSeed: boolean;
  delegate: Handlebars.TemplateDelegate | undefined;
  constant: string;
}

/**
 * Compiled sources, shared by templates with the same text: a 1,000-plan broker.yaml repeats
 * the same few templates in every plan, and compiling each copy was 17 % of a load (issue 14).
 * Only successes are kept (errors name the template). Bounded: cleared when full, so reloads
 * of changing configs cannot grow it.
 */
const compiledBySource = new Map<string, CompiledParts>();
const MAX_CACHED_SOURCES = 10_000;

function compileParts(source: string, name: string): CompiledParts {
  const program = parseTemplate(source, name);
  const analysis = analyzeTemplate(program, name);
  const { references, referencePositions, secretKeys } = analysis;
  const usesSeed = analysis.seededCalls.length > 0;
  const base = { references, referencePositions, secretKeys, usesSeed };

  const constant = constantText(program);
  if (constant !== undefined) return { ...base, typed: false, delegate: undefined, constant };
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
  return { ...base, typed: rewritten.typed, delegate, constant: "" };
}
