/**
 * Loading a large broker.yaml: `cfy-broker validate` of a 1,000-plan file (what CI runs on every
 * change) and a broker's startup with it. The bars are absolute (validate < 1 s, startup
 * < 1.5 s on an idle machine), so each figure is printed against its bar and against a baseline
 * of the same run: a node process that reads the same document as JSON (process start, read,
 * JSON.parse), the least any tool must spend on it.
 *   - validate runs the built CLI (dist/, `npm run build`) as CI would, twice per round: with
 *     the variables broker.yaml references set, and without (three warnings, whose positions
 *     must then be found in the file);
 *   - startup is startBrokerServer in the benchmark's server process (bench/lib/servers.ts),
 *     one sample per round.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { packageRoot } from "../src/util/package-root.js";
import { writeBigConfig } from "./lib/big-config.js";
import {
  fixed,
  type Headline,
  line,
  median,
  middleHalf,
  ratios,
  ratioWithSpread,
  rotate,
} from "./lib/measure.js";
import { startServers } from "./lib/servers.js";

const PLANS = 1000;
const ROUNDS = 5;
const STARTUP_ROUNDS = 3;

/** Wall time of a node process, in ms; fails on a non-zero exit. */
async function timeNode(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const elapsed = performance.now() - start;
  if (code !== 0) throw new Error(`node ${args.join(" ")} exited ${code}: ${stderr}`);
  return elapsed;
}

export async function benchConfigLoad(): Promise<Headline[]> {
  line(`## Loading a ${fixed(PLANS)}-plan broker.yaml: validate and startup`);
  const cli = join(packageRoot(), "bin", "cfy-broker.js");
  if (!existsSync(join(packageRoot(), "dist", "src", "cli", "main.js"))) {
    line("not measured: the CLI is not built (run `npm run build` first)");
    line();
    return [];
  }
  const dir = await mkdtemp(join(tmpdir(), "bench-config-load-"));
  try {
    const file = await writeBigConfig(dir, PLANS);
    const json = join(dir, "broker.json");
    await writeFile(json, JSON.stringify(parse(await readFile(file, "utf8"))));
    const bare = { PATH: process.env.PATH, HOME: process.env.HOME };
    const withVariables = {
      ...bare,
      BROKER_USERNAME: "bench",
      BROKER_PASSWORD: "bench-password",
      BROKER_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
    };
    const readJson = `JSON.parse(require("node:fs").readFileSync(${JSON.stringify(json)}, "utf8"))`;
    await timeNode([cli, "validate", file], withVariables); // warm the page cache
    const ms = await rotate(ROUNDS, {
      validate: () => timeNode([cli, "validate", file], withVariables),
      validateWarnings: () => timeNode([cli, "validate", file], bare),
      json: () => timeNode(["-e", readJson], bare),
    });
    line(
      `median ms (informative only): validate ${fixed(median(ms.validate))} (middle half ${middleHalf(ms.validate)}), with 3 warnings ${fixed(median(ms.validateWarnings))}, node reading it as JSON ${fixed(median(ms.json))}`,
    );
    const validateVsJson = ratios(ms.validate, ms.json);
    const warningsVsJson = ratios(ms.validateWarnings, ms.json);
    line(
      `validate / node reading the same document as JSON:                 ${ratioWithSpread(validateVsJson)}`,
    );
    line(
      `validate with 3 warnings / node reading the same document as JSON: ${ratioWithSpread(warningsVsJson)}`,
    );

    const startups: number[] = [];
    const startupCpu: number[] = [];
    for (let round = 0; round < STARTUP_ROUNDS; round++) {
      const servers = await startServers({
        stateDir: join(dir, `state-${round}`),
        pollIntervalMs: 2000,
        configFile: file,
      });
      startups.push(servers.brokerStartMs);
      startupCpu.push(servers.brokerStartCpuMs);
      await servers.stop();
    }
    line(
      `startup with ${fixed(PLANS)} plans (startBrokerServer), ms: ${startups.map((v) => fixed(v)).join(", ")} (median ${fixed(median(startups))}); CPU ${startupCpu.map((v) => fixed(v)).join(", ")}`,
    );
    line();
    return [
      {
        suite: "config",
        what: `validate of ${fixed(PLANS)} plans / 1 s`,
        ratio: median(ms.validate) / 1000,
        note: `${fixed(median(ms.validate))} ms; ${fixed(median(validateVsJson), 1)}× node reading it as JSON; bar < 1×`,
      },
      {
        suite: "config",
        what: `validate of ${fixed(PLANS)} plans with 3 warnings / 1 s`,
        ratio: median(ms.validateWarnings) / 1000,
        note: `${fixed(median(ms.validateWarnings))} ms; positions found for the warnings`,
      },
      {
        suite: "config",
        what: `startup with ${fixed(PLANS)} plans / 1.5 s`,
        ratio: median(startups) / 1500,
        note: `${fixed(median(startups))} ms (${fixed(median(startupCpu))} ms of CPU); bar < 1×`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
