import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { type Logger, silentLogger } from "../log/logger.js";
import { CloudifyApiError, CloudifyNetworkError, isUnauthorized, type NetworkErrorKind } from "./errors.js";
import { DEFAULT_RETRY, isRetryable, parseRetryAfter, type RetryPolicy, retryDelay } from "./retry.js";
import type { ListResponse } from "./types.js";

export type CloudifyAuth = { username: string; password: string } | { token: string };

export interface TlsOptions {
  /** PEM file with the CA(s) that signed the manager's certificate. */
  caFile?: string;
  /** PEM text, as an alternative to `caFile`. */
  ca?: string;
  /** Skip certificate verification (development only). */
  insecure?: boolean;
}

export interface TransportOptions {
  url: string;
  tenant: string;
  auth: CloudifyAuth;
  /**
   * Reads the credentials again from where they come from (a mounted secret file that a token
   * rotation rewrote). Called when the manager answers 401 (an expired token); when it returns
   * other credentials the request is sent once more with them, and they are kept. Without it,
   * or when nothing changed, the 401 stands: the same credentials would only fail again (and
   * count as a failed login on the manager).
   */
  reauthenticate?: () => Promise<CloudifyAuth>;
  /** Per request, all retries excluded. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  tls?: TlsOptions;
  /** Page size used when collecting lists. Default 1000 (the manager's own default). */
  pageSize?: number;
  /** Pooled keep-alive connections to the manager. Default 16. */
  connections?: number;
  logger?: Logger;
  /** Told about every HTTP exchange (each retry too): health tracking and metrics. */
  onCall?: (call: CloudifyCall) => void;
}

/** One HTTP exchange with the manager: an answer (any status) or a network failure. */
export interface CloudifyCall {
  method: RequestSpec["method"];
  /** The first path segment after the API base (`deployments`, `executions`, `version`...): ids never leak into it. */
  resource: string;
  ms: number;
  /** Set when the manager answered. */
  status?: number;
  /** Set when it did not. */
  failure?: NetworkErrorKind;
}

export type QueryScalar = string | number | boolean;
export type Query = Record<string, QueryScalar | readonly QueryScalar[] | undefined | null>;

export interface RequestSpec {
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** Relative to `/api/v3.1`, unless it starts with `/api/` (the un-versioned version call). */
  path: string;
  query?: Query;
  body?: unknown;
  /** A POST that only reads (searches): retried like a GET. */
  readOnly?: boolean;
}

const API_BASE = "/api/v3.1";

