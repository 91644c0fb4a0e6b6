import type { Context } from "hono";
import type { OsbEnv } from "./context.js";
import { LATEST_VERSION } from "./middleware/api-version.js";

/**
 * What each OSB API version defines (docs/CONTRACT.md H16, H17). The broker serves 2.13 to 2.17;
 * every body it sends leaves out the fields the requested version does not define, and every
 * request field newer than the requested version is ignored, as an unknown field is (H8). The
 * domain never knows the version: the protocol layer shapes bodies here, just before sending,
 * and strips requests here, before checking them.
 *
 * One table: for each body the broker sends or reads, the fields introduced after 2.13 and the
 * minor version (2.x) that introduced them, from the spec's change log (release notes of
 * v2.14 to v2.17). A path is dotted; `[]` steps into every item of an array.
 */
export const FIELDS_SINCE = {
  // CAT
  catalog: {
    "services[].instances_retrievable": 14,
    "services[].bindings_retrievable": 14,
    "services[].allow_context_updates": 15,
    "services[].plans[].plan_updateable": 15,
    "services[].plans[].maintenance_info": 15,
    "services[].plans[].maximum_polling_duration": 15,
    "services[].plans[].binding_rotatable": 17,
  },
  // PROV 200/201/202
  provision: { metadata: 16, "metadata.attributes": 17 },
  // UPD 200/202
  update: { dashboard_url: 14, metadata: 16, "metadata.attributes": 17 },
  // GETI 200 (the endpoint itself is 2.14)
  fetchInstance: { maintenance_info: 16, metadata: 17 },
  // LOI 200
  instanceLastOperation: { instance_usable: 16, update_repeatable: 16 },
  // BIND 200/201 and GETB 200
  binding: { endpoints: 15, metadata: 16, "metadata.renew_before": 17 },
  // Every error body
  error: { instance_usable: 16, update_repeatable: 16 },
  // Request bodies and query parameters (H17)
  provisionRequest: { maintenance_info: 15 },
  updateRequest: { maintenance_info: 15, "previous_values.maintenance_info": 15 },
  bindRequest: { predecessor_binding_id: 17 },
  bindingQuery: { accepts_incomplete: 14 },
} as const satisfies Record<string, Record<string, number>>;

export type VersionedBody = keyof typeof FIELDS_SINCE;

const LATEST_MINOR = Number(LATEST_VERSION.split(".")[1]);

/**
 * The minor version the request asked for, capped at the latest the broker knows (a newer minor
 * only adds fields, so it gets everything). Requests that never passed the version middleware
 * (probes, a 412 itself) count as the latest: their bodies carry no versioned field.
 */
export function requestedMinor(c: Context<OsbEnv>): number {
  const version = c.get("apiVersion");
  if (!version) return LATEST_MINOR;
  const minor = Number(version.split(".")[1]);
  return Number.isInteger(minor) ? Math.min(minor, LATEST_MINOR) : LATEST_MINOR;
}

/** Whether `minor` defines the field at `path` of `body` (fields absent from the table always are). */
export function defines(minor: number, body: VersionedBody, path: string): boolean {
  const since = (FIELDS_SINCE[body] as Record<string, number>)[path];
  return since === undefined || minor >= since;
}

/**
 * `value` without the fields `minor` does not define for `body`. The input is never changed:
 * objects along a removed path are copied (the catalog is shared by every request), and
 * `value` itself comes back when nothing is removed.
 */
export function shapeFor<T>(minor: number, body: VersionedBody, value: T): T {
  let shaped: unknown = value;
  for (const [path, since] of Object.entries(FIELDS_SINCE[body] as Record<string, number>)) {
    if (minor < since) shaped = without(shaped, path.split("."));
  }
  return shaped as T;
}

/** Whether the request's version defines the field at `path` of `body`. */
export function definedFor(c: Context<OsbEnv>, body: VersionedBody, path: string): boolean {
  return defines(requestedMinor(c), body, path);
}

/** The request's version applied to `value` (see shapeFor). */
export function shapeForRequest<T>(c: Context<OsbEnv>, body: VersionedBody, value: T): T {
  return shapeFor(requestedMinor(c), body, value);
}

function without(value: unknown, path: string[]): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const object = value as Record<string, unknown>;
  const array = head.endsWith("[]");
  const key = array ? head.slice(0, -2) : head;
  if (!Object.hasOwn(object, key)) return value;
  if (rest.length === 0) {
    const { [key]: _, ...kept } = object;
    return kept;
  }
  const child = object[key];
  let next: unknown;
  if (array) {
    if (!Array.isArray(child)) return value;
    const items = child.map((item) => without(item, rest));
    next = items.some((item, i) => item !== child[i]) ? items : child;
  } else next = without(child, rest);
  return next === child ? value : { ...object, [key]: next };
}
