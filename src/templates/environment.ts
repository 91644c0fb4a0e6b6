import Handlebars from "handlebars";
import type { Logger } from "../log/logger.js";
import type { Program } from "./ast.js";
import { HELPER_SPECS } from "./helpers.js";
import { INTERNAL_HELPERS } from "./internal-helpers.js";

/**
 * The engine's private Handlebars instance. Handlebars.create() gives it its own helper/partial registry,
 * so nothing another module registers on the global Handlebars leaks into broker templates.
 */
const env = Handlebars.create();

// `log` writes arbitrary values (possibly secrets) to the console; templates have no use for it.
env.unregisterHelper("log");
for (const spec of HELPER_SPECS) {
  if (spec.fn) env.registerHelper(spec.name, spec.fn as Handlebars.HelperDelegate);
}
for (const [name, fn] of Object.entries(INTERNAL_HELPERS)) {
  env.registerHelper(name, fn as Handlebars.HelperDelegate);
}

/**
 * Handlebars reports some runtime problems (a denied prototype property access) through its
 * own logger, which writes plain text to the console. The server routes them into its JSON log.
 * The logger is shared by every Handlebars instance in the process.
 */
export function routeHandlebarsWarnings(log: Logger): void {
  const levels = ["debug", "info", "warn", "error"] as const;
  Handlebars.logger.log = (level: number | string, ...message: unknown[]) => {
    const index = typeof level === "number" ? level : levels.indexOf(level as (typeof levels)[number]);
    log[levels[index] ?? "warn"]({}, message.map(String).join(" "));
  };
}

/** Members of the Handlebars instance that exist at runtime but are missing from its type declarations. */
interface CompilerInternals {
  Compiler: new () => { compile(program: Program, options: object): unknown };
  JavaScriptCompiler: new () => {
    compile(environment: unknown, options: object, context: undefined, asObject: true): object;
  };
  Parser: { lexer: { yylloc?: LexerLocation; match?: string } };
}

/** jison location: 1-based lines, 0-based columns. */
export interface LexerLocation {
  first_line: number;
  first_column: number;
  last_line: number;
  last_column: number;
}

const internals = env as unknown as CompilerInternals;

const knownHelpers: Record<string, boolean> = {};
for (const name of [...HELPER_SPECS.map((h) => h.name), ...Object.keys(INTERNAL_HELPERS)]) {
  knownHelpers[name] = true;
}

function compileOptions(): object {
  // A fresh object per compile: Handlebars' compiler writes into its options (blockParams, knownHelpers).
  return {
    data: true,
    // Output is YAML/JSON values, not HTML: escaping would turn "p&ss" into "p&amp;ss".
    noEscape: true,
    // Every helper call is known after analysis, so Handlebars can call helpers directly instead of
    // resolving names against the context at render time.
    knownHelpers: { ...knownHelpers },
    knownHelpersOnly: true,
    strict: false,
    compat: false,
    preventIndent: true,
  };
}

/** Parses source into an AST with standalone/`~` whitespace control applied. Throws Handlebars' errors. */
export function parse(source: string): Program {
  return env.parse(source) as unknown as Program;
}

/** Where the lexer stopped: after a failed parse, the token the parser could not accept, and its text. */
export function lastLexerToken(): { loc: LexerLocation | undefined; text: string | undefined } {
  const lexer = internals.Parser.lexer;
  return { loc: lexer.yylloc, text: lexer.match };
}

/**
 * Compiles an AST to a render function now. Handlebars.compile() would defer code generation to the first
 * render; doing it here surfaces generator errors at config load and keeps the first request fast.
 */
export function compileProgram(program: Program): Handlebars.TemplateDelegate {
  const options = compileOptions();
  const environment = new internals.Compiler().compile(program, options);
  const spec = new internals.JavaScriptCompiler().compile(environment, options, undefined, true);
  return env.template(spec);
}
