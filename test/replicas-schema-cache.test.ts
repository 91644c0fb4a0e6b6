/**
 * Parameter schemas derived from blueprint inputs are cached in the shared state (issue 11): a
 * replica that cannot reach Cloudify at all serves the same catalog as one that can, and when a
 * replica refreshes the cache (a reload after the blueprint changed), the others derive the new
 * schemas from it: same catalog, same ETag, same validation. Real `serve` processes on PostgreSQL.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type EmulatorHandle, shippedBlueprintsPath, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { createTestDatabase, type TestDatabase } from "./support/postgres.js";
import { assertFreshBuild, freePort, kill9, type Replica, startReplica, until } from "./support/replicas.js";
import { ASYNC, brokerEnv, FAST_TIMINGS, instancePath, newId, PG, provisionBody } from "./support/stack.js";

let db: TestDatabase;
let emulator: EmulatorHandle;
let work: string;
const children = new Set<ChildProcess>();
let env: Record<string, string>;

/** The shipped blueprints; with `locale`, postgresql-v2 (the large plan's) declares one more input. */
async function blueprints(locale: boolean): Promise<unknown> {
  const catalogue = parse(await readFile(shippedBlueprintsPath(), "utf8"), { merge: true }) as {
    blueprints: { id: string; inputs: Record<string, unknown> }[];
  };
  if (locale) {
    catalogue.blueprints.find((b) => b.id === "postgresql-v2")!.inputs.locale = {
      type: "string",
      description: "Collation of the application database",
      default: "C",
    };
  }
  return catalogue;
}

beforeAll(async () => {
  assertFreshBuild();
  db = await createTestDatabase();
  emulator = await startEmulator({
    blueprints: await blueprints(false),
    timings: FAST_TIMINGS,
    logger: silentLogger,
  });
  work = await mkdtemp(join(tmpdir(), "osb-schema-cache-"));
  env = {
    ...brokerEnv(emulator.url, join(work, "unused-state-dir")),
    BROKER_STATE_BACKEND: "postgres",
    BROKER_STATE_URL: db.url,
    BROKER_STATE_SCHEMA: "cfy_broker",
    BROKER_LEASE_SECONDS: "2",
  };
}, 60_000);

afterAll(async () => {
  for (const proc of [...children]) await kill9(proc, children);
  await emulator?.close();
  await db?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Catalog {
  services: {
    plans: {
      id: string;
      schemas?: { service_instance?: { create?: { parameters?: { properties?: Record<string, unknown> } } } };
    }[];
  }[];
}

async function catalogOf(r: Replica): Promise<{ etag: string; body: string; create: string[] }> {
  // One retry when a kept-alive connection turns out closed: a replica idle past its keep-alive
  // timeout (5 s; easily reached on a loaded host between phases) closes it while the client
  // reuses it. An idempotent GET, as a platform would retry it; a replica that died fails below.
  const get = () => r.osb.get("/v2/catalog");
  const response = await get().catch(async (error) => {
    if ((error as { cause?: { code?: string } }).cause?.code !== "UND_ERR_SOCKET") throw error;
    return get().catch((again) => {
      throw new Error(
        `GET /v2/catalog failed (${again.cause ?? again}); replica exit ${r.proc.exitCode ?? r.proc.signalCode}: ${r.stderr().slice(-3000)}`,
      );
    });
  });
  expect(response.status).toBe(200);
  const plan = (response.body as Catalog).services.flatMap((s) => s.plans).find((p) => p.id === PG.large)!;
  return {
    etag: response.headers.get("etag") ?? "",
    body: JSON.stringify(response.body),
    create: Object.keys(plan.schemas?.service_instance?.create?.parameters?.properties ?? {}).sort(),
  };
}

describe("derived schemas shared by replicas", () => {
  it("a replica without Cloudify serves the cached schemas, and follows another replica's refresh", async () => {
    const [online, peer] = await Promise.all([startReplica(env, children), startReplica(env, children)]);
    for (const r of [online, peer]) {
      await until("the online replicas derived the large plan's schema", async () =>
        (await catalogOf(r)).create.includes("db_name"),
      );
    }
    // Cloudify is a closed port for this one: everything it derives comes from the shared cache.
    const offline = await startReplica(
      { ...env, CLOUDIFY_URL: `http://127.0.0.1:${await freePort()}` },
      children,
    );
    const before = await catalogOf(online);
    expect(before.create).not.toContain("locale");
    await until("the offline replica serves the same catalog", async () => {
      const seen = await catalogOf(offline);
      return seen.body === before.body && seen.etag === before.etag;
    });
    const withLocale = () => provisionBody(PG.large, { parameters: { locale: "en_US" } });
    const refused = await offline.osb.put(instancePath(newId()), withLocale(), ASYNC);
    expect(refused.status).toBe(400);
    expect(refused.body.description).toMatch(/locale/);

    // The blueprint gains an input; the online replica reloads and refreshes the shared cache.
    const port = emulator.port;
    await emulator.close();
    emulator = await startEmulator({
      port,
      blueprints: await blueprints(true),
      timings: FAST_TIMINGS,
      logger: silentLogger,
    });
    online.proc.kill("SIGHUP");
    await until("the online replica derived the new input", async () =>
      (await catalogOf(online)).create.includes("locale"),
    );
    const after = await catalogOf(online);
    expect(after.etag).not.toBe(before.etag);
    // The peer reaches Cloudify but was not reloaded (it does not fetch again by itself), and the
    // offline replica never reached Cloudify: both serve and enforce the new schema.
    for (const r of [peer, offline]) {
      await until(
        "the other replicas follow",
        async () => {
          const seen = await catalogOf(r);
          return seen.body === after.body && seen.etag === after.etag;
        },
        10_000,
      );
    }
    const byPeer = await peer.osb.put(instancePath(newId()), withLocale(), ASYNC);
    expect(byPeer.status, JSON.stringify(byPeer.body)).toBe(202);
    const accepted = await offline.osb.put(instancePath(newId()), withLocale(), ASYNC);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);

    // A third replica started now, also without Cloudify, starts with the refreshed schemas.
    const late = await startReplica(
      { ...env, CLOUDIFY_URL: `http://127.0.0.1:${await freePort()}` },
      children,
    );
    const seen = await catalogOf(late);
    expect(seen.etag).toBe(after.etag);
    expect(seen.create).toContain("locale");
  }, 120_000);
});
