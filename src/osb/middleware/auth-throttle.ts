import type { Context } from "hono";

/**
 * Brute-force protection for Basic auth: a client (by remote address) that fails
 * `maxFailures` times within `windowMs` is locked out for `lockMs`: every request from it is
 * refused, correct credentials included, so guessing cannot go on at full speed. Clients that
 * authenticate never wait: nothing is delayed, a success clears the client's count, and other
 * addresses are unaffected. Behind a proxy all platforms share its address; that is the
 * trade-off of keying on the peer (headers such as X-Forwarded-For can be forged).
 */
export interface AuthThrottleOptions {
  maxFailures?: number;
  windowMs?: number;
  lockMs?: number;
  /** Tracked clients at most; the oldest entries go first, so a flood of addresses cannot grow memory. */
  maxClients?: number;
  now?: () => number;
}

interface ClientState {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

export class AuthThrottle {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #lockMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #clients = new Map<string, ClientState>();

  constructor(options: AuthThrottleOptions = {}) {
    this.#max = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#lockMs = options.lockMs ?? 60_000;
    this.#maxClients = options.maxClients ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds the client must wait, or 0 when it may try. */
  lockedFor(client: string): number {
    const state = this.#clients.get(client);
    const left = state ? state.lockedUntil - this.#now() : 0;
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Records a failure; true when it locks the client out. */
  failed(client: string): boolean {
    const now = this.#now();
    let state = this.#clients.get(client);
    if (!state || now - state.windowStart > this.#windowMs) {
      state = { failures: 0, windowStart: now, lockedUntil: 0 };
    }
    state.failures++;
    // Re-inserting keeps the map in least-recently-failed order for eviction.
    this.#clients.delete(client);
    this.#clients.set(client, state);
    if (this.#clients.size > this.#maxClients) this.#clients.delete(this.#clients.keys().next().value!);
    if (state.failures < this.#max) return false;
    state.lockedUntil = now + this.#lockMs;
    state.failures = 0;
    state.windowStart = now;
    return true;
  }

  succeeded(client: string): void {
    this.#clients.delete(client);
  }
}

/** The peer address of the request (node server), or "unknown" (e.g. app.request in tests). */
export function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? "unknown";
}
