import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmulatorHandle,
  loadCatalogueFile,
  parseCatalogue,
  shippedBlueprintsPath,
} from "../emulator/index.js";
import { CloudifyApiError, type CloudifyClient } from "../src/cloudify/index.js";
import { clientFor, FAST_WAIT, startTestEmulator } from "./support/emulator.js";

describe("the shipped catalogue", () => {
  const catalogue = loadCatalogueFile(shippedBlueprintsPath());
  const byId = new Map(catalogue.blueprints.map((b) => [b.id, b]));

  it("holds the blueprints the example broker.yaml refers to", () => {
    expect([...byId.keys()]).toEqual(["postgresql", "postgresql-v2", "redis"]);
    expect(catalogue.secrets.map((s) => s.key)).toEqual(["postgresql_ca_cert"]);
  });

  it("gives postgresql-v2 the same interface with PostgreSQL 17 allowed", () => {
    const v1 = byId.get("postgresql")!;
    const v2 = byId.get("postgresql-v2")!;
    expect(Object.keys(v2.inputs)).toEqual(Object.keys(v1.inputs));
    expect(v2.inputs.pg_version?.raw).toMatchObject({
      default: "16",
      constraints: [{ valid_values: ["15", "16", "17"] }],
    });
    expect(v1.inputs.pg_version?.raw).toMatchObject({
      default: "16",
      constraints: [{ valid_values: ["14", "15", "16"] }],
    });
    expect(Object.keys(v2.workflows)).toEqual(Object.keys(v1.workflows));
    expect(Object.keys(v2.capabilities)).toEqual(Object.keys(v1.capabilities));
  });

  it("marks only instance_name as required for postgresql and nothing for redis", () => {
    const required = (id: string) =>
      Object.entries(byId.get(id)!.inputs)
        .filter(([, def]) => def.required)
        .map(([name]) => name);
    expect(required("postgresql")).toEqual(["instance_name"]);
    expect(required("redis")).toEqual([]);
  });
});

describe("catalogue validation", () => {
  const base = (patch: Record<string, unknown>) => ({
    blueprints: [{ id: "b", nodes: { n: { type: "t" } }, ...patch }],
  });

  it.each([
    ["an unknown blueprint key", base({ colour: "red" }), /unknown key 'colour'/],
    ["an unknown input type", base({ inputs: { a: { type: "money" } } }), /unknown type 'money'/],
    [
      "an unknown constraint",
      base({ inputs: { a: { type: "string", constraints: [{ shorter_than: 3 }] } } }),
      /unknown constraint/,
    ],
    [
      "a pattern on an integer",
      base({ inputs: { a: { type: "integer", constraints: [{ pattern: "x" }] } } }),
      /only applies to string/,
    ],
    [
      "a default violating its constraint",
      base({ inputs: { a: { type: "integer", default: 9, constraints: [{ less_than: 5 }] } } }),
      /default is invalid/,
    ],
    [
      "get_input of an undeclared input",
      base({ outputs: { o: { value: { get_input: "zzz" } } } }),
      /undeclared input/,
    ],
    [
      "get_attribute of an unknown node",
      base({ outputs: { o: { value: { get_attribute: ["ghost", "ip"] } } } }),
      /unknown node/,
    ],
    [
      "a workflow-only function in an output",
      base({ outputs: { o: { value: { random: 8 } } } }),
      /only allowed in workflow/,
    ],
    [
      "a key placeholder naming no parameter",
      base({ workflows: { w: { set: { n: { "users.{who}": 1 } } } } }),
      /undeclared parameter 'who'/,
    ],
    [
      "a set on an unknown node",
      base({ workflows: { w: { set: { ghost: { a: 1 } } } } }),
      /unknown node 'ghost'/,
    ],
    [
      "a bad availability rule",
      base({ workflows: { w: { availability_rules: { node_instances_active: ["most"] } } } }),
      /all\|partial\|none/,
    ],
    ["a duplicate blueprint id", { blueprints: [{ id: "b" }, { id: "b" }] }, /duplicate blueprint id/],
    [
      "a secret without a value",
      { blueprints: [], secrets: [{ key: "k" }] },
      /'value' must be a non-empty string/,
    ],
  ])("rejects %s", (_what, doc, message) => {
    expect(() => parseCatalogue(doc, "test")).toThrow(message);
  });

  it("refuses to start on an invalid catalogue file", async () => {
    await expect(startTestEmulator({ blueprints: "/nonexistent/blueprints.yaml" })).rejects.toThrow(
      /cannot read/,
    );
  });
});

