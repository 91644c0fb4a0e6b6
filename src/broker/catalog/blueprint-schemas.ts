import type { CompiledCatalog, CompiledPlan, SchemaSlot } from "../../config/compile-catalog.js";
import { ParameterSchemaCompiler, type ParameterValidator } from "../../config/parameter-schemas.js";
import type { Logger } from "../../log/logger.js";
import type { StateStore } from "../../state/index.js";
import type { BlueprintInput, CloudifyPort } from "../cloudify-port/port.js";
import { BLUEPRINT_CACHE } from "../model/records.js";

/** Parameter schemas derived from blueprint inputs, by plan id (filled from Cloudify or the state cache). */
export interface DerivedSchemas {
  instanceCreate?: Record<string, unknown>;
  instanceUpdate?: Record<string, unknown>;
}

export interface DerivedPlanSchemas extends DerivedSchemas {
  validateCreate?: ParameterValidator;
  validateUpdate?: ParameterValidator;
}

export interface CachedInputs {
  inputs: Record<string, BlueprintInput>;
  fetchedAt: string;
}

const DRAFT_04 = "http://json-schema.org/draft-04/schema#";

/**
 * Plans may ask for their parameter schemas to be derived from their blueprint's inputs. The
 * inputs are fetched from Cloudify at load and reload and cached in the state, so a broker
 * that starts while Cloudify is down still serves the last known schemas, and keeps trying.
 *
 * The same pass checks that every plan's blueprint exists in Cloudify (issue 9 item 7): a
 * missing one is logged as an error naming its plans and reported by `blueprintCheck()` (in
 * readiness, without failing it: the other plans still work), and looked for again until it
 * appears, so uploading it clears the report without a reload.
 *
 * The cache is shared when the state is (several replicas on PostgreSQL): the schemas follow the
 * cached records, not only this process's own fetches. Before each use the records derived from
 * are compared (by identity: the store replaces a record's value on every change) with what the
 * store holds now, and a change made by another replica is derived again, so every replica
 * serves the same catalog (and ETag) and validates against the same schemas.
 */
export class BlueprintSchemas {
  private derived = new Map<string, DerivedPlanSchemas>();
  private retryTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  private catalog: CompiledCatalog | undefined;
  /** Blueprints Cloudify answered 404 for, since the latest load. */
  private readonly absent = new Set<string>();
  /** The blueprints whose inputs derive schemas, and the cached records the schemas came from. */
  private blueprints: string[] = [];
  private sources = new Map<string, CachedInputs | undefined>();

  constructor(
    private readonly deps: {
      store: StateStore;
      cloudify: CloudifyPort;
      log: Logger;
      retryIntervalMs: number;
      /** Called when schemas change, so the catalog is re-rendered. */
      onChange: () => void;
    },
  ) {}

  forPlan(planId: string): DerivedPlanSchemas | undefined {
    this.followCache();
    return this.derived.get(planId);
  }

  /** Derives again if a cached record changed since (another replica refreshed it); cheap otherwise. */
  followCache(): void {
    if (!this.catalog) return;
    for (const id of this.blueprints) {
      if (this.deps.store.get<CachedInputs>(BLUEPRINT_CACHE, id) !== this.sources.get(id)) {
        this.deriveFromCache(this.catalog);
        return;
      }
    }
  }

  private deriveFromCache(catalog: CompiledCatalog): void {
    const sources = new Map<string, CachedInputs | undefined>();
    for (const id of this.blueprints) sources.set(id, this.deps.store.get<CachedInputs>(BLUEPRINT_CACHE, id));
    this.sources = sources;
    this.derived = deriveSchemas(catalog, (id) => sources.get(id)?.inputs);
    this.deps.onChange();
  }

  /** Derives from the cache at once, then refreshes from Cloudify in the background. */
  load(catalog: CompiledCatalog): Promise<void> {
    const generation = ++this.generation;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.catalog = catalog;
    const blueprints = planBlueprints(catalog);
    this.blueprints = blueprintsToDerive(catalog);
    this.absent.clear();
    this.deriveFromCache(catalog);
    return this.refresh(catalog, blueprints, generation);
  }

