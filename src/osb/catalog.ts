import type { DerivedSchemas } from "../broker/catalog/blueprint-schemas.js";
import type {
  CompiledCatalog,
  CompiledPlan,
  CompiledService,
  SchemaSlot,
} from "../config/compile-catalog.js";
import type { Catalog, JsonSchemaDocument, ServiceOffering, ServicePlan } from "./types.js";

/**
 * Renders the OSB catalog (CAT, a wire shape the protocol layer owns) from the compiled config. Called once per config load and
 * whenever derived schemas arrive; requests only serialise the result.
 * Secrets never reach it: the config schema has no secret-bearing catalog field.
 */
export function renderCatalog(
  compiled: CompiledCatalog,
  derived: (planId: string) => DerivedSchemas | undefined = () => undefined,
): Catalog {
  return { services: compiled.services.map((service) => renderService(service, derived)) };
}

function renderService(
  service: CompiledService,
  derived: (planId: string) => DerivedSchemas | undefined,
): ServiceOffering {
  const c = service.config;
  const offering: ServiceOffering = {
    id: c.id,
    name: c.name,
    description: c.description,
    bindable: c.bindable,
    plans: service.plans.map((plan) => renderPlan(plan, derived(plan.id))),
  };
  if (c.tags?.length) offering.tags = c.tags;
  if (c.requires?.length) offering.requires = c.requires;
  if (c.instances_retrievable !== undefined) offering.instances_retrievable = c.instances_retrievable;
  if (c.bindings_retrievable !== undefined) offering.bindings_retrievable = c.bindings_retrievable;
  if (c.allow_context_updates !== undefined) offering.allow_context_updates = c.allow_context_updates;
  if (c.plan_updateable !== undefined) offering.plan_updateable = c.plan_updateable;
  if (c.metadata) offering.metadata = c.metadata;
  return offering;
}

function renderPlan(plan: CompiledPlan, derived: DerivedSchemas | undefined): ServicePlan {
  const c = plan.config;
  const out: ServicePlan = { id: c.id, name: c.name, description: c.description, free: c.free ?? true };
  if (c.bindable !== undefined) out.bindable = c.bindable;
  if (c.plan_updateable !== undefined) out.plan_updateable = c.plan_updateable;
  if (c.binding_rotatable !== undefined) out.binding_rotatable = c.binding_rotatable;
  if (c.metadata) out.metadata = c.metadata as ServicePlan["metadata"];
  if (c.maintenance_info) out.maintenance_info = c.maintenance_info;
  if (c.maximum_polling_duration !== undefined) out.maximum_polling_duration = c.maximum_polling_duration;

  const create = schemaOf(plan.schemas.instanceCreate, derived?.instanceCreate);
  const update = schemaOf(plan.schemas.instanceUpdate, derived?.instanceUpdate);
  const bind = plan.bindable ? schemaOf(plan.schemas.bindingCreate, undefined) : undefined;
  if (create || update || bind) {
    const schemas: NonNullable<ServicePlan["schemas"]> = {};
    if (create || update) {
      schemas.service_instance = {};
      if (create) schemas.service_instance.create = { parameters: create };
      if (update) schemas.service_instance.update = { parameters: update };
    }
    if (bind) schemas.service_binding = { create: { parameters: bind } };
    out.schemas = schemas;
  }
  return out;
}

/** Explicit schemas were checked for `$schema` at load; derived ones are generated with it. */
function schemaOf(
  slot: SchemaSlot,
  derived: Record<string, unknown> | undefined,
): JsonSchemaDocument | undefined {
  const schema = slot.kind === "explicit" ? slot.schema : slot.kind === "blueprint" ? derived : undefined;
  return schema as JsonSchemaDocument | undefined;
}
