import type { Analysis } from "./analyze.js";
import {
  type Expression,
  type MustacheStatement,
  nullLiteral,
  type PathExpression,
  type Program,
  pathExpression,
  type Statement,
  type SubExpression,
  stringLiteral,
} from "./ast.js";
import { CAPTURE_HELPER, OUTPUT_HELPER } from "./internal-helpers.js";

/**
 * Rewrites an analysed AST (in place; it is freshly parsed and owned by the compile call) so that the
 * compiled template enforces the engine's rules at render time without re-parsing:
 *
 *   {{parameters.x}}         -> {{__cfyOut "parameters.x" "variable \"parameters.x\"" parameters.x}}
 *   {{upper parameters.x}}   -> {{__cfyOut null "helper \"upper\" ..." (upper parameters.x)}}
 *   single-expression body   -> {{__cfyCapture "parameters.x" parameters.x}}   (keeps the typed value)
 *
 * Helper arguments and block conditions are left alone: Handlebars passes a missing value there as
 * undefined, which is how optional values are written. Values only ever flow through helper arguments at
 * render time, so no rendered value is parsed as template text.
 */

function describeCall(node: MustacheStatement, name: string): string {
  const at = node.loc ? ` at line ${node.loc.start.line}, column ${node.loc.start.column + 1}` : "";
  return `the result of helper "${name}"${at}`;
}

function asSubExpression(node: MustacheStatement): SubExpression {
  return { type: "SubExpression", path: node.path, params: node.params, hash: node.hash, loc: node.loc };
}

/** [variable name or null, value expression, label for errors] per the analysis' classification. */
function operands(node: MustacheStatement, analysis: Analysis): [Expression, Expression, string] {
  const path = node.path as PathExpression;
  if (analysis.plainVariables.has(node)) {
    return [stringLiteral(path.original, node.loc), path, `variable "${path.original}"`];
  }
  return [nullLiteral(node.loc), asSubExpression(node), describeCall(node, path.original)];
}

function outputMustache(node: MustacheStatement, analysis: Analysis): MustacheStatement {
  const [variable, value, label] = operands(node, analysis);
  return {
    type: "MustacheStatement",
    path: pathExpression(OUTPUT_HELPER, node.loc),
    params: [variable, stringLiteral(label, node.loc), value],
    escaped: false,
    strip: node.strip,
    loc: node.loc,
  };
}

function captureMustache(node: MustacheStatement, analysis: Analysis): MustacheStatement {
  const [variable, value] = operands(node, analysis);
  return {
    type: "MustacheStatement",
    path: pathExpression(CAPTURE_HELPER, node.loc),
    params: [variable, value],
    escaped: false,
    strip: node.strip,
    loc: node.loc,
  };
}

function rewriteBody(program: Program, analysis: Analysis): void {
  program.body = program.body.map((statement): Statement => {
    if (statement.type === "MustacheStatement") return outputMustache(statement, analysis);
    if (statement.type === "BlockStatement") {
      if (statement.program) rewriteBody(statement.program, analysis);
      if (statement.inverse) rewriteBody(statement.inverse, analysis);
    }
    return statement;
  });
}

/** Returns the program to compile, which reports whether it yields a typed value or text. */
export function rewriteTemplate(program: Program, analysis: Analysis): { program: Program; typed: boolean } {
  const single = analysis.singleExpression;
  if (single) {
    // Whitespace and comments around the expression are dropped: the value is the expression itself.
    program.body = [captureMustache(single, analysis)];
    return { program, typed: true };
  }
  rewriteBody(program, analysis);
  return { program, typed: false };
}
