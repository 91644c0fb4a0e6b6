/**
 * Property-based fuzzing of every OSB endpoint (issue 10, the suite): a real broker process
 * (`cfy-broker serve`) over HTTP with the emulator behind it, fed requests that fast-check builds
 * from valid ones with one or more things broken: bodies (wrong types, unknown or missing
 * fields, deep nesting, huge numbers, invalid JSON, invalid UTF-8, other encodings), headers
 * (X-Broker-API-Version, X-Broker-API-Originating-Identity, Authorization, Content-Type, request
 * identity), ids (odd characters, percent-escapes valid and not, very long) and query strings.
 * Properties, for every request: never a 5xx; every 4xx carries an OSB error body (JSON with a
 * non-empty string `description`, H12); every 2xx is JSON (X9). For every batch: a record in the
 * state changes only when a request on its id was accepted (2xx), and Cloudify sees no change
 * from a batch in which nothing was accepted (H11: a 4xx leaves every resource as it was). At
 * the end the process is still running and answers the catalog.
 *
 * FUZZ_REQUESTS raises the number of requests (default 20,000); FUZZ_SEED replays a run.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import fc from "fast-check";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../../emulator/index.js";
import {
  BINDINGS,
  type BindingRecord,
  BLUEPRINT_CACHE,
  INSTANCES,
  type InstanceRecord,
} from "../../src/broker/model/records.js";
import { silentLogger } from "../../src/log/logger.js";
import { readStateDir } from "../../src/state/index.js";
import { bindBody, bindingPath, unbindQuery, waitForBinding } from "../fixtures/bindings-helpers.js";
import { EXAMPLE_FILE } from "../fixtures/configs/helpers.js";
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.js";
import { resultRow } from "../support/lifecycles.js";
import { OsbClient } from "../support/osb-client.js";
import {
  brokerEnv,
  FAST_TIMINGS,
  instancePath,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
} from "../support/stack.js";

const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BATCH = 500;
const CONCURRENCY = 24;

let emulator: EmulatorHandle;
let broker: BrokerProcess;
let stateDir: string;
let osb: OsbClient;
let good: Pool;
/** Requests with wrong credentials come from other loopback addresses, so the brute-force lockout (H6) they cause never reaches the well-behaved client. */
const attackers: Pool[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  emulator = await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger });
  stateDir = await mkdtemp(join(tmpdir(), "osb-fuzz-"));
  env = brokerEnv(emulator.url, stateDir, { LOG_LEVEL: "info" });
  broker = await startBrokerProcess(["serve", "--config", EXAMPLE_FILE], { env });
  osb = new OsbClient(broker.url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
  good = new Pool(broker.url, { connections: CONCURRENCY });
  for (let i = 2; i < 10; i++)
    attackers.push(new Pool(broker.url, { connections: 2, localAddress: `127.0.0.${i}` }));
});

