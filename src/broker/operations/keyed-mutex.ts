/**
 * Serialises work per key (an instance id): request handlers and the operation engine both
 * read-modify-write an instance's record, and must not interleave. In-process first; with a
 * store shared by several broker processes (PostgreSQL) `shared` extends the exclusion across
 * processes and refreshes the reads before `work` decides anything. With the file store the
 * state directory lock guarantees a single broker process, and `shared` is absent.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly shared?: { exclusive<T>(key: string, work: () => Promise<T>): Promise<T> }) {}

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await (this.shared ? this.shared.exclusive(key, work) : work());
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
