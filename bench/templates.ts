/**
 * Templates: rendering the example broker.yaml's `small` PostgreSQL plan, as the broker does per
 * request, from a prepared context:
 *   - deployment inputs (9 inputs: `default`/`concat` helpers, typed single expressions,
 *     literals, a fixed `{value, updatable}` input), via renderInputs;
 *   - bind result (credentials with nested `lookup`s and `urlencode`, endpoints), via
 *     renderBindingResult.
 * Baselines: hand-written code building the identical objects from the same context (checked
 * deep-equal before timing, so both do the same job), and JSON.parse of the result's JSON (a
 * generic "produce this object" floor). The ratio is the price of configurable templates over
 * code; it matters only relative to a request's other costs (see the provision suite).
 */
import { deepStrictEqual } from "node:assert/strict";
import { join } from "node:path";
import {
  bindingTemplateContext,
  type DeploymentData,
  renderBindingResult,
} from "../src/broker/bindings/render-binding.js";
import { renderInputs } from "../src/broker/instances/deployment-inputs.js";
import { instanceTemplateContext } from "../src/broker/instances/template-context.js";
import { shortId } from "../src/broker/model/ids.js";
import type { InstanceRecord } from "../src/broker/model/records.js";
import { loadConfig } from "../src/config/load.js";
import { packageRoot } from "../src/util/package-root.js";
import {
  calibrate,
  fixed,
  type Headline,
  line,
  median,
  ratios,
  ratioWithSpread,
  rotate,
  timeSync,
} from "./lib/measure.js";

const SMALL_PLAN = "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01";
const BATCH_MS = 2;
const ROUNDS = 101;

/** The parts of the template contexts the `small` plan reads. */
interface InstanceView {
  parameters: { db_name: string; backup_retention_days: number; extensions: string[] };
  context: { instance_name?: unknown };
  instance: { short_id: string };
}
interface BindingView {
  outputs: { host: string; port: number; database: string };
  capabilities: { users: Record<string, { password: string }> };
  binding: { short_id: string };
}

/** What the `small` plan's `inputs:` say, written as code. */
function inputsByHand(ctx: InstanceView): Record<string, unknown> {
  const parameters = ctx.parameters;
  const name = ctx.context.instance_name;
  return {
    instance_name: name !== undefined && name !== null && name !== "" ? name : `pg-${ctx.instance.short_id}`,
    db_name: parameters.db_name,
    pg_version: "16",
    cpu: 1,
    memory_gb: 2,
    storage_gb: 10,
    backup_retention_days: parameters.backup_retention_days,
    extensions: [...parameters.extensions],
    owner_labels: { "managed-by": "osb" },
  };
}

/** What the `small` plan's `binding:` (credentials, endpoints) says, written as code. */
function bindResultByHand(ctx: BindingView): Record<string, unknown> {
  const outputs = ctx.outputs;
  const username = `u_${ctx.binding.short_id}`;
  const password = ctx.capabilities.users[username]!.password;
  return {
    credentials: {
      host: outputs.host,
      port: outputs.port,
      database: outputs.database,
      username,
      password,
      uri: `postgres://${username}:${encodeURIComponent(password)}@${outputs.host}:${outputs.port}/${outputs.database}`,
    },
    endpoints: [{ host: String(outputs.host), ports: [String(outputs.port)], protocol: "tcp" }],
  };
}

interface Case {
  name: string;
  render: () => unknown;
  byHand: () => unknown;
}

