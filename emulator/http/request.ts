import type { IncomingHttpHeaders } from "node:http";
import { badParameters, ManagerError } from "../errors.js";
import type { UserRecord } from "../state/records.js";
import { isPlainObject } from "../util.js";

export interface Reply {
  status: number;
  /** JSON body; omitted for 204. */
  body?: unknown;
  /** A non-JSON body (HTML pages). */
  text?: string;
  contentType?: string;
}

export interface Principal {
  user: UserRecord;
  method: "http_basic" | "token";
}

/** One HTTP request as handlers see it: decoded path params, multi-valued query, raw body. */
export class RequestContext {
  params: Record<string, string> = {};
  principal?: Principal;
  tenant?: string;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly query: URLSearchParams,
    readonly headers: IncomingHttpHeaders,
    readonly rawBody: Buffer,
  ) {}

  get user(): UserRecord {
    if (!this.principal) throw new Error("route needs authentication");
    return this.principal.user;
  }

  get tenantName(): string {
    if (!this.tenant) throw new Error("route needs a tenant");
    return this.tenant;
  }

  param(name: string): string {
    return this.params[name] ?? "";
  }

  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  private contentTypeIsJson(): boolean {
    const type = (this.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    return type === "application/json";
  }

  /**
   * The JSON body as a dict. Like MGR `get_json_and_verify_params`: a non-JSON content type is a 415;
   * an optional body may be absent.
   */
  json(required: boolean): Record<string, unknown> {
    const empty = this.rawBody.length === 0;
    if (empty && !required) return {};
    if (!this.contentTypeIsJson()) {
      throw new ManagerError("unsupported_content_type_error", "Content type must be application/json");
    }
    if (empty) throw badParameters("Failed to decode JSON object: request body is empty");
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.rawBody.toString("utf8"));
    } catch (err) {
      throw badParameters(`Failed to decode JSON object: ${(err as Error).message}`);
    }
    if (parsed === null && !required) return {};
    if (!isPlainObject(parsed)) throw badParameters("Request body must be a JSON object");
    return parsed;
  }

  /** A query-string boolean: `true/false/1/0` in any letter case (the Python client sends `True`). */
  boolQuery(name: string, fallback: boolean): boolean {
    const raw = this.query.get(name);
    if (raw === null || raw === "") return fallback;
    return parseQueryBool(name, raw);
  }
}

export function parseQueryBool(name: string, raw: string): boolean {
  const v = raw.toLowerCase();
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw badParameters(`${name} must be <true/false>, got ${raw}`);
}

/** MGR `verify_and_convert_bool` for JSON bodies: real booleans or "true"/"false" in any case. */
export function bodyBool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const v = value.toLowerCase();
    if (v === "true") return true;
    if (v === "false") return false;
  }
  throw badParameters(`${name} must be <true/false>, got ${String(value)}`);
}
