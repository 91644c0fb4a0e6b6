/**
 * Cloudify outages (issue 10, the suite): while a steady stream of lifecycles runs, the manager
 * restarts (connections refused), freezes (accepts, never answers until thawed), answers 503 or
 * 500 to every call, drops every connection, or sits behind a gateway that answers 504 but
 * performs the request late (CONTRACT M16, docs/CLOUDIFY.md CFY-GW). Afterwards everything
 * acknowledged completes, nothing is lost, and Cloudify ran each step exactly once; during the
 * outage the broker answers platforms' mistakes with 4xx (never 5xx), says "not now" with 503 +
 * Retry-After where it needs Cloudify at once, keeps liveness ok and fails readiness (the
 * `cloudify` check) until the manager answers again.
 *
 * RELIABILITY_OUTAGE_SECONDS (default 30, at least 6) is the length of every outage.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../../emulator/index.js";
import { bindBody, bindingPath } from "../fixtures/bindings-helpers.js";
import {
  type Lifecycle,
  type LifecycleKind,
  Platform,
  resultRow,
  runLifecycle,
  verifyLifecycles,
} from "../support/lifecycles.js";
import { OsbClient, type OsbResponse } from "../support/osb-client.js";
import { instancePath, newId, PG, provisionBody, type Stack, startStack } from "../support/stack.js";

/** Readiness fails after this long without an answer from Cloudify (broker.health). */
const UNREACHABLE_SECONDS = 3;
/** Long enough for readiness to notice (UNREACHABLE_SECONDS and a probe) and for the mistakes. */
const MIN_OUTAGE_MS = (UNREACHABLE_SECONDS + 3) * 1000;
const OUTAGE_MS = Math.max(MIN_OUTAGE_MS, Number(process.env.RELIABILITY_OUTAGE_SECONDS ?? 30) * 1000);
const CLIENTS = 4;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Outage {
  name: string;
  durationMs: number;
  /** Starts the outage; the returned function ends it. */
  begin(emulator: EmulatorHandle, durationMs: number): () => Promise<void>;
}

/** A fault on every call to the manager until the outage ends. */
const everyCall =
  (spec: Parameters<EmulatorHandle["faults"]["add"]>[0]) =>
  (emulator: EmulatorHandle): (() => Promise<void>) => {
    const id = emulator.faults.add(spec);
    return async () => {
      emulator.faults.remove(id);
    };
  };

const OUTAGES: Outage[] = [
  {
    name: "manager restart",
    durationMs: OUTAGE_MS,
    begin: (emulator, durationMs) => {
      const restarted = emulator.restart({ downMs: durationMs });
      return () => restarted;
    },
  },
  { name: "freeze", durationMs: OUTAGE_MS, begin: everyCall({ type: "hold" }) },
  {
    name: "gateway 504, request performed late",
    durationMs: OUTAGE_MS,
    begin: everyCall({ type: "gateway_timeout", answer: "504", performAfterMs: 500, times: 1e9 }),
  },
  {
    name: "503 on every call",
    durationMs: OUTAGE_MS,
    begin: everyCall({ type: "http_error", status: 503, times: 1e9 }),
  },
  {
    name: "500 on every call",
    durationMs: OUTAGE_MS,
    begin: everyCall({ type: "http_error", status: 500, times: 1e9 }),
  },
  { name: "dropped connections", durationMs: OUTAGE_MS, begin: everyCall({ type: "drop", times: 1e9 }) },
];

/** Requests with a platform's mistake in them, and the 4xx each must get even with Cloudify down. */
function mistakes(
  iid: string,
): { what: string; send: (osb: OsbClient) => Promise<OsbResponse>; status: number }[] {
  const async = { query: { accepts_incomplete: "true" } };
  return [
    {
      what: "provision of an unknown plan",
      send: (osb) => osb.put(instancePath(newId()), provisionBody(PG.small, { plan_id: newId() }), async),
      status: 400,
    },
    {
      what: "provision with invalid parameters",
      send: (osb) =>
        osb.put(
          instancePath(newId()),
          provisionBody(PG.small, { parameters: { db_name: "Not Valid!" } }),
          async,
        ),
      status: 400,
    },
    {
      what: "provision without accepts_incomplete",
      send: (osb) => osb.put(instancePath(newId()), provisionBody()),
      status: 422,
    },
    {
      what: "bind to an unknown instance",
      send: (osb) => osb.put(bindingPath(newId(), newId()), bindBody(PG.small), async),
      status: 404,
    },
    {
      what: "update of an unknown instance",
      send: (osb) => osb.patch(instancePath(newId()), { service_id: PG.service }, async),
      status: 404,
    },
    {
      what: "deprovision without service_id and plan_id",
      send: (osb) => osb.delete(instancePath(iid), async),
      status: 400,
    },
    {
      what: "last_operation of an unknown instance",
      send: (osb) => osb.get(`${instancePath(newId())}/last_operation`),
      status: 404,
    },
  ];
}

let stack: Stack | undefined;
afterEach(async () => {
  stack?.emulator?.faults.clear();
  await stack?.stop();
  stack = undefined;
});

