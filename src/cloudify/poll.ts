import { setTimeout as sleep } from "node:timers/promises";
import { CloudifyWaitTimeoutError, isTransient } from "./errors.js";

export interface WaitOptions {
  /** Between polls. Default 1000 ms. */
  intervalMs?: number;
  /** Overall limit. Default 10 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns a value other than undefined. Transient failures (manager
 * briefly unreachable) count as "not yet"; anything else is thrown at once.
 */
export async function pollUntil<T>(
  what: { method: string; path: string; description: string },
  probe: () => Promise<T | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const interval = options.intervalMs ?? 1000;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const result = await probe();
      if (result !== undefined) return result;
    } catch (error) {
      if (!isTransient(error)) throw error;
    }
    if (Date.now() + interval > deadline) {
      throw new CloudifyWaitTimeoutError(`timed out waiting for ${what.description}`, what.method, what.path);
    }
    await sleep(interval, undefined, options.signal ? { signal: options.signal } : undefined);
  }
}
