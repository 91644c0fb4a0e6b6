import type { BlueprintDef, InputDef, SetEffect, WorkflowDef } from "../model/blueprints.js";
import { DslValidationError, validateValue } from "../model/constraints.js";
import { evaluate } from "../model/expressions.js";
import { parseLabelList } from "../model/labels.js";
import { evalContext } from "../state/evaluation.js";
import type {
  DeploymentRecord,
  ExecutionRecord,
  LabelRecord,
  NodeInstanceRecord,
  TenantData,
} from "../state/records.js";
import type { Store } from "../state/store.js";
import { isPlainObject, nowIso, pyStr, randomString } from "../util.js";

/**
 * What each workflow does to the deployment when its started phase ends. A thrown
 * WorkflowFailure turns the execution `failed` with that exception as the error's last line.
 */

export class WorkflowFailure extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

export interface BodyContext {
  store: Store;
  data: TenantData;
  exec: ExecutionRecord;
  dep: DeploymentRecord;
}

/** Declared inputs with defaults filled in, each checked for type and constraints (create/update). */
export function resolveInputs(bp: BlueprintDef, provided: Record<string, unknown>): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(bp.inputs)) {
    const value = name in provided ? provided[name] : def.hasDefault ? def.default : null;
    resolved[name] = value;
    if (value === null && !def.required) continue;
    try {
      validateValue("input", name, def as InputDef, value);
    } catch (err) {
      if (err instanceof DslValidationError) {
        throw new WorkflowFailure(`dsl_parser.exceptions.${err.exceptionType}`, err.message);
      }
      throw err;
    }
  }
  return resolved;
}

function newNodeInstance(nodeId: string): NodeInstanceRecord {
  return {
    id: `${nodeId}_${randomString(6).toLowerCase()}`,
    nodeId,
    state: "uninitialized",
    runtimeProperties: {},
  };
}

function mergeLabels(dep: DeploymentRecord, bp: BlueprintDef, requested: unknown): LabelRecord[] {
  const now = nowIso();
  // The PUT already validated the list; the workflow writes it, merged with the blueprint's labels.
  const pairs = [...bp.deploymentLabels, ...parseLabelList(requested)];
  const out: LabelRecord[] = [];
  for (const { key, value } of pairs) {
    if (!out.some((l) => l.key === key && l.value === value)) {
      out.push({ key, value, createdAt: now, createdBy: dep.createdBy });
    }
  }
  return out;
}

function createEnvironment({ store, exec, dep }: BodyContext): number {
  const bp = store.blueprints.get(dep.blueprintId);
  if (!bp) throw new WorkflowFailure("RuntimeError", `Blueprint ${dep.blueprintId} not found`);
  const params = exec.parameters;
  dep.inputs = resolveInputs(bp, (params.inputs as Record<string, unknown>) ?? {});
  dep.plan = bp;
  dep.labels = mergeLabels(dep, bp, params.labels);
  dep.nodes = Object.keys(bp.nodes).map(newNodeInstance);
  dep.installationStatus = "inactive";
  dep.updatedAt = nowIso();
  return 0;
}

function expandPath(path: readonly string[], params: Record<string, unknown>): string[] {
  return path.map((segment) => segment.replace(/\{([^{}]+)\}/g, (_, name: string) => pyStr(params[name])));
}

function readPath(root: Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = root;
  for (const key of path) current = isPlainObject(current) ? current[key] : undefined;
  return current;
}

function writePath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let current = root;
  for (const key of path.slice(0, -1)) {
    const next = current[key];
    if (!isPlainObject(next)) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  current[path[path.length - 1] as string] = value;
}

function deletePath(root: Record<string, unknown>, path: readonly string[]): void {
  const parent = readPath(root, path.slice(0, -1));
  if (isPlainObject(parent)) delete parent[path[path.length - 1] as string];
}