export async function benchTemplates(): Promise<Headline[]> {
  line("## Templates: example plan `small`, rendered vs hand-written code vs JSON.parse");
  const { loaded, issues } = await loadConfig(join(packageRoot(), "broker.yaml"), {
    mode: "validate",
    env: { BROKER_USERNAME: "platform", BROKER_PASSWORD: "x", BROKER_ENCRYPTION_KEY: "" },
  });
  if (!loaded) throw new Error(`broker.yaml: ${issues.map((i) => i.message).join("; ")}`);
  const plan = loaded.catalog.plansById.get(SMALL_PLAN);
  if (!plan) throw new Error("the example broker.yaml has no plan small");

  const instanceId = "a2d92b12-81c6-4508-b2dc-564eb2564f31";
  const deploymentId = "osb-a2d92b12-81c6-4508-b2dc-564eb2564f31";
  const instanceContext = instanceTemplateContext({
    instanceId,
    deploymentId,
    plan,
    parameters: { db_name: "orders", backup_retention_days: 14, extensions: ["pg_trgm"] },
    context: { platform: "kubernetes", namespace: "shop", clusterid: "c1", instance_name: "orders" },
    organizationGuid: "org-guid-1",
    spaceGuid: "space-guid-1",
  });

  const bindingId = "4dc4c01e-64aa-452f-9b2e-0f3c4d5e6a7b";
  // The plan's template names the user after the binding's short id; derive it the same way.
  const username = `u_${shortId(bindingId)}`;
  const data: DeploymentData = {
    outputs: { host: "10.175.119.67", port: 5432, database: "orders", jdbc_url: "jdbc:postgresql://x" },
    capabilities: { users: { [username]: { password: "bsWBLyJE/XlztszG+OiMFK01PI" } } },
    secrets: {},
  };
  const instance = {
    id: instanceId,
    deploymentId,
    parameters: { db_name: "orders" },
    planId: plan.id,
    serviceId: plan.service.config.id,
  } as unknown as InstanceRecord;
  const bindingContext = bindingTemplateContext(
    { bindingId, instance, plan, parameters: { privileges: "readonly" }, appGuid: "checkout" },
    data,
  );

  const cases: Case[] = [
    {
      name: "deployment inputs",
      render: () => renderInputs(plan, instanceContext, {}),
      byHand: () => inputsByHand(instanceContext as unknown as InstanceView),
    },
    {
      name: "bind credentials + endpoints",
      render: () => renderBindingResult(plan, bindingContext, data, "seed"),
      byHand: () => bindResultByHand(bindingContext as unknown as BindingView),
    },
  ];

  const headlines: Headline[] = [];
  for (const c of cases) {
    const expected = c.render();
    // The baselines must produce exactly what the templates produce, or the ratio means nothing.
    deepStrictEqual(c.byHand(), expected, `${c.name}: hand-written baseline differs from the templates`);
    const json = JSON.stringify(expected);
    const parse = () => JSON.parse(json);
    deepStrictEqual(parse(), expected);

    for (const fn of [c.render, c.byHand, parse]) timeSync(calibrate(fn, 50), fn); // warm-up (JIT)
    const n = {
      render: calibrate(c.render, BATCH_MS),
      byHand: calibrate(c.byHand, BATCH_MS),
      parse: calibrate(parse, BATCH_MS),
    };
    const ns = await rotate(ROUNDS, {
      render: () => timeSync(n.render, c.render),
      byHand: () => timeSync(n.byHand, c.byHand),
      parse: () => timeSync(n.parse, parse),
    });
    const vsHand = ratios(ns.render, ns.byHand);
    const vsParse = ratios(ns.render, ns.parse);
    line(
      `${c.name}: ${json.length} bytes of JSON; median ns/op (informative only): templates ${fixed(median(ns.render))}, by hand ${fixed(median(ns.byHand))}, JSON.parse ${fixed(median(ns.parse))}`,
    );
    line(`  templates / hand-written: ${ratioWithSpread(vsHand)}`);
    line(`  templates / JSON.parse:   ${ratioWithSpread(vsParse)}`);
    headlines.push(
      {
        suite: "templates",
        what: `${c.name}: templates / hand-written code`,
        ratio: median(vsHand),
        note: "price of configurable templates",
      },
      {
        suite: "templates",
        what: `${c.name}: templates / JSON.parse of the result`,
        ratio: median(vsParse),
        note: "",
      },
    );
  }
  line();
  return headlines;
}
