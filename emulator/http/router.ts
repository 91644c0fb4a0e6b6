import type { App } from "../app.js";
import type { Reply, RequestContext } from "./request.js";

/** `none`: anonymous; `user`: authenticated, no tenant needed; `tenant`: authenticated + Tenant header. */
export type Access = "none" | "user" | "tenant";

export type Handler = (ctx: RequestContext, app: App) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  segments: string[];
  access: Access;
  handler: Handler;
}

export type RouteMatch =
  | { kind: "found"; route: Route; params: Record<string, string> }
  | { kind: "method_not_allowed" }
  | { kind: "not_found" };

/** A tiny path router: `:name` segments capture one percent-decoded path segment. */
export class Router {
  private routes: Route[] = [];

  add(method: string, pattern: string, access: Access, handler: Handler): this {
    this.routes.push({ method, segments: pattern.split("/").filter(Boolean), access, handler });
    return this;
  }

  match(method: string, path: string): RouteMatch {
    let segments: string[];
    try {
      segments = path.split("/").slice(1).map(decodeURIComponent);
    } catch {
      return { kind: "not_found" };
    }
    if (segments.length > 1 && segments[segments.length - 1] === "") return { kind: "not_found" };
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method) return { kind: "found", route, params };
    }
    return pathMatched ? { kind: "method_not_allowed" } : { kind: "not_found" };
  }
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const a = actual[i] as string;
    if (p.startsWith(":")) {
      if (a === "") return undefined;
      params[p.slice(1)] = a;
    } else if (p !== a) return undefined;
  }
  return params;
}
