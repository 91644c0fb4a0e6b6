/**
 * The subset of the Handlebars 4 AST this engine reads and writes. Declared here rather than taken from
 * `@types`-style globals in handlebars' own typings because those mark optional members (hash, inverse,
 * blockParams, loc) as always present, which hides real cases from the type checker.
 */

export interface SourcePosition {
  /** 1-based line. */
  line: number;
  /** 0-based column (Handlebars' convention; converted to 1-based for users in errors.ts). */
  column: number;
}

export interface SourceLocation {
  start: SourcePosition;
  end: SourcePosition;
}

interface NodeBase {
  loc?: SourceLocation;
}

export interface StripFlags {
  open?: boolean;
  close?: boolean;
}

export interface Program extends NodeBase {
  type: "Program";
  body: Statement[];
  blockParams?: string[];
  strip?: StripFlags;
}

export interface MustacheStatement extends NodeBase {
  type: "MustacheStatement";
  path: Expression;
  params: Expression[];
  hash?: Hash;
  escaped: boolean;
  strip?: StripFlags;
}

export interface BlockStatement extends NodeBase {
  type: "BlockStatement";
  path: Expression;
  params: Expression[];
  hash?: Hash;
  program?: Program;
  inverse?: Program;
}

export interface ContentStatement extends NodeBase {
  type: "ContentStatement";
  value: string;
}

export interface CommentStatement extends NodeBase {
  type: "CommentStatement";
  value: string;
}

/** Constructs the engine rejects (partials, decorators); only their type and location are read. */
export interface UnsupportedStatement extends NodeBase {
  type: "PartialStatement" | "PartialBlockStatement" | "Decorator" | "DecoratorBlock";
}

export type Statement =
  | MustacheStatement
  | BlockStatement
  | ContentStatement
  | CommentStatement
  | UnsupportedStatement;

export interface PathExpression extends NodeBase {
  type: "PathExpression";
  data: boolean;
  depth: number;
  parts: string[];
  original: string;
}

export interface SubExpression extends NodeBase {
  type: "SubExpression";
  path: Expression;
  params: Expression[];
  hash?: Hash;
}

export interface StringLiteral extends NodeBase {
  type: "StringLiteral";
  value: string;
  original: string;
}

export interface NumberLiteral extends NodeBase {
  type: "NumberLiteral";
  value: number;
  original: number;
}

export interface BooleanLiteral extends NodeBase {
  type: "BooleanLiteral";
  value: boolean;
  original: boolean;
}

export interface NullLiteral extends NodeBase {
  type: "NullLiteral";
}

export interface UndefinedLiteral extends NodeBase {
  type: "UndefinedLiteral";
}

export type Literal = StringLiteral | NumberLiteral | BooleanLiteral | NullLiteral | UndefinedLiteral;

export type Expression = PathExpression | SubExpression | Literal;

export interface HashPair extends NodeBase {
  type: "HashPair";
  key: string;
  value: Expression;
}

export interface Hash extends NodeBase {
  type: "Hash";
  pairs: HashPair[];
}

/** Anything that calls a helper: `{{name args}}`, `(name args)`, `{{#name args}}`. */
export type CallNode = MustacheStatement | SubExpression | BlockStatement;

/** Handlebars' own rule (AST.helpers.scopedId): `this.x`, `./x`, `../x` never name a helper or block param. */
export function isScoped(path: PathExpression): boolean {
  return /^\.|this\b/.test(path.original);
}

/** Handlebars' rule for a path that may name a helper: one segment, not scoped, not a data variable. */
export function isSimpleName(path: PathExpression): boolean {
  return path.parts.length === 1 && !path.data && path.depth === 0 && !isScoped(path);
}

export function pathExpression(name: string, loc: SourceLocation | undefined): PathExpression {
  return { type: "PathExpression", data: false, depth: 0, parts: [name], original: name, loc };
}

export function stringLiteral(value: string, loc: SourceLocation | undefined): StringLiteral {
  return { type: "StringLiteral", value, original: value, loc };
}

export function numberLiteral(value: number, loc: SourceLocation | undefined): NumberLiteral {
  return { type: "NumberLiteral", value, original: value, loc };
}

export function nullLiteral(loc: SourceLocation | undefined): NullLiteral {
  return { type: "NullLiteral", loc };
}
