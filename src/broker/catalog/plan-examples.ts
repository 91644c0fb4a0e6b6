import type { PlanExample } from "../../../generated/broker-config.js";
import { type CheckScope, EVERYTHING } from "../../config/check-scope.js";
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

/**
 * Every example of every plan, in file order; of a partly compiled catalog (which lacks some
 * plans), those of the plans whose examples `scope` includes.
 */
export function planExamples(catalog: CompiledCatalog, scope: CheckScope = EVERYTHING): PlanExampleRef[] {
  const out: PlanExampleRef[] = [];
  for (const service of catalog.services) {
    for (const plan of service.plans) {
      const [, s, , p] = plan.path;
      if (!scope.examples(Number(s), Number(p))) continue;
      (plan.config.examples ?? []).forEach((example, e) => {
        out.push({ plan, example, path: [...plan.path, "examples", e] });
      });
    }
  }
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
  /** Which plans' examples (all; of an invalid file, those whose shape the schema accepted). */
  scope: CheckScope = EVERYTHING,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const names = new Map<CompiledPlan, Set<string>>();
  for (const { plan, example, path } of planExamples(catalog, scope)) {
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
