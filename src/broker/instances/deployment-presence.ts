import type { Logger } from "../../log/logger.js";
import type { StateStore } from "../../state/index.js";
import type { CloudifyPort } from "../cloudify-port/port.js";
import { BrokerFailure } from "../failures.js";
import { BINDINGS, type BindingRecord, INSTANCES, type InstanceRecord } from "../model/records.js";
import type { OperationStatus } from "./instance-service.js";

/** A request never waits longer than this for the check: Cloudify slow or down means "unknown". */
const CHECK_MS = 2_000;

/**
 * What the broker says about an instance whose deployment was deleted in Cloudify behind its
 * back (`cfy deployments delete`): definitive, naming the deployment, pointing at the way out
 * (docs/CLOUDIFY.md CFY-GONE).
 */
export function deploymentGoneDescription(instanceId: string, deploymentId: string): string {
  return (
    `The Cloudify deployment ${deploymentId} of service instance ${instanceId} no longer exists: ` +
    "it was deleted in Cloudify, outside the broker. The instance cannot be used; deprovision it " +
    "(nothing is left to delete in Cloudify). `cfy-broker orphans` lists every such instance."
  );
}

/**
 * CFY-GONE: confirms, for the requests that deliver an instance or a binding (GETI, GETB,
 * BIND) or report on one that is idle (LOI, LOB), that the instance's deployment still exists.
 * Only a definite 404 from Cloudify counts as gone; an unreachable or slow manager (more than
 * two seconds) leaves the answer to the broker's record, as before. A deployment missing
 * while an operation runs is the operation's to report (its steps fail naming it).
 */
export class DeploymentPresence {
  /** Recent answers by deployment: polling platforms cost one Cloudify call per `cacheMs`, not per request. */
  private readonly recent = new Map<string, { gone: boolean; until: number }>();

  constructor(
    private readonly deps: {
      store: StateStore;
      cloudify: CloudifyPort;
      log: Logger;
      /** How long an answer is reused (a deletion is noticed this much later at most). */
      cacheMs: () => number;
      checkMs?: number;
      now?: () => number;
    },
  ) {}

  /** GETI, GETB, BIND: 422 naming the deployment when it is gone. */
  async refuseIfGone(instanceId: string): Promise<void> {
    const instance = this.idle(instanceId);
    if (instance && (await this.gone(instance))) {
      throw new BrokerFailure(
        "UnprocessableEntity",
        deploymentGoneDescription(instance.id, instance.deploymentId),
      );
    }
  }

  /** LOI: `failed`, naming the deployment, when the idle instance's deployment is gone. */
  async instanceStatus(instanceId: string, status: OperationStatus): Promise<OperationStatus> {
    const instance = this.idle(instanceId);
    if (!instance || !(await this.gone(instance))) return status;
    const description = deploymentGoneDescription(instance.id, instance.deploymentId);
    // Flags only where OSB allows them (H12): a failed update or deprovision.
    return instance.operation.type === "update"
      ? { state: "failed", description, instanceUsable: false, updateRepeatable: false }
      : { state: "failed", description };
  }

  /** LOB: `failed`, naming the deployment, when the bound binding's deployment is gone. */
  async bindingStatus(bindingId: string, status: OperationStatus): Promise<OperationStatus> {
    const binding = this.deps.store.get<BindingRecord>(BINDINGS, bindingId);
    if (binding?.status !== "bound" || binding.operation.state === "in progress") return status;
    const instance = this.idle(binding.instanceId);
    if (!instance || !(await this.gone(instance))) return status;
    return { state: "failed", description: deploymentGoneDescription(instance.id, instance.deploymentId) };
  }

  /** A provisioned instance no operation is running on: the only kind the check applies to. */
  private idle(instanceId: string): InstanceRecord | undefined {
    const instance = this.deps.store.get<InstanceRecord>(INSTANCES, instanceId);
    return instance?.status === "provisioned" && instance.operation.state !== "in progress"
      ? instance
      : undefined;
  }

  private async gone(instance: InstanceRecord): Promise<boolean> {
    const now = (this.deps.now ?? Date.now)();
    const known = this.recent.get(instance.deploymentId);
    if (known && known.until > now) return known.gone;
    if (this.recent.size > 10_000) this.forgetExpired(now);
    const remember = (gone: boolean) => {
      this.recent.set(instance.deploymentId, { gone, until: now + this.deps.cacheMs() });
      return gone ? "gone" : "present";
    };
    const lookup = this.deps.cloudify.getDeployment(instance.deploymentId).then(
      (found) => remember(found === undefined),
      (error: unknown) => {
        this.deps.log.debug(
          { instance_id: instance.id, reason: this.deps.cloudify.classify(error).detail },
          "cannot check whether the instance's deployment exists",
        );
        return "unknown";
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"unknown">((resolve) => {
      timer = setTimeout(() => resolve("unknown"), this.deps.checkMs ?? CHECK_MS);
    });
    try {
      return (await Promise.race([lookup, late])) === "gone";
    } finally {
      clearTimeout(timer);
    }
  }

  private forgetExpired(now: number): void {
    for (const [id, entry] of this.recent) if (entry.until <= now) this.recent.delete(id);
  }
}
