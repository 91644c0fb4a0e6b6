// biome-ignore-all lint/suspicious/noTemplateCurlyInString: broker.yaml spells environment references ${VAR}
/**
 * broker.yaml validation: every kind of bad config is rejected with the file:line:column an
 * editor should jump to and the dotted path inside the document. Each config is the example
 * with one small edit, written to a real file and loaded by loadConfig, the function the
 * `validate`, `catalog` and `serve` commands call (the CLI itself is tested in cli-validate).
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigIssue } from "../src/config/issues.js";
import { loadConfig } from "../src/config/load.js";
import {
  example,
  exampleText,
  FULL_ENV,
  nthPositionOf,
  positionOf,
  tempDir,
  writeConfig,
} from "./fixtures/configs/helpers.js";

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await tempDir("cfg-validate-");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function validate(text: string, env: Record<string, string> = FULL_ENV) {
  const file = await writeConfig(dir, text, `broker-${++counter}.yaml`);
  const result = await loadConfig(file, { mode: "validate", env });
  return { file, text, ...result, errors: result.issues.filter((i) => i.severity === "error") };
}

interface Expected {
  /** Text whose first character the issue must point at (must occur once in the edited file). */
  at: string;
  /** Characters to move right from the start of `at`. */
  shift?: number;
  path: string;
  message: RegExp;
}

/** Exactly these errors, in this order, each at its position. */
function expectErrors(result: Awaited<ReturnType<typeof validate>>, expected: Expected[]) {
  expect(result.loaded).toBeUndefined();
  const got = result.errors.map(({ line, column, path, message }) => ({ line, column, path, message }));
  expect(got).toHaveLength(expected.length);
  expected.forEach((want, i) => {
    const issue = result.errors[i] as ConfigIssue;
    expect(issue.file).toBe(result.file);
    expect({ line: issue.line, column: issue.column }, issue.message).toEqual(
      positionOf(result.text, want.at, want.shift),
    );
    expect(issue.path).toBe(want.path);
    expect(issue.message).toMatch(want.message);
  });
}

describe("the example broker.yaml", () => {
  it("is valid with no issue at all when its environment is set", async () => {
    const result = await validate(exampleText());
    expect(result.issues).toEqual([]);
    expect(result.loaded?.catalog.services.map((s) => s.config.name)).toEqual(["postgresql", "redis"]);
  });

  it("only warns about unset environment variables when they are missing", async () => {
    const result = await validate(exampleText(), {});
    expect(result.loaded).toBeDefined();
    expect(result.errors).toEqual([]);
    expect(result.issues.map((i) => [i.severity, i.path, i.message])).toEqual([
      ["warning", "broker.auth.users[0].username", "environment variable BROKER_USERNAME is not set"],
      ["warning", "broker.auth.users[0].password", "environment variable BROKER_PASSWORD is not set"],
      ["warning", "broker.encryption.key", "environment variable BROKER_ENCRYPTION_KEY is not set"],
    ]);
    const text = exampleText();
    expect(result.issues.map(({ line, column }) => ({ line, column }))).toEqual([
      positionOf(text, "${BROKER_USERNAME}"),
      positionOf(text, "${BROKER_PASSWORD}"),
      positionOf(text, "${BROKER_ENCRYPTION_KEY}"),
    ]);
  });
});

describe("YAML problems", () => {
  it("a syntax error is reported where the parser stops", async () => {
    const result = await validate(example(["    name: postgresql\n", "    name: postgresql: sql\n"]));
    expect(result.loaded).toBeUndefined();
    expect(result.errors.length).toBeGreaterThanOrEqual(1);
    const first = result.errors[0] as ConfigIssue;
    expect(first.message).toMatch(/^YAML: /);
    expect({ line: first.line, column: first.column }).toEqual(positionOf(result.text, "postgresql: sql"));
  });

  it("a duplicate key points at the second occurrence", async () => {
    const result = await validate(
      example(["    name: postgresql\n", "    name: postgresql\n    name: pgsql\n"]),
    );
    expectErrors(result, [{ at: "name: pgsql", path: "", message: /^YAML: Map keys must be unique/ }]);
  });

  it("an empty file is not a config", async () => {
    const result = await validate("");
    expect(result.errors.map((e) => [e.line, e.column, e.message])).toEqual([[1, 1, "must be an object"]]);
  });
});

