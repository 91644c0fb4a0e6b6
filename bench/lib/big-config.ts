/**
 * A large broker.yaml for the scaling benchmarks: the example broker.yaml with its first plan
 * (`small`, the richest one: explicit schemas, templates, workflow binding, an example) cloned
 * until the file has `plans` plans in all. Ids are derived from the plan's index, so two runs
 * build the same file and the same catalog bytes.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import { packageRoot } from "../../src/util/package-root.js";

/** A UUID-shaped id, deterministic in `seed`. */
function uuidOf(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Writes the enlarged broker.yaml into `dir` and returns its path. */
export async function writeBigConfig(dir: string, plans: number): Promise<string> {
  const source = await readFile(join(packageRoot(), "broker.yaml"), "utf8");
  const doc = parseDocument(source);
  const services = doc.get("services") as YAMLSeq;
  const first = services.items[0] as YAMLMap;
  const planSeq = first.get("plans") as YAMLSeq;
  if (!isSeq(planSeq) || !isMap(planSeq.items[0]))
    throw new Error("broker.yaml: no plans in the first service");
  const existing = services.items.reduce<number>(
    (n, s) => n + ((s as YAMLMap).get("plans") as YAMLSeq).items.length,
    0,
  );
  const template = (planSeq.items[0] as YAMLMap).toJSON() as Record<string, unknown>;
  for (let i = 0; existing + i < plans; i++) {
    const plan = structuredClone(template);
    plan.id = uuidOf(`bench-plan-${i}`);
    plan.name = `small-${String(i).padStart(4, "0")}`;
    if (Array.isArray(plan.examples))
      plan.examples = (plan.examples as Array<Record<string, unknown>>).map((e) => ({
        ...e,
        name: `${e.name}-${i}`,
      }));
    planSeq.items.push(doc.createNode(plan) as never);
  }
  const file = join(dir, `broker-${plans}-plans.yaml`);
  await writeFile(file, doc.toString({ lineWidth: 0 }));
  return file;
}
