import { createHash, randomUUID } from "node:crypto";
import { runAtOnce } from "../../util/slices.js";

const CLOUDIFY_ID = /^[A-Za-z0-9._-]+$/;
const MAX_DEPLOYMENT_ID = 200;

/**
 * The Cloudify deployment id of an instance, deterministic (a lost answer can always be followed
 * by a lookup) and collision-free (CFY-OWN-1): `osb-<id>` when the instance id is a valid
 * Cloudify id (GUIDs are); otherwise `osbh-<sanitised prefix>-<128-bit hash>`. The two forms
 * differ in their fourth character, so no valid id, however crafted, maps onto a hashed one.
 */
export function deploymentIdFor(instanceId: string): string {
  if (CLOUDIFY_ID.test(instanceId) && instanceId.length <= MAX_DEPLOYMENT_ID) return `osb-${instanceId}`;
  const safe = instanceId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, MAX_DEPLOYMENT_ID - 40);
  return `osbh-${safe}-${hash(instanceId).slice(0, 32)}`;
}

/**
 * A short lower-case hex id for templates (database user names, host names): 16 hex digits
 * of a hash of the id. A hash, not a prefix: ids are chosen by the platform, and two that
 * share a prefix must not share a database user.
 */
export function shortId(id: string): string {
  return hash(id).slice(0, 16);
}

export function newOperationId(type: string): string {
  return `${type}-${randomUUID()}`;
}

export function hash(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * A stable hash of a JSON value (object keys sorted), used to decide whether two requests are
 * "identical" in the OSB sense without storing their bodies twice.
 */
export function fingerprint(value: unknown): string {
  return hash(canonicalJson(value));
}

/**
 * JSON with object keys sorted. Iterative (an explicit stack of pending output), so no input,
 * however deeply nested, can overflow the call stack.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  runAtOnce(canonicalJsonSteps(value, out));
  return out.join("");
}

/**
 * canonicalJson's pieces appended to `out`, with a step every 1,024 of them: a large value (the
 * configuration's fingerprint at a reload) is rendered while requests are served.
 */
export function* canonicalJsonSteps(value: unknown, out: string[]): Generator<void, void> {
  // Each item is a value to render or a literal piece of output (separators, closing brackets).
  const stack: Array<{ value: unknown } | string> = [{ value }];
  let budget = 1024;
  while (stack.length > 0) {
    if (--budget === 0) {
      budget = 1024;
      yield;
    }
    const item = stack.pop()!;
    if (typeof item === "string") {
      out.push(item);
      continue;
    }
    const v = item.value;
    if (v === undefined) out.push("null");
    else if (v === null || typeof v !== "object") out.push(JSON.stringify(v));
    else {
      const [open, close, parts] = Array.isArray(v)
        ? ["[", "]", v.map((element) => ({ value: element, prefix: "" }))]
        : [
            "{",
            "}",
            Object.entries(v)
              .filter(([, element]) => element !== undefined)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([key, element]) => ({ value: element, prefix: `${JSON.stringify(key)}:` })),
          ];
      out.push(open);
      stack.push(close);
      for (let i = parts.length - 1; i >= 0; i--) {
        stack.push({ value: parts[i]!.value });
        stack.push(`${i > 0 ? "," : ""}${parts[i]!.prefix}`);
      }
    }
  }
}
