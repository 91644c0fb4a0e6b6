import type { Faults } from "./faults.js";
import { parseFaultSpec } from "./faults.js";
import { isPlainObject } from "./util.js";

/**
 * The emulator's own control surface under `/_emulator` (outside `/api`, no authentication): fault
 * injection, restarts and the request log, for tests and demos driving a standalone emulator.
 */

export interface AdminReply {
  status: number;
  body?: unknown;
  /** Runs after the response has been sent (a restart must not cut its own answer). */
  after?: () => void;
}

export interface AdminDeps {
  faults: Faults;
  requests(): Array<{ method: string; path: string }>;
  clearRequests(): void;
  restart(downMs: number, keepData: boolean): Promise<void>;
  wipe(): void;
}

function parseBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error("body must be JSON");
  }
}

export function handleAdmin(method: string, path: string, body: Buffer, deps: AdminDeps): AdminReply {
  const route = `${method} ${path.replace(/\/+$/, "")}`;
  try {
    if (route === "GET /_emulator/faults") return { status: 200, body: { items: deps.faults.list() } };
    if (route === "POST /_emulator/faults") {
      const id = deps.faults.add(parseFaultSpec(parseBody(body)));
      return { status: 201, body: { id } };
    }
    if (route === "DELETE /_emulator/faults") {
      deps.faults.clear();
      return { status: 204 };
    }
    const faultId = /^DELETE \/_emulator\/faults\/([^/]+)$/.exec(route)?.[1];
    if (faultId) {
      return deps.faults.remove(decodeURIComponent(faultId))
        ? { status: 204 }
        : { status: 404, body: { message: "no such fault" } };
    }
    if (route === "POST /_emulator/restart") {
      const raw = parseBody(body);
      const opts = isPlainObject(raw) ? raw : {};
      const downMs = typeof opts.downMs === "number" ? opts.downMs : 1000;
      const keepData = opts.keepData !== false;
      return {
        status: 202,
        body: { downMs, keepData },
        after: () => void deps.restart(downMs, keepData),
      };
    }
    if (route === "GET /_emulator/requests") {
      const items = deps.requests();
      return { status: 200, body: { total: items.length, items } };
    }
    if (route === "DELETE /_emulator/requests") {
      deps.clearRequests();
      return { status: 204 };
    }
    if (route === "POST /_emulator/wipe") {
      deps.wipe();
      return { status: 204 };
    }
    return { status: 404, body: { message: `unknown emulator admin route ${route}` } };
  } catch (err) {
    return { status: 400, body: { message: (err as Error).message } };
  }
}
