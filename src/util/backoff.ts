/**
 * The one backoff formula of the broker (the Cloudify client's retries and the operation
 * engine's transient failures): exponential with "equal jitter", half the step fixed and half
 * random, so retries from many callers spread out but never collapse to zero. `attempt` counts
 * from 1; the step doubles from `baseDelayMs` up to `maxDelayMs`.
 */
export function backoffDelay(
  policy: { baseDelayMs: number; maxDelayMs: number },
  attempt: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