/** A blueprint exercising every constraint operator and the expression vocabulary. */
const CATALOGUE = {
  blueprints: [
    {
      id: "all-constraints",
      inputs: {
        eq: { type: "string", default: "x", constraints: [{ equal: "x" }] },
        gt: { type: "integer", default: 1, constraints: [{ greater_than: 0 }] },
        ge: { type: "integer", default: 0, constraints: [{ greater_or_equal: 0 }] },
        lt: { type: "float", default: 1.5, constraints: [{ less_than: 2 }] },
        le: { type: "integer", default: 2, constraints: [{ less_or_equal: 2 }] },
        range: { type: "integer", default: 5, constraints: [{ in_range: [1, 10] }] },
        valid: { type: "string", default: "a", constraints: [{ valid_values: ["a", "b"] }] },
        len: { type: "string", default: "abc", constraints: [{ length: 3 }] },
        minlen: { type: "list", default: ["a"], constraints: [{ min_length: 1 }] },
        maxlen: { type: "dict", default: {}, constraints: [{ max_length: 1 }] },
        pat: { type: "string", default: "ab1", constraints: [{ pattern: "[a-z]+[0-9]" }] },
        flag: { type: "boolean", default: false },
        secret_pw: { type: "string", hidden: true, default: "hunter2", constraints: [{ min_length: 4 }] },
      },
      nodes: { vm: { type: "cloudify.nodes.Compute", properties: { size: { cpu: 2 }, port: 22 } } },
      outputs: {
        sys: { value: { concat: [{ get_sys: ["deployment", "id"] }, "@", { get_sys: ["tenant", "name"] }] } },
        ip: { value: { get_attribute: ["vm", "ip"] } },
        cpu: { value: { get_attribute: ["vm", "size", "cpu"] } },
        tag: { value: { get_attribute: ["vm", "tags", "role"] } },
        flag_text: {
          value: { concat: ["flag=", { get_input: "flag" }, " ip=", { get_attribute: ["vm", "ip"] }] },
        },
      },
      workflows: {
        install: {
          set: {
            vm: {
              ip: { fake_ip: "vm" },
              password: { random: 12 },
              "tags.role": { if: [{ get_input: "flag" }, "primary", "replica"] },
            },
          },
        },
        tag: {
          parameters: { key: { type: "string" }, value: { type: "integer", default: 1 } },
          set: { vm: { "tags.{key}": { get_param: "value" } } },
        },
      },
    },
  ],
};

