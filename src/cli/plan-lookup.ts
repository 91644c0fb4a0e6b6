import type { CompiledCatalog, CompiledPlan } from "../config/compile-catalog.js";
import { UsageError } from "./args.js";

/** A plan by id, by name when only one service has it, or by `SERVICE/PLAN`. */
export function findPlan(catalog: CompiledCatalog, ref: string): CompiledPlan {
  const byId = catalog.plansById.get(ref);
  if (byId) return byId;
  const all = [...catalog.plansById.values()];
  const slash = ref.indexOf("/");
  const matches =
    slash > 0
      ? all.filter((p) => p.service.config.name === ref.slice(0, slash) && p.name === ref.slice(slash + 1))
      : all.filter((p) => p.name === ref);
  if (matches.length === 1 && matches[0]) return matches[0];
  const known = all.map((p) => `${p.service.config.name}/${p.name}`).join(", ");
  if (matches.length > 1)
    throw new UsageError(`plan "${ref}" is in several services; name it as SERVICE/PLAN (${known})`);
  throw new UsageError(`no plan "${ref}" in the catalog (plans: ${known || "none"})`);
}
