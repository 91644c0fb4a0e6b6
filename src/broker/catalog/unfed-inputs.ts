import type { CompiledCatalog } from "../../config/compile-catalog.js";
import type { ConfigIssue } from "../../config/issues.js";
import type { ConfigSource, Path } from "../../config/source.js";
import type { BlueprintInput } from "../cloudify-port/port.js";
import type { DerivedPlanSchemas } from "./blueprint-schemas.js";

/**
 * Blueprint inputs that every provision of a plan would leave out although Cloudify requires
 * them (no default, not `required: false`): not fixed by the plan's `inputs`, and not offered
 * to users as a parameter (a declared schema passes nothing through; a derived one hides
 * hidden and excluded inputs). Cloudify would refuse each such deployment, so `validate`
 * warns, given the blueprints' inputs (`--state` or `--cloudify`).
 */
export function checkUnfedInputs(
  catalog: CompiledCatalog,
  source: ConfigSource,
  inputsOf: (blueprintId: string) => Record<string, BlueprintInput> | undefined,
  derived: (planId: string) => DerivedPlanSchemas | undefined,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  catalog.services.forEach((service, s) => {
    service.plans.forEach((plan, p) => {
      const inputs = inputsOf(plan.blueprintId);
      if (!inputs) return;
      const fixed = new Set(plan.inputs.map((input) => input.name));
      const offered = new Set(Object.keys((derived(plan.id)?.instanceCreate?.properties as object) ?? {}));
      const unfed = Object.entries(inputs)
        .filter(([, input]) => input.default === undefined && input.required !== false)
        .map(([name]) => name)
        .filter((name) => !fixed.has(name) && !offered.has(name));
      if (!unfed.length) return;
      const at: Path = ["services", s, "plans", p];
      const where: Path = plan.config.inputs ? [...at, "inputs"] : at;
      const names = unfed.map((name) => `"${name}"`).join(", ");
      issues.push(
        source.issue(
          "warning",
          where,
          `blueprint ${plan.blueprintId} requires input${unfed.length > 1 ? "s" : ""} ${names} (no default), which this plan neither fixes in inputs nor offers as a parameter: every provision would fail in Cloudify`,
          source.keyPosition(where),
        ),
      );
    });
  });
  return issues;
}

/**
 * `validate --cloudify`: one error per plan whose blueprint the manager does not have (or that
 * could not be read from it), at the `blueprint_id` that names it (the plan's own, else its
 * service's): every provision of that plan would fail.
 */
export function checkBlueprintsExist(
  catalog: CompiledCatalog,
  source: ConfigSource,
  unavailable: ReadonlyMap<string, string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  catalog.services.forEach((service, s) => {
    service.plans.forEach((plan, p) => {
      const reason = unavailable.get(plan.blueprintId);
      if (!reason) return;
      const where: Path = plan.config.blueprint_id
        ? ["services", s, "plans", p, "blueprint_id"]
        : ["services", s, "blueprint_id"];
      issues.push(
        source.issue(
          "error",
          where,
          `plan ${service.config.name}/${plan.name}: ${reason}; every provision of this plan would fail`,
        ),
      );
    });
  });
  return issues;
}
