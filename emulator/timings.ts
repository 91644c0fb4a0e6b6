/** How long the emulated manager takes for each phase. Tests pass a few milliseconds. */
export interface EmulatorTimings {
  /** pending → started, for every execution. */
  pendingMs: number;
  /** The started phase of create_deployment_environment. */
  createEnvMs: number;
  /** The started phase of delete_deployment_environment. */
  deleteEnvMs: number;
  /** The started phase of workflows whose blueprint declares no `duration_ms`. */
  workflowMs: number;
  /** cancelling → cancelled. */
  cancelMs: number;
  /** Multiplier applied to blueprint-declared `duration_ms` (0.01 turns 3 s into 30 ms). */
  scale: number;
}

export const DEFAULT_TIMINGS: EmulatorTimings = {
  pendingMs: 100,
  createEnvMs: 500,
  deleteEnvMs: 500,
  workflowMs: 1000,
  cancelMs: 100,
  scale: 1,
};

export function resolveTimings(partial: Partial<EmulatorTimings> = {}): EmulatorTimings {
  const merged = { ...DEFAULT_TIMINGS };
  for (const [key, value] of Object.entries(partial) as [keyof EmulatorTimings, number | undefined][]) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new Error(`timings.${key} must be a non-negative number`);
    }
    merged[key] = value;
  }
  return merged;
}
