import type { PlanExample } from "../../../generated/broker-config.js";
import type { CompiledCatalog, CompiledPlan } from "../../config/compile-catalog.js";
import { type ConfigIssue, pathFromString } from "../../config/issues.js";
import type { ConfigSource, Path } from "../../config/source.js";
import type { DerivedPlanSchemas } from "./blueprint-schemas.js";
import { governingSchema } from "./parameters.js";

export interface PlanExampleRef {
  plan: CompiledPlan;
  example: PlanExample;
  /** Where the example is in broker.yaml. */
  path: Path;
}

/** Every example of every plan, in file order (of a fully loaded config). */
export function planExamples(catalog: CompiledCatalog): PlanExampleRef[] {
  const out: PlanExampleRef[] = [];
  catalog.services.forEach((service, s) => {
    service.plans.forEach((plan, p) => {
      (plan.config.examples ?? []).forEach((example, e) => {
        out.push({ plan, example, path: ["services", s, "plans", p, "examples", e] });
      });
    });
  });
  return out;
}

/**
 * Checks every plan example without a manager: its provision, update and bind parameters
 * against the schemas the broker would apply (derived ones when their blueprint inputs are
 * known, else what any derived schema refuses), and the credential keys it expects against the
 * plan's credentials template. Same validators as the broker's requests.
 */
export function checkPlanExamples(
  catalog: CompiledCatalog,
  source: ConfigSource,
  derived: (planId: string) => DerivedPlanSchemas | undefined = () => undefined,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const names = new Map<CompiledPlan, Set<string>>();
  for (const { plan, example, path } of planExamples(catalog)) {
    const error = (at: Path, message: string) =>
      issues.push(source.issue("error", at, `example "${example.name}": ${message}`));
    const seen = names.get(plan) ?? new Set<string>();
    names.set(plan, seen);
    if (seen.has(example.name)) error([...path, "name"], "another example of this plan has this name");
    seen.add(example.name);

    const check = (key: string, problems: string[], what: string) => {
      for (const problem of problems) {
        // Point at the offending parameter when it is there (a missing one: at the parameters).
        const where = problem.slice(0, problem.indexOf(": "));
        const at = where.startsWith("parameters") ? pathFromString(where).slice(1) : [];
        error([...path, key, ...at], `${what} ${problem}`);
      }
    };
    const create = governingSchema(plan, "create", derived(plan.id)).validate;
    if (create) check("parameters", create(example.parameters ?? {}), "provision");
    if (example.update_parameters !== undefined) {
      const update = governingSchema(plan, "update", derived(plan.id)).validate;
      if (update) check("update_parameters", update(example.update_parameters), "update");
    }
    const bindsSomething = example.bind_parameters !== undefined || example.credentials !== undefined;
    if (!plan.bindable) {
      if (bindsSomething)
        error(
          [...path, example.credentials !== undefined ? "credentials" : "bind_parameters"],
          "the plan is not bindable",
        );
      continue;
    }
    const slot = plan.schemas.bindingCreate;
    if (slot.kind === "explicit")
      check("bind_parameters", slot.validate(example.bind_parameters ?? {}), "bind");
    const keys = credentialKeys(plan);
    if (keys) {
      (example.credentials ?? []).forEach((key, i) => {
        if (!keys.includes(key))
          error(
            [...path, "credentials", i],
            `the plan's credentials never contain "${key}" (they have ${keys.join(", ")})`,
          );
      });
    }
  }
  return issues;
}

/** The keys of the plan's credentials template, when it is a literal map (else unknown). */
function credentialKeys(plan: CompiledPlan): string[] | undefined {
  const spec = plan.config.binding?.credentials;
  return spec && typeof spec === "object" && !Array.isArray(spec) ? Object.keys(spec) : undefined;
}
