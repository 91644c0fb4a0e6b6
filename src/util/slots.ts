/**
 * A counting semaphore: at most `size` holders at once, the rest wait in arrival order. The
 * engine uses one to bound its concurrent Cloudify work however the work was started.
 */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    this.#free = size;
  }

  /** Resolves with the function that gives the slot back (call it exactly once). */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // A waiter takes the slot over directly, so a newcomer cannot overtake it.
      if (next) next();
      else this.#free++;
    };
  }

  /** Holders now (for tests and metrics). */
  get inUse(): number {
    return this.size - this.#free;
  }
}
