import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createLogger } from "../src/log/logger.js";
import { type BrokerServer, startBrokerServer } from "../src/server/broker-server.js";
import { packageRoot } from "../src/util/package-root.js";
import { OsbClient } from "./support/osb-client.js";
import { brokerEnv } from "./support/stack.js";

const lines: Record<string, unknown>[] = [];
let broker: BrokerServer;
let stateDir: string;
let osb: OsbClient;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "osb-audit-"));
  const env = brokerEnv("http://127.0.0.1:9", stateDir);
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  broker = await startBrokerServer({
    configFile: join(packageRoot(), "broker.yaml"),
    env,
    logger: createLogger({ level: "info", destination: sink }),
  });
  osb = new OsbClient(broker.url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
});
afterAll(async () => {
  await broker.close();
  await rm(stateDir, { recursive: true, force: true });
});

const identity = (platform: string, value: object) =>
  `${platform} ${Buffer.from(JSON.stringify(value)).toString("base64")}`;

test("H4 H5 the access log names the request identity, the platform and the originating user, and never the password", async () => {
  await osb.get("/v2/catalog", {
    headers: {
      "X-Broker-API-Request-Identity": "req-audit-1",
      "X-Broker-API-Originating-Identity": identity("cloudfoundry", { user_id: "cf-user-42" }),
    },
  });
  await osb.get("/v2/catalog", {
    headers: {
      "X-Broker-API-Request-Identity": "req-audit-2",
      "X-Broker-API-Originating-Identity": identity("kubernetes", { username: "jane", uid: "1", groups: [] }),
    },
  });
  const access = lines.filter((l) => l.msg === "request");
  expect(access).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        request_id: "req-audit-1",
        platform: "cloudfoundry",
        user: "cf-user-42",
        status: 200,
        path: "/v2/catalog",
      }),
      expect.objectContaining({
        request_id: "req-audit-2",
        platform: "kubernetes",
        user: "jane",
        status: 200,
      }),
    ]),
  );
  expect(JSON.stringify(lines)).not.toContain("s3cret-platform-password");
});