  /**
   * Readiness's `blueprints` entry: what Cloudify said is missing, with the plans that need it;
   * "ok" while nothing is known to be missing (a blueprint not checked yet because Cloudify is
   * unreachable is retried; the `cloudify` check already reports the outage).
   */
  blueprintCheck(): string {
    const catalog = this.catalog;
    if (!catalog || this.absent.size === 0) return "ok";
    return [...this.absent]
      .sort()
      .map((id) => `blueprint ${id} does not exist in Cloudify (plans ${plansOf(catalog, id).join(", ")})`)
      .join("; ");
  }

  stop(): void {
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /**
   * Fetches blueprint inputs. A newer load() or stop() makes it give up after its current
   * Cloudify call (the state may be closed by then); it never rejects.
   */
  private async refresh(catalog: CompiledCatalog, blueprints: string[], generation: number): Promise<void> {
    try {
      await this.fetch(catalog, blueprints, generation);
    } catch (error) {
      if (generation === this.generation)
        this.deps.log.error({ err: error }, "refreshing blueprint parameter schemas failed");
    }
  }

  private async fetch(catalog: CompiledCatalog, blueprints: string[], generation: number): Promise<void> {
    const again: string[] = [];
    let fetched = false;
    for (const id of blueprints) {
      if (generation !== this.generation) return;
      try {
        const inputs = await this.deps.cloudify.getBlueprintInputs(id);
        if (generation !== this.generation) return;
        if (!inputs) {
          again.push(id);
          if (!this.absent.has(id)) {
            this.absent.add(id);
            this.deps.log.error(
              { blueprint: id, plans: plansOf(catalog, id) },
              `blueprint ${id} does not exist in Cloudify: provisioning plan(s) ${plansOf(catalog, id).join(", ")} will fail until it is uploaded`,
            );
          }
          continue;
        }
        if (this.absent.delete(id))
          this.deps.log.info({ blueprint: id }, `blueprint ${id} now exists in Cloudify`);
        const value: CachedInputs = { inputs, fetchedAt: new Date().toISOString() };
        await this.deps.store.commit([{ type: "put", collection: BLUEPRINT_CACHE, id, value }]);
        fetched = true;
      } catch (error) {
        if (generation !== this.generation) return;
        again.push(id);
        this.deps.log.warn(
          {
            blueprint: id,
            reason: this.deps.cloudify.classify(error).detail,
            cached: Boolean(this.deps.store.get(BLUEPRINT_CACHE, id)),
          },
          "cannot fetch blueprint inputs from Cloudify; serving cached parameter schemas and retrying",
        );
      }
    }
    if (generation !== this.generation) return;
    // Only new inputs change the schemas (a retry that found nothing leaves the catalog alone).
    if (fetched) this.deriveFromCache(catalog);
    if (again.length) {
      this.retryTimer = setTimeout(
        () => void this.refresh(catalog, again, generation),
        this.deps.retryIntervalMs,
      );
      this.retryTimer.unref();
    }
  }
}

/** Every blueprint some plan deploys. */
export function planBlueprints(catalog: CompiledCatalog): string[] {
  return [...new Set([...catalog.plansById.values()].map((plan) => plan.blueprintId))];
}

/** The plans deploying a blueprint, as `service/plan`. */
export function plansOf(catalog: CompiledCatalog, blueprintId: string): string[] {
  return catalog.services.flatMap((service) =>
    service.plans
      .filter((plan) => plan.blueprintId === blueprintId)
      .map((plan) => `${service.config.name}/${plan.name}`),
  );
}

/** Blueprints whose inputs some plan derives its parameter schemas from. */
export function blueprintsToDerive(catalog: CompiledCatalog): string[] {
  const ids = new Set<string>();
  for (const plan of catalog.plansById.values()) {
    if (plan.schemas.instanceCreate.kind === "blueprint" || plan.schemas.instanceUpdate.kind === "blueprint")
      ids.add(plan.blueprintId);
  }
  return [...ids];
}

/** The derived schemas of every plan whose blueprint's inputs `inputsOf` knows. */
export function deriveSchemas(
  catalog: CompiledCatalog,
  inputsOf: (blueprintId: string) => Record<string, BlueprintInput> | undefined,
) {
  const compiler = new ParameterSchemaCompiler();
  const out = new Map<string, DerivedPlanSchemas>();
  for (const plan of catalog.plansById.values()) {
    const inputs = inputsOf(plan.blueprintId);
    if (!inputs) continue;
    const result: DerivedPlanSchemas = {};
    const create = plan.schemas.instanceCreate;
    const update = plan.schemas.instanceUpdate;
    if (create.kind === "blueprint") {
      result.instanceCreate = schemaFromInputs(inputs, plan, create, true);
      result.validateCreate = compiler.compile(result.instanceCreate).validator;
    }
    if (update.kind === "blueprint") {
      result.instanceUpdate = schemaFromInputs(inputs, plan, update, false);
      result.validateUpdate = compiler.compile(result.instanceUpdate).validator;
    }
    out.set(plan.id, result);
  }
  return out;
}

/**
 * Cloudify inputs as a draft-04 JSON Schema: types, defaults, descriptions, display labels and
 * constraints carry over; inputs the plan fixes and hidden inputs are left out. Update schemas
 * require nothing (an update gives only what changes).
 */
export function schemaFromInputs(
  inputs: Record<string, BlueprintInput>,
  plan: CompiledPlan,
  slot: Extract<SchemaSlot, { kind: "blueprint" }>,
  forCreate: boolean,
): Record<string, unknown> {
  const fixed = new Set(plan.inputs.map((i) => i.name));
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, input] of Object.entries(inputs)) {
    if (fixed.has(name) || input.hidden) continue;
    if (slot.include && !slot.include.includes(name)) continue;
    if (slot.exclude?.includes(name)) continue;
    properties[name] = propertyFromInput(input);
    if (forCreate && input.default === undefined && input.required !== false) required.push(name);
  }
  const schema: Record<string, unknown> = {
    $schema: DRAFT_04,
    type: "object",
    additionalProperties: false,
    properties,
  };
  if (required.length) schema.required = required;
  return schema;
}

