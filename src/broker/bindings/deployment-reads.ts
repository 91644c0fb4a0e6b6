import type { CompiledPlan } from "../../config/compile-catalog.js";
import type { CloudifyPort } from "../cloudify-port/port.js";
import type { InstanceRecord } from "../model/records.js";
import { type DeploymentData, fetchDeploymentData } from "./render-binding.js";

interface Remembered {
  /** The instance's operation when the data was read: another operation may have changed it. */
  revision: string;
  /** The compiled plan it was read for (a reload may name other secrets). */
  plan: CompiledPlan;
  until: number;
  data: DeploymentData;
  /** Forgets it when it expires: what Cloudify answered (secrets too) is not kept longer. */
  timer: NodeJS.Timeout;
}

/**
 * What synchronous binds render from (outputs, capabilities, the plan's secrets), read from
 * Cloudify once per instance revision instead of once per bind: a burst of binds on an instance
 * (a platform binding many apps) costs one set of reads. An answer is reused only while the
 * instance runs no other operation than the one it was read after (an update may change the
 * outputs: a new operation id is a new revision), for the same compiled plan, and for at most
 * `reuseMs` (what changed on the manager outside the broker, such as a rotated secret or a
 * workflow run by hand, shows within that time, like a deleted deployment: docs/CLOUDIFY.md
 * CFY-GONE). Only data a bind was made from is remembered (`keep`): a read that failed, or that
 * lacked an output or secret the credentials need, is made again by the next bind. Concurrent
 * binds do not wait for one another's reads, so a slow or failing manager holds no other bind (8.2).
 */
export class DeploymentReads {
  private readonly remembered = new Map<string, Remembered>();

  constructor(
    private readonly deps: {
      cloudify: CloudifyPort;
      /** How long an answer may be reused; 0 reads for every bind. */
      reuseMs: () => number;
      now: () => number;
    },
  ) {}

  /** The data to bind `instance` with: remembered for its revision and plan, or read now. */
  read(plan: CompiledPlan, instance: InstanceRecord): Promise<DeploymentData> {
    const key = instance.deploymentId;
    const known = this.remembered.get(key);
    if (known && known.until <= this.deps.now()) this.forget(key);
    else if (known && known.revision === instance.operation.id && known.plan === plan)
      return Promise.resolve(known.data);
    return fetchDeploymentData(this.deps.cloudify, plan, key);
  }

  /** A bind of `instance` (as it was when `data` was read) was made from `data`: reuse it. */
  keep(plan: CompiledPlan, instance: InstanceRecord, data: DeploymentData): void {
    const reuseMs = this.deps.reuseMs();
    if (reuseMs <= 0) return;
    const key = instance.deploymentId;
    // A bind made from what was remembered: the reuse time still counts from the read.
    if (this.remembered.get(key)?.data === data) return;
    this.forget(key);
    const timer = setTimeout(() => this.remembered.delete(key), reuseMs);
    timer.unref();
    this.remembered.set(key, {
      revision: instance.operation.id,
      plan,
      until: this.deps.now() + reuseMs,
      data,
      timer,
    });
  }

  private forget(key: string): void {
    clearTimeout(this.remembered.get(key)?.timer);
    this.remembered.delete(key);
  }
}
