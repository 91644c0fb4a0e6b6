import { createHash } from "node:crypto";
import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import type { Catalog } from "../types.js";

/** Body and entity tag of each rendered catalog; a new render (reload) is a new object. */
const rendered = new WeakMap<Catalog, { body: string; etag: string }>();

/**
 * CAT: the catalog is rendered once per config load; requests only send it. It carries a
 * strong ETag, and `If-None-Match` with the current tag answers 304 (OSB H15).
 */
export function getCatalog(ports: OsbPorts) {
  return (c: Context<OsbEnv>) => {
    const catalog = ports.catalog();
    let entry = rendered.get(catalog);
    if (!entry) {
      const body = JSON.stringify(catalog);
      entry = { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
      rendered.set(catalog, entry);
    }
    c.header("ETag", entry.etag);
    const wanted = c.req.header("If-None-Match");
    if (wanted?.split(",").some((tag) => tag.trim() === entry.etag || tag.trim() === "*")) {
      return c.body(null, 304);
    }
    return c.body(entry.body, 200, { "Content-Type": "application/json" });
  };
}
