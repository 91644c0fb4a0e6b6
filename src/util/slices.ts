/**
 * Long steps as generators that yield between units of work (a plan, a subtree), so
 * that a reload of a running broker can pause between them and let requests be served
 * (issue 14), while startup and `validate` run the same steps at once.
 */

/** Runs `steps` to the end at once. */
export function runAtOnce<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Runs `steps` to the end, calling `pause` whenever they have run `sliceMs` on end. */
export async function runInSlices<T>(
  steps: Generator<void, T>,
  pause: () => Promise<void>,
  sliceMs = 10,
): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await pause();
      sliceStart = performance.now();
    }
  }
}

/** Lets the requests that arrived meanwhile be served before the next step. */
export function letRequestsRun(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
