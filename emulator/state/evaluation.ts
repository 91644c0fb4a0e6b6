import { notFound } from "../errors.js";
import type { EvalContext } from "../model/expressions.js";
import { fakeIp, randomString } from "../util.js";
import type { DeploymentRecord, TenantData } from "./records.js";

/** The lookups intrinsic functions need, bound to one deployment (and optionally a workflow run). */
export function evalContext(
  dep: DeploymentRecord,
  data: TenantData,
  params?: Record<string, unknown>,
): EvalContext {
  const nodeDefs = dep.plan?.nodes ?? {};
  return {
    inputs: dep.inputs,
    secret(key) {
      const secret = data.secrets.get(key);
      if (!secret) throw notFound("Secret", key);
      return secret.value;
    },
    attribute(nodeId) {
      return dep.nodes.find((n) => n.nodeId === nodeId)?.runtimeProperties;
    },
    property(nodeId) {
      return nodeDefs[nodeId]?.properties;
    },
    sys: {
      deploymentId: dep.id,
      deploymentName: dep.displayName,
      blueprintId: dep.blueprintId,
      owner: dep.createdBy,
      tenant: dep.tenant,
    },
    ...(params
      ? {
          params,
          random: randomString,
          fakeIp: (salt: string) => fakeIp(dep.id, salt),
        }
      : {}),
  };
}