/** Applies `set` effects in order, each seeing the results of the ones before it. */
function applySets(
  ctx: BodyContext,
  effects: readonly SetEffect[],
  params: Record<string, unknown>,
  onlyNodes?: (node: NodeInstanceRecord) => boolean,
): number {
  let count = 0;
  for (const effect of effects) {
    for (const node of ctx.dep.nodes.filter((n) => n.nodeId === effect.node)) {
      if (onlyNodes && !onlyNodes(node)) continue;
      const path = expandPath(effect.path, params);
      const existing = readPath(node.runtimeProperties, path);
      const value = evaluate(effect.expr, evalContext(ctx.dep, ctx.data, params), existing);
      writePath(node.runtimeProperties, path, value);
      count++;
    }
  }
  return count;
}

function runDeclared(ctx: BodyContext, wf: WorkflowDef): number {
  const { dep, exec } = ctx;
  if (wf.id === "uninstall") {
    for (const node of dep.nodes) {
      node.state = "deleted";
      node.runtimeProperties = {};
    }
    return dep.nodes.length;
  }
  let ops = applySets(ctx, wf.set, exec.parameters);
  for (const effect of wf.unset) {
    for (const node of dep.nodes.filter((n) => n.nodeId === effect.node)) {
      deletePath(node.runtimeProperties, expandPath(effect.path, exec.parameters));
      ops++;
    }
  }
  if (wf.id === "install") {
    for (const node of dep.nodes) node.state = "started";
    ops = Math.max(ops, dep.nodes.length);
  }
  return ops;
}

function runUpdate(ctx: BodyContext): number {
  const { store, data, exec, dep } = ctx;
  const update = exec.updateId ? data.updates.get(exec.updateId) : undefined;
  const bp = store.blueprints.get(update?.newBlueprintId ?? dep.blueprintId);
  if (!bp) throw new WorkflowFailure("RuntimeError", "Blueprint of the update not found");
  const inputs = resolveInputs(bp, update?.newInputs ?? dep.inputs);
  const wasInstalled = dep.nodes.some((n) => n.state === "started");
  dep.plan = bp;
  dep.blueprintId = bp.id;
  dep.inputs = inputs;
  // Keep node instances that still exist; install added nodes if the deployment is live.
  const kept = dep.nodes.filter((n) => n.nodeId in bp.nodes);
  const added = Object.keys(bp.nodes)
    .filter((id) => !kept.some((n) => n.nodeId === id))
    .map(newNodeInstance);
  dep.nodes = [...kept, ...added];
  let ops = 0;
  if (wasInstalled && added.length > 0) {
    const install = bp.workflows.install as WorkflowDef;
    ops += applySets(ctx, install.set, {}, (n) => added.includes(n));
    for (const node of added) node.state = "started";
  }
  ops += applySets(ctx, bp.update.set, exec.parameters, (n) => n.state === "started");
  dep.updatedAt = nowIso();
  return ops;
}

/** Runs the body of an execution; returns the number of operations it performed. */
export function runBody(ctx: BodyContext): number {
  switch (ctx.exec.kind) {
    case "create_env":
      return createEnvironment(ctx);
    case "delete_env":
      return 0;
    case "update":
      return runUpdate(ctx);
    case "workflow": {
      const wf =
        ctx.exec.workflowId === "update"
          ? ctx.dep.plan?.update
          : ctx.dep.plan?.workflows[ctx.exec.workflowId];
      if (!wf) throw new WorkflowFailure("RuntimeError", `Workflow ${ctx.exec.workflowId} is not defined`);
      return runDeclared(ctx, wf);
    }
  }
}

/** A Python-looking traceback whose last line is `<type>: <message>`, as executions report. */
export function tracebackText(errorType: string, message: string, workflowId: string): string {
  return [
    "Traceback (most recent call last):",
    '  File "/opt/mgmtworker/env/lib/python3.11/site-packages/cloudify/dispatch.py", line 1052, in main',
    "    payload = handler.handle()",
    `  File "/opt/mgmtworker/env/lib/python3.11/site-packages/cloudify/workflows/${workflowId}.py", line 42, in run`,
    "    raise exc",
    `${errorType}: ${message}`,
  ].join("\n");
}
