import { derivePassword, deriveUuid, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "./derive.js";
import { type HelperOptions, helperError, stateOf } from "./render-state.js";

/**
 * Template helpers.
 *
 *   default value fallback...  first argument that is not undefined, null or "" (the last one otherwise);
 *                              this is how optional parameters are written: {{default parameters.size 3}}
 *   json value                 JSON text of value (undefined gives "null")
 *   urlencode text             encodeURIComponent, for values placed in URLs (passwords in connection URIs)
 *   base64 text                UTF-8 text to standard base64
 *   base64decode text          base64 (standard or URL-safe, padding optional) to UTF-8 text; error if invalid
 *   lower text / upper text    case conversion
 *   concat value...            all arguments as text, joined without separator
 *   int value                  integer from a number (truncated) or decimal integer text
 *   number value               number from a number or numeric text
 *   bool value                 boolean from a boolean, number (non-zero) or true/false/yes/no/on/off/1/0/""
 *   eq a b / ne a b            strict (===) comparison; "3" and 3 differ
 *   and a b... / or a b...     boolean; falsy means undefined, null, false, 0, NaN, "" or an empty list
 *   not value                  boolean negation with the same falsiness
 *   secret "key"               value of a Cloudify secret; the key must be a quoted literal because secrets
 *                              are fetched before the synchronous render (CompiledTemplate.secretKeys)
 *   password n [name]          n letters and digits (8..128, at least one lower, upper and digit), derived
 *                              from the per-binding seed: one value per binding, length and name, wherever
 *                              it is written (workflow parameters and credentials agree)
 *   uuid [name]                UUID derived from the per-binding seed, like password
 *   lookup object key          Handlebars built-in: object[key] with a computed key (own properties only)
 *   #if / #unless value        Handlebars built-ins; optional includeZero=true
 *   #each list / #with object  Handlebars built-ins; block parameters `as |item index|` / `as |value|`
 *
 * String helpers treat undefined and null as "" (a missing argument is allowed, like in #if); int and number
 * reject them because a silently invented number is worse than an error. No helper puts argument values into
 * error messages, since arguments may be secrets.
 */

export interface HelperDoc {
  name: string;
  usage: string;
  description: string;
  /** Used as `{{#name}}…{{/name}}` rather than inline. */
  block: boolean;
}

export interface HelperSpec extends HelperDoc {
  minArgs: number;
  maxArgs: number;
  /** Named arguments the helper accepts. */
  hashKeys: readonly string[];
  /** Block parameters the block helper provides (`as |a b|`). */
  maxBlockParams: number;
  /** Needs the per-binding seed. */
  seeded: boolean;
  /** Implementation; absent for the Handlebars built-ins. */
  fn?: (...args: never[]) => unknown;
}

// Handlebars passes its options object as the last argument of every helper call.
function splitOptions(args: unknown[]): [unknown[], HelperOptions] {
  const options = args[args.length - 1] as HelperOptions;
  return [args.slice(0, -1), options];
}

/** Falsiness of Handlebars' #if, so `and`/`or`/`not` agree with blocks. */
export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function toText(value: unknown, helper: string, options: HelperOptions): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  throw helperError(options, helper, `expects text, got ${describeType(value)}`);
}

const TRUE_WORDS = new Set(["true", "yes", "on", "1"]);
const FALSE_WORDS = new Set(["false", "no", "off", "0", ""]);
const BASE64 = /^(?:[A-Za-z0-9+/]|[A-Za-z0-9_-])*={0,2}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function defaultHelper(...args: unknown[]): unknown {
  const [values] = splitOptions(args);
  for (let i = 0; i < values.length - 1; i++) {
    const value = values[i];
    if (value !== undefined && value !== null && value !== "") return value;
  }
  return values[values.length - 1];
}

function jsonHelper(value: unknown, options: HelperOptions): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    throw helperError(options, "json", "value cannot be converted to JSON (circular or a bigint)");
  }
}

function urlencodeHelper(value: unknown, options: HelperOptions): string {
  try {
    return encodeURIComponent(toText(value, "urlencode", options));
  } catch (error) {
    if (error instanceof URIError) throw helperError(options, "urlencode", "text is not valid Unicode");
    throw error;
  }
}

function base64Helper(value: unknown, options: HelperOptions): string {
  return Buffer.from(toText(value, "base64", options), "utf8").toString("base64");
}

function base64decodeHelper(value: unknown, options: HelperOptions): string {
  // Line breaks are common in stored base64 (PEM-style wrapping), so whitespace is ignored.
  const text = toText(value, "base64decode", options).replace(/\s+/g, "");
  if (!BASE64.test(text) || text.replace(/=+$/, "").length % 4 === 1) {
    throw helperError(options, "base64decode", "value is not valid base64");
  }
  try {
    return utf8.decode(Buffer.from(text, "base64"));
  } catch {
    throw helperError(options, "base64decode", "decoded bytes are not UTF-8 text");
  }
}

