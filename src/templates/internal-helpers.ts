import { TemplateRenderError } from "./errors.js";
import { type HelperOptions, stateOf } from "./render-state.js";

/**
 * Helpers the AST rewrite (transform.ts) inserts. Their names start with a prefix the analyzer rejects in
 * user templates (as helpers and as block parameter names), so templates cannot call or shadow them.
 */
export const INTERNAL_PREFIX = "__cfy";
export const OUTPUT_HELPER = "__cfyOut";
export const CAPTURE_HELPER = "__cfyCapture";

function missing(options: HelperOptions, variable: string): TemplateRenderError {
  return new TemplateRenderError(stateOf(options).template, `variable "${variable}" is not set`, {
    variable,
  });
}

/**
 * `{{__cfyOut variable label value}}` replaces every mustache of a text template. `variable` is the path as
 * written when the mustache was a plain variable reference (undefined is then an error) and null for helper
 * calls. Objects and lists are refused instead of becoming "[object Object]" or "a,b" inside a credential.
 */
function outputHelper(
  variable: string | null,
  label: string,
  value: unknown,
  options: HelperOptions,
): unknown {
  if (value === undefined) {
    if (variable !== null) throw missing(options, variable);
    return "";
  }
  if (value !== null && typeof value === "object") {
    const kind = Array.isArray(value) ? "a list" : "an object";
    throw new TemplateRenderError(
      stateOf(options).template,
      `${label} is ${kind}, which cannot be placed in text; use {{json ...}} to embed it as JSON`,
      variable === null ? {} : { variable },
    );
  }
  return value;
}

/**
 * `{{__cfyCapture variable value}}` is the whole body of a single-expression template: it keeps the value
 * with its type in the render state, and the text output is ignored.
 */
function captureHelper(variable: string | null, value: unknown, options: HelperOptions): string {
  if (value === undefined && variable !== null) throw missing(options, variable);
  stateOf(options).captured = value;
  return "";
}

export const INTERNAL_HELPERS: Readonly<Record<string, (...args: never[]) => unknown>> = {
  [OUTPUT_HELPER]: outputHelper,
  [CAPTURE_HELPER]: captureHelper,
};
