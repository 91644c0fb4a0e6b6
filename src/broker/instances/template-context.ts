import type { CompiledPlan } from "../../config/compile-catalog.js";
import type { OriginatingIdentity } from "../model/identity.js";
import { shortId } from "../model/ids.js";

/**
 * The variables deployment-input and dashboard templates see. The allowed roots are declared
 * in src/config/template-contexts.ts (validation) and documented in docs/TEMPLATES.md.
 */
export interface InstanceTemplateInput {
  instanceId: string;
  deploymentId: string;
  plan: CompiledPlan;
  parameters: Record<string, unknown>;
  context?: Record<string, unknown>;
  organizationGuid?: string;
  spaceGuid?: string;
  originatingIdentity?: OriginatingIdentity;
}

export function instanceTemplateContext(input: InstanceTemplateInput): Record<string, unknown> {
  return {
    parameters: input.parameters,
    context: input.context ?? {},
    originating_identity: identity(input.originatingIdentity),
    instance_id: input.instanceId,
    deployment_id: input.deploymentId,
    organization_guid: input.organizationGuid ?? input.context?.organization_guid,
    space_guid: input.spaceGuid ?? input.context?.space_guid,
    instance: {
      id: input.instanceId,
      short_id: shortId(input.instanceId),
      deployment_id: input.deploymentId,
    },
    service: { id: input.plan.service.config.id, name: input.plan.service.config.name },
    plan: { id: input.plan.id, name: input.plan.name },
  };
}

export function identity(originating: OriginatingIdentity | undefined): Record<string, unknown> {
  return originating ? { platform: originating.platform, ...originating.value } : {};
}