function lowerHelper(value: unknown, options: HelperOptions): string {
  return toText(value, "lower", options).toLowerCase();
}

function upperHelper(value: unknown, options: HelperOptions): string {
  return toText(value, "upper", options).toUpperCase();
}

function concatHelper(...args: unknown[]): string {
  const [values, options] = splitOptions(args);
  let out = "";
  for (const value of values) out += toText(value, "concat", options);
  return out;
}

function intHelper(value: unknown, options: HelperOptions): number {
  let result: number | undefined;
  if (typeof value === "number" && Number.isFinite(value)) result = Math.trunc(value);
  else if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)) result = Number(value);
  if (result === undefined) {
    if (value === undefined || value === null) throw helperError(options, "int", "value is not set");
    throw helperError(options, "int", `cannot convert ${describeType(value)} to an integer`);
  }
  if (!Number.isSafeInteger(result))
    throw helperError(options, "int", "value is outside the safe integer range");
  // Normalise -0 from Math.trunc(-0.5) so JSON output is "0".
  return result === 0 ? 0 : result;
}

function numberHelper(value: unknown, options: HelperOptions): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "") {
    const result = Number(value);
    if (Number.isFinite(result)) return result;
  }
  if (value === undefined || value === null) throw helperError(options, "number", "value is not set");
  throw helperError(options, "number", `cannot convert ${describeType(value)} to a number`);
}

function boolHelper(value: unknown, options: HelperOptions): boolean {
  if (typeof value === "boolean") return value;
  if (value === undefined || value === null) return false;
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  if (typeof value === "string") {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw helperError(options, "bool", "text is not one of true/false/yes/no/on/off/1/0");
  }
  throw helperError(options, "bool", `cannot convert ${describeType(value)} to a boolean`);
}

function eqHelper(a: unknown, b: unknown): boolean {
  return a === b;
}

function neHelper(a: unknown, b: unknown): boolean {
  return a !== b;
}

function andHelper(...args: unknown[]): boolean {
  const [values] = splitOptions(args);
  return values.every(isTruthy);
}

function orHelper(...args: unknown[]): boolean {
  const [values] = splitOptions(args);
  return values.some(isTruthy);
}

function notHelper(value: unknown): boolean {
  return !isTruthy(value);
}

function secretHelper(key: unknown, options: HelperOptions): string {
  const secrets = stateOf(options).secrets;
  // The analyzer guarantees a string literal key.
  const name = String(key);
  if (secrets === undefined || !Object.hasOwn(secrets, name)) {
    throw helperError(options, "secret", `secret "${name}" is not available`, { secretKey: name });
  }
  return secrets[name] as string;
}

function seedOf(options: HelperOptions, helper: string): string {
  const seed = stateOf(options).seed;
  if (typeof seed !== "string" || seed === "") {
    throw helperError(options, helper, "needs a per-binding seed (render option `seed`), none was given");
  }
  return seed;
}

/** The optional name that asks for another of the binding's values; "" is its default one. */
function nameOf(name: unknown, options: HelperOptions, helper: string): string {
  if (name === undefined) return "";
  if (typeof name !== "string" || name === "")
    throw helperError(options, helper, "a name must be non-empty text");
  return name;
}

function passwordHelper(length: unknown, ...rest: unknown[]): string {
  const [args, options] = splitOptions(rest);
  if (
    typeof length !== "number" ||
    !Number.isInteger(length) ||
    length < PASSWORD_MIN_LENGTH ||
    length > PASSWORD_MAX_LENGTH
  ) {
    throw helperError(
      options,
      "password",
      `length must be an integer from ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH}`,
    );
  }
  return derivePassword(
    { seed: seedOf(options, "password"), name: nameOf(args[0], options, "password") },
    length,
  );
}

function uuidHelper(...rest: unknown[]): string {
  const [args, options] = splitOptions(rest);
  return deriveUuid({ seed: seedOf(options, "uuid"), name: nameOf(args[0], options, "uuid") });
}

type SpecInput = Partial<HelperSpec> & Pick<HelperSpec, "name" | "usage" | "description" | "minArgs">;

function spec(input: SpecInput): HelperSpec {
  return {
    block: false,
    maxArgs: input.minArgs,
    hashKeys: [],
    maxBlockParams: 0,
    seeded: false,
    ...input,
  };
}

const VARIADIC = Number.POSITIVE_INFINITY;

