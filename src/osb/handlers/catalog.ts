import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";

/** CAT: the catalog is rendered once per config load; this only serialises the current one. */
export function getCatalog(ports: OsbPorts) {
  return (c: Context<OsbEnv>) => c.json(ports.catalog());
}
