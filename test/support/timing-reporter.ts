import { basename, dirname } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints where a test run's time went, just before the default reporter's summary (whose
 * "Test Files … passed" lines CI reads, so they stay last): the slowest files, and the total
 * per area (the file name's first word, e.g. `instances`, or its folder, e.g. `domain`).
 * A file's time is its import plus its tests and hooks; files run in parallel, so the
 * totals add up to more than the wall-clock duration.
 */
export default class TimingReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (modules.length < 2) return;
    const files = modules.map((module) => {
      const { collectDuration, duration, setupDuration, prepareDuration } = module.diagnostic();
      const name = module.relativeModuleId.replace(/^test\//, "");
      return {
        name,
        area: areaOf(name),
        importMs: collectDuration + setupDuration + prepareDuration,
        testsMs: duration,
      };
    });
    const total = (f: { importMs: number; testsMs: number }) => f.importMs + f.testsMs;
    const lines = ["", " Where the time goes (per file: import + tests and hooks; files run in parallel)"];
    for (const f of [...files].sort((a, b) => total(b) - total(a)).slice(0, 8)) {
      lines.push(`   ${seconds(total(f))}  ${f.name} (import ${seconds(f.importMs).trim()})`);
    }
    const areas = new Map<string, { files: number; ms: number }>();
    for (const f of files) {
      const area = areas.get(f.area) ?? { files: 0, ms: 0 };
      area.files += 1;
      area.ms += total(f);
      areas.set(f.area, area);
    }
    lines.push(" By area:");
    for (const [area, { files: count, ms }] of [...areas].sort((a, b) => b[1].ms - a[1].ms)) {
      lines.push(`   ${seconds(ms)}  ${area} (${count} file${count === 1 ? "" : "s"})`);
    }
    console.log(lines.join("\n"));
  }
}

function areaOf(name: string): string {
  const folder = dirname(name);
  if (folder !== ".") return folder;
  return basename(name).split(/[-.]/)[0]!;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`.padStart(7);
}
