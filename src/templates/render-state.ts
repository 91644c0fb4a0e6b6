import { TemplateRenderError } from "./errors.js";

/**
 * Per-render state. It travels in Handlebars' `data` frame (copied by reference into the frames `#each` and
 * `#with` create), not in the template context, so template paths cannot reach it: the analyzer only allows
 * the data variables @root, @index, @key, @first and @last.
 */
export interface RenderState {
  readonly template: string;
  readonly seed: string | undefined;
  readonly secrets: Readonly<Record<string, string>> | undefined;
  /** The raw value of a single-expression template, stored by the capture helper. */
  captured: unknown;
}

export const STATE_KEY = "__cfyTemplateState";

/** The part of Handlebars' helper options object the helpers use. */
export interface HelperOptions {
  data?: Record<string, unknown>;
  hash?: Record<string, unknown>;
}

export function stateOf(options: HelperOptions): RenderState {
  const state = options.data?.[STATE_KEY] as RenderState | undefined;
  // Only reachable if a compiled delegate were invoked without going through CompiledTemplate.render.
  if (!state) throw new Error("template helper called outside CompiledTemplate.render");
  return state;
}

export function helperError(
  options: HelperOptions,
  helper: string,
  reason: string,
  extra: { variable?: string; secretKey?: string } = {},
): TemplateRenderError {
  return new TemplateRenderError(stateOf(options).template, `helper "${helper}": ${reason}`, {
    helper,
    ...extra,
  });
}