describe("JSON Schema problems", () => {
  it("an unknown property points at its key and lists the allowed ones", async () => {
    const result = await validate(
      example(["    name: postgresql\n", "    name: postgresql\n    colour: blue\n"]),
    );
    expectErrors(result, [
      {
        at: "colour: blue",
        path: "services[0].colour",
        message: /unknown property "colour" \(allowed: id, name,/,
      },
    ]);
  });

  it("a missing required property points at the object that lacks it", async () => {
    const result = await validate(
      example(["    description: PostgreSQL databases deployed by Cloudify\n", ""]),
    );
    expectErrors(result, [
      {
        at: "id: 6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11",
        path: "services[0]",
        message: /missing required property "description"/,
      },
    ]);
  });

  it("a wrong type points at the value", async () => {
    const result = await validate(
      example([
        "    tags: [postgresql, relational, sql]\n    bindable: true",
        "    tags: [postgresql, relational, sql]\n    bindable: [yes]",
      ]),
    );
    expectErrors(result, [{ at: "[yes]", path: "services[0].bindable", message: /^must be a boolean$/ }]);
  });

  it("a value written in the file is never coerced: an empty value or 1 is not a boolean", async () => {
    const TAGS = "    tags: [postgresql, relational, sql]\n    bindable: true";
    const empty = await validate(
      example([TAGS, "    tags: [postgresql, relational, sql]\n    bindable: # todo"]),
    );
    expectErrors(empty, [
      {
        at: "bindable: # todo",
        path: "services[0].bindable",
        message: /^has no value; must be a boolean$/,
      },
    ]);
    const one = await validate(example([TAGS, "    tags: [postgresql, relational, sql]\n    bindable: 1"]));
    expectErrors(one, [
      {
        at: "bindable: 1",
        shift: "bindable: ".length,
        path: "services[0].bindable",
        message: /^must be a boolean, not a number$/,
      },
    ]);
    const quoted = await validate(
      example([TAGS, '    tags: [postgresql, relational, sql]\n    bindable: "true"']),
    );
    expectErrors(quoted, [
      {
        at: 'bindable: "true"',
        shift: "bindable: ".length,
        path: "services[0].bindable",
        message: /^must be a boolean, not a string$/,
      },
    ]);
  });

  it("a number where a string belongs must be quoted, so 2.10 cannot silently become 2.1", async () => {
    const result = await validate(example(["          version: 2.1.0\n", "          version: 2.10\n"]));
    expectErrors(result, [
      {
        at: "2.10\n",
        path: "services[0].plans[1].maintenance_info.version",
        message: /^must be a string, not a number \(quote it\)$/,
      },
    ]);
  });

  it("a type error never repeats the value, which may be a secret written in the file", async () => {
    const result = await validate(
      example(["    password: ${CLOUDIFY_PASSWORD:-admin}", "    password: 918273645546372819"]),
    );
    expectErrors(result, [
      {
        at: "918273645546372819",
        path: "cloudify.auth.password",
        message: /^must be a string, not a number \(quote it\)$/,
      },
    ]);
    expect(JSON.stringify(result.issues)).not.toContain("918273645546372819");
  });

  it("a value outside an enum lists the allowed values", async () => {
    const result = await validate(example(["log_level: ${LOG_LEVEL:-info}", "log_level: loud"]));
    expectErrors(result, [
      {
        at: "log_level: loud",
        shift: "log_level: ".length,
        path: "broker.log_level",
        message: /^must be one of "fatal", "error", "warn", "info"/,
      },
    ]);
  });

  it("several schema errors in one file are all listed, in file order", async () => {
    const result = await validate(
      example(
        ["log_level: ${LOG_LEVEL:-info}", "log_level: loud"],
        ["    name: redis\n", "    name: redis\n    colour: red\n"],
        [
          "        name: cache-large\n",
          "        name: cache-large\n        maximum_polling_duration: soon\n",
        ],
      ),
    );
    expectErrors(result, [
      { at: "log_level: loud", shift: 11, path: "broker.log_level", message: /must be one of/ },
      { at: "colour: red", path: "services[1].colour", message: /unknown property "colour"/ },
      { at: "soon", path: "services[1].plans[1].maximum_polling_duration", message: /must be an integer/ },
    ]);
  });
});

describe("one round of fixes", () => {
  it("schema errors do not hide template and semantic errors of services the schema accepted", async () => {
    const result = await validate(
      example(
        // A schema error in the broker section and one in the redis service...
        ["log_level: ${LOG_LEVEL:-info}", "log_level: loud"],
        ["    name: redis\n", "    name: redis\n    colour: red\n"],
        // ...and, in the postgresql service the schema accepts, a template syntax error and a duplicate plan name.
        ['extensions: "{{parameters.extensions}}"', 'extensions: "{{parameters.extensions}"'],
        ["        name: large\n", "        name: small\n"],
      ),
    );
    const messages = result.errors.map((e) => `${e.path}: ${e.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^broker\.log_level: must be one of/),
        expect.stringMatching(/^services\[1\]\.colour: unknown property/),
        expect.stringMatching(/^services\[0\]\.plans\[0\]\.inputs\.extensions: template syntax/),
        expect.stringMatching(/^services\[0\]\.plans\[1\]\.name: plan name "small" is already used/),
      ]),
    );
    // Nothing is reported from inside the service the schema rejected: its shape is unknown.
    expect(messages.filter((m) => m.startsWith("services[1]"))).toEqual([expect.stringMatching(/colour/)]);
    expect(result.loaded).toBeUndefined();
  });
});

describe("catalog rules the schema cannot express", () => {
  it("C2 service ids are unique across the catalog", async () => {
    const id = "6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11";
    const result = await validate(example(["  - id: 9a7c4e21-3d5b-4f8e-b6a2-7e1c0d9f8a22", `  - id: ${id}`]));
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({
      ...nthPositionOf(result.text, id, 2),
      path: "services[1].id",
      message: `service id "${id}" is already used by service at services[0].id; ids must be unique across the catalog`,
    });
  });

  it("C3 plan ids are unique across services", async () => {
    const id = "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01";
    const result = await validate(
      example(["      - id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33", `      - id: ${id}`]),
    );
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({
      ...nthPositionOf(result.text, id, 2),
      path: "services[1].plans[0].id",
      message: `plan id "${id}" is already used by plan at services[0].plans[0].id; ids must be unique across the catalog`,
    });
  });

  it("C2 service names are unique across the catalog", async () => {
    const result = await validate(example(["    name: redis\n", "    name: postgresql # again\n"]));
    expectErrors(result, [
      {
        at: "postgresql # again",
        path: "services[1].name",
        message: /service name "postgresql" is already used by services\[0\]/,
      },
    ]);
  });

  it("C3 plan names are unique within a service", async () => {
    const result = await validate(example(["        name: large\n", "        name: small # again\n"]));
    expectErrors(result, [
      {
        at: "small # again",
        path: "services[0].plans[1].name",
        message: /plan name "small" is already used in this service by plans\[0\]/,
      },
    ]);
  });

  it("C3 the same plan name in two services is fine", async () => {
    const result = await validate(example(["        name: cache-small\n", "        name: small\n"]));
    expect(result.issues).toEqual([]);
  });

  it("C2 service names must be CLI-friendly", async () => {
    const result = await validate(example(["    name: redis\n", "    name: redis cache\n"]));
    expectErrors(result, [
      {
        at: "redis cache",
        path: "services[1].name",
        message: /service name "redis cache" is not CLI-friendly/,
      },
    ]);
  });

  it("C3 plan names must be CLI-friendly", async () => {
    const result = await validate(example(["        name: cache-large\n", "        name: cache/large\n"]));
    expectErrors(result, [
      {
        at: "cache/large",
        path: "services[1].plans[1].name",
        message: /plan name "cache\/large" is not CLI-friendly/,
      },
    ]);
  });

  it("C3 maintenance_info.version must be semver 2.0", async () => {
    const result = await validate(example(["          version: 2.1.0\n", "          version: v2.1\n"]));
    expectErrors(result, [
      {
        at: "v2.1",
        path: "services[0].plans[1].maintenance_info.version",
        message: /"v2.1" is not a semantic version/,
      },
    ]);
  });

  it("C3 maintenance_info.version must be exactly semver 2.0: no v prefix, no spaces; build metadata is fine", async () => {
    for (const version of ["v2.1.0", '" 2.1.0"', "2.1.0.1", "02.1.0"]) {
      const result = await validate(
        example(["          version: 2.1.0\n", `          version: ${version} # bad\n`]),
      );
      expectErrors(result, [
        {
          at: `${version} # bad`,
          path: "services[0].plans[1].maintenance_info.version",
          message: /is not a semantic version/,
        },
      ]);
    }
    const build = await validate(
      example(["          version: 2.1.0\n", "          version: 2.1.0-rc.1+build.5\n"]),
    );
    expect(build.issues).toEqual([]);
  });

  it("every plan needs a blueprint, from the plan or its service", async () => {
    const result = await validate(example(["    blueprint_id: redis\n", ""]));
    expectErrors(result, [
      {
        at: "id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33",
        path: "services[1].plans[0]",
        message: /^no blueprint/,
      },
      {
        at: "id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a34",
        path: "services[1].plans[1]",
        message: /^no blueprint/,
      },
    ]);
  });

  it("syslog_drain_url needs requires: [syslog_drain]", async () => {
    const result = await validate(example(["    requires: [syslog_drain]\n", ""]));
    expect(result.errors.map(({ line, column, path }) => ({ line, column, path }))).toEqual([
      {
        ...nthPositionOf(result.text, '"syslog-tls://', 1),
        path: "services[1].plans[0].binding.syslog_drain_url",
      },
      {
        ...nthPositionOf(result.text, '"syslog-tls://', 2),
        path: "services[1].plans[1].binding.syslog_drain_url",
      },
    ]);
    for (const error of result.errors)
      expect(error.message).toMatch(/needs "syslog_drain" in the service's requires/);
  });

  it("binding mode workflow needs binding.workflow", async () => {
    const result = await validate(
      example([
        "          mode: outputs\n          requires_app: true\n",
        "          mode: workflow\n          requires_app: true\n",
      ]),
    );
    expectErrors(result, [
      {
        at: "workflow\n          requires_app",
        path: "services[1].plans[0].binding.mode",
        message: /mode "workflow" needs binding\.workflow\.create/,
      },
    ]);
  });

  it("C3 binding_rotatable needs a bindable plan", async () => {
    const result = await validate(
      example([
        "        free: false\n        binding_rotatable: true\n",
        "        free: false\n        bindable: false\n        binding_rotatable: true # here\n",
      ]),
    );
    expectErrors(result, [
      {
        at: "true # here",
        path: "services[0].plans[1].binding_rotatable",
        message: /^binding_rotatable needs a bindable plan$/,
      },
    ]);
  });
});

describe("C4 embedded parameter schemas", () => {
  const REDIS_SCHEMA =
    "                $schema: http://json-schema.org/draft-04/schema#\n                type: object\n                properties:\n                  tls:";
  const TLS = "                  tls: { type: boolean, description: Serve TLS only }";
  const path = "services[1].plans[0].schemas.service_instance.create.parameters";

  it("C4 a schema must declare $schema", async () => {
    const result = await validate(
      example([
        REDIS_SCHEMA,
        "                type: object\n                properties:\n                  tls:",
      ]),
    );
    expectErrors(result, [
      {
        at: "type: object\n                properties:\n                  tls:",
        path,
        message: /must declare \$schema/,
      },
    ]);
  });

  it("C4 a schema must not use an external $ref", async () => {
    const result = await validate(
      example([TLS, '                  tls: { $ref: "https://example.com/tls.json" }']),
    );
    expectErrors(result, [
      {
        at: "$schema: http://json-schema.org/draft-04",
        path,
        message: /uses external \$ref "https:\/\/example\.com\/tls\.json"/,
      },
    ]);
  });

  it("C4 an internal $ref is fine", async () => {
    const result = await validate(
      example([
        TLS,
        '                  tls: { $ref: "#/definitions/flag" }\n                definitions:\n                  flag: { type: boolean }',
      ]),
    );
    expect(result.issues).toEqual([]);
  });

  it("C4 a schema must be at most 64 kB", async () => {
    const result = await validate(
      example([TLS, `                  tls: { type: boolean, description: ${"x".repeat(66 * 1024)} }`]),
    );
    expectErrors(result, [
      {
        at: "$schema: http://json-schema.org/draft-04",
        path,
        message: /is \d+ bytes; OSB allows at most 65536/,
      },
    ]);
  });

  it("C4 a schema must be a valid JSON Schema", async () => {
    const result = await validate(example([TLS, "                  tls: { type: boolean, minimum: many }"]));
    expectErrors(result, [
      {
        at: "$schema: http://json-schema.org/draft-04",
        path,
        message: /is not a valid JSON Schema: .*minimum must be number/,
      },
    ]);
  });

  it("C4 an unknown $schema draft is rejected", async () => {
    const result = await validate(
      example([REDIS_SCHEMA, REDIS_SCHEMA.replace("draft-04/schema#", "draft-03/schema#")]),
    );
    expectErrors(result, [
      {
        at: "$schema: http://json-schema.org/draft-03",
        path,
        message: /is not a supported JSON Schema draft/,
      },
    ]);
  });
});

describe("templates", () => {
  it("a syntax error is placed at its line and column inside broker.yaml", async () => {
    const result = await validate(
      example(['db_name: "{{parameters.db_name}}"', 'db_name: "ab {{parameters.db_name}"']),
    );
    expectErrors(result, [
      {
        at: 'ab {{parameters.db_name}"',
        shift: "ab {{parameters.db_name".length,
        path: "services[0].plans[0].inputs.db_name",
        message: /^template syntax: unexpected '}'; expected '}}'/,
      },
    ]);
  });

  it("an unclosed block is placed at its opening tag", async () => {
    const result = await validate(
      example(['db_name: "{{parameters.db_name}}"', 'db_name: "x {{#if parameters.db_name}}y"']),
    );
    expectErrors(result, [
      {
        at: "{{#if parameters.db_name}}",
        path: "services[0].plans[0].inputs.db_name",
        message: /block \{\{#if\}\} is never closed/,
      },
    ]);
  });

  it("a syntax error on a later line of a block scalar is placed at that line and column", async () => {
    const result = await validate(
      example([
        '            uri: "{{capabilities.uri}}"\n            jdbc_url',
        "            uri: |  # the host {{ and port\n              host={{outputs.host}}\n              port={{outputs.port}} {{outputs.port}\n            jdbc_url",
      ]),
    );
    expectErrors(result, [
      {
        at: "{{outputs.port}\n",
        shift: "{{outputs.port".length,
        path: "services[0].plans[1].binding.credentials.uri",
        message: /unexpected '}'; expected '}}'/,
      },
    ]);
  });

  it("an unclosed block inside a folded block scalar is placed at its opening tag", async () => {
    const result = await validate(
      example([
        '            uri: "{{capabilities.uri}}"\n            jdbc_url',
        "            uri: >-\n              host={{outputs.host}}\n              {{#each outputs.ports}}{{this}}\n            jdbc_url",
      ]),
    );
    expectErrors(result, [
      {
        at: "{{#each outputs.ports}}",
        path: "services[0].plans[1].binding.credentials.uri",
        message: /block \{\{#each\}\} is never closed/,
      },
    ]);
  });

  it("a syntax error on the second line of a multi-line quoted scalar is placed there", async () => {
    const result = await validate(
      example([
        '            uri: "{{capabilities.uri}}"\n            jdbc_url',
        '            uri: "host={{outputs.host}}\n              port={{outputs.port}"\n            jdbc_url',
      ]),
    );
    expectErrors(result, [
      {
        at: '{{outputs.port}"',
        shift: "{{outputs.port".length,
        path: "services[0].plans[1].binding.credentials.uri",
        message: /expected '}}'/,
      },
    ]);
  });

  it("a syntax error in the dashboard_url template is placed in the file", async () => {
    const result = await validate(
      example(["/postgresql/{{urlencode instance_id}}", "/postgresql/{{urlencode instance_id}"]),
    );
    expectErrors(result, [
      {
        at: '{{urlencode instance_id}"',
        shift: "{{urlencode instance_id".length,
        path: "services[0].dashboard_url",
        message: /expected '}}'/,
      },
    ]);
  });

  it("every broken template of a value tree is listed", async () => {
    const result = await validate(
      example(
        ['db_name: "{{parameters.db_name}}"', 'db_name: "{{parameters.db_name}"'],
        [
          'backup_retention_days: "{{parameters.backup_retention_days}}"',
          'backup_retention_days: "{{#if x}}"',
        ],
      ),
    );
    expectErrors(result, [
      {
        at: '{{parameters.db_name}"',
        shift: "{{parameters.db_name".length,
        path: "services[0].plans[0].inputs.db_name",
        message: /expected '}}'/,
      },
      { at: "{{#if x}}", path: "services[0].plans[0].inputs.backup_retention_days", message: /never closed/ },
    ]);
  });

  it("a template reading an unknown variable names it and what is available", async () => {
    const result = await validate(
      example(['username: "{{capabilities.admin_username}}"', 'username: "{{capability.admin_username}}"']),
    );
    expectErrors(result, [
      {
        at: '"{{capability.admin_username}}"',
        path: "services[0].plans[1].binding.credentials.username",
        message:
          /template reads capability\.admin_username: unknown variable "capability" \(available: parameters, .*outputs, capabilities/,
      },
    ]);
  });

  it("binding-only variables are unknown to instance templates", async () => {
    const result = await validate(
      example(["/postgresql/{{urlencode instance_id}}", "/postgresql/{{binding_id}}"]),
    );
    expectErrors(result, [
      {
        at: '"https://dashboard.example.com/postgresql/{{binding_id}}"',
        path: "services[0].dashboard_url",
        message: /unknown variable "binding_id"/,
      },
    ]);
  });

  it("a template reading a parameter no schema or default defines is rejected", async () => {
    const result = await validate(
      example(['db_name: "{{parameters.db_name}}"', 'db_name: "{{parameters.dbname}}"']),
    );
    expectErrors(result, [
      {
        at: '"{{parameters.dbname}}"',
        path: "services[0].plans[0].inputs.db_name",
        message:
          /template reads parameters\.dbname, which the plan's parameter schemas and defaults do not define/,
      },
    ]);
  });

  it("a binding template may read only parameters of the binding schema", async () => {
    const result = await validate(
      example([
        "privileges: \"{{default parameters.privileges 'readwrite'}}\"",
        "privileges: \"{{default parameters.privilege 'readwrite'}}\"",
      ]),
    );
    expectErrors(result, [
      {
        at: "\"{{default parameters.privilege 'readwrite'}}\"",
        path: "services[0].plans[0].binding.workflow.create.parameters.privileges",
        message: /parameters\.privilege, which/,
      },
    ]);
  });

  it("any parameter may be read when a schema allows additional properties", async () => {
    const result = await validate(
      example(['tls: "{{default parameters.tls true}}"', 'tls: "{{default parameters.anything true}}"']),
    );
    expect(result.issues).toEqual([]);
  });
});

describe("several problems at once", () => {
  it("every semantic and template error of the file is listed, in file order", async () => {
    const result = await validate(
      example(
        ["    name: redis\n", "    name: postgresql # again\n"],
        ['db_name: "{{parameters.db_name}}"', 'db_name: "{{parameters.dbname}}"'],
        ["          version: 2.1.0\n", "          version: two\n"],
        ["    requires: [syslog_drain]\n", ""],
      ),
    );
    expect(result.loaded).toBeUndefined();
    expect(result.errors.map((e) => e.path)).toEqual([
      "services[0].plans[0].inputs.db_name",
      "services[0].plans[1].maintenance_info.version",
      "services[1].name",
      "services[1].plans[0].binding.syslog_drain_url",
      "services[1].plans[1].binding.syslog_drain_url",
    ]);
    const lines = result.errors.map((e) => e.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });
});
