/**
 * Every `cfy-broker` command answers `--help` (and `-h`) with its usage on stdout and exit 0,
 * without running anything; the command list comes from `cfy-broker --help` itself, so a new
 * command without help fails here.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "./fixtures/configs/helpers.js";

describe("cfy-broker --help", () => {
  it("lists the commands, and each answers --help and -h with its usage and exit 0", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(["validate", "catalog", "serve", "state", "orphans"]));
    for (const command of commands) {
      for (const flag of ["--help", "-h"]) {
        // From a directory without broker.yaml: help needs no configuration.
        const result = await runCli([command, flag], { cwd: "/" });
        expect(result.stderr, `${command} ${flag}`).toBe("");
        expect(result.code, `${command} ${flag}`).toBe(0);
        expect(result.stdout, `${command} ${flag}`).toMatch(new RegExp(`Usage:\\s+cfy-broker ${command}\\b`));
      }
    }
  }, 120_000);

  it("serve --help does not start a broker", async () => {
    const result = await runCli(["serve", "--help", "--port", "1"], { cwd: "/" });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("SIGHUP reloads broker.yaml");
    expect(result.stdout).toContain("--watch");
  });

  it("an unknown command: exit 2 with the usage on stderr", async () => {
    const result = await runCli(["frobnicate"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
  });
});
