import type { Program } from "./ast.js";
import { lastLexerToken, parse } from "./environment.js";
import { type TemplatePosition, TemplateSyntaxError } from "./errors.js";

/**
 * Parsing with errors a config author can act on. Handlebars reports parse errors as a plain Error whose
 * message holds jison's "Expecting 'CLOSE', ... got 'INVALID'" and an ASCII-art pointer with newlines
 * removed, so the position is taken from the lexer instead (still holding the offending token right after
 * the failed, synchronous parse) and the message is rewritten in plain English.
 */

const TOKEN_TEXT: Record<string, string> = {
  EOF: "end of template",
  CLOSE: "'}}'",
  CLOSE_UNESCAPED: "'}}}'",
  CLOSE_RAW_BLOCK: "'}}}}'",
  OPEN: "'{{'",
  OPEN_UNESCAPED: "'{{{'",
  OPEN_BLOCK: "'{{#'",
  OPEN_ENDBLOCK: "'{{/'",
  OPEN_INVERSE: "'{{^'",
  OPEN_INVERSE_CHAIN: "'{{else'",
  INVERSE: "'{{else}}'",
  OPEN_PARTIAL: "'{{>'",
  OPEN_SEXPR: "'('",
  CLOSE_SEXPR: "')'",
  OPEN_BLOCK_PARAMS: "'as |'",
  CLOSE_BLOCK_PARAMS: "'|'",
  EQUALS: "'='",
  SEP: "'.'",
  DATA: "'@'",
  ID: "a name",
  STRING: "a string",
  NUMBER: "a number",
  BOOLEAN: "a boolean",
  NULL: "null",
  UNDEFINED: "undefined",
  CONTENT: "text",
  COMMENT: "a comment",
};

function describeToken(token: string, text: string | undefined): string {
  if (token === "INVALID") return text ? `'${text}'` : "text";
  return TOKEN_TEXT[token] ?? `'${token}'`;
}

function expectation(expected: Set<string>): string {
  if (expected.has("CLOSE")) return "expected '}}'";
  if (expected.has("CLOSE_UNESCAPED")) return "expected '}}}'";
  if (expected.has("CLOSE_SEXPR")) return "expected ')'";
  if (expected.has("CLOSE_BLOCK_PARAMS")) return "expected '|'";
  if (expected.has("ID")) return "expected a name or a value";
  return "";
}

function toPosition(line: number, zeroBasedColumn: number): TemplatePosition {
  return { line, column: zeroBasedColumn + 1 };
}

function positionAt(source: string, offset: number): TemplatePosition {
  let line = 1;
  let lineStart = 0;
  const breaks = /\r\n?|\n/g;
  for (let m = breaks.exec(source); m !== null && m.index < offset; m = breaks.exec(source)) {
    line++;
    lineStart = m.index + m[0].length;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * For "end of template" errors, finds the innermost block opened and never closed, so the error points at
 * the opening tag rather than at the end of the text. A light scan of tags, skipping comments and escaped
 * mustaches; when it cannot tell, the caller falls back to the end position.
 */
function findUnclosedBlock(source: string): { name: string; position: TemplatePosition } | undefined {
  const tags = /\\\{\{|\{\{~?!--[\s\S]*?--~?\}\}|\{\{~?![\s\S]*?\}\}|\{\{~?\s*([#^/])\s*([^\s}~()]*)/g;
  const open: { name: string; offset: number }[] = [];
  for (let m = tags.exec(source); m !== null; m = tags.exec(source)) {
    const [, kind, name = ""] = m;
    if (kind === "/") {
      const index = open.map((b) => b.name).lastIndexOf(name);
      if (index >= 0) open.length = index;
    } else if (kind === "#" || (kind === "^" && name !== "")) {
      open.push({ name, offset: m.index });
    }
  }
  const last = open[open.length - 1];
  return last && { name: last.name, position: positionAt(source, last.offset) };
}

interface HandlebarsException {
  message?: unknown;
  lineNumber?: unknown;
  column?: unknown;
}

interface Problem {
  reason: string;
  position: TemplatePosition;
}

/** Errors Handlebars raises itself while building the AST (mismatched blocks, invalid paths) carry a loc. */
function fromException(error: HandlebarsException): Problem | undefined {
  if (typeof error.lineNumber !== "number" || typeof error.column !== "number") return undefined;
  const text = String(error.message).replace(/ - \d+:\d+$/, "");
  const mismatch = /^(.*) doesn't match (.*)$/.exec(text);
  const reason = mismatch
    ? `block {{#${mismatch[1]}}} is closed by {{/${mismatch[2]}}}`
    : text.replace(/^Invalid path: (.*)$/, 'invalid path "$1"');
  return { reason, position: toPosition(error.lineNumber, error.column) };
}

function fromParserError(message: string, source: string): Problem {
  const { loc, text } = lastLexerToken();
  const unexpected = /Expecting (.*), got '([^']*)'\s*$/.exec(message);
  if (unexpected) {
    const expected = new Set((unexpected[1] ?? "").split(", ").map((t) => t.replace(/'/g, "")));
    const token = unexpected[2] ?? "";
    if (token === "EOF" && expected.has("OPEN_ENDBLOCK")) {
      const block = findUnclosedBlock(source);
      if (block) return { reason: `block {{#${block.name}}} is never closed`, position: block.position };
    }
    const hint = expectation(expected);
    const reason = `unexpected ${describeToken(token, text)}`;
    const position = loc ? toPosition(loc.first_line, loc.first_column) : { line: 1, column: 1 };
    return { reason: hint ? `${reason}; ${hint}` : reason, position };
  }
  // Lexical errors and parser crashes on odd input: point just past the last token the lexer accepted.
  const position = loc ? toPosition(loc.last_line, loc.last_column) : { line: 1, column: 1 };
  return { reason: "invalid template syntax", position };
}

export function parseTemplate(source: string, name: string): Program {
  try {
    return parse(source);
  } catch (error) {
    const exception = (error ?? {}) as HandlebarsException;
    const problem = fromException(exception) ?? fromParserError(String(exception.message ?? error), source);
    throw new TemplateSyntaxError(name, problem.reason, problem.position, undefined, { cause: error });
  }
}
