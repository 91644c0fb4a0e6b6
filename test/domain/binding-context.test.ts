/**
 * One template context for a binding, whichever path renders it: the synchronous bind and the
 * workflow steps both see originating_identity (docs/TEMPLATES.md promises it to binding
 * templates), read from the binding's record so a step that runs after a restart sees it too;
 * and one password per binding (CONTRACT K3) in both modes, with the workflow's parameters sealed (K1).
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BINDINGS } from "../../src/broker/model/records.js";
import type { CompiledCatalog } from "../../src/config/compile-catalog.js";
import { loadConfig } from "../../src/config/load.js";
import { isSealed } from "../../src/crypto/index.js";
import { packageRoot } from "../../src/util/package-root.js";
import { PG, REDIS } from "../support/catalog-ids.js";
import { Domain } from "../support/domain.js";

const IDENTITY = { platform: "cloudfoundry", value: { user_id: "alice" } };
let file: string;
let catalog: CompiledCatalog;

/** The example broker.yaml, with binding templates that read originating_identity in both modes. */
beforeAll(async () => {
  let yaml = await readFile(join(packageRoot(), "broker.yaml"), "utf8");
  yaml = yaml.replace(
    "                privileges: \"{{default parameters.privileges 'readwrite'}}\"\n",
    '                privileges: "{{default parameters.privileges \'readwrite\'}}"\n                requested_by: "{{originating_identity.platform}}/{{originating_identity.user_id}}"\n                password: "{{password 24}}"\n',
  );
  yaml = yaml.replace(
    '            database: "{{outputs.database}}"\n',
    '            database: "{{outputs.database}}"\n            requested_by: "{{originating_identity.user_id}}"\n            generated: "{{password 24}}"\n',
  );
  // The redis plan binds synchronously: its credentials read the identity and use one password twice.
  yaml = yaml.replace(
    '            uri: "{{capabilities.uri}}"\n          syslog_drain_url:',
    '            uri: "{{capabilities.uri}}"\n            requested_by: "{{originating_identity.user_id}}"\n            token: "{{password 20}}"\n            token_uri: "t://{{password 20}}@{{outputs.host}}"\n          syslog_drain_url:',
  );
  expect(yaml.match(/requested_by/g)).toHaveLength(3);
  file = join(tmpdir(), `binding-context-${process.pid}-${Date.now()}.yaml`);
  await writeFile(file, yaml);
  const { loaded, issues } = await loadConfig(file, {
    mode: "validate",
    env: {
      BROKER_USERNAME: "u",
      BROKER_PASSWORD: "p",
      BROKER_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
    },
  });
  if (!loaded) throw new Error(JSON.stringify(issues));
  catalog = loaded.catalog;
});
afterAll(async () => {
  await rm(file, { force: true });
});

describe("binding template context", () => {
  it("workflow mode: the create workflow's parameters and the credentials see originating_identity", async () => {
    const d = (await Domain.create({ catalog })).withUserWorkflows();
    await d.provisioned("i1");
    const outcome = await d.bindings.bind({
      instanceId: "i1",
      bindingId: "b1",
      serviceId: PG.service,
      planId: PG.small,
      acceptsIncomplete: true,
      originatingIdentity: IDENTITY,
    });
    expect(outcome.kind).toBe("accepted");
    await d.advance(BINDINGS, "b1");
    const [execution] = d.cloudify.executionsOf("create_user", "osb-i1");
    expect(execution!.parameters.requested_by).toBe("cloudfoundry/alice");
    expect(d.binding("b1").status).toBe("bound");
    const credentials = d.bindings.fetch("i1", "b1").result.credentials;
    expect(credentials).toMatchObject({ requested_by: "alice" });
    // K3: the password the workflow was given is the one in the credentials (one seed per binding).
    expect(execution!.parameters.password).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(credentials.generated).toBe(execution!.parameters.password);
    // K1: the workflow's parameters are sealed in the record, like the credentials.
    expect(isSealed(d.binding("b1").workflowParameters)).toBe(true);
    expect(JSON.stringify(d.binding("b1"))).not.toContain(String(execution!.parameters.password));
  });

  it("workflow mode: a restart between the workflow and the credentials keeps the password (the seed is in the record)", async () => {
    const d = (await Domain.create({ catalog })).withUserWorkflows();
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    await d.bindings.bind({
      instanceId: "i1",
      bindingId: "b1",
      serviceId: PG.service,
      planId: PG.small,
      acceptsIncomplete: true,
      originatingIdentity: IDENTITY,
    });
    await d.advance(BINDINGS, "b1");
    const restarted = await d.restart();
    d.cloudify.finishAll();
    await restarted.advance(BINDINGS, "b1");
    const [execution] = d.cloudify.executionsOf("create_user", "osb-i1");
    expect(restarted.bindings.fetch("i1", "b1").result.credentials.generated).toBe(
      execution!.parameters.password,
    );
  });

  it("outputs mode: the synchronous bind renders with the same context", async () => {
    const d = await Domain.create({ catalog });
    await d.provisioned("r1", { serviceId: REDIS.service, planId: REDIS.small, parameters: {} });
    const redis = catalog.plansById.get(REDIS.small)!;
    // The redis plan reads no identity; the context still carries it for any template that does.
    expect(redis.binding.mode).toBe("outputs");
    const outcome = await d.bindings.bind({
      instanceId: "r1",
      bindingId: "b2",
      serviceId: REDIS.service,
      planId: REDIS.small,
      bindResource: { app_guid: "app-1" },
      acceptsIncomplete: false,
      originatingIdentity: IDENTITY,
    });
    expect(outcome.kind).toBe("created");
    expect(d.binding("b2").originatingIdentity).toEqual(IDENTITY);
    const credentials = d.bindings.fetch("r1", "b2").result.credentials;
    expect(credentials.requested_by).toBe("alice");
    // K3: one password per binding wherever the templates use it; another binding gets another.
    expect(credentials.token).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(credentials.token_uri).toBe(`t://${credentials.token}@${credentials.host}`);
    await d.bindings.bind({
      instanceId: "r1",
      bindingId: "b3",
      serviceId: REDIS.service,
      planId: REDIS.small,
      bindResource: { app_guid: "app-1" },
      acceptsIncomplete: false,
      originatingIdentity: IDENTITY,
    });
    expect(d.bindings.fetch("r1", "b3").result.credentials.token).not.toBe(credentials.token);
  });
});