afterAll(async () => {
  broker?.kill();
  await broker?.exited;
  await Promise.all([good, ...attackers].map((p) => p?.close()));
  await emulator?.close();
  await rm(stateDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Anchors: real instances and bindings the fuzzer aims at, so it gets past "unknown id" into
// conflicts, busy rules, plan checks and parameter schemas. A fuzzed request that deprovisions
// or unbinds one is fine; the anchor is replaced before the next batch.

interface Anchors {
  /** PG small (workflow binds), PG large (outputs binds), Redis small. */
  instances: { id: string; plan: string }[];
  bindings: { instance: string; id: string; plan: string }[];
  /** An instance deprovisioned (its tombstone answers last_operation) and a binding unbound. */
  goneInstance: string;
  goneBinding: { instance: string; id: string };
}
let anchors: Anchors;

async function newAnchorInstance(plan: string): Promise<string> {
  const id = randomUUID();
  await provisionInstance(osb, id, provisionBody(plan));
  return id;
}

async function newAnchorBinding(instance: string, plan: string): Promise<string> {
  const id = randomUUID();
  const answer = await osb.put(bindingPath(instance, id), bindBody(plan), {
    query: { accepts_incomplete: "true" },
  });
  if (answer.status === 202) await waitForBinding(osb, instance, id);
  else if (answer.status !== 201) throw new Error(`anchor bind answered ${answer.status}`);
  return id;
}

async function setUpAnchors(): Promise<void> {
  const plans = [PG.small, PG.large, REDIS.small];
  const instances = await Promise.all(
    plans.map(async (plan) => ({ id: await newAnchorInstance(plan), plan })),
  );
  const bindings = await Promise.all(
    instances
      .filter((i) => i.plan !== REDIS.small)
      .map(async (i) => ({ instance: i.id, id: await newAnchorBinding(i.id, i.plan), plan: i.plan })),
  );
  const goneInstance = await newAnchorInstance(REDIS.small);
  await osb.delete(instancePath(goneInstance), {
    query: { accepts_incomplete: "true", service_id: REDIS.service, plan_id: REDIS.small },
  });
  const goneBinding = { instance: instances[1]!.id, id: await newAnchorBinding(instances[1]!.id, PG.large) };
  await osb.delete(bindingPath(goneBinding.instance, goneBinding.id), unbindQuery(PG.large));
  anchors = { instances, bindings, goneInstance, goneBinding };
}

/** Replaces anchors a fuzzed request deprovisioned, unbound or changed the plan of. */
async function repairAnchors(state: Snapshot): Promise<void> {
  await Promise.all(
    anchors.instances.map(async (anchor, n) => {
      const record = state.instances.get(anchor.id);
      if (record?.status === "provisioned" && record.planId === anchor.plan) return;
      anchors.instances[n] = { id: await newAnchorInstance(anchor.plan), plan: anchor.plan };
    }),
  );
  await Promise.all(
    anchors.bindings.map(async (anchor, n) => {
      const owner = anchors.instances.find((i) => i.plan === anchor.plan)!;
      const record = state.bindings.get(anchor.id);
      if (owner.id === anchor.instance && record?.status === "bound") return;
      anchors.bindings[n] = {
        instance: owner.id,
        id: await newAnchorBinding(owner.id, owner.plan),
        plan: owner.plan,
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The state as the broker stored it, read from its directory while it runs (readStateDir).

interface Snapshot {
  instances: Map<string, { status: string; planId: string; json: string }>;
  bindings: Map<string, { status: string; instanceId: string; json: string }>;
  /** Every other collection except the blueprint-inputs cache (a cache, not a resource: H11). */
  other: Map<string, string>;
  /** The records whose operation is still in progress. */
  inProgress: string[];
}

async function snapshot(): Promise<Snapshot> {
  const exported = await readStateDir(stateDir);
  const snap: Snapshot = { instances: new Map(), bindings: new Map(), other: new Map(), inProgress: [] };
  for (const [collection, records] of Object.entries(exported)) {
    if (collection === BLUEPRINT_CACHE) continue;
    for (const [id, value] of Object.entries(records)) {
      const record = value as unknown as InstanceRecord & BindingRecord;
      const json = JSON.stringify(value);
      if (record.operation?.state === "in progress") snap.inProgress.push(json);
      if (collection === INSTANCES)
        snap.instances.set(id, { status: record.status, planId: record.planId, json });
      else if (collection === BINDINGS)
        snap.bindings.set(id, { status: record.status, instanceId: record.instanceId, json });
      else snap.other.set(`${collection}/${id}`, json);
    }
  }
  return snap;
}

/**
 * The state once every accepted operation has finished (bounded). The bound is above the
 * broker's Cloudify request timeout (30 s): a step whose call to Cloudify never got an answer
 * is retried only after it, and that is the broker behaving as designed. A wait over 10 s is
 * reported with the records still in progress, so a slow finish is seen, not hidden.
 */
async function quiescent(): Promise<Snapshot> {
  const started = Date.now();
  let slow: Snapshot | undefined;
  for (;;) {
    const snap = await snapshot();
    if (snap.inProgress.length === 0) {
      if (slow)
        console.log(`fuzz: operations took ${Date.now() - started} ms to finish:\n${describeStuck(slow)}`);
      return snap;
    }
    if (!slow && Date.now() - started > 10_000) slow = snap;
    if (Date.now() - started > 75_000)
      throw new Error(
        `${snap.inProgress.length} operations still in progress after 75 s:\n${describeStuck(snap)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The records in progress and the broker's log lines that name them. */
function describeStuck(snap: Snapshot): string {
  const ids = snap.inProgress.map((json) => (JSON.parse(json) as { id: string }).id);
  const logs = broker.logs().filter((line) => ids.some((id) => JSON.stringify(line).includes(id)));
  return `${snap.inProgress.join("\n")}\nbroker log lines naming them:\n${logs.map((line) => JSON.stringify(line)).join("\n")}`;
}

/** Requests that changed something in Cloudify since the log was last cleared. */
const emulatorChanges = () => emulator.requests.list().filter((r) => r.method !== "GET");
/** The instance whose deployment (`osb-<instance id>`) a Cloudify request names in its path, if any. */
const deploymentOwner = (path: string) => path.match(/\/deployments\/osb-([^/?]+)/)?.[1];

// ---------------------------------------------------------------------------------------------
// Generators. A request is built from a valid one for a random endpoint; each part may be broken.

type Endpoint = "CAT" | "PROV" | "GETI" | "UPD" | "DEPROV" | "LOI" | "BIND" | "GETB" | "UNBIND" | "LOB";
const ENDPOINTS: Endpoint[] = [
  "CAT",
  "PROV",
  "GETI",
  "UPD",
  "DEPROV",
  "LOI",
  "BIND",
  "GETB",
  "UNBIND",
  "LOB",
];
const METHOD: Record<Endpoint, string> = {
  CAT: "GET",
  PROV: "PUT",
  GETI: "GET",
  UPD: "PATCH",
  DEPROV: "DELETE",
  LOI: "GET",
  BIND: "PUT",
  GETB: "GET",
  UNBIND: "DELETE",
  LOB: "GET",
};
const PLANS = [PG.small, PG.large, REDIS.small, REDIS.large];
const serviceOf = (plan: string) =>
  plan === REDIS.small || plan === REDIS.large ? REDIS.service : PG.service;

/** Values JSON.stringify cannot write (1e400, -0 as text, 30-digit integers, deep nesting): spliced into the text. */
const RAW = "\u0001raw:";
const raw = (text: string) => `${RAW}${text}`;
const nested = (depth: number, kind: "array" | "object") =>
  kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

/** A value to put where a valid one was. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, "", " ", [], {}, "null", "true", "0"),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom(
    "\u0000",
    "\ud800",
    "\udfff",
    "\ufeff",
    "\u202e",
    "a\u0000b",
    "%00",
    "{{password}}",
    "{{#each x}}",
  ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.constantFrom(
    raw("1e400"),
    raw("-1e400"),
    raw("-0"),
    raw("123456789012345678901234567890"),
    raw("0.0000000000000000000000000000001e-400"),
  ),
  fc
    .tuple(fc.integer({ min: 2, max: 5000 }), fc.constantFrom("array" as const, "object" as const))
    .map(([d, k]) => raw(nested(d, k))),
);

type Body = Record<string, unknown>;

/** Sets `value` at a key of `body` or of one of its nested objects (context, parameters...). */
const mutation: fc.Arbitrary<(body: Body) => void> = fc.oneof(
  // Replace or add a top-level field.
  fc
    .tuple(
      fc.constantFrom(
        "service_id",
        "plan_id",
        "organization_guid",
        "space_guid",
        "context",
        "parameters",
        "maintenance_info",
        "previous_values",
        "bind_resource",
        "app_guid",
        "predecessor_binding_id",
        "unknown_field",
        "__proto__",
        "constructor",
      ),
      nastyValue,
    )
    .map(([key, value]) => (body: Body) => {
      Object.defineProperty(body, key, { value, enumerable: true, configurable: true, writable: true });
    }),
  // Drop a field.
  fc
    .constantFrom("service_id", "plan_id", "organization_guid", "space_guid", "context", "maintenance_info")
    .map((key) => (body: Body) => {
      delete body[key];
    }),
  // Set a field inside a nested object (parameters against the plan's schema, context, ...).
  fc
    .tuple(
      fc.constantFrom("parameters", "context", "maintenance_info", "previous_values", "bind_resource"),
      fc.constantFrom(
        "db_name",
        "backup_retention_days",
        "extensions",
        "privileges",
        "tls",
        "platform",
        "instance_name",
        "version",
        "plan_id",
        "app_guid",
        "route",
        "x",
      ),
      nastyValue,
    )
    .map(([outer, key, value]) => (body: Body) => {
      const inner = body[outer];
      const target =
        inner && typeof inner === "object" && !Array.isArray(inner) ? { ...(inner as Body) } : {};
      target[key] = value;
      body[outer] = target;
    }),
);

/** Valid parameters of each plan (reaches the plan's schema, then templates and Cloudify inputs). */
const parametersFor = (plan: string): fc.Arbitrary<Body | undefined> =>
  fc.option(
    plan === PG.small
      ? fc.record(
          {
            db_name: fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/),
            extensions: fc.subarray(["postgis", "pg_trgm", "uuid-ossp"]),
          },
          { requiredKeys: [] },
        )
      : fc.constant({}),
    { nil: undefined },
  );

interface Ids {
  instance: string;
  binding: string;
  plan: string;
}

/** Ids as sent on the wire (already percent-encoded where they need to be). */
// Escapes in lower case (they are case-insensitive): test/contract-references.test.ts would read them as rule ids.
const oddId: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  },
  {
    weight: 4,
    arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "%",
      "%Z",
      "%ZZ",
      "%e0%a4%a",
      "%c0%af",
      "%ed%a0%80",
      "%ff",
      "%00",
      "%2f",
      "%2f..%2f..",
      "%2e%2e",
      ".",
      "..",
      "%20",
      "+",
      "a%3Fb%3Dc",
      "%25",
      "%u0041",
      "null",
      "undefined",
      "__proto__",
      "constructor",
      "hasOwnProperty",
    ),
  },
  { weight: 2, arbitrary: fc.integer({ min: 200, max: 8000 }).map((n) => "i".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 2000 }).map((n) => "%41".repeat(n)) },
  // Over the 16 KiB Node accepts for a request line and headers: a 431 (with an OSB body).
  { weight: 1, arbitrary: fc.constant("i".repeat(20_000)) },
);

const idsArb = (): fc.Arbitrary<Ids> =>
  fc
    .tuple(
      fc.nat(anchors.instances.length + 3),
      fc.nat(anchors.bindings.length + 3),
      fc.constantFrom(...PLANS),
      oddId,
    )
    .chain(([i, b, plan, odd]) => {
      const anchor = anchors.instances[i];
      const binding = anchors.bindings[b];
      const instance =
        anchor?.id ??
        [() => randomUUID(), () => anchors.goneInstance, () => odd, () => anchors.goneBinding.instance][
          i - anchors.instances.length
        ]!();
      const bindingId =
        binding && (binding.instance === instance || b % 2 === 0)
          ? binding.id
          : [() => randomUUID(), () => anchors.goneBinding.id, () => odd, () => randomUUID()][
              Math.min(3, Math.max(0, b - anchors.bindings.length))
            ]!();
      const usualPlan = anchor?.plan ?? binding?.plan ?? plan;
      return fc.constantFrom(usualPlan, plan).map((p) => ({ instance, binding: bindingId, plan: p }));
    });

interface FuzzRequest {
  endpoint: Endpoint;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Sent with Transfer-Encoding: chunked (no Content-Length): the body limit counts it while reading. */
  chunked: boolean;
  /** The instance and binding ids as the broker decodes them, for attributing state changes. */
  ids: string[];
  /** Whether the request came from a well-behaved (authenticated) client address. */
  authenticated: boolean;
  attacker: number;
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

const authHeader = (): fc.Arbitrary<{ value?: string; valid: boolean }> =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constant({ value: basic(env.BROKER_USERNAME!, env.BROKER_PASSWORD!), valid: true }),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constant(undefined),
          fc.constant(basic(env.BROKER_USERNAME!, `${env.BROKER_PASSWORD!}x`)),
          fc.constant(basic("", "")),
          fc.constantFrom(
            "Basic",
            "Basic ",
            "Basic !!!",
            "Bearer abc",
            "basic",
            "Digest x",
            `Basic ${"A".repeat(9000)}`,
          ),
          fc
            .string({ unit: "binary", maxLength: 30 })
            .map((s) => `Basic ${Buffer.from(s).toString("base64")}`),
          fc.uint8Array({ maxLength: 30 }).map((b) => `Basic ${Buffer.from(b).toString("base64")}`),
          printable(60),
        )
        .map((value) => ({ value, valid: false })),
    },
  );

function printable(maxLength: number): fc.Arbitrary<string> {
  return fc
    .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength })
    .map((s) => s.trim());
}

const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64");

const versionHeader: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom("2.17", "2.14") },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom(
        undefined,
        "",
        "2",
        "2.",
        ".17",
        "2.18",
        "3.0",
        "1.0",
        "2.17.1",
        "02.17",
        "2.017",
        "v2.17",
        "2,17",
      ),
      fc.constantFrom("9".repeat(40), `2.${"9".repeat(40)}`, "-2.17", "2.17a", "NaN", "Infinity.1"),
      printable(20),
    ),
  },
);

const identityHeader: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  {
    weight: 2,
    arbitrary: fc.constant(`cloudfoundry ${base64Json({ user_id: "683ea748-3092-4ff4-b656-39cacc4d5360" })}`),
  },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc
        .tuple(fc.constantFrom("cloudfoundry", "kubernetes", "x", ""), fc.jsonValue({ maxDepth: 3 }))
        .map(([platform, value]) => `${platform} ${base64Json(value)}`),
      fc.constantFrom(
        "cloudfoundry",
        "cloudfoundry ",
        "kubernetes !!!",
        " cloudfoundry e30=",
        "cloudfoundry e30= extra",
      ),
      fc.uint8Array({ maxLength: 60 }).map((b) => `kubernetes ${Buffer.from(b).toString("base64")}`),
      fc.constant(`kubernetes ${Buffer.from(nested(300, "object")).toString("base64")}`),
      fc.constant(`cloudfoundry ${base64Json({ user_id: "x".repeat(6000) })}`),
      fc.constant(`cloudfoundry ${base64Json({ user_id: "x".repeat(16_000) })}`),
      printable(80),
    ),
  },
);

const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 10, arbitrary: fc.constant("application/json") },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom(
        undefined,
        "",
        "text/plain",
        "application/json; charset=utf-16",
        "application/json; charset=latin1",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "application/json;;;",
        "*/*",
      ),
      printable(40),
    ),
  },
);

/** The body's text with its RAW markers replaced by their raw JSON. */
function serialize(body: unknown): string {
  return JSON.stringify(body).replace(/"\\u0001raw:((?:[^"\\]|\\.)*)"/g, (_m, text: string) =>
    JSON.parse(`"${text}"`),
  );
}

/** Ways to break the bytes of an otherwise valid body. */
const encoding: fc.Arbitrary<(text: string) => Buffer> = fc.oneof(
  { weight: 14, arbitrary: fc.constant((text: string) => Buffer.from(text)) },
  {
    weight: 4,
    arbitrary: fc.oneof(
      // Cut short: invalid JSON.
      fc
        .double({ min: 0, max: 1, noNaN: true })
        .map((f) => (text: string) => Buffer.from(text.slice(0, Math.floor(text.length * f)))),
      // Invalid UTF-8 inside a string or between tokens.
      fc
        .tuple(
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.constantFrom(
            [0xff],
            [0xc3, 0x28],
            [0xc0, 0xaf],
            [0xed, 0xa0, 0x80],
            [0xf8, 0x88, 0x80, 0x80, 0x80],
            [0xe2, 0x82],
          ),
        )
        .map(([f, bytes]) => (text: string) => {
          const buffer = Buffer.from(text);
          const at = Math.floor(buffer.length * f);
          return Buffer.concat([buffer.subarray(0, at), Buffer.from(bytes), buffer.subarray(at)]);
        }),
      fc.constantFrom(
        (text: string) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]),
        (text: string) => Buffer.from(text, "utf16le"),
        (text: string) => Buffer.from(text, "latin1"),
        (text: string) => Buffer.from(`${text}x`),
        (text: string) => Buffer.from(`${text}${text}`),
        (text: string) => Buffer.from(text.replace(/^\{/, '{"service_id":"dup",')),
        () => Buffer.alloc(0),
        () => Buffer.from("   "),
        () => Buffer.from("null"),
        () => Buffer.from("[]"),
        () => Buffer.from("42"),
        () => Buffer.from('"text"'),
        () => Buffer.from("{"),
        () => Buffer.from(nested(100_000, "array")),
        () => Buffer.from(nested(20_000, "object")),
        () => Buffer.alloc(1024 * 1024 + 10, "{"),
      ),
    ),
  },
);

/** Query parameters of each endpoint, valid (for `ids`) with some broken or added. */
function queryArb(endpoint: Endpoint, ids: Ids): fc.Arbitrary<string> {
  const valid: [string, string][] = [];
  if (["PROV", "UPD", "DEPROV", "BIND", "UNBIND"].includes(endpoint))
    valid.push(["accepts_incomplete", "true"]);
  if (endpoint === "DEPROV" || endpoint === "UNBIND")
    valid.push(["service_id", serviceOf(ids.plan)], ["plan_id", ids.plan]);
  const oddValue = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        "",
        "false",
        "TRUE",
        "1",
        "0",
        "yes",
        "true,true",
        "%ZZ",
        "%00",
        "%",
        "t%72ue",
        PG.service,
        PG.small,
      ),
    },
    { weight: 4, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 3_000 }).map((n) => "q".repeat(n)) },
  );
  const oddKey = fc.oneof(
    fc.constantFrom(
      "accepts_incomplete",
      "service_id",
      "plan_id",
      "operation",
      "%ZZ",
      "",
      "__proto__",
      "a[b]",
    ),
    fc.string({ unit: "grapheme", maxLength: 10 }).map(encodeURIComponent),
  );
  return fc
    .tuple(
      fc.subarray(valid),
      fc.array(fc.tuple(oddKey, oddValue), { maxLength: 3 }),
      fc.boolean(),
      fc.constantFrom("", "", "", "&", "&&=&", "=", "?", "#frag"),
    )
    .map(([kept, extra, keepAll, junk]) => {
      const pairs = [...(keepAll ? valid : kept), ...extra].map(([k, v]) => `${k}=${v}`);
      const text = pairs.join("&") + junk;
      return text ? `?${text}` : "";
    });
}

function bodyFor(endpoint: Endpoint, ids: Ids): fc.Arbitrary<Body | undefined> {
  const plan = ids.plan;
  switch (endpoint) {
    case "PROV":
      return parametersFor(plan).map((parameters) => ({
        ...provisionBody(plan),
        ...(parameters ? { parameters } : {}),
      }));
    case "UPD":
      return fc
        .tuple(fc.option(fc.constantFrom(...PLANS)), parametersFor(plan), fc.boolean())
        .map(([target, parameters, withPrevious]) => ({
          service_id: serviceOf(plan),
          ...(target ? { plan_id: target } : {}),
          ...(parameters ? { parameters } : {}),
          ...(withPrevious ? { previous_values: { plan_id: plan, service_id: serviceOf(plan) } } : {}),
          maintenance_info: {},
        }));
    case "BIND":
      return fc
        .option(fc.record({ privileges: fc.constantFrom("readonly", "readwrite") }), { nil: undefined })
        .map((parameters) => bindBody(plan, parameters ? { parameters } : {}));
    default:
      return fc.constant(undefined);
  }
}

function pathFor(endpoint: Endpoint, instance: string, binding: string): string {
  const i = `/v2/service_instances/${instance}`;
  const b = `${i}/service_bindings/${binding}`;
  return {
    CAT: "/v2/catalog",
    PROV: i,
    GETI: i,
    UPD: i,
    DEPROV: i,
    LOI: `${i}/last_operation`,
    BIND: b,
    GETB: b,
    UNBIND: b,
    LOB: `${b}/last_operation`,
  }[endpoint];
}

/** Ids as the broker sees them after decoding the path (H9), or as sent when they do not decode. */
const decoded = (id: string) => {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
};

function requestArb(): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(fc.constantFrom(...ENDPOINTS), idsArb()).chain(([endpoint, ids]) =>
    fc
      .record({
        body: bodyFor(endpoint, ids),
        mutations: fc.array(mutation, { maxLength: 3 }),
        encode: encoding,
        bodyOnRead: fc.boolean(),
        chunked: fc.oneof(
          { weight: 7, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        ),
        query: queryArb(endpoint, ids),
        auth: authHeader(),
        version: versionHeader,
        identity: identityHeader,
        type: contentType,
        requestIdentity: fc.option(printable(100), { nil: undefined }),
        catalogHeaders: fc.record(
          {
            "accept-encoding": fc.constantFrom("gzip", "br", "br;q=0, gzip;q=0", "*", "identity", "x;q=abc"),
            "if-none-match": fc.constantFrom('"x"', "*", 'W/"a"', ""),
          },
          { requiredKeys: [] },
        ),
        wrongMethod: fc.oneof(
          { weight: 30, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom("POST", "OPTIONS", "PUT", "PATCH") },
        ),
        attacker: fc.nat(7),
      })
      .map((r): FuzzRequest => {
        const method = r.wrongMethod ?? METHOD[endpoint];
        let bytes: Buffer | undefined;
        if (r.body) {
          const body: Body = { ...r.body };
          for (const mutate of r.mutations) mutate(body);
          bytes = r.encode(serialize(body));
        } else if (method === "DELETE" && r.bodyOnRead) {
          bytes = r.encode("{}");
        }
        const headers: Record<string, string> = {};
        const set = (name: string, value: string | undefined) => {
          if (value !== undefined) headers[name] = value;
        };
        set("authorization", r.auth.value);
        set("x-broker-api-version", r.version);
        set("x-broker-api-originating-identity", r.identity);
        set("x-broker-api-request-identity", r.requestIdentity);
        if (bytes) set("content-type", r.type);
        if (endpoint === "CAT") Object.assign(headers, r.catalogHeaders);
        return {
          endpoint,
          method,
          path: pathFor(endpoint, ids.instance, ids.binding) + r.query,
          headers,
          body: bytes,
          chunked: r.chunked && bytes !== undefined,
          ids: [decoded(ids.instance), decoded(ids.binding)],
          authenticated: r.auth.valid,
          attacker: r.attacker,
        };
      }),
  );
}

// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  type: string;
  text: string;
}

async function send(request: FuzzRequest): Promise<Answer> {
  const pool = request.authenticated ? good : attackers[request.attacker]!;
  const response = await pool.request({
    method: request.method as "GET",
    path: request.path,
    headers: request.headers,
    body: request.chunked ? Readable.from([request.body!]) : request.body,
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const coding = response.headers["content-encoding"];
  // The catalog comes compressed when asked to (H15).
  const plain = coding === "gzip" ? gunzipSync(bytes) : coding === "br" ? brotliDecompressSync(bytes) : bytes;
  return {
    status: response.statusCode,
    type: String(response.headers["content-type"] ?? ""),
    text: plain.toString("utf8"),
  };
}

/** What is wrong with an answer, or undefined. */
function violation(request: FuzzRequest, answer: Answer): string | undefined {
  if (answer.status >= 500) return `a ${answer.status}`;
  if (answer.status >= 400) {
    if (!answer.type.startsWith("application/json"))
      return `a ${answer.status} with Content-Type "${answer.type}"`;
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      return `a ${answer.status} whose body is not JSON`;
    }
    const { description, error } = (body ?? {}) as { description?: unknown; error?: unknown };
    if (typeof description !== "string" || description === "")
      return `a ${answer.status} without a description`;
    if (error !== undefined && (typeof error !== "string" || error === ""))
      return `a ${answer.status} with error ${error}`;
    return undefined;
  }
  if (answer.status === 304 && request.endpoint === "CAT") return undefined;
  if (!answer.type.startsWith("application/json"))
    return `a ${answer.status} with Content-Type "${answer.type}"`;
  try {
    JSON.parse(answer.text);
  } catch {
    return `a ${answer.status} whose body is not JSON`;
  }
  return undefined;
}

function describeRequest(request: FuzzRequest): string {
  const body = request.body ? request.body.toString("utf8") : "";
  return `${request.method} ${request.path.slice(0, 300)} headers ${JSON.stringify(request.headers).slice(0, 600)} body ${JSON.stringify(body.slice(0, 600))}${body.length > 600 ? ` (${body.length} chars)` : ""}`;
}

const statuses = new Map<number, number>();
let sent = 0;
let checkedBatches = 0;
let acceptedChanges = 0;
/** Changing requests answered 2xx: each one's operation must have finished by the end of its batch. */
let acceptedRequests = 0;
/** Instances a fuzzed request deprovisioned: their bindings may be purged by the janitor at any time. */
const deprovisioned = new Set<string>();

async function runBatch(batch: FuzzRequest[]): Promise<void> {
  const start = await quiescent();
  emulator.requests.clear();
  const problems: string[] = [];
  const touched = new Set<string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batch.length) {
        const request = batch[next++]!;
        let answer: Answer;
        try {
          answer = await send(request);
        } catch (error) {
          problems.push(`${describeRequest(request)} failed: ${(error as Error).message}`);
          continue;
        }
        sent++;
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const wrong = violation(request, answer);
        if (wrong)
          problems.push(`${describeRequest(request)} answered ${wrong}: ${answer.text.slice(0, 400)}`);
        if (answer.status < 300 && request.method !== "GET") {
          acceptedRequests++;
          for (const id of request.ids) touched.add(id);
          if (request.endpoint === "DEPROV") deprovisioned.add(request.ids[0]!);
        }
      }
    }),
  );
  const after = await quiescent();
  const changed = (kind: string, a: Map<string, { json: string }>, b: Map<string, { json: string }>) =>
    [...new Set([...a.keys(), ...b.keys()])]
      .filter((id) => a.get(id)?.json !== b.get(id)?.json)
      .map((id) => ({ kind, id }));
  for (const { kind, id } of [
    ...changed("instance", start.instances, after.instances),
    ...changed("binding", start.bindings, after.bindings),
  ]) {
    if (touched.has(id)) continue;
    // The janitor purges bindings of deleted instances whenever it runs.
    const owner = (after.bindings.get(id) ?? start.bindings.get(id))?.instanceId;
    if (kind === "binding" && owner !== undefined && (touched.has(owner) || deprovisioned.has(owner)))
      continue;
    problems.push(`${kind} ${id} changed although no request on it was accepted`);
  }
  for (const key of new Set([...start.other.keys(), ...after.other.keys()]))
    if (start.other.get(key) !== after.other.get(key)) problems.push(`state record ${key} changed`);
  const changes = emulatorChanges();
  if (touched.size === 0 && changes.length !== 0)
    problems.push("Cloudify received changes from a batch in which no request was accepted");
  for (const change of changes) {
    const owner = deploymentOwner(change.path);
    if (owner !== undefined && !touched.has(decoded(owner)))
      problems.push(
        `Cloudify received ${change.method} ${change.path} for an instance no accepted request named`,
      );
  }
  if (touched.size > 0) acceptedChanges++;
  checkedBatches++;
  if (problems.length) throw new Error(`${problems.length} problem(s):\n${problems.slice(0, 10).join("\n")}`);
  // The next batch is generated after this one returns: it aims at the anchors as they are now.
  await repairAnchors(after);
}

describe("fuzzing every OSB endpoint", () => {
  it(`${TOTAL} requests: never a 5xx, every 4xx an OSB error, no state changed by a 4xx, no crash`, async () => {
    await setUpAnchors();
    const started = Date.now();
    const runs = Math.ceil(TOTAL / BATCH);
    await fc.assert(
      fc.asyncProperty(
        fc.constant(null).chain(() => fc.array(requestArb(), { minLength: BATCH, maxLength: BATCH })),
        runBatch,
      ),
      {
        numRuns: runs,
        seed: SEED,
        endOnFailure: true,
        // The batch itself is too long to print; the error names the requests that failed.
        asyncReporter: async (details) => {
          if (details.failed)
            throw new Error(`seed ${details.seed} (FUZZ_SEED replays it): ${String(details.errorInstance)}`);
        },
      },
    );
    const seconds = (Date.now() - started) / 1000;

    // Still alive and serving.
    expect(broker.child.exitCode).toBeNull();
    expect((await osb.get("/v2/catalog")).status).toBe(200);
    expect(broker.output().stderr).toBe("");
    // Nothing failed inside either: no request, engine step or clean-up logged an error.
    expect(broker.logs().filter((line) => line.level === "error" || line.level === "fatal")).toEqual([]);
    const histogram = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`);
    const fivexx = [...statuses.entries()].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    console.log(
      `fuzz: ${sent} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s, seed ${SEED}), statuses {${histogram.join(", ")}}, 5xx=${fivexx}, ${acceptedRequests} changing requests accepted (every operation finished), state checked after ${checkedBatches} batches (${acceptedChanges} with accepted changes): no record changed by a 4xx, broker alive`,
    );
    console.log(
      `RESULT ${resultRow(
        "fuzz",
        `${sent} fuzzed requests on every endpoint (bodies, headers, ids, queries, encodings; seed ${SEED})`,
        {
          acknowledged: acceptedRequests,
          completed: acceptedRequests,
          lost: 0,
          duplicated: "not counted (no deployment without an accepted request)",
        },
        fivexx,
      )}`,
    );
    expect(sent).toBeGreaterThanOrEqual(TOTAL);
    expect(fivexx).toBe(0);
  }, 300_000); // 20,000 requests take 60–90 s here; a batch may wait up to 75 s for its operations
});
