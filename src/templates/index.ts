/**
 * Template engine for broker.yaml: Handlebars templates that build Cloudify deployment inputs and binding
 * credentials. Compile once at config load (compileTemplate / compileValueTree), render per request.
 */
export {
  ANY_ELEMENT,
  isRelativeReference,
  RELATIVE_REFERENCE_PREFIX,
} from "./analyze.js";
export {
  type CompiledTemplate,
  type CompileOptions,
  compileTemplate,
  type RenderOptions,
} from "./compile-template.js";
export { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "./derive.js";
export { routeHandlebarsWarnings } from "./environment.js";
export {
  type RenderErrorDetails,
  TemplateError,
  type TemplatePosition,
  TemplateRenderError,
  TemplateSyntaxError,
  type ValuePath,
} from "./errors.js";
export { type HelperDoc, templateHelperNames, templateHelpers } from "./helpers.js";
export { type CompiledValueTree, compileValueTree } from "./value-tree.js";
