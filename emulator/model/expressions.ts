import { isPlainObject, pyStr } from "../util.js";

/**
 * Intrinsic functions of the blueprint vocabulary. Outputs and capabilities use the Cloudify DSL
 * functions; workflow `set` values may also use the emulator's own (get_param, random, fake_ip, if). A map with exactly one key naming a function is a call; any other map or list is
 * evaluated member by member.
 */

const DSL_FUNCTIONS = [
  "get_input",
  "get_secret",
  "get_attribute",
  "get_property",
  "get_sys",
  "concat",
] as const;
const WORKFLOW_FUNCTIONS = ["get_param", "random", "fake_ip", "if"] as const;
type FunctionName = (typeof DSL_FUNCTIONS)[number] | (typeof WORKFLOW_FUNCTIONS)[number];
const ALL_FUNCTIONS = new Set<string>([...DSL_FUNCTIONS, ...WORKFLOW_FUNCTIONS]);

function asCall(expr: unknown): { fn: FunctionName; arg: unknown } | undefined {
  if (!isPlainObject(expr)) return undefined;
  const keys = Object.keys(expr);
  if (keys.length !== 1 || !ALL_FUNCTIONS.has(keys[0] as string)) return undefined;
  const fn = keys[0] as FunctionName;
  return { fn, arg: expr[fn] };
}

export interface ExpressionScope {
  inputs: ReadonlySet<string>;
  nodes: ReadonlySet<string>;
  /** Workflow parameter names; undefined where workflow-only functions are not allowed. */
  params?: ReadonlySet<string>;
}

