import { CloudifyApiError, CloudifyNetworkError } from "./errors.js";

export interface RetryPolicy {
  /** Total tries, the first included (1 = never retry). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Only reads and deletes are repeated: a repeated POST/PUT could start a second workflow. */
const IDEMPOTENT = new Set(["GET", "DELETE"]);

/** Whether this failure of this method is worth another try. */
export function isRetryable(method: string, error: unknown): boolean {
  if (!IDEMPOTENT.has(method)) return false;
  if (error instanceof CloudifyNetworkError) return error.kind !== "other";
  return error instanceof CloudifyApiError && [502, 503, 504].includes(error.status);
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random, so retries from
 * many callers spread out but never collapse to zero.
 */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