const RESULTS: string[] = [];

describe("Cloudify outages during a steady stream of lifecycles", () => {
  it.each(OUTAGES)(
    "$name: everything acknowledged completes, once; readiness reports it; mistakes stay 4xx",
    async (outage) => {
      stack = await startStack({
        emulator: {
          timings: {
            pendingMs: 10,
            createEnvMs: 40,
            deleteEnvMs: 40,
            workflowMs: 40,
            cancelMs: 10,
            scale: 0.05,
          },
        },
        env: {
          BROKER_CLOUDIFY_UNREACHABLE_SECONDS: String(UNREACHABLE_SECONDS),
          BROKER_CLOUDIFY_PROBE_INTERVAL_SECONDS: "1",
        },
      });
      const { broker, env } = stack;
      const emulator = stack.emulator!;
      const osb = new OsbClient(broker.url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
      // Operations wait out the outage (and the backoff after it) before they end.
      const platform = new Platform(osb, 120_000);

      let starting = true;
      let n = 0;
      const lifecycles: Lifecycle[] = [];
      const kinds: LifecycleKind[] = ["workflow", "sync", "workflow", "halting", "sync"];
      const client = async () => {
        while (starting) {
          const i = n++;
          lifecycles.push(await runLifecycle(platform, kinds[i % kinds.length]!, i % 7 === 3));
        }
      };
      const clients = Array.from({ length: CLIENTS }, client);
      await sleep(1500);

      const outageStart = Date.now();
      const end = outage.begin(emulator, outage.durationMs);
      // During the outage: readiness fails on the cloudify check, liveness stays ok, and every
      // platform mistake is a 4xx.
      let readinessFailed: string | undefined;
      let livenessFailed = 0;
      const mistakeAnswers: string[] = [];
      while (Date.now() - outageStart < outage.durationMs - 500) {
        const ready = await fetch(`${broker.url}/readyz`);
        const body = (await ready.json()) as { checks?: Record<string, string> };
        if (ready.status === 503 && body.checks?.cloudify && body.checks.cloudify !== "ok")
          readinessFailed ??= body.checks.cloudify;
        if ((await fetch(`${broker.url}/livez`)).status !== 200) livenessFailed++;
        if (Date.now() - outageStart > (UNREACHABLE_SECONDS + 1) * 1000 && mistakeAnswers.length === 0) {
          const someInstance = lifecycles.at(-1)?.instanceId ?? newId();
          for (const mistake of mistakes(someInstance)) {
            const answer = await mistake.send(osb);
            if (answer.status !== mistake.status)
              mistakeAnswers.push(`${mistake.what}: ${answer.status} ${JSON.stringify(answer.body)}`);
            else mistakeAnswers.push("ok");
          }
        }
        await sleep(250);
      }
      await sleep(Math.max(0, outage.durationMs - (Date.now() - outageStart)));
      await end();
      const outageEnd = Date.now();

      // The stream goes on a little after the outage, then the last lifecycles finish.
      await sleep(2000);
      starting = false;
      await Promise.all(clients);
      const recoveredMs = Date.now() - outageEnd;
      let readyAgain = false;
      for (let i = 0; i < 100 && !readyAgain; i++) {
        readyAgain = (await fetch(`${broker.url}/readyz`)).status === 200;
        if (!readyAgain) await sleep(100);
      }

      const verdict = await verifyLifecycles(platform, emulator, lifecycles);
      const unexpected5xx = platform.counts.fiveXx - platform.counts.unavailable;
      const faults = `${outage.name}, ${outage.durationMs / 1000} s (broker: ${platform.counts.unavailable} × 503 Retry-After)`;
      const row = resultRow(`outage: ${outage.name}`, faults, verdict, unexpected5xx);
      RESULTS.push(row);
      console.log(`RESULT ${row}`);
      console.log(
        `outage ${outage.name}: ${lifecycles.length} lifecycles, ${platform.counts.requests} requests, ` +
          `${platform.counts.noAnswer} without an answer, last lifecycle done ${Math.round(recoveredMs / 1000)} s after the outage; ` +
          `readiness said: ${readinessFailed ?? "(never failed)"}`,
      );
      expect(platform.counts.fiveXxSamples).toEqual([]);
      expect(verdict.problems, verdict.problems.slice(0, 20).join("\n")).toEqual([]);
      expect(mistakeAnswers.filter((a) => a !== "ok")).toEqual([]);
      expect(mistakeAnswers.length).toBeGreaterThan(0);
      expect(readinessFailed).toBeDefined();
      expect(livenessFailed).toBe(0);
      expect(readyAgain).toBe(true);
      expect(verdict.acknowledged).toBeGreaterThan(0);
      expect(verdict.completed).toBe(verdict.acknowledged);
      expect(verdict.lost).toBe(0);
      expect(verdict.duplicated).toBe(0);
      expect(verdict.stuck).toBe(0);
      expect(unexpected5xx).toBe(0);
    },
    240_000,
  );
});
