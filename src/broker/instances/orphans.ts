import type { CloudifyPort } from "../cloudify-port/port.js";
import type { InstanceRecord } from "../model/records.js";

export interface Discrepancy {
  kind: "orphan_deployment" | "missing_deployment";
  deployment_id: string;
  instance_id?: string;
  detail: string;
}

/**
 * Compares what the broker knows with what Cloudify holds, through the labels the broker puts
 * on every deployment: deployments labelled as ours that no live instance owns (left by a
 * lost state, a failed delete, a platform that forgot to deprovision), and provisioned
 * instances whose deployment is gone.
 */
export async function findDiscrepancies(
  cloudify: CloudifyPort,
  instances: readonly InstanceRecord[],
): Promise<Discrepancy[]> {
  const live = new Map(instances.filter((i) => i.status !== "deleted").map((i) => [i.deploymentId, i]));
  const deployments = await cloudify.findDeployments({ "osb-broker": "cloudify-osb-broker" });
  const found: Discrepancy[] = [];
  const seen = new Set<string>();
  for (const deployment of deployments) {
    seen.add(deployment.id);
    if (live.has(deployment.id)) continue;
    const instanceId = deployment.labels.find((l) => l.key === "osb-instance-id")?.value;
    found.push({
      kind: "orphan_deployment",
      deployment_id: deployment.id,
      instance_id: instanceId,
      detail: "labelled as a broker deployment, but no live service instance owns it",
    });
  }
  for (const instance of live.values()) {
    if (instance.status !== "provisioned" || seen.has(instance.deploymentId)) continue;
    found.push({
      kind: "missing_deployment",
      deployment_id: instance.deploymentId,
      instance_id: instance.id,
      detail: "the instance is provisioned, but Cloudify has no such deployment",
    });
  }
  return found;
}
