import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { isPlainObject } from "../util.js";
import {
  type Constraint,
  KNOWN_TYPES,
  parseConstraints,
  type ValueSpec,
  validateValue,
} from "./constraints.js";
import { checkExpression, type ExpressionScope } from "./expressions.js";

/**
 * Loads the emulator's blueprint catalogue (the vocabulary is documented at the top of the shipped
 * `emulator/blueprints.yaml`). Everything is validated up front so a typo fails at start-up with the
 * offending path instead of surfacing as odd behaviour in the middle of a test.
 */

export interface InputDef extends ValueSpec {
  /** The declaration as written, for `plan.inputs`. */
  raw: Record<string, unknown>;
  hasDefault: boolean;
  default?: unknown;
  /** Cloudify's rule: required iff there is no default and `required` is not false. */
  required: boolean;
}

export type ParamDef = InputDef;

export interface SetEffect {
  node: string;
  /** Key path; each segment may hold `{param}` placeholders. */
  path: string[];
  expr: unknown;
}

export interface WorkflowDef {
  id: string;
  durationMs?: number;
  parameters: Record<string, ParamDef>;
  availabilityRules: { node_instances_active?: string[] } | null;
  set: SetEffect[];
  unset: Array<{ node: string; path: string[] }>;
}

export interface NodeDef {
  id: string;
  type: string;
  properties: Record<string, unknown>;
}

export interface OutputDef {
  description?: string;
  value: unknown;
}

export interface LabelPair {
  key: string;
  value: string;
}

export interface BlueprintDef {
  id: string;
  description: string | null;
  state: string;
  mainFileName: string;
  metadata: Record<string, unknown>;
  blueprintLabels: LabelPair[];
  deploymentLabels: LabelPair[];
  inputs: Record<string, InputDef>;
  outputs: Record<string, OutputDef>;
  capabilities: Record<string, OutputDef>;
  nodes: Record<string, NodeDef>;
  /** Workflows a deployment lists (install/uninstall always present). */
  workflows: Record<string, WorkflowDef>;
  /** Effects of the system `update` workflow run by deployment updates. */
  update: WorkflowDef;
  createdAt: string;
}

/** Built-in workflow parameters (MGR `types.yaml`): uninstall takes ignore_failure and recursive. */
const BUILTIN_PARAMS: Record<string, Record<string, unknown>> = {
  install: {},
  uninstall: {
    ignore_failure: { type: "boolean", default: false },
    recursive: { type: "boolean", default: false },
  },
  update: {},
};

const BLUEPRINT_KEYS = new Set([
  "id",
  "description",
  "state",
  "main_file_name",
  "metadata",
  "blueprint_labels",
  "labels",
  "inputs",
  "outputs",
  "capabilities",
  "nodes",
  "workflows",
]);
const INPUT_KEYS = new Set([
  "type",
  "item_type",
  "default",
  "description",
  "required",
  "constraints",
  "display_label",
  "hidden",
  "display",
]);
const WORKFLOW_KEYS = new Set([
  "duration_ms",
  "parameters",
  "availability_rules",
  "set",
  "unset",
  "description",
]);
const ID_RE = /^[A-Za-z0-9._~-]{1,256}$/;

export interface CatalogueSecret {
  key: string;
  value: string;
  hidden: boolean;
}

/** A catalogue file: the blueprints plus secrets the manager starts with (for `get_secret`). */
export interface Catalogue {
  blueprints: BlueprintDef[];
  secrets: CatalogueSecret[];
}