describe("inputs, expressions and workflows of a custom catalogue", () => {
  let emulator: EmulatorHandle;
  let client: CloudifyClient;

  beforeAll(async () => {
    emulator = await startTestEmulator({ blueprints: CATALOGUE });
    client = clientFor(emulator);
  });

  afterAll(async () => {
    await client.close();
    await emulator.close();
  });

  let counter = 0;
  async function createSync(inputs: Record<string, unknown>) {
    counter += 1;
    return client.deployments.create(`cc-${counter}`, {
      blueprintId: "all-constraints",
      inputs,
      asyncCreate: false,
    });
  }

  async function creationError(inputs: Record<string, unknown>): Promise<string> {
    const error = await createSync(inputs).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CloudifyApiError);
    expect((error as CloudifyApiError).errorCode).toBe("deployment_creation_error");
    return (error as CloudifyApiError).serverMessage;
  }

  it("accepts the defaults", async () => {
    const dep = await createSync({});
    expect(dep.inputs).toMatchObject({ eq: "x", range: 5, flag: false });
  });

  it.each([
    ["eq", "y", "equal('x')"],
    ["gt", 0, "greater_than(0)"],
    ["ge", -1, "greater_or_equal(0)"],
    ["lt", 2, "less_than(2)"],
    ["le", 3, "less_or_equal(2)"],
    ["range", 11, "in_range(1, 10)"],
    ["valid", "c", "valid_values('a', 'b')"],
    ["len", "abcd", "length(3)"],
    ["minlen", [], "min_length(1)"],
    ["maxlen", { a: 1, b: 2 }, "max_length(1)"],
    ["pat", "1ab", "pattern('[a-z]+[0-9]')"],
  ])("fails the create workflow when %s is %j", async (name, value, constraint) => {
    const message = await creationError({ [name]: value });
    expect(message).toContain(`of input ${name} violates constraint ${constraint} operator`);
    expect(message).toMatch(/^dsl_parser\.exceptions\.ConstraintException: /);
  });

  it("matches patterns at the start only, like Python's re.match", async () => {
    const dep = await createSync({ pat: "ab1-anything" });
    expect(dep.inputs.pat).toBe("ab1-anything");
  });

  it("checks types, telling integers, floats, booleans, lists and dicts apart", async () => {
    expect(await creationError({ gt: "1" })).toContain("type is 'integer'");
    expect(await creationError({ gt: 1.5 })).toContain("type is 'integer'");
    expect(await creationError({ flag: "true" })).toContain("type is 'boolean'");
    expect(await creationError({ minlen: "a" })).toContain("type is 'list'");
    expect(await creationError({ maxlen: [] })).toContain("type is 'dict'");
    expect((await createSync({ lt: 1 })).inputs.lt).toBe(1);
  });

  it("never shows the value of a hidden input in an error", async () => {
    const message = await creationError({ secret_pw: "abc" });
    expect(message).toContain("of input secret_pw violates constraint min_length(4)");
    expect(message).not.toContain("abc");
  });

  it("evaluates get_sys, nested get_attribute with property fallback, concat and if", async () => {
    const dep = await createSync({ flag: true });
    const before = await client.deployments.outputs(dep.id);
    expect(before).toEqual({
      sys: `${dep.id}@default_tenant`,
      ip: null,
      cpu: 2,
      tag: null,
      flag_text: "flag=True ip=None",
    });
    const install = await client.executions.start({ deploymentId: dep.id, workflowId: "install" });
    await client.executions.waitForEnd(install.id, FAST_WAIT);
    const after = await client.deployments.outputs(dep.id);
    expect(after.ip).toMatch(/^10\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
    expect(after.tag).toBe("primary");
    expect(after.flag_text).toBe(`flag=True ip=${after.ip}`);
  });

  it("derives the same fake address from the same deployment id, on any manager", async () => {
    const other = await startTestEmulator({ blueprints: CATALOGUE });
    const otherClient = clientFor(other);
    try {
      const ips: unknown[] = [];
      for (const c of [client, otherClient]) {
        await c.deployments.create("same-id", { blueprintId: "all-constraints", asyncCreate: false });
        const exec = await c.executions.start({ deploymentId: "same-id", workflowId: "install" });
        await c.executions.waitForEnd(exec.id, FAST_WAIT);
        ips.push((await c.deployments.outputs("same-id")).ip);
      }
      expect(ips[0]).toEqual(ips[1]);
    } finally {
      await otherClient.close();
      await other.close();
    }
  });

  it("keeps a generated value when install runs again, and drops it on uninstall", async () => {
    const dep = await createSync({});
    const password = async () =>
      emulator.state.nodeInstances(dep.id)[0]?.runtimeProperties.password as string | undefined;
    const install = await client.executions.start({ deploymentId: dep.id, workflowId: "install" });
    await client.executions.waitForEnd(install.id, FAST_WAIT);
    const first = await password();
    expect(first).toMatch(/^[A-Za-z0-9]{12}$/);
    const again = await client.executions.start({ deploymentId: dep.id, workflowId: "install" });
    await client.executions.waitForEnd(again.id, FAST_WAIT);
    expect(await password()).toBe(first);
    const uninstall = await client.executions.start({ deploymentId: dep.id, workflowId: "uninstall" });
    await client.executions.waitForEnd(uninstall.id, FAST_WAIT);
    expect(await password()).toBeUndefined();
    expect(emulator.state.nodeInstances(dep.id)[0]?.state).toBe("deleted");
  });

  it("builds runtime property keys from workflow parameters, converting string parameters to their type", async () => {
    const dep = await createSync({});
    const exec = await client.executions.start({
      deploymentId: dep.id,
      workflowId: "tag",
      parameters: { key: "team.name", value: "7" },
    });
    expect(exec.parameters).toEqual({ key: "team.name", value: 7 });
    await client.executions.waitForEnd(exec.id, FAST_WAIT);
    expect(emulator.state.nodeInstances(dep.id)[0]?.runtimeProperties.tags).toEqual({ "team.name": 7 });
  });
});
