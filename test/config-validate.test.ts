// biome-ignore-all lint/suspicious/noTemplateCurlyInString: broker.yaml spells environment references ${VAR}
/**
 * broker.yaml validation: every kind of bad config is rejected with the file:line:column an
 * editor should jump to and the dotted path inside the document. Each config is the example
 * with one small edit, written to a real file and loaded by loadConfig, the function the
 * `validate`, `catalog` and `serve` commands call (the CLI itself is tested in cli-validate).
 */
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigIssue } from "../src/config/issues.js";
import { loadConfig } from "../src/config/load.js";
import { parseOffThread } from "../src/config/parse-off-thread.js";
import { ConfigSource } from "../src/config/source.js";
import { packageRoot } from "../src/util/package-root.js";
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

  it("a missing ] is one error, on the line of its [, with the fix (not a cascade a line late)", async () => {
    const result = await validate(
      example(["    tags: [postgresql, relational, sql]\n", "    tags: [postgresql, relational, sql\n"]),
    );
    expectErrors(result, [
      {
        at: "[postgresql, relational, sql\n",
        path: "",
        message: /^YAML: this \[ is never closed: add \] where the list ends/,
      },
    ]);
  });

  it("a missing } in a nested plan value, likewise", async () => {
    const result = await validate(
      example([
        '          pg_version: { value: "16", updatable: false }\n',
        '          pg_version: { value: "16", updatable: false\n',
      ]),
    );
    expectErrors(result, [
      {
        at: '{ value: "16", updatable: false\n',
        path: "",
        message: /^YAML: this \{ is never closed: add \} where the mapping ends/,
      },
    ]);
  });

  it("other syntax errors: only the first, at its line, with a hint", async () => {
    const tab = await validate(example(["sql]\n    bindable: true\n", "sql]\n\tbindable: true\n"]));
    expect(tab.errors).toHaveLength(1);
    expect(tab.errors[0]?.line).toBe(positionOf(tab.text, "\tbindable").line);
    expect(tab.errors[0]?.message).toMatch(/indents with spaces only/);

    const colon = await validate(example(["sql]\n    bindable: true\n", "sql]\n    bindable true\n"]));
    expect(colon.errors).toHaveLength(1);
    expect(colon.errors[0]?.line).toBe(positionOf(colon.text, "bindable true").line);
    expect(colon.errors[0]?.message).toMatch(/a key without `:`/);

    const quote = await validate(
      example([
        "    description: PostgreSQL databases deployed by Cloudify\n",
        '    description: "PostgreSQL databases deployed by Cloudify\n',
      ]),
    );
    expect(quote.errors).toHaveLength(1);
    expect(quote.errors[0]?.line).toBe(positionOf(quote.text, '"PostgreSQL databases').line);
    expect(quote.errors[0]?.message).toMatch(/must end on a matching quote/);
  });

  it("an unclosed quote is one error where it opens, not at the end of the file", async () => {
    const single = await validate(
      example([
        "    description: Redis in-memory cache deployed by Cloudify\n",
        "    description: 'Redis in-memory cache\n",
      ]),
    );
    expectErrors(single, [
      {
        at: "'Redis in-memory cache\n",
        path: "",
        message:
          /^YAML: this ' is never closed: end the string with ' \(a quoted string must end on a matching quote\)$/,
      },
    ]);
    // Inside a flow list, the quote is the mistake, not the list the quote swallowed the ] of.
    const inList = await validate(
      example(["[256 MB memory, LRU eviction, TLS]", "[256 MB memory, 'LRU eviction, TLS]"]),
    );
    expectErrors(inList, [{ at: "'LRU eviction", path: "", message: /^YAML: this ' is never closed/ }]);
  });

  it("of two unclosed brackets, the inner one is reported: it is the one to close first", async () => {
    const result = await validate(
      example([
        "parameters: { db_name: orders, extensions: [pg_trgm] }",
        "parameters: { db_name: orders, extensions: [pg_trgm }",
      ]),
    );
    expectErrors(result, [
      { at: "[pg_trgm }", path: "", message: /^YAML: this \[ is never closed: add \] where the list ends/ },
    ]);
  });

  it("a key indented deeper than its siblings is reported on its own line, not the line above", async () => {
    const result = await validate(
      example([
        "        description: 256 MB cache without persistence\n",
        "         description: 256 MB cache without persistence\n",
      ]),
    );
    expectErrors(result, [
      {
        at: "description: 256 MB cache without persistence",
        path: "",
        message: /^YAML: this line is indented deeper than the key above it.*indent it like its sibling keys/,
      },
    ]);
  });

  it("a key indented less than its siblings, or a ] that closes nothing: at the line, with a hint", async () => {
    const less = await validate(
      example([
        "        description: 256 MB cache without persistence\n",
        "       description: 256 MB cache without persistence\n",
      ]),
    );
    expectErrors(less, [
      {
        at: "description: 256 MB cache without persistence",
        path: "",
        message: /check this line's indentation: the keys of one mapping must start at the same column/,
      },
    ]);
    const stray = await validate(example(["[redis, cache, key-value]", "[redis, cache, key-value]]"]));
    expectErrors(stray, [
      {
        at: "]]",
        shift: 1,
        path: "",
        message: /it closes nothing: remove it, or add the bracket it should close/,
      },
    ]);
  });

  it("an alias of an anchor never set is an error at the alias (it threw out of the loader)", async () => {
    const result = await validate(
      example(
        ["    blueprint_id: redis\n", "    blueprint_id: *redis\n"],
        ["    name: redis\n", "    name: redis\n    name: rds\n"],
      ),
    );
    expectErrors(result, [
      { at: "name: rds", path: "", message: /^YAML: Map keys must be unique/ },
      {
        at: "*redis",
        path: "",
        message: /^YAML: \*redis refers to no anchor \(set &redis on a value above it\)$/,
      },
    ]);
  });

  it("a document that expands to too many aliases is an error, not a crash", async () => {
    const nine = (name: string) => `[${Array(9).fill(`*${name}`).join(", ")}]`;
    const text = `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b ${nine("a")}\nc: &c ${nine("b")}\nd: &d ${nine("c")}\ne: ${nine("d")}\n`;
    const result = await validate(text);
    expectErrors(result, [{ at: "b: &b [*a", shift: 7, path: "", message: /^YAML: Excessive alias count/ }]);
  });

  it("text after a quoted value: at the text, with a hint", async () => {
    const result = await validate(
      example([
        'tls: "{{default parameters.tls true}}"',
        'tls: "{{default parameters.tls true}}" # ok\n          x: "y" z',
      ]),
    );
    expectErrors(result, [{ at: " z\n", shift: 1, path: "", message: /quote the whole value/ }]);
  });

  it("independent duplicate keys are all reported", async () => {
    const result = await validate(
      example(
        ["    name: postgresql\n", "    name: postgresql\n    name: pgsql\n"],
        ["    name: redis\n", "    name: redis\n    name: rds\n"],
      ),
    );
    expectErrors(result, [
      { at: "name: pgsql", path: "", message: /^YAML: Map keys must be unique/ },
      { at: "name: rds", path: "", message: /^YAML: Map keys must be unique/ },
    ]);
  });

  it("a duplicate key hides no other error: the file is still checked, with the last of the keys", async () => {
    const result = await validate(
      example(
        ["    name: redis\n", "    name: redis\n    name: rds cache\n"],
        ["          version: 2.1.0\n", "          version: two\n"],
        ["        maximum_polling_duration: 3600\n", "        maximum_polling_duration: soon\n"],
      ),
    );
    expectErrors(result, [
      { at: "soon", path: "services[0].plans[0].maximum_polling_duration", message: /must be an integer/ },
      {
        at: "two\n",
        path: "services[0].plans[1].maintenance_info.version",
        message: /"two" is not a semantic version/,
      },
      { at: "name: rds cache", path: "", message: /^YAML: Map keys must be unique/ },
      { at: "rds cache", path: "services[1].name", message: /service name "rds cache" is not CLI-friendly/ },
    ]);
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
  it("are found with schema/broker.schema.json, itself a valid draft-07 schema (the loader does not re-check it)", () => {
    const schema = JSON.parse(readFileSync(join(packageRoot(), "schema/broker.schema.json"), "utf8"));
    const ajv = new Ajv({ strict: false });
    expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
  });

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
    // The redis service's only problem is the unknown property.
    expect(messages.filter((m) => m.startsWith("services[1]"))).toEqual([expect.stringMatching(/colour/)]);
    expect(result.loaded).toBeUndefined();
  });

  it("a schema error in one plan hides nothing of the service's other plans, nor of other services", async () => {
    const result = await validate(
      example(
        // postgresql/large: a schema error...
        ["        maximum_polling_duration: 7200\n", "        maximum_polling_duration: soon\n"],
        // ...postgresql/small, same service: a template syntax error...
        ['extensions: "{{parameters.extensions}}"', 'extensions: "{{parameters.extensions}"'],
        // ...redis/cache-large: the id of redis/cache-small (a semantic error).
        ["3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a34", "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33"],
      ),
    );
    expectErrors(result, [
      {
        at: 'parameters.extensions}"',
        shift: "parameters.extensions".length,
        path: "services[0].plans[0].inputs.extensions",
        message: /^template syntax: /,
      },
      { at: "soon", path: "services[0].plans[1].maximum_polling_duration", message: /must be an integer/ },
      {
        at: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33\n        name: cache-large",
        path: "services[1].plans[1].id",
        message: /plan id "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33" is already used/,
      },
    ]);
  });

  it("a bad plan property no check reads hides nothing of its own plan", async () => {
    const result = await validate(
      example(
        ["        maximum_polling_duration: 3600\n", "        maximum_polling_duration: soon\n"],
        ['db_name: "{{parameters.db_name}}"', 'db_name: "{{parameters.dbname}}"'],
      ),
    );
    expectErrors(result, [
      { at: "soon", path: "services[0].plans[0].maximum_polling_duration", message: /must be an integer/ },
      {
        at: 'parameters.dbname}}"',
        path: "services[0].plans[0].inputs.db_name",
        message: /template reads parameters\.dbname/,
      },
    ]);
  });

  it("a bad binding, or bad schemas, of a plan are left out of its checks; its inputs' templates are still checked", async () => {
    const result = await validate(
      example(
        // postgresql/small: a bad binding mode, and a template syntax error in an input.
        ["          mode: workflow\n", "          mode: sideways\n"],
        ['extensions: "{{parameters.extensions}}"', 'extensions: "{{parameters.extensions}"'],
        // postgresql/large: bad schemas, a template syntax error, and a template reading a
        // parameter the bad schemas might have offered (not an error: that check is off).
        [
          "            create:\n              from_blueprint: true\n",
          "            create:\n              from_blueprint: maybe\n",
        ],
        [
          "          cpu: 4\n",
          '          cpu: "{{parameters.cpu}"\n          owner: "{{parameters.owner}}"\n',
        ],
      ),
    );
    expectErrors(result, [
      {
        at: 'parameters.extensions}"',
        shift: "parameters.extensions".length,
        path: "services[0].plans[0].inputs.extensions",
        message: /^template syntax: /,
      },
      { at: "sideways", path: "services[0].plans[0].binding.mode", message: /must be one of/ },
      {
        at: 'parameters.cpu}"',
        shift: "parameters.cpu".length,
        path: "services[0].plans[1].inputs.cpu",
        message: /^template syntax: /,
      },
      {
        at: "maybe",
        path: "services[0].plans[1].schemas.service_instance.create.from_blueprint",
        message: /must be \{parameters: <JSON Schema>\} or \{from_blueprint: true\}/,
      },
    ]);
  });

  it("a plan without a required property is left out; the sibling plan's errors are still listed", async () => {
    const result = await validate(
      example(["        name: cache-small\n", ""], ["    requires: [syslog_drain]\n", ""]),
    );
    expectErrors(result, [
      {
        at: "- id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33",
        shift: 2,
        path: "services[1].plans[0]",
        message: /missing required property "name"/,
      },
      {
        at: 'syslog_drain_url: "syslog-tls://logs.example.com:6514/{{instance_id}}"\n        examples:\n          - name: queue-cache',
        shift: "syslog_drain_url: ".length,
        path: "services[1].plans[1].binding.syslog_drain_url",
        message: /needs "syslog_drain" in the service's requires/,
      },
    ]);
  });

  it("a service property of the wrong type leaves out the service's own checks, not its plans", async () => {
    const result = await validate(
      example(
        ["    description: Redis in-memory cache deployed by Cloudify\n", "    description: [Redis]\n"],
        [
          "          version: 1.0.0\n        inputs:\n          memory_mb: 256",
          "          version: one\n        inputs:\n          memory_mb: 256",
        ],
      ),
    );
    expectErrors(result, [
      { at: "[Redis]", path: "services[1].description", message: /must be a string/ },
      {
        at: "one\n",
        path: "services[1].plans[0].maintenance_info.version",
        message: /"one" is not a semantic version/,
      },
    ]);
  });

  it("a service property its plans inherit, of the wrong type, leaves out the service: no errors that follow from it", async () => {
    // requires as a string would make every syslog_drain_url look unpermitted.
    const result = await validate(
      example(["    requires: [syslog_drain]\n", "    requires: syslog_drain\n"]),
    );
    expectErrors(result, [
      { at: "syslog_drain\n", path: "services[1].requires", message: /must be an array/ },
    ]);
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
        at: "capability.admin_username}}",
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
        at: "binding_id}}",
        path: "services[0].dashboard_url",
        message: /unknown variable "binding_id"/,
      },
    ]);
  });

  it("a variable read on a later line of a block scalar is placed where it is read", async () => {
    const result = await validate(
      example([
        '            uri: "{{capabilities.uri}}"\n            jdbc_url:',
        "            uri: |-\n              {{capabilities.uri}}\n              ?sslmode={{capability.sslmode}}\n            jdbc_url:",
      ]),
    );
    expectErrors(result, [
      {
        at: "capability.sslmode",
        path: "services[0].plans[1].binding.credentials.uri",
        message: /template reads capability\.sslmode: unknown variable "capability"/,
      },
    ]);
  });

  it("a template reading a parameter no schema or default defines is rejected", async () => {
    const result = await validate(
      example(['db_name: "{{parameters.db_name}}"', 'db_name: "{{parameters.dbname}}"']),
    );
    expectErrors(result, [
      {
        at: 'parameters.dbname}}"',
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
        at: "parameters.privilege '",
        path: "services[0].plans[0].binding.workflow.create.parameters.privileges",
        message: /parameters\.privilege, which/,
      },
    ]);
  });

  it("any parameter may be read when the plan has no create schema, even with an update schema", async () => {
    // Provisions are not checked, so they may carry persistence; only updates are restricted.
    const result = await validate(
      example([
        "          persistence: true\n          tls: true\n          instance_name: \"{{default context.instance_name ''}}\"\n",
        `          persistence: "{{default parameters.persistence true}}"
          tls: true
        schemas:
          service_instance:
            update:
              parameters:
                $schema: http://json-schema.org/draft-07/schema#
                type: object
                additionalProperties: false
                properties:
                  tls: { type: boolean }
`,
      ]),
    );
    expect(result.issues).toEqual([]);
  });

  it("a parameter matching a schema's patternProperties may be read", async () => {
    const result = await validate(
      example(
        [
          "                type: object\n                additionalProperties: false\n                properties:\n                  db_name:\n",
          '                type: object\n                additionalProperties: false\n                patternProperties: { "^label_": { type: string } }\n                properties:\n                  db_name:\n',
        ],
        ["          cpu: 1\n", '          cpu: 1\n          team: "{{parameters.label_team}}"\n'],
      ),
    );
    expect(result.issues).toEqual([]);
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

describe("a reload's load (YAML parsed on a worker thread, checks paused between for requests)", () => {
  it("gets the document as parsed on the main thread, its plans sent back a batch at a time", async () => {
    const text = exampleText();
    for (const batch of [1, 2, 50]) {
      const offThread = await parseOffThread(text, batch);
      expect(offThread?.value, `${batch} plan(s) per batch`).toEqual(
        ConfigSource.parse("x.yaml", text).value,
      );
    }
  });

  it("gives the same issues at the same positions as validate, whatever is wrong", async () => {
    const variants = [
      exampleText(),
      example(["    tags: [postgresql, relational, sql]\n", "    tags: [postgresql, relational, sql\n"]),
      example(["sql]\n    bindable: true\n", 'sql]\n    bindable: "yes"\n']),
      example(["sql]\n    bindable: true\n", "sql]\n    bindable: *nope\n"]),
      example([
        '            jdbc_url: "{{outputs.jdbc_url}}"\n',
        '            jdbc_url: "{{outputs.jdbc_url"\n',
      ]),
      // The reload validates plan by plan, then the rest; whatever either would report goes
      // through the whole document's validation (schema-validation.ts, validateCleanInSlices).
      example(["        free: true\n", '        free: "yes"\n']),
      example(["        free: true\n", "        free: 1\n"]),
      example(["        free: true\n", "        free: true\n        colour: blue\n"]),
      example(["  max_body_bytes: 1048576\n", '  max_body_bytes: "1048576"\n']),
      example(
        ["        free: true\n", "        free: 1\n"],
        ["sql]\n    bindable: true\n", 'sql]\n    bindable: "yes"\n'],
      ),
      // Coerced from an environment variable: valid, the plan's value a number as at startup.
      example([
        "        maximum_polling_duration: 3600\n",
        "        maximum_polling_duration: ${BENCH_POLL_SECONDS:-3600}\n",
      ]),
    ];
    for (const [i, text] of variants.entries()) {
      const file = await writeConfig(dir, text, `reload-${i}.yaml`);
      for (const env of [FULL_ENV, {}]) {
        const direct = await loadConfig(file, { mode: "serve", env });
        const offLoop = await loadConfig(file, { mode: "serve", env, offEventLoop: true });
        expect(offLoop.issues, `variant ${i}`).toEqual(direct.issues);
        expect(offLoop.loaded?.config).toEqual(direct.loaded?.config);
        expect([...(offLoop.loaded?.catalog.plansById.keys() ?? [])]).toEqual([
          ...(direct.loaded?.catalog.plansById.keys() ?? []),
        ]);
      }
    }
  });
});
