import { backoffDelay } from "../util/backoff.js";
import { CloudifyApiError, CloudifyNetworkError } from "./errors.js";

export { backoffDelay };

export interface RetryPolicy {
  /** Total tries, the first included (1 = never retry). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * The longest `Retry-After` the client waits itself (default 30 s). A longer one is thrown
   * to the caller (a transient error carrying `retryAfterMs`), which reschedules its work
   * instead of holding a connection slot and a request that long.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
};

/** Only reads and deletes are repeated: a repeated POST/PUT could start a second workflow. */
const IDEMPOTENT = new Set(["GET", "DELETE"]);

/**
 * Answers after which the request was certainly not performed and may be sent again as it is:
 * a proxy in front of the manager shedding load (429, 503), a request the server timed out
 * while reading it (408), a gateway whose upstream failed (502, 504: only for idempotent calls).
 */
const RETRYABLE_STATUSES = new Set([408, 429, 502, 503, 504]);

/** Whether this failure of this method is worth another try. */
export function isRetryable(method: string, error: unknown, idempotent = IDEMPOTENT.has(method)): boolean {
  if (!idempotent) return false;
  if (error instanceof CloudifyNetworkError) return error.kind !== "other";
  return error instanceof CloudifyApiError && RETRYABLE_STATUSES.has(error.status);
}

/**
 * How long to wait before the next try: the server's `Retry-After` when it sent one (never
 * less), else exponential backoff. `undefined` when the server asks for longer than the
 * policy lets the client wait.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, error: unknown): number | undefined {
  const backoff = backoffDelay(policy, attempt);
  const asked = error instanceof CloudifyApiError ? error.retryAfterMs : undefined;
  if (asked === undefined) return backoff;
  if (asked > policy.maxRetryAfterMs) return undefined;
  return Math.max(asked, backoff);
}

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined
 * when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
