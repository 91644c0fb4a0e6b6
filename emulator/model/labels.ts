import { badParameters, ManagerError } from "../errors.js";
import { isPlainObject, pyRepr } from "../util.js";
import type { LabelPair } from "./blueprints.js";

/** Label lists and filter rules as MGR `rest_utils.get_labels_list` and `filters_utils` treat them. */

const KEY_RE = /^[a-zA-Z0-9._-]+$/;
const LABEL_LEN = 256;
const ALLOWED_CSYS = [
  "csys-obj-name",
  "csys-obj-description",
  "csys-obj-type",
  "csys-env-type",
  "csys-obj-parent",
  "csys-environment",
  "csys-consumer-id",
  "csys-location-name",
  "csys-location-lat",
  "csys-location-long",
  "csys-wrcp-services",
  "csys-wrcp-group-id",
];

function checkKey(key: string): string {
  if (key.length === 0 || key.length > LABEL_LEN || !KEY_RE.test(key)) {
    throw badParameters(
      `The key \`${key}\` contains illegal characters or is too long. Only letters, digits and the ` +
        "characters `-`, `.` and `_` are allowed",
    );
  }
  const lower = key.toLowerCase();
  if (lower.startsWith("csys-") && !ALLOWED_CSYS.includes(lower)) {
    throw badParameters(
      `All labels with a \`csys-\` prefix are reserved for internal use. Allowed \`csys-\` prefixed labels are: ${ALLOWED_CSYS.join(", ")}`,
    );
  }
  return lower;
}

function checkValue(value: unknown): string {
  if (typeof value !== "string") {
    throw badParameters(`The label's value \`${String(value)}\` must be a string`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (value.length === 0 || value.length > LABEL_LEN || /[\u0000-\u001f\u007f"]/.test(value)) {
    throw badParameters(
      `The label's value \`${value}\` is empty, too long or contains illegal characters (control characters or \`"\`)`,
    );
  }
  return value;
}

/** Parses the write format `[{"k": "v"}, {"k2": ["a", "b"]}]` into key/value pairs. */
export function parseLabelList(raw: unknown): LabelPair[] {
  if (raw === undefined || raw === null) return [];
  const shapeError = () => badParameters(`Labels must be a list of 1-entry dictionaries: ${pyRepr(raw)}`);
  if (!Array.isArray(raw)) throw shapeError();
  const pairs: LabelPair[] = [];
  for (const entry of raw) {
    if (!isPlainObject(entry) || Object.keys(entry).length !== 1) throw shapeError();
    const [[key, value]] = Object.entries(entry) as [[string, unknown]];
    const lowerKey = checkKey(key);
    for (const v of Array.isArray(value) ? value : [value]) {
      const pair = { key: lowerKey, value: checkValue(v) };
      if (pairs.some((p) => p.key === pair.key && p.value === pair.value)) {
        throw badParameters("You cannot define the same label twice");
      }
      pairs.push(pair);
    }
  }
  return pairs;
}

export type FilterRuleType = "label" | "attribute";
export interface FilterRule {
  key: string;
  values: string[];
  operator: string;
  type: FilterRuleType;
}

const LABEL_OPERATORS = ["any_of", "not_any_of", "is_null", "is_not_null", "is_not"];
const ATTR_OPERATORS = [
  "any_of",
  "not_any_of",
  "contains",
  "not_contains",
  "starts_with",
  "ends_with",
  "is_not_empty",
];

function invalidRule(rule: unknown, reason: string): ManagerError {
  return new ManagerError("invalid_filter_rule", `The filter rule ${pyRepr(rule)} is invalid. ${reason}`, {
    err_filter_rule: rule,
    err_reason: reason,
  });
}

export function parseFilterRules(raw: unknown, allowedAttributes: readonly string[]): FilterRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw badParameters("filter_rules must be a list");
  return raw.map((rule) => {
    if (!isPlainObject(rule)) throw invalidRule(rule, "A filter rule must be a dictionary.");
    const missing = ["key", "values", "operator", "type"].filter((k) => !(k in rule));
    if (missing.length > 0) {
      throw invalidRule(
        rule,
        "All filter rules must be dictionaries with the keys key, values, operator and type.",
      );
    }
    const { key, values, operator, type } = rule;
    if (type !== "label" && type !== "attribute") {
      throw invalidRule(rule, "Filter rule type must be one of: label, attribute.");
    }
    if (typeof key !== "string" || key.length === 0)
      throw invalidRule(rule, "The filter rule key must be a string.");
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
      throw invalidRule(rule, "The filter rule values must be a list of strings.");
    }
    const operators = type === "label" ? LABEL_OPERATORS : ATTR_OPERATORS;
    if (typeof operator !== "string" || !operators.includes(operator)) {
      throw invalidRule(
        rule,
        `The operator for filtering by ${type}s must be one of ${operators.join(", ")}.`,
      );
    }
    const valueless = ["is_null", "is_not_null", "is_not_empty"].includes(operator);
    if (valueless && values.length > 0)
      throw invalidRule(rule, `Values list must be empty for operator ${operator}.`);
    if (!valueless && values.length === 0) throw invalidRule(rule, "Values list must not be empty.");
    if (type === "attribute" && !allowedAttributes.includes(key)) {
      throw invalidRule(rule, `Allowed attributes to filter by are: ${allowedAttributes.join(", ")}.`);
    }
    return { key: type === "label" ? key.toLowerCase() : key, values: values as string[], operator, type };
  });
}

export interface Filterable {
  labels: readonly LabelPair[];
  attribute(name: string): unknown;
}

function matchLabel(rule: FilterRule, labels: readonly LabelPair[]): boolean {
  const valuesForKey = labels.filter((l) => l.key === rule.key).map((l) => l.value);
  const hit = valuesForKey.some((v) => rule.values.includes(v));
  switch (rule.operator) {
    case "any_of":
      return hit;
    case "not_any_of":
      // Items without the key match too.
      return !hit;
    case "is_not":
      // The key must be present, with none of the given values.
      return valuesForKey.length > 0 && !hit;
    case "is_null":
      return valuesForKey.length === 0;
    default:
      return valuesForKey.length > 0;
  }
}

function matchAttribute(rule: FilterRule, raw: unknown): boolean {
  const value = raw === null || raw === undefined ? "" : String(raw);
  switch (rule.operator) {
    case "any_of":
      return rule.values.includes(value);
    case "not_any_of":
      return !rule.values.includes(value);
    case "contains":
      return rule.values.some((v) => value.includes(v));
    case "not_contains":
      return !rule.values.some((v) => value.includes(v));
    case "starts_with":
      return rule.values.some((v) => value.startsWith(v));
    case "ends_with":
      return rule.values.some((v) => value.endsWith(v));
    default:
      return value !== "";
  }
}

export function matchesRules(rules: readonly FilterRule[], item: Filterable): boolean {
  return rules.every((rule) =>
    rule.type === "label" ? matchLabel(rule, item.labels) : matchAttribute(rule, item.attribute(rule.key)),
  );
}
