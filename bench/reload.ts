/**
 * Reload (what SIGHUP does: `startBrokerServer`'s reload, here asked for over IPC) of a
 * 1,000-plan broker.yaml whose catalog changed, while 4 clients keep fetching GET /v2/catalog
 * (gzip accepted, as platforms do):
 *   - time to the new ETag: from the reload's start to the first catalog answer carrying the
 *     new catalog's ETag (bar < 1 s);
 *   - the worst delay a catalog request sees while the reload runs (bar: none over 50 ms),
 *     against the worst in a quiet window of the same load, same length, no reload, measured
 *     in the same rounds (the machine's own scheduling noise).
 * Each round edits one plan's description back and forth, so every reload changes the catalog.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeBigConfig } from "./lib/big-config.js";
import { LoadTarget } from "./lib/load.js";
import { fixed, type Headline, line, median, quantile, ratio, ratios, rotate } from "./lib/measure.js";
import { osbHeaders } from "./lib/osb-client.js";
import { startServers } from "./lib/servers.js";

const PLANS = 1000;
const CLIENTS = 4;
const ROUNDS = 3;
/** A reload that takes longer is reported as such; the round stops waiting. */
const GIVE_UP_MS = 60_000;

export async function benchReload(): Promise<Headline[]> {
  line(`## Reload of a ${fixed(PLANS)}-plan broker.yaml under catalog load (${CLIENTS} clients, gzip)`);
  const dir = await mkdtemp(join(tmpdir(), "bench-reload-"));
  const configFile = await writeBigConfig(dir, PLANS);
  const original = await readFile(configFile, "utf8");
  // The first description in the file (the first service's) alternates between two texts.
  const edited = original.replace(/^(\s+description: .*)$/m, "$1 (edited)");
  if (edited === original) throw new Error("no description to edit in the big broker.yaml");
  const servers = await startServers({ stateDir: join(dir, "state"), pollIntervalMs: 2000, configFile });
  const catalog = new LoadTarget(servers.brokerUrl, CLIENTS);
  const headers = { ...osbHeaders(servers), "Accept-Encoding": "gzip" };
  let etag = "";
  const load = (options: {
    durationMs: number;
    stop?: () => boolean;
    onEtag?: (tag: string, at: number) => void;
  }) =>
    catalog.run({
      concurrency: CLIENTS,
      durationMs: options.durationMs,
      stop: options.stop,
      expectStatus: 200,
      latencies: true,
      countFailures: true,
      request: () => ({ method: "GET", path: "/v2/catalog", headers }),
      onAnswer: (answer, _sent, done) => {
        const tag = String(answer.etag);
        if (tag !== etag) options.onEtag?.(tag, done);
      },
    });
  let text = original;
  const toNewEtag: number[] = [];
  const serverMs: number[] = [];
  const worstDuring: number[] = [];
  const p99During: number[] = [];
  const worstQuiet: number[] = [];
  const failed = { reload: 0, quiet: 0, first: undefined as string | undefined };
  let windowMs = 2000;
  /** One reload under load; returns its worst catalog latency. */
  const reloadRound = async () => {
    text = text === original ? edited : original;
    await writeFile(configFile, text);
    const before = etag;
    const start = performance.now();
    let reloaded = false;
    let seen: number | undefined;
    const reload = servers.reload().then((answer) => {
      if (!answer.ok) throw new Error("the reload failed");
      serverMs.push(answer.ms);
      reloaded = true;
    });
    const result = await load({
      durationMs: GIVE_UP_MS,
      // Until the new ETag was served and the reload is over (the catalog is rendered anew after it).
      stop: () => reloaded && seen !== undefined,
      onEtag: (tag, at) => {
        if (tag !== before && seen === undefined) {
          seen = at;
          etag = tag;
        }
      },
    });
    await reload;
    failed.reload += result.failures;
    failed.first ??= result.firstFailure;
    if (seen === undefined) throw new Error(`no new ETag within ${GIVE_UP_MS} ms of the reload`);
    toNewEtag.push(seen - start);
    windowMs = result.elapsedMs;
    p99During.push(quantile(result.latencies!, 0.99));
    const worst = Math.max(...result.latencies!);
    worstDuring.push(worst);
    return worst;
  };
  const quietRound = async () => {
    const result = await load({ durationMs: windowMs });
    failed.quiet += result.failures;
    failed.first ??= result.firstFailure;
    const worst = Math.max(...result.latencies!);
    worstQuiet.push(worst);
    return worst;
  };
  try {
    await load({
      durationMs: 1000,
      onEtag: (tag) => {
        etag = tag;
      },
    });
    await reloadRound(); // warm-up: the first reload also compiles what startup left lazy
    toNewEtag.length = serverMs.length = worstDuring.length = p99During.length = 0;
    const worst = await rotate(ROUNDS, { reload: reloadRound, quiet: quietRound });
    const worstRatio = ratios(worst.reload, worst.quiet);
    line(
      `time to the new ETag, ms: ${toNewEtag.map((ms) => fixed(ms)).join(", ")} (median ${fixed(median(toNewEtag))}); reload() itself ${serverMs.map((ms) => fixed(ms)).join(", ")} ms in the server`,
    );
    line(
      `worst catalog latency during a reload, ms: ${worstDuring.map((ms) => fixed(ms)).join(", ")} (p99 ${p99During.map((ms) => fixed(ms)).join(", ")}); in a quiet window of the same length: ${worstQuiet.map((ms) => fixed(ms)).join(", ")}`,
    );
    line(`worst latency, reload / quiet: ${ratio(median(worstRatio))}`);
    line(
      `failed catalog requests: ${failed.reload} during reloads (warm-up included), ${failed.quiet} in quiet windows${failed.first ? ` (first: ${failed.first})` : ""}`,
    );
    line();
    return [
      {
        suite: "reload",
        what: `reload of ${fixed(PLANS)} plans: time to the new catalog ETag / 1 s`,
        ratio: median(toNewEtag) / 1000,
        note: `${fixed(median(toNewEtag))} ms; bar < 1×`,
      },
      {
        suite: "reload",
        what: `reload of ${fixed(PLANS)} plans: worst catalog latency during it / 50 ms`,
        ratio: median(worstDuring) / 50,
        note: `${fixed(median(worstDuring))} ms (quiet window: ${fixed(median(worstQuiet))} ms); bar <= 1×`,
      },
    ];
  } finally {
    await catalog.close();
    await servers.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
