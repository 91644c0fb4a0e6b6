/**
 * `npm run bench` (optionally `npm run bench -- http provision state templates`): runs the
 * benchmark suites in sequence and prints, for each, ratios against a baseline measured in the
 * same run, then a summary. The machine is shared and noisy, so there are no absolute
 * thresholds and nothing fails on a slow run; a failure means something answered wrongly.
 * Traffic goes only to 127.0.0.1 (but for `sbf`'s one-time npm install of the peer it compares
 * with); state goes to temporary directories under os.tmpdir().
 */
import { benchBind } from "./bind.js";
import { benchConfigLoad } from "./config-load.js";
import { benchCatalog } from "./http-catalog.js";
import { benchReads } from "./http-reads.js";
import { fixed, type Headline, line, ratio } from "./lib/measure.js";
import { benchMemory } from "./memory.js";
import { benchPostgres } from "./postgres.js";
import { benchProvision } from "./provision.js";
import { benchReload } from "./reload.js";
import { benchSbf } from "./sbf.js";
import { benchStateScale } from "./state-scale.js";
import { benchStateStore } from "./state-store.js";
import { benchTemplates } from "./templates.js";

const SUITES: Record<string, () => Promise<Headline[]>> = {
  http: benchCatalog,
  reads: benchReads,
  provision: benchProvision,
  bind: benchBind,
  reload: benchReload,
  config: benchConfigLoad,
  memory: benchMemory,
  state: benchStateStore,
  scale: benchStateScale,
  postgres: benchPostgres,
  templates: benchTemplates,
  sbf: benchSbf,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in SUITES));
  if (unknown.length) {
    process.stderr.write(
      `unknown suite(s) ${unknown.join(", ")}; choose from ${Object.keys(SUITES).join(", ")}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const start = performance.now();
  line(`# cfy-osb-broker benchmarks (node ${process.version}, ratios against same-run baselines)`);
  line();
  const headlines: Headline[] = [];
  for (const [name, suite] of Object.entries(SUITES)) {
    if (wanted.length && !wanted.includes(name)) continue;
    headlines.push(...(await suite()));
  }
  line("## Summary (median of interleaved rounds)");
  const width = Math.max(...headlines.map((h) => h.what.length));
  for (const h of headlines) line(`${h.what.padEnd(width)}  ${ratio(h.ratio).padStart(7)}  ${h.note}`);
  line();
  line(`total ${fixed((performance.now() - start) / 1000, 1)} s`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
