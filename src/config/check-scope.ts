import type { Path } from "./source.js";

/**
 * Which parts of `services` the semantic, template and example checks look at: everything for
 * a file the JSON Schema accepts; around schema errors, everything but what they break, so one
 * bad value does not hide the errors of its siblings (issue 13 §3).
 */
export interface CheckScope {
  /** The service's own checks (id, name, description, dashboard_url). */
  service(serviceIndex: number): boolean;
  /** Whether to look into its plans at all (false: the whole service is left out). */
  plans(serviceIndex: number): boolean;
  /** The plan's checks and templates. */
  plan(serviceIndex: number, planIndex: number): boolean;
  /** The plan's examples (checked against its schemas and templates). */
  examples(serviceIndex: number, planIndex: number): boolean;
  /** Properties of a checked plan to check it without, as if it did not set them. */
  without(serviceIndex: number, planIndex: number): readonly string[];
}

export const EVERYTHING: CheckScope = {
  service: () => true,
  plans: () => true,
  plan: () => true,
  examples: () => true,
  without: () => [],
};

/** Service properties its own checks read. */
const READ_BY_SERVICE = new Set(["id", "name", "description", "dashboard_url"]);
/** Service properties the checks of its plans read (a plan inherits them). */
const READ_BY_PLANS = new Set(["plans", "blueprint_id", "bindable", "plan_updateable", "requires"]);
/**
 * Plan properties the plan's checks cannot do without: a bad one leaves out the plan. (Those
 * not listed here or in CHECKED_WITHOUT, such as metadata, free or polling durations, are read
 * by no check.)
 */
const READ_BY_PLAN = new Set([
  "id",
  "name",
  "description",
  "blueprint_id",
  "bindable",
  "plan_updateable",
  "binding_rotatable",
]);
/**
 * Plan properties whose absence the checks handle: with a bad one the plan is checked as if it
 * did not set it. The parameters a template may read come from the schemas and the defaults
 * together: without either, that check is off (both are left out), so that no template is
 * said to read a parameter the bad value would have defined.
 */
const CHECKED_WITHOUT: Record<string, readonly string[]> = {
  maintenance_info: ["maintenance_info"],
  binding: ["binding"],
  inputs: ["inputs"],
  schemas: ["schemas", "defaults"],
  defaults: ["schemas", "defaults"],
};

/**
 * The scope that leaves out what `broken` (paths of values of the wrong shape) breaks: a bad
 * plan property its checks cannot do without leaves out the plan (and its examples), another
 * bad plan property is left out of its checks, a bad example leaves out the plan's examples, a bad service property its own checks read those checks, and a bad service
 * or a bad property its plans inherit the whole service. Values no check reads break nothing.
 * Undefined when `services` itself (or the document) is broken, so nothing can be checked.
 */
export function scopeAround(broken: readonly Path[]): CheckScope | undefined {
  const services = new Set<number>();
  const serviceChecks = new Set<number>();
  const plans = new Set<string>();
  const examples = new Set<string>();
  const without = new Map<string, Set<string>>();
  for (const path of broken) {
    if (path.length === 0) return undefined;
    if (path[0] !== "services") continue;
    const [, s, property, p, planProperty] = path;
    if (typeof s !== "number") return undefined;
    if (property === undefined) services.add(s);
    else if (property === "plans" && typeof p === "number") {
      const dropped = CHECKED_WITHOUT[String(planProperty)];
      if (planProperty === undefined || READ_BY_PLAN.has(String(planProperty))) plans.add(`${s}/${p}`);
      else if (planProperty === "examples") examples.add(`${s}/${p}`);
      else if (dropped) {
        const set = without.get(`${s}/${p}`) ?? new Set<string>();
        for (const property of dropped) set.add(property);
        without.set(`${s}/${p}`, set);
      }
    } else if (READ_BY_PLANS.has(String(property))) services.add(s);
    else if (READ_BY_SERVICE.has(String(property))) serviceChecks.add(s);
  }
  const plan = (s: number, p: number) => !services.has(s) && !plans.has(`${s}/${p}`);
  return {
    service: (s) => !services.has(s) && !serviceChecks.has(s),
    plans: (s) => !services.has(s),
    plan,
    examples: (s, p) => plan(s, p) && !examples.has(`${s}/${p}`),
    without: (s, p) => [...(without.get(`${s}/${p}`) ?? [])],
  };
}