function buildQuery(query: Query | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

function resourceOf(path: string): string {
  const rest = path.startsWith(API_BASE) ? path.slice(API_BASE.length) : path.slice("/api".length);
  return rest.split("/")[1] || "unknown";
}

function authHeaders(auth: CloudifyAuth): Record<string, string> {
  return "token" in auth
    ? { "Authentication-Token": auth.token }
    : { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` };
}

function sameAuth(a: CloudifyAuth, b: CloudifyAuth): boolean {
  return JSON.stringify(authHeaders(a)) === JSON.stringify(authHeaders(b));
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function classify(error: unknown): NetworkErrorKind {
  const code = errorCode(error);
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET" || code === "UND_ERR_CLOSED") {
    return "reset";
  }
  if (
    code === "ETIMEDOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT"
  ) {
    return "timeout";
  }
  return "other";
}

/** The manager's envelope, or a short description of whatever else came back (HTML from a proxy). */
function parseErrorBody(status: number, text: string): { code: string | null; message: string } {
  try {
    const body = JSON.parse(text) as { message?: unknown; detail?: unknown; error_code?: unknown };
    const message =
      typeof body.message === "string"
        ? body.message
        : typeof body.detail === "string"
          ? body.detail
          : undefined;
    if (message !== undefined) {
      return { code: typeof body.error_code === "string" ? body.error_code : null, message };
    }
  } catch {
    // Not JSON: fall through.
  }
  const title = /<title>([^<]{1,200})<\/title>/i.exec(text)?.[1]?.trim();
  return {
    code: null,
    message: title ? `non-JSON response: ${title}` : `HTTP ${status} with a non-JSON body`,
  };
}

/**
 * HTTP to one manager: keep-alive pool, auth and Tenant headers, per-request timeout, retries
 * (reads and deletes only) with exponential backoff or the server's Retry-After, one
 * re-authentication after a 401, error envelopes turned into typed errors.
 */
export class Transport {
  private readonly agent: Agent;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private auth: CloudifyAuth;
  private readonly reauthenticate: (() => Promise<CloudifyAuth>) | undefined;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;
  private readonly onCall: ((call: CloudifyCall) => void) | undefined;
  readonly pageSize: number;

  constructor(options: TransportOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`Cloudify url must be http(s), got ${url.protocol}`);
    }
    this.base = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
    const ca =
      options.tls?.ca ?? (options.tls?.caFile ? readFileSync(options.tls.caFile, "utf8") : undefined);
    this.agent = new Agent({
      connections: options.connections ?? 16,
      keepAliveTimeout: 4_000,
      connect: {
        ...(ca ? { ca } : {}),
        rejectUnauthorized: options.tls?.insecure !== true,
      },
    });
    this.auth = options.auth;
    this.reauthenticate = options.reauthenticate;
    this.headers = {
      Tenant: options.tenant,
      Accept: "application/json",
      "User-Agent": "cloudify-osb-broker",
    };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.pageSize = options.pageSize ?? 1000;
    this.log = options.logger ?? silentLogger;
    this.onCall = options.onCall;
  }

  async request<T>(spec: RequestSpec): Promise<T> {
    const path = spec.path.startsWith("/api/") ? spec.path : `${API_BASE}${spec.path}`;
    const target = `${this.base}${path}${buildQuery(spec.query)}`;
    const idempotent = spec.readOnly === true || spec.method === "GET" || spec.method === "DELETE";
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.once(spec, target, path)) as T;
      } catch (error) {
        // A 401 is answered before the manager does anything, so even a POST may be sent again,
        // once, with credentials read afresh (a rotated token replacing an expired one).
        if (isUnauthorized(error) && !reauthenticated) {
          reauthenticated = true;
          if (await this.refreshAuth(spec.method, path)) {
            attempt -= 1;
            continue;
          }
        }
        if (attempt >= this.retry.attempts || !isRetryable(spec.method, error, idempotent)) throw error;
        const delay = retryDelay(this.retry, attempt, error);
        if (delay === undefined) throw error;
        this.log.debug(
          { method: spec.method, path, attempt, delay_ms: delay, reason: (error as Error).message },
          "retrying Cloudify call",
        );
        await sleep(delay);
      }
    }
  }

  /** Whether fresh credentials replaced the ones the manager refused. */
  private async refreshAuth(method: string, path: string): Promise<boolean> {
    if (!this.reauthenticate) return false;
    let fresh: CloudifyAuth;
    try {
      fresh = await this.reauthenticate();
    } catch (error) {
      this.log.warn({ err: error }, "cannot read the Cloudify credentials again after a 401");
      return false;
    }
    if (sameAuth(fresh, this.auth)) return false;
    this.auth = fresh;
    this.log.info({ method, path }, "Cloudify refused the credentials (401); using the ones read again");
    return true;
  }

  private async once(spec: RequestSpec, target: string, path: string): Promise<unknown> {
    const started = Date.now();
    const timeout = new Error("request timed out");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timeout), this.timeoutMs);
    const hasBody = spec.body !== undefined;
    let status: number;
    let text: string;
    let retryAfter: string | undefined;
    try {
      const headers = { ...this.headers, ...authHeaders(this.auth) };
      const response = await request(target, {
        method: spec.method,
        headers: hasBody ? { ...headers, "Content-Type": "application/json" } : headers,
        body: hasBody ? JSON.stringify(spec.body) : undefined,
        dispatcher: this.agent,
        signal: controller.signal,
      });
      status = response.statusCode;
      const header = response.headers["retry-after"];
      retryAfter = Array.isArray(header) ? header[0] : header;
      text = await response.body.text();
    } catch (error) {
      const kind = error === timeout || controller.signal.reason === timeout ? "timeout" : classify(error);
      const detail = kind === "timeout" ? `no answer within ${this.timeoutMs} ms` : (error as Error).message;
      this.onCall?.({
        method: spec.method,
        resource: resourceOf(path),
        ms: Date.now() - started,
        failure: kind,
      });
      throw new CloudifyNetworkError(kind, detail, spec.method, path, error);
    } finally {
      clearTimeout(timer);
    }
    const ms = Date.now() - started;
    this.log.debug({ method: spec.method, path, status, ms }, "Cloudify call");
    this.onCall?.({ method: spec.method, resource: resourceOf(path), ms, status });
    if (status >= 200 && status < 300) {
      if (text === "") return undefined;
      try {
        return JSON.parse(text);
      } catch {
        throw new CloudifyApiError(status, null, "response body is not JSON", spec.method, path);
      }
    }
    const { code, message } = parseErrorBody(status, text);
    throw new CloudifyApiError(status, code, message, spec.method, path, parseRetryAfter(retryAfter));
  }

  /**
   * Every item of a list endpoint, following `metadata.pagination` page after page. Lists only
   * read, so a page is retried like a GET, a POST search included.
   */
  async list<T>(method: "GET" | "POST", path: string, query: Query = {}, body?: unknown): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let offset = 0;
    for (;;) {
      const page = await this.request<ListResponse<T>>({
        method,
        path,
        query: { ...query, _offset: offset, _size: this.pageSize },
        body,
        readOnly: true,
      });
      for (const item of page.items) {
        // Items shifting between pages may repeat one; keep the first copy.
        const id = (item as { id?: unknown }).id;
        if (typeof id === "string") {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        items.push(item);
      }
      offset += page.items.length;
      if (page.items.length === 0 || offset >= page.metadata.pagination.total) return items;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