export const HELPER_SPECS: readonly HelperSpec[] = [
  spec({
    name: "default",
    usage: "default value fallback...",
    description: "first argument that is not undefined, null or empty text",
    minArgs: 2,
    maxArgs: VARIADIC,
    fn: defaultHelper,
  }),
  spec({
    name: "json",
    usage: "json value",
    description: "JSON text of the value",
    minArgs: 1,
    fn: jsonHelper,
  }),
  spec({
    name: "urlencode",
    usage: "urlencode text",
    description: "percent-encodes text for use in a URL (encodeURIComponent)",
    minArgs: 1,
    fn: urlencodeHelper,
  }),
  spec({
    name: "base64",
    usage: "base64 text",
    description: "base64 encoding of the UTF-8 text",
    minArgs: 1,
    fn: base64Helper,
  }),
  spec({
    name: "base64decode",
    usage: "base64decode text",
    description: "UTF-8 text decoded from base64",
    minArgs: 1,
    fn: base64decodeHelper,
  }),
  spec({ name: "lower", usage: "lower text", description: "lower-case text", minArgs: 1, fn: lowerHelper }),
  spec({ name: "upper", usage: "upper text", description: "upper-case text", minArgs: 1, fn: upperHelper }),
  spec({
    name: "concat",
    usage: "concat value...",
    description: "arguments joined as text",
    minArgs: 1,
    maxArgs: VARIADIC,
    fn: concatHelper,
  }),
  spec({
    name: "int",
    usage: "int value",
    description: "integer from a number or integer text",
    minArgs: 1,
    fn: intHelper,
  }),
  spec({
    name: "number",
    usage: "number value",
    description: "number from a number or numeric text",
    minArgs: 1,
    fn: numberHelper,
  }),
  spec({
    name: "bool",
    usage: "bool value",
    description: "boolean from a boolean, number or true/false/yes/no/on/off/1/0 text",
    minArgs: 1,
    fn: boolHelper,
  }),
  spec({ name: "eq", usage: "eq a b", description: "true when a === b", minArgs: 2, fn: eqHelper }),
  spec({ name: "ne", usage: "ne a b", description: "true when a !== b", minArgs: 2, fn: neHelper }),
  spec({
    name: "and",
    usage: "and a b...",
    description: "true when every argument is truthy",
    minArgs: 2,
    maxArgs: VARIADIC,
    fn: andHelper,
  }),
  spec({
    name: "or",
    usage: "or a b...",
    description: "true when any argument is truthy",
    minArgs: 2,
    maxArgs: VARIADIC,
    fn: orHelper,
  }),
  spec({
    name: "not",
    usage: "not value",
    description: "true when the value is falsy",
    minArgs: 1,
    fn: notHelper,
  }),
  spec({
    name: "secret",
    usage: 'secret "key"',
    description: "value of the Cloudify secret (key must be a quoted literal)",
    minArgs: 1,
    fn: secretHelper,
  }),
  spec({
    name: "password",
    usage: "password length [name]",
    description: `the binding's password of ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} letters and digits (one per length and name)`,
    minArgs: 1,
    maxArgs: 2,
    seeded: true,
    fn: passwordHelper,
  }),
  spec({
    name: "uuid",
    usage: "uuid [name]",
    description: "the binding's UUID (one per name)",
    minArgs: 0,
    maxArgs: 1,
    seeded: true,
    fn: uuidHelper,
  }),
  spec({
    name: "lookup",
    usage: "lookup object key",
    description: "object[key] with a computed key (own properties only)",
    minArgs: 2,
  }),
  spec({
    name: "if",
    usage: "#if value",
    description: "renders the block when the value is truthy, else the {{else}} part",
    minArgs: 1,
    block: true,
    hashKeys: ["includeZero"],
  }),
  spec({
    name: "unless",
    usage: "#unless value",
    description: "renders the block when the value is falsy",
    minArgs: 1,
    block: true,
    hashKeys: ["includeZero"],
  }),
  spec({
    name: "each",
    usage: "#each list as |item index|",
    description: "renders the block for each list item or object value",
    minArgs: 1,
    block: true,
    maxBlockParams: 2,
  }),
  spec({
    name: "with",
    usage: "#with object as |value|",
    description: "renders the block with the value as context",
    minArgs: 1,
    block: true,
    maxBlockParams: 1,
  }),
];

export const HELPERS: ReadonlyMap<string, HelperSpec> = new Map(HELPER_SPECS.map((h) => [h.name, h]));

/** Names usable in templates, for documentation and for config validation. */
export const templateHelperNames: readonly string[] = Object.freeze(HELPER_SPECS.map((h) => h.name));

/** Usage documentation of every helper. */
export const templateHelpers: readonly HelperDoc[] = Object.freeze(
  HELPER_SPECS.map(({ name, usage, description, block }) =>
    Object.freeze({ name, usage, description, block }),
  ),
);
