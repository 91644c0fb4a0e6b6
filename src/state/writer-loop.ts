/**
 * A store's single writer: `drain` empties the store's commit queue strictly in order, and at
 * most one drain runs at a time. `kick` after queueing work starts a drain unless one runs; a
 * drain that ends with work left (queued after its last look) starts the next, or that work
 * would wait forever.
 */
export class WriterLoop {
  #running: Promise<void> | undefined;

  constructor(
    private readonly drain: () => Promise<void>,
    private readonly hasWork: () => boolean,
  ) {}

  kick(): void {
    if (this.#running) return;
    this.#running = this.drain().finally(() => {
      this.#running = undefined;
      if (this.hasWork()) this.kick();
    });
  }

  /** Resolves once no drain runs (a closing store waits for its queue to be written). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }
}
