/**
 * Issue 9 item 4: answers that mean "not now" rather than "no" never fail an operation. 408 and
 * 429 (with Retry-After) from a proxy in front of the manager, and a 401 for an expired token
 * that is rotated in its secret file (docs/CLOUDIFY.md CFY-AUTH, CFY-RETRY). Real HTTP: test →
 * broker → emulator; the broker reads its Cloudify token from a file, as from a mounted Secret.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { packageRoot } from "../src/util/package-root.js";
import { raw, startTestEmulator } from "./support/emulator.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  type Stack,
  startStack,
  type ValidatingOsbClient,
  validatingClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let emulator: EmulatorHandle;
let stack: Stack;
let osb: ValidatingOsbClient;
let dir: string;
let tokenFile: string;

async function mintToken(): Promise<{ id: string; value: string }> {
  const res = await raw(emulator, "POST", "/api/v3.1/tokens", { body: { description: "osb broker" } });
  expect(res.status).toBe(200);
  return res.json();
}

beforeAll(async () => {
  emulator = await startTestEmulator();
  dir = await mkdtemp(join(tmpdir(), "osb-token-"));
  tokenFile = join(dir, "cloudify-token");
  await writeFile(tokenFile, `${(await mintToken()).value}\n`);
  const config = (await readFile(join(packageRoot(), "broker.yaml"), "utf8")).replace(
    [
      "  auth:",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: broker.yaml's own text
      "    username: ${CLOUDIFY_USERNAME:-admin}",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: broker.yaml's own text
      "    password: ${CLOUDIFY_PASSWORD:-admin}",
      "",
    ].join("\n"),
    `  auth:\n    token:\n      file: ${tokenFile}\n`,
  );
  expect(config).toContain(`file: ${tokenFile}`);
  await writeFile(join(dir, "broker.yaml"), config);
  stack = await startStack({
    emulator: false,
    configFile: join(dir, "broker.yaml"),
    env: { CLOUDIFY_URL: emulator.url },
  });
  osb = validatingClient(stack);
});
afterAll(async () => {
  await stack?.stop();
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

const DEPROV = { query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" } };
const installs = (id: string) =>
  emulator.state.executions(`osb-${id}`).filter((e) => e.workflow_id === "install");

/** Polls LOI until an in-progress answer satisfies `predicate` (bounded). */
async function untilInProgress(id: string, predicate: (description: string) => boolean): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const last = await osb.get(`${instancePath(id)}/last_operation`);
    expect(last.status).toBe(200);
    expect(last.body.state, JSON.stringify(last.body)).toBe("in progress");
    const description = String(last.body.description ?? "");
    if (predicate(description)) return description;
    if (Date.now() > deadline) throw new Error(`never saw the expected progress: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("CFY-RETRY 408 and 429 from a proxy", () => {
  it("a provision whose polls and workflow start meet 429 (Retry-After) and 408 succeeds, installing once", async () => {
    const id = newId();
    // Every read of executions is refused a few times (more than one call's own retries), and
    // the install start once: the POST is never repeated blindly, the step is run again.
    emulator.faults.add({
      type: "http_error",
      status: 429,
      retryAfter: "1",
      times: 4,
      method: "GET",
      path: "/api/v3.1/executions",
    });
    emulator.faults.add({
      type: "http_error",
      status: 408,
      times: 2,
      method: "GET",
      path: "/api/v3.1/executions",
    });
    emulator.faults.add({
      type: "http_error",
      status: 429,
      retryAfter: "1",
      times: 1,
      method: "POST",
      path: "/api/v3.1/executions",
    });
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    const last = await waitForInstanceOperation(osb, id, 30_000);
    expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
    expect(installs(id)).toHaveLength(1);
    expect(emulator.faults.list()).toEqual([]);
  });
});

describe("CFY-AUTH an expired Cloudify token", () => {
  it("waits (in progress, Cloudify's reason) while the token is expired, and finishes once the file holds a new one", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    const current = (await readFile(tokenFile, "utf8")).trim();
    expect(emulator.state.expireTokens(current.split("-")[1])).toBe(1);
    expect((await osb.delete(instancePath(id), DEPROV)).status).toBe(202);
    const waiting = await untilInProgress(id, (d) => d.includes("Token is expired"));
    expect(waiting).toContain(
      "Cloudify refuses the broker's credentials: User unauthorized: Token is expired",
    );
    expect(emulator.state.deployment(`osb-${id}`)).toBeDefined();
    // The rotation writes a new token into the mounted file; no reload, no restart.
    await writeFile(tokenFile, `${(await mintToken()).value}\n`);
    const last = await waitForInstanceOperation(osb, id, 30_000);
    expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });

  it("a token rotated before it expired is picked up at the first 401, without a failed step", async () => {
    const id = newId();
    const before = (await readFile(tokenFile, "utf8")).trim();
    await writeFile(tokenFile, `${(await mintToken()).value}\n`);
    emulator.state.expireTokens(before.split("-")[1]);
    await provisionInstance(osb, id, provisionBody());
    expect(installs(id)).toHaveLength(1);
  });
});
