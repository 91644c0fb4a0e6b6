/**
 * The variables each kind of template may read. Validation rejects references to anything
 * else, so a typo fails `cfy-broker validate` in CI instead of a provision in production.
 * The shapes are documented in docs/TEMPLATES.md; keep the two in step.
 *
 * A value of "*" means any sub-path is allowed (data whose shape the broker does not know:
 * user parameters, platform context, Cloudify outputs); a list names the allowed fields.
 */
export type RootSpec = Record<string, "*" | "leaf" | Record<string, "*" | "leaf">>;

const ids = { id: "leaf", short_id: "leaf" } as const;

/** Deployment inputs and dashboard URLs: rendered when an instance is provisioned or updated. */
export const INSTANCE_CONTEXT: RootSpec = {
  parameters: "*",
  context: "*",
  originating_identity: "*",
  instance_id: "leaf",
  deployment_id: "leaf",
  organization_guid: "leaf",
  space_guid: "leaf",
  instance: { ...ids, deployment_id: "leaf" },
  service: { id: "leaf", name: "leaf" },
  plan: { id: "leaf", name: "leaf" },
};

/** Credentials, endpoints and binding workflow parameters: rendered when a binding is made. */
export const BINDING_CONTEXT: RootSpec = {
  parameters: "*",
  context: "*",
  originating_identity: "*",
  bind_resource: "*",
  outputs: "*",
  capabilities: "*",
  app_guid: "leaf",
  binding_id: "leaf",
  instance_id: "leaf",
  deployment_id: "leaf",
  binding: ids,
  instance: {
    ...ids,
    deployment_id: "leaf",
    parameters: "*",
    context: "*",
    plan_id: "leaf",
    service_id: "leaf",
  },
  service: { id: "leaf", name: "leaf" },
  plan: { id: "leaf", name: "leaf" },
};

/** Why `reference` (a dotted path such as `instance.short_id`) is not allowed, or undefined if it is. */
export function checkReference(reference: string, spec: RootSpec): string | undefined {
  const [root, child, ...rest] = reference.split(".");
  if (!root) return undefined;
  const rule = spec[root];
  if (rule === undefined) return `unknown variable "${root}" (available: ${Object.keys(spec).join(", ")})`;
  if (rule === "*" || child === undefined) return undefined;
  if (rule === "leaf") return `"${root}" has no field "${child}"`;
  const childRule = rule[child];
  if (childRule === undefined)
    return `"${root}" has no field "${child}" (fields: ${Object.keys(rule).join(", ")})`;
  if (childRule === "leaf" && rest.length > 0) return `"${root}.${child}" has no field "${rest[0]}"`;
  return undefined;
}
