import type { HttpBindings } from "@hono/node-server";
import { Hono } from "hono";
import type { Faults } from "./faults.js";
import { parseFaultSpec } from "./faults.js";
import { isPlainObject } from "./util.js";

/**
 * The emulator's own control surface under `/_emulator` (outside `/api`, no authentication): fault
 * injection, restarts and the request log, for tests and demos driving a standalone emulator.
 */

export interface AdminDeps {
  faults: Faults;
  requests(): Array<{ method: string; path: string }>;
  clearRequests(): void;
  restart(downMs: number, keepData: boolean): Promise<void>;
  wipe(): void;
  expireTokens(id?: string): number;
}

async function jsonBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AdminError("body must be JSON");
  }
}

class AdminError extends Error {}

export function adminApp(deps: AdminDeps): Hono<{ Bindings: HttpBindings }> {
  const admin = new Hono<{ Bindings: HttpBindings }>();
  admin.onError((err, c) => c.json({ message: err.message }, err instanceof AdminError ? 400 : 500));
  admin.get("/faults", (c) => c.json({ items: deps.faults.list() }));
  admin.post("/faults", async (c) => {
    let spec: ReturnType<typeof parseFaultSpec>;
    try {
      spec = parseFaultSpec(await jsonBody(c.req.raw));
    } catch (err) {
      throw new AdminError((err as Error).message);
    }
    return c.json({ id: deps.faults.add(spec) }, 201);
  });
  admin.delete("/faults", (c) => {
    deps.faults.clear();
    return c.body(null, 204);
  });
  admin.delete("/faults/:id", (c) =>
    deps.faults.remove(c.req.param("id")) ? c.body(null, 204) : c.json({ message: "no such fault" }, 404),
  );
  admin.post("/restart", async (c) => {
    const raw = await jsonBody(c.req.raw);
    const opts = isPlainObject(raw) ? raw : {};
    const downMs = typeof opts.downMs === "number" ? opts.downMs : 1000;
    const keepData = opts.keepData !== false;
    // After the answer is out: a restart must not cut its own response.
    const go = () => void deps.restart(downMs, keepData);
    if (c.env?.outgoing) c.env.outgoing.once("finish", go);
    else setImmediate(go);
    return c.json({ downMs, keepData }, 202);
  });
  admin.get("/requests", (c) => {
    const items = deps.requests();
    return c.json({ total: items.length, items });
  });
  admin.delete("/requests", (c) => {
    deps.clearRequests();
    return c.body(null, 204);
  });
  // Token expiry (a 401 "Token is expired" from then on), for clients driving a standalone emulator.
  admin.post("/tokens/expire", async (c) => {
    const raw = await jsonBody(c.req.raw);
    const id = isPlainObject(raw) && typeof raw.id === "string" ? raw.id : undefined;
    return c.json({ expired: deps.expireTokens(id) });
  });
  admin.post("/wipe", (c) => {
    deps.wipe();
    return c.body(null, 204);
  });
  admin.notFound((c) =>
    c.json({ message: `unknown emulator admin route ${c.req.method} ${c.req.path}` }, 404),
  );
  return admin;
}
