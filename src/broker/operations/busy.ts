import type { StateStore } from "../../state/index.js";
import { BrokerFailure } from "../failures.js";
import { BINDINGS, type BindingRecord, type InstanceRecord, type OperationType } from "../model/records.js";
import { IN_PROGRESS } from "./operation.js";

/**
 * The one rule for "the instance is busy" (docs/CONTRACT.md A12). Every request that would
 * change an instance or run Cloudify work on its deployment asks it, under the instance's
 * lock, after answering its own re-sends (A5) and before deciding anything else:
 *
 * | intent      | refused while the instance runs…          | and while a binding workflow runs |
 * |-------------|-------------------------------------------|-----------------------------------|
 * | update      | provision, update, deprovision            | yes                               |
 * | deprovision | update (a provision is halted, section 8) | yes                               |
 * | bind        | provision, update, deprovision            | no (workflows queue on Cloudify)  |
 * | unbind      | provision, update, deprovision            | no (an unbind halts its own bind) |
 * | fetch       | update, deprovision (OSB section 6)       | no                                |
 *
 * The answer is always 422 `ConcurrencyError` (H13), which platforms retry later and never
 * orphan-mitigate. A provision of an existing id is a re-send (section 12), not an intent.
 * Because every decision is made and committed under the same lock, two racing requests
 * can never both be accepted: whichever commits first makes the other one busy.
 */
export type Intent = "update" | "deprovision" | "bind" | "unbind" | "fetch";

/** Instance operations each intent goes ahead of (a deprovision halts a provision). */
const PASSES: Record<Intent, readonly OperationType[]> = {
  update: [],
  deprovision: ["provision"],
  bind: [],
  unbind: [],
  fetch: ["provision"],
};

/** Intents a binding workflow (bind or unbind running on the deployment) makes wait. */
const WAITS_FOR_BINDINGS: ReadonlySet<Intent> = new Set(["update", "deprovision"]);

/** The binding operations in progress on an instance's deployment. */
export function bindingsInFlight(store: StateStore, instanceId: string): BindingRecord[] {
  return store
    .select<BindingRecord>(BINDINGS, IN_PROGRESS)
    .filter(({ value }) => value.instanceId === instanceId)
    .map(({ value }) => value);
}

/** Why `intent` must wait, or undefined when it may go ahead. */
export function busyReason(store: StateStore, instance: InstanceRecord, intent: Intent): string | undefined {
  const op = instance.operation;
  if (op.state === "in progress" && !PASSES[intent].includes(op.type))
    return `Service instance ${instance.id} has a ${op.type} in progress; try again when it has finished.`;
  if (WAITS_FOR_BINDINGS.has(intent)) {
    const [binding] = bindingsInFlight(store, instance.id);
    if (binding) {
      return `Service instance ${instance.id} has a binding operation in progress (${binding.operation.type} of binding ${binding.id}); try again when it has finished.`;
    }
  }
  return undefined;
}

/** Throws ConcurrencyError when the instance is busy for `intent` (A12). */
export function refuseIfBusy(store: StateStore, instance: InstanceRecord, intent: Intent): void {
  const reason = busyReason(store, instance, intent);
  if (reason !== undefined) throw new BrokerFailure("ConcurrencyError", reason);
}