const TYPES: Record<string, string> = {
  string: "string",
  textarea: "string",
  regex: "string",
  integer: "integer",
  float: "number",
  boolean: "boolean",
  list: "array",
  dict: "object",
};

function propertyFromInput(input: BlueprintInput): Record<string, unknown> {
  // Cloudify's object types (deployment_id, secret_key, node_id, ...) are names: strings.
  const type = input.type ? (TYPES[input.type] ?? "string") : undefined;
  const property: Record<string, unknown> = {};
  if (type) property.type = type;
  if (type === "array" && input.item_type) property.items = { type: TYPES[input.item_type] ?? "string" };
  if (input.display_label) property.title = input.display_label;
  if (input.description) property.description = input.description;
  if (input.default !== undefined) property.default = input.default;
  for (const constraint of input.constraints ?? []) applyConstraint(property, constraint, type);
  return property;
}

function applyConstraint(
  property: Record<string, unknown>,
  constraint: Record<string, unknown>,
  type: string | undefined,
) {
  const sized =
    type === "array"
      ? ["minItems", "maxItems"]
      : type === "object"
        ? ["minProperties", "maxProperties"]
        : ["minLength", "maxLength"];
  const [minKey, maxKey] = sized as [string, string];
  for (const [name, value] of Object.entries(constraint)) {
    switch (name) {
      case "valid_values":
        property.enum = value;
        break;
      case "equal":
        property.enum = [value];
        break;
      case "in_range":
        if (Array.isArray(value)) [property.minimum, property.maximum] = value;
        break;
      case "greater_than":
        property.minimum = value;
        property.exclusiveMinimum = true;
        break;
      case "greater_or_equal":
        property.minimum = value;
        break;
      case "less_than":
        property.maximum = value;
        property.exclusiveMaximum = true;
        break;
      case "less_or_equal":
        property.maximum = value;
        break;
      case "pattern":
        property.pattern = value;
        break;
      case "min_length":
        property[minKey] = value;
        break;
      case "max_length":
        property[maxKey] = value;
        break;
      case "length":
        property[minKey] = value;
        property[maxKey] = value;
        break;
      // Others (filter_id, labels, tenants, name_pattern, error_message) have no JSON Schema
      // equivalent; Cloudify still enforces them when the deployment is created.
    }
  }
}
