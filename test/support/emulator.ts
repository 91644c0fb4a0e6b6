import { type EmulatorHandle, type EmulatorOptions, startEmulator } from "../../emulator/index.js";
import { CloudifyClient, type CloudifyClientOptions } from "../../src/cloudify/index.js";

/** Millisecond timings so a whole lifecycle takes well under a second on two shared cores. */
export const FAST_TIMINGS = {
  pendingMs: 5,
  createEnvMs: 15,
  deleteEnvMs: 15,
  workflowMs: 20,
  cancelMs: 10,
  scale: 0.01,
};

export function startTestEmulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
  return startEmulator({ ...options, timings: { ...FAST_TIMINGS, ...options.timings } });
}

/** A client for the emulator's default tenant with short retry delays. */
export function clientFor(
  emulator: EmulatorHandle,
  overrides: Partial<CloudifyClientOptions> = {},
): CloudifyClient {
  return new CloudifyClient({
    url: emulator.url,
    tenant: "default_tenant",
    auth: { username: "admin", password: "admin" },
    timeoutMs: 2_000,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
}

export const FAST_WAIT = { intervalMs: 10, timeoutMs: 5_000 };

/** Raw HTTP against the emulator, for wire-level assertions the typed client hides. */
export async function raw(
  emulator: EmulatorHandle,
  method: string,
  path: string,
  options: {
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    auth?: boolean;
    tenant?: string | null;
  } = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests index freely into wire-format JSON
): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const headers: Record<string, string> = {};
  if (options.auth !== false)
    headers.Authorization = `Basic ${Buffer.from("admin:admin").toString("base64")}`;
  if (options.tenant !== null) headers.Tenant = options.tenant ?? "default_tenant";
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  if (options.rawBody !== undefined) body = options.rawBody;
  Object.assign(headers, options.headers);
  const response = await fetch(`${emulator.url}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

export const POSTGRES_INPUTS = { instance_name: "pg-test" };
