import type { Logger } from "../../log/logger.js";
import type { CloudifyPort } from "../cloudify-port/port.js";
import type { Operation, StepName } from "../model/records.js";

/**
 * One step of an operation's state machine. A step inspects Cloudify, maybe acts once, and
 * says what happens next. Steps must be safe to run again after a crash: before starting
 * anything they look for what a previous run may already have started (deployment by id,
 * executions not yet known to the record), so no Cloudify work is ever done twice.
 */
export type StepOutcome<R> =
  /** Go to `step` now; `executionId` (or undefined to clear) belongs to that step. */
  | { kind: "continue"; step: StepName; executionId?: string; record?: Partial<R> }
  /** Nothing to do until Cloudify moves; ask again after the poll interval. */
  | { kind: "wait"; description?: string }
  | { kind: "succeeded"; record?: Partial<R>; description?: string }
  | {
      kind: "failed";
      description: string;
      record?: Partial<R>;
      instanceUsable?: boolean;
      updateRepeatable?: boolean;
    };

export interface StepContext<R> {
  record: R;
  operation: Operation;
  cloudify: CloudifyPort;
  log: Logger;
}

export type Step<R> = (ctx: StepContext<R>) => Promise<StepOutcome<R>>;

/** A machine has a step for every name of its operation type: a missing or misspelt one fails to compile. */
export type StateMachine<R, S extends StepName> = Record<S, Step<R>>;

/** Any machine, as the engine looks one up by the step stored in an operation. */
export type AnyStateMachine<R> = Partial<Record<StepName, Step<R>>>;
