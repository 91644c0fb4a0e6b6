import { describe, expect, it } from "vitest";
import { compileTemplate, isRelativeReference } from "../src/templates/index.js";

function analyse(source: string) {
  const { references, secretKeys, usesSeed } = compileTemplate(source, { name: "t" });
  return { references, secretKeys, usesSeed };
}

describe("references", () => {
  it("lists plain variables, helper arguments and block conditions once each, in source order", () => {
    expect(
      analyse(
        "{{parameters.db_name}} {{default parameters.size 3}} {{#if context.namespace}}{{outputs.host}}{{/if}} {{parameters.db_name}}",
      ).references,
    ).toEqual(["parameters.db_name", "parameters.size", "context.namespace", "outputs.host"]);
  });

  it("follows sub-expressions and hash values", () => {
    expect(
      analyse(
        "{{upper (default parameters.a (concat outputs.b 'x'))}}{{#if parameters.n includeZero=context.z}}{{/if}}",
      ).references,
    ).toEqual(["parameters.a", "outputs.b", "parameters.n", "context.z"]);
  });

  it("resolves paths inside #each and #with relative to the root", () => {
    expect(analyse("{{#each parameters.users}}{{name}} {{this.email}} {{.}}{{/each}}").references).toEqual([
      "parameters.users",
      "parameters.users.*.name",
      "parameters.users.*.email",
      "parameters.users.*",
    ]);
    expect(analyse("{{#with outputs.db}}{{host}}:{{port}}{{/with}}").references).toEqual([
      "outputs.db",
      "outputs.db.host",
      "outputs.db.port",
    ]);
  });

  it("resolves nested blocks, block parameters, ../ and @root", () => {
    const source = [
      "{{#each parameters.groups as |group|}}",
      "{{#each group.members as |member i|}}",
      "{{member.name}}{{i}}{{@index}}{{../label}}{{@root.context.namespace}}{{../../context.platform}}",
      "{{#if member.admin}}{{../../outputs.admin_url}}{{/if}}",
      "{{/each}}",
      "{{/each}}",
    ].join("");
    expect(analyse(source).references).toEqual([
      "parameters.groups",
      "parameters.groups.*.members",
      "parameters.groups.*.members.*.name",
      "parameters.groups.*.label",
      "context.namespace",
      "context.platform",
      "parameters.groups.*.members.*.admin",
      "outputs.admin_url",
    ]);
  });

  it("keeps #if from changing what ../ refers to", () => {
    expect(analyse("{{#with outputs}}{{#if ready}}{{../parameters.x}}{{/if}}{{/with}}").references).toEqual([
      "outputs",
      "outputs.ready",
      "parameters.x",
    ]);
  });

  it("resolves {{else}} of #each/#with in the enclosing context", () => {
    expect(analyse("{{#with outputs}}{{host}}{{else}}{{parameters.fallback}}{{/with}}").references).toEqual([
      "outputs",
      "outputs.host",
      "parameters.fallback",
    ]);
  });

  it("reports @root.x as x and skips whole-context and loop metadata reads", () => {
    expect(analyse("{{@root.parameters.a}} {{json this}} {{json @root}}").references).toEqual([
      "parameters.a",
    ]);
    expect(
      analyse("{{#each parameters.l}}{{@index}}{{@key}}{{@first}}{{@last}}{{/each}}").references,
    ).toEqual(["parameters.l"]);
  });

  it("marks paths relative to a computed block context", () => {
    const { references } = analyse(
      "{{#each (lookup outputs parameters.which)}}{{name}} {{this}} {{@root.context.x}}{{/each}}",
    );
    expect(references).toEqual(["outputs", "parameters.which", "this.name", "this", "context.x"]);
    expect(references.filter(isRelativeReference)).toEqual(["this.name", "this"]);
    expect(isRelativeReference("parameters.this")).toBe(false);
    expect(isRelativeReference("thistle")).toBe(false);
  });

  it("reports lookup with a literal key as the looked-up path", () => {
    expect(analyse("{{lookup outputs 'db-host'}}").references).toEqual(["outputs", "outputs.db-host"]);
  });

  it("has no references for templates that read nothing", () => {
    expect(analyse("static").references).toEqual([]);
    expect(analyse("{{concat 'a' 'b'}}").references).toEqual([]);
  });
});

describe("secretKeys", () => {
  it("collects literal secret keys anywhere, deduplicated", () => {
    const source =
      '{{secret "db_admin"}} {{urlencode (secret "db_password")}} {{#if parameters.tls}}{{secret "tls_ca"}}{{/if}} {{secret "db_admin"}}';
    expect(analyse(source).secretKeys).toEqual(["db_admin", "db_password", "tls_ca"]);
  });

  it("includes keys inside #each and else branches", () => {
    expect(
      analyse("{{#each parameters.l}}{{secret 'k1'}}{{else}}{{secret 'k2'}}{{/each}}").secretKeys,
    ).toEqual(["k1", "k2"]);
  });

  it("does not report secret keys as variable references", () => {
    expect(analyse('{{secret "k"}}').references).toEqual([]);
  });
});

describe("usesSeed", () => {
  it("is true only when password or uuid is used", () => {
    expect(analyse("{{password 16}}").usesSeed).toBe(true);
    expect(analyse("{{#if x}}{{uuid}}{{/if}}").usesSeed).toBe(true);
    expect(analyse("{{x}}").usesSeed).toBe(false);
  });
});
