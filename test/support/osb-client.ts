/** A minimal OSB platform for tests: real HTTP to the broker, with auth and version headers by default. */
export interface OsbResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the broker answered, field by field, and assert on it
  body: any;
  headers: Headers;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  headers?: Record<string, string | undefined>;
  /** Raw body text instead of JSON. */
  raw?: string;
  /** Aborts the request (e.g. AbortSignal.timeout) when a test must bound how long it waits. */
  signal?: AbortSignal;
}

export class OsbClient {
  constructor(
    readonly baseUrl: string,
    readonly username: string,
    readonly password: string,
    readonly version = "2.17",
  ) {}

  get(path: string, options?: RequestOptions) {
    return this.request("GET", path, undefined, options);
  }
  put(path: string, body: unknown, options?: RequestOptions) {
    return this.request("PUT", path, body, options);
  }
  patch(path: string, body: unknown, options?: RequestOptions) {
    return this.request("PATCH", path, body, options);
  }
  delete(path: string, options?: RequestOptions) {
    return this.request("DELETE", path, undefined, options);
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<OsbResponse> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = {
      Authorization: `Basic ${Buffer.from(`${this.username}:${this.password}`).toString("base64")}`,
      "X-Broker-API-Version": this.version,
    };
    if (body !== undefined || options.raw !== undefined) headers["Content-Type"] = "application/json";
    for (const [k, v] of Object.entries(options.headers ?? {})) {
      if (v === undefined) delete headers[k];
      else headers[k] = v;
    }
    const response = await fetch(url, {
      method,
      headers,
      body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      signal: options.signal,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: tests assert on that.
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }
}
