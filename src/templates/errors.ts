import type { SourceLocation } from "./ast.js";

/** A position inside a template's own source text; both numbers are 1-based. */
export interface TemplatePosition {
  line: number;
  column: number;
}

/** Path of a leaf inside a value tree (object keys and array indexes), for mapping back to the config file. */
export type ValuePath = readonly (string | number)[];

/** Base class so callers can catch every template problem with one `instanceof`. */
export class TemplateError extends Error {
  readonly templateName: string;
  /** The problem in plain English, without the template name or position prefix. */
  readonly reason: string;

  constructor(templateName: string, reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.templateName = templateName;
    this.reason = reason;
  }
}

/**
 * The template cannot be compiled. `line`/`column` are relative to the template source (not the file it came
 * from), so the config layer can offset them by where the template starts in the YAML document.
 */
export class TemplateSyntaxError extends TemplateError {
  readonly line: number;
  readonly column: number;
  /** Set by compileValueTree: where the failing leaf sits in the tree. */
  readonly valuePath: ValuePath | undefined;

  constructor(
    templateName: string,
    reason: string,
    position: TemplatePosition,
    valuePath?: ValuePath,
    options?: ErrorOptions,
  ) {
    super(
      templateName,
      reason,
      `template "${templateName}" line ${position.line}, column ${position.column}: ${reason}`,
      options,
    );
    this.line = position.line;
    this.column = position.column;
    this.valuePath = valuePath;
  }
}

export interface RenderErrorDetails {
  /** The variable path as written in the template, when a variable was missing or unusable. */
  variable?: string;
  /** The secret key that was not available (the key only; values never appear in errors). */
  secretKey?: string;
  /** The helper that failed. */
  helper?: string;
}

/**
 * Rendering failed. Messages name templates, variables, helpers and secret keys, never rendered values or
 * secret values: these errors are logged and may be returned to platform users.
 */
export class TemplateRenderError extends TemplateError {
  readonly variable: string | undefined;
  readonly secretKey: string | undefined;
  readonly helper: string | undefined;

  constructor(
    templateName: string,
    reason: string,
    details: RenderErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super(templateName, reason, `template "${templateName}": ${reason}`, options);
    this.variable = details.variable;
    this.secretKey = details.secretKey;
    this.helper = details.helper;
  }
}

/** Converts a Handlebars AST location (1-based line, 0-based column) to a user-facing 1-based position. */
export function positionOf(loc: SourceLocation | undefined): TemplatePosition {
  if (!loc) return { line: 1, column: 1 };
  return { line: loc.start.line, column: loc.start.column + 1 };
}