export function loadCatalogueFile(path: string): Catalogue {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read blueprints file ${path}: ${(err as Error).message}`);
  }
  // Merge keys (`<<: *anchor`) let a catalogue derive one blueprint from another.
  return parseCatalogue(parseYaml(text, { merge: true }), path);
}

/** Accepts `{blueprints: [...], secrets: [...]}` or a bare list of blueprints. */
export function parseCatalogue(doc: unknown, source = "blueprints"): Catalogue {
  const top = isPlainObject(doc) ? doc : { blueprints: doc };
  rejectUnknownKeys(top, new Set(["blueprints", "secrets", "definitions"]), source);
  const secrets = (Array.isArray(top.secrets) ? top.secrets : []).map((raw, i): CatalogueSecret => {
    const where = `${source}: secrets[${i}]`;
    const entry = expectMap(raw, where);
    rejectUnknownKeys(entry, new Set(["key", "value", "hidden"]), where);
    if (typeof entry.key !== "string" || !ID_RE.test(entry.key))
      throw new Error(`${where}: 'key' must be a valid id`);
    if (typeof entry.value !== "string" || entry.value === "")
      throw new Error(`${where}: 'value' must be a non-empty string`);
    return { key: entry.key, value: entry.value, hidden: entry.hidden === true };
  });
  return { blueprints: parseBlueprints(top.blueprints, source), secrets };
}

function parseBlueprints(list: unknown, source: string): BlueprintDef[] {
  if (!Array.isArray(list)) throw new Error(`${source}: expected a top-level 'blueprints' list`);
  const seen = new Set<string>();
  return list.map((entry, i) => {
    const bp = parseBlueprint(entry, `${source}: blueprints[${i}]`);
    if (seen.has(bp.id)) throw new Error(`${source}: duplicate blueprint id '${bp.id}'`);
    seen.add(bp.id);
    return bp;
  });
}

function expectMap(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new Error(`${where} must be a map`);
  return value;
}

function rejectUnknownKeys(map: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(map)) {
    if (!allowed.has(key)) throw new Error(`${where}: unknown key '${key}'`);
  }
}

function parseBlueprint(entry: unknown, where: string): BlueprintDef {
  const raw = expectMap(entry, where);
  rejectUnknownKeys(raw, BLUEPRINT_KEYS, where);
  const id = raw.id;
  if (typeof id !== "string" || !ID_RE.test(id)) throw new Error(`${where}: 'id' must be a valid id`);
  const at = `${where} (${id})`;

  const inputs: Record<string, InputDef> = {};
  for (const [name, def] of Object.entries(expectMap(raw.inputs, `${at}.inputs`))) {
    inputs[name] = parseValueDef(def, `${at}.inputs.${name}`, "input", name);
  }
  const nodes: Record<string, NodeDef> = {};
  for (const [nodeId, def] of Object.entries(expectMap(raw.nodes, `${at}.nodes`))) {
    const node = expectMap(def, `${at}.nodes.${nodeId}`);
    rejectUnknownKeys(node, new Set(["type", "properties"]), `${at}.nodes.${nodeId}`);
    nodes[nodeId] = {
      id: nodeId,
      type: typeof node.type === "string" ? node.type : "cloudify.nodes.Root",
      properties: expectMap(node.properties, `${at}.nodes.${nodeId}.properties`),
    };
  }
  const scope: ExpressionScope = { inputs: new Set(Object.keys(inputs)), nodes: new Set(Object.keys(nodes)) };
  const outputs = parseOutputs(raw.outputs, `${at}.outputs`, scope);
  const capabilities = parseOutputs(raw.capabilities, `${at}.capabilities`, scope);

  const declared = expectMap(raw.workflows, `${at}.workflows`);
  const workflows: Record<string, WorkflowDef> = {};
  for (const wf of ["install", "uninstall"]) {
    workflows[wf] = parseWorkflow(wf, declared[wf], `${at}.workflows.${wf}`, scope);
  }
  for (const [wf, def] of Object.entries(declared)) {
    if (wf === "install" || wf === "uninstall" || wf === "update") continue;
    workflows[wf] = parseWorkflow(wf, def, `${at}.workflows.${wf}`, scope);
  }
  const update = parseWorkflow("update", declared.update, `${at}.workflows.update`, scope);

  return {
    id,
    description: typeof raw.description === "string" ? raw.description : null,
    state: typeof raw.state === "string" ? raw.state : "uploaded",
    mainFileName: typeof raw.main_file_name === "string" ? raw.main_file_name : "blueprint.yaml",
    metadata: expectMap(raw.metadata, `${at}.metadata`),
    blueprintLabels: parseLabelMap(raw.blueprint_labels, `${at}.blueprint_labels`),
    deploymentLabels: parseLabelMap(raw.labels, `${at}.labels`),
    inputs,
    outputs,
    capabilities,
    nodes,
    workflows,
    update,
    createdAt: new Date().toISOString(),
  };
}

function parseValueDef(def: unknown, where: string, kind: string, name: string): InputDef {
  const raw = expectMap(def, where);
  rejectUnknownKeys(raw, INPUT_KEYS, where);
  const type = raw.type;
  if (type !== undefined && (typeof type !== "string" || !KNOWN_TYPES.has(type))) {
    throw new Error(`${where}: unknown type '${String(type)}'`);
  }
  const itemType = raw.item_type;
  if (itemType !== undefined && (typeof itemType !== "string" || !KNOWN_TYPES.has(itemType))) {
    throw new Error(`${where}: unknown item_type '${String(itemType)}'`);
  }
  const constraints: Constraint[] = parseConstraints(raw.constraints, where, type as string | undefined);
  const hasDefault = "default" in raw;
  const spec: InputDef = {
    raw,
    type: type as string | undefined,
    item_type: itemType as string | undefined,
    constraints,
    hidden: raw.hidden === true,
    hasDefault,
    required: !hasDefault && raw.required !== false,
  };
  if (hasDefault) {
    spec.default = raw.default;
    // Like the DSL parser, defaults must satisfy their own declaration (a null default is "no value").
    if (raw.default !== null) {
      try {
        validateValue(kind, name, spec, raw.default);
      } catch (err) {
        throw new Error(`${where}: default is invalid: ${(err as Error).message}`);
      }
    }
  }
  return spec;
}

function parseOutputs(value: unknown, where: string, scope: ExpressionScope): Record<string, OutputDef> {
  const out: Record<string, OutputDef> = {};
  for (const [name, def] of Object.entries(expectMap(value, where))) {
    const map = expectMap(def, `${where}.${name}`);
    rejectUnknownKeys(map, new Set(["description", "value"]), `${where}.${name}`);
    if (!("value" in map)) throw new Error(`${where}.${name}: 'value' is required`);
    checkExpression(map.value, scope, `${where}.${name}.value`);
    out[name] = { value: map.value };
    if (typeof map.description === "string") out[name].description = map.description;
  }
  return out;
}

const PLACEHOLDER = /\{([^{}]+)\}/g;

function parseKeyPath(key: string, params: ReadonlySet<string>, where: string): string[] {
  const segments = key.split(".");
  if (segments.some((s) => s === "")) throw new Error(`${where}: empty segment in key '${key}'`);
  for (const segment of segments) {
    for (const match of segment.matchAll(PLACEHOLDER)) {
      if (!params.has(match[1] as string)) {
        throw new Error(`${where}: key '${key}' uses undeclared parameter '${match[1]}'`);
      }
    }
  }
  return segments;
}

function parseWorkflow(id: string, def: unknown, where: string, scope: ExpressionScope): WorkflowDef {
  const raw = expectMap(def, where);
  rejectUnknownKeys(raw, WORKFLOW_KEYS, where);
  const parameters: Record<string, ParamDef> = {};
  const declaredParams = {
    ...(BUILTIN_PARAMS[id] ?? {}),
    ...expectMap(raw.parameters, `${where}.parameters`),
  };
  for (const [name, p] of Object.entries(declaredParams)) {
    parameters[name] = parseValueDef(p, `${where}.parameters.${name}`, "parameter", name);
  }
  const paramNames = new Set(Object.keys(parameters));
  const wfScope: ExpressionScope = { ...scope, params: paramNames };

  let durationMs: number | undefined;
  if (raw.duration_ms !== undefined) {
    if (typeof raw.duration_ms !== "number" || raw.duration_ms < 0) {
      throw new Error(`${where}.duration_ms must be a non-negative number`);
    }
    durationMs = raw.duration_ms;
  }

  let availabilityRules: WorkflowDef["availabilityRules"] = null;
  if (raw.availability_rules !== undefined) {
    const rules = expectMap(raw.availability_rules, `${where}.availability_rules`);
    rejectUnknownKeys(rules, new Set(["node_instances_active"]), `${where}.availability_rules`);
    const active = rules.node_instances_active;
    if (!Array.isArray(active) || active.some((v) => !["all", "partial", "none"].includes(v))) {
      throw new Error(`${where}.availability_rules.node_instances_active must list all|partial|none`);
    }
    availabilityRules = { node_instances_active: active as string[] };
  }

  const set: SetEffect[] = [];
  for (const [node, props] of Object.entries(expectMap(raw.set, `${where}.set`))) {
    if (!scope.nodes.has(node)) throw new Error(`${where}.set: unknown node '${node}'`);
    for (const [key, expr] of Object.entries(expectMap(props, `${where}.set.${node}`))) {
      checkExpression(expr, wfScope, `${where}.set.${node}.${key}`);
      set.push({ node, path: parseKeyPath(key, paramNames, `${where}.set.${node}`), expr });
    }
  }
  const unset: WorkflowDef["unset"] = [];
  for (const [node, keys] of Object.entries(expectMap(raw.unset, `${where}.unset`))) {
    if (!scope.nodes.has(node)) throw new Error(`${where}.unset: unknown node '${node}'`);
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string")) {
      throw new Error(`${where}.unset.${node} must be a list of key paths`);
    }
    for (const key of keys as string[]) unset.push({ node, path: parseKeyPath(key, paramNames, where) });
  }
  return {
    id,
    ...(durationMs !== undefined ? { durationMs } : {}),
    parameters,
    availabilityRules,
    set,
    unset,
  };
}

function parseLabelMap(value: unknown, where: string): LabelPair[] {
  const pairs: LabelPair[] = [];
  for (const [key, v] of Object.entries(expectMap(value, where))) {
    // Both the short form (`key: value` / `key: [a, b]`) and the DSL form (`key: {values: [...]}`).
    const values = isPlainObject(v) ? v.values : v;
    const list = Array.isArray(values) ? values : [values];
    for (const item of list) {
      if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean") {
        throw new Error(`${where}.${key}: label values must be scalars`);
      }
      pairs.push({ key: key.toLowerCase(), value: String(item) });
    }
  }
  return pairs;
}
