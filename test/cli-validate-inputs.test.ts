/**
 * `cfy-broker validate --cloudify`: a plan whose blueprint requires an input (no default) that
 * the plan neither fixes in `inputs` nor offers as a parameter is a warning at the plan, since
 * every provision of it would fail in Cloudify. The blueprints come from a real emulator whose
 * catalogue is the shipped one with two inputs added.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type EmulatorHandle, shippedBlueprintsPath, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { EXAMPLE_FILE, exampleText, FULL_ENV, nthPositionOf, runCli } from "./fixtures/configs/helpers.js";

type Catalogue = { blueprints: { id: string; inputs: Record<string, Record<string, unknown>> }[] };

let shipped: EmulatorHandle;
let extended: EmulatorHandle;
beforeAll(async () => {
  shipped = await startEmulator({ logger: silentLogger });
  const catalogue = parse(readFileSync(shippedBlueprintsPath(), "utf8"), { merge: true }) as Catalogue;
  const blueprint = (id: string) => catalogue.blueprints.find((b) => b.id === id)!;
  // redis: a plan with declared schemas passes no parameter through, so a new required input is unfed.
  blueprint("redis").inputs = { ...blueprint("redis").inputs, zone: { type: "string" } };
  // postgresql-v2: derived schemas offer every input, except hidden ones.
  blueprint("postgresql-v2").inputs = {
    ...blueprint("postgresql-v2").inputs,
    admin_token: { type: "string", hidden: true },
    region: { type: "string" },
  };
  extended = await startEmulator({ logger: silentLogger, blueprints: catalogue });
});
afterAll(async () => {
  await shipped?.close();
  await extended?.close();
});

const validate = (emulator: EmulatorHandle) =>
  runCli(["validate", "--config", EXAMPLE_FILE, "--cloudify"], {
    env: { ...FULL_ENV, CLOUDIFY_URL: emulator.url },
  });

describe("validate: blueprint inputs no provision would give", () => {
  it("the example against the shipped blueprints: nothing to say", async () => {
    const result = await validate(shipped);
    expect(result.stderr).not.toMatch(/requires input/);
    expect(result.code).toBe(0);
  });

  it("warns at each plan's inputs, naming the inputs; an input offered as a parameter is fine", async () => {
    const result = await validate(extended);
    // region is offered as a (required) parameter: no warning, but the plan's example lacks it.
    expect(result.stderr).toMatch(/error: example "analytics-db": provision .*region/);
    expect(result.stderr).not.toMatch(/"region" \(no default\)/);
    expect(result.code).toBe(1);
    const warnings = result.stderr.split("\n").filter((line) => line.includes("requires input"));
    const text = exampleText();
    // The inputs: keys of the plans, in file order: pg small, pg large, redis small, redis large.
    const inputsAt = (n: number) => {
      const { line, column } = nthPositionOf(text, "        inputs:", n);
      return `${EXAMPLE_FILE}:${line}:${column + 8}: warning:`;
    };
    expect(warnings).toEqual([
      `${inputsAt(2)} blueprint postgresql-v2 requires input "admin_token" (no default), which this plan neither fixes in inputs nor offers as a parameter: every provision would fail in Cloudify (services[0].plans[1].inputs)`,
      `${inputsAt(3)} blueprint redis requires input "zone" (no default), which this plan neither fixes in inputs nor offers as a parameter: every provision would fail in Cloudify (services[1].plans[0].inputs)`,
      `${inputsAt(4)} blueprint redis requires input "zone" (no default), which this plan neither fixes in inputs nor offers as a parameter: every provision would fail in Cloudify (services[1].plans[1].inputs)`,
    ]);
  });
});