/** Load-time check of an expression: function shapes and that referenced names exist. */
export function checkExpression(expr: unknown, scope: ExpressionScope, where: string): void {
  const call = asCall(expr);
  if (!call) {
    if (Array.isArray(expr)) {
      for (const [i, e] of expr.entries()) checkExpression(e, scope, `${where}[${i}]`);
    } else if (isPlainObject(expr)) {
      for (const [k, v] of Object.entries(expr)) checkExpression(v, scope, `${where}.${k}`);
    }
    return;
  }
  const { fn, arg } = call;
  const path = Array.isArray(arg) ? arg : [arg];
  const head = path[0];
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${fn} ${msg}`);
  };
  if ((WORKFLOW_FUNCTIONS as readonly string[]).includes(fn) && scope.params === undefined) {
    fail("is only allowed in workflow `set` values");
  }
  switch (fn) {
    case "get_input":
      if (typeof head !== "string" || !scope.inputs.has(head)) fail(`refers to an undeclared input`);
      return;
    case "get_param":
      if (typeof head !== "string" || !scope.params?.has(head)) fail(`refers to an undeclared parameter`);
      return;
    case "get_secret":
      if (typeof head !== "string" && !asCall(head)) fail("needs a secret key");
      checkExpression(head, scope, where);
      return;
    case "get_attribute":
    case "get_property":
      if (!Array.isArray(arg) || arg.length < 2) fail("needs [node_id, key, ...]");
      if (typeof head !== "string" || !scope.nodes.has(head)) fail(`refers to an unknown node`);
      return;
    case "get_sys": {
      const ok =
        Array.isArray(arg) &&
        ((arg[0] === "deployment" && ["id", "name", "blueprint", "owner"].includes(arg[1])) ||
          (arg[0] === "tenant" && arg[1] === "name"));
      if (!ok) fail("needs [deployment, id|name|blueprint|owner] or [tenant, name]");
      return;
    }
    case "concat":
      if (!Array.isArray(arg)) fail("needs a list");
      for (const [i, e] of (arg as unknown[]).entries()) checkExpression(e, scope, `${where}.concat[${i}]`);
      return;
    case "random":
      if (!Number.isInteger(arg) || (arg as number) < 1 || (arg as number) > 4096)
        fail("needs a length 1..4096");
      return;
    case "fake_ip":
      if (typeof arg !== "string" && arg !== true) fail("needs a salt string (or true)");
      return;
    case "if":
      if (!Array.isArray(arg) || arg.length !== 3) fail("needs [condition, then, else]");
      for (const [i, e] of (arg as unknown[]).entries()) checkExpression(e, scope, `${where}.if[${i}]`);
      return;
  }
}

/** Python truthiness, so `if` reads a boolean, an empty string or an empty list the same way. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return value !== null && value !== undefined && value !== false && value !== 0 && value !== "";
}

export interface EvalContext {
  inputs: Readonly<Record<string, unknown>>;
  /** Throws (a ManagerError) when the secret does not exist. */
  secret(key: string): string;
  attribute(nodeId: string): Readonly<Record<string, unknown>> | undefined;
  property(nodeId: string): Readonly<Record<string, unknown>> | undefined;
  sys: { deploymentId: string; deploymentName: string; blueprintId: string; owner: string; tenant: string };
  params?: Readonly<Record<string, unknown>>;
  random?(length: number): string;
  fakeIp?(salt: string): string;
}

function dig(value: unknown, path: readonly unknown[]): unknown {
  let current = value;
  for (const key of path) {
    if (Array.isArray(current) && typeof key === "number") current = current[key];
    else if (isPlainObject(current) && (typeof key === "string" || typeof key === "number")) {
      current = current[String(key)];
    } else return null;
    if (current === undefined) return null;
  }
  return current ?? null;
}

/**
 * Evaluates an expression. `existing` is the value currently stored where the result will go, so
 * `random` can keep a value generated by an earlier run (a retried install keeps its password).
 */
export function evaluate(expr: unknown, ctx: EvalContext, existing?: unknown): unknown {
  const call = asCall(expr);
  if (!call) {
    if (Array.isArray(expr)) return expr.map((e) => evaluate(e, ctx));
    if (isPlainObject(expr)) {
      const prior = isPlainObject(existing) ? existing : {};
      return Object.fromEntries(Object.entries(expr).map(([k, v]) => [k, evaluate(v, ctx, prior[k])]));
    }
    return expr;
  }
  const { fn, arg } = call;
  const args = Array.isArray(arg) ? arg : [arg];
  const [head, ...rest] = args;
  switch (fn) {
    case "get_input":
      return dig(ctx.inputs[head as string] ?? null, rest);
    case "get_param":
      return dig(ctx.params?.[head as string] ?? null, rest);
    case "get_secret": {
      const key = pyStr(evaluate(head, ctx));
      const value = ctx.secret(key);
      if (rest.length === 0) return value;
      // Cloudify allows digging into a JSON secret with extra path elements.
      try {
        return dig(JSON.parse(value), rest);
      } catch {
        return null;
      }
    }
    case "get_attribute": {
      const [, key, ...more] = args as [string, unknown, ...unknown[]];
      const runtime = ctx.attribute(head as string);
      if (runtime && typeof key === "string" && key in runtime) return dig(runtime[key], more);
      return dig(ctx.property(head as string) ?? {}, [key, ...more]);
    }
    case "get_property":
      return dig(ctx.property(head as string) ?? {}, rest);
    case "get_sys": {
      if (head === "tenant") return ctx.sys.tenant;
      const field = rest[0];
      if (field === "id") return ctx.sys.deploymentId;
      if (field === "name") return ctx.sys.deploymentName;
      if (field === "blueprint") return ctx.sys.blueprintId;
      return ctx.sys.owner;
    }
    case "concat":
      // Python joins str() of each part: a null attribute renders as "None", as on a real manager.
      return args.map((part) => pyStr(evaluate(part, ctx))).join("");
    case "random": {
      const length = arg as number;
      if (typeof existing === "string" && existing.length === length) return existing;
      return ctx.random ? ctx.random(length) : null;
    }
    case "fake_ip":
      return ctx.fakeIp ? ctx.fakeIp(arg === true ? "" : String(arg)) : null;
    case "if":
      return evaluate(truthy(evaluate(args[0], ctx)) ? args[1] : args[2], ctx, existing);
  }
}
