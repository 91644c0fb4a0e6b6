import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { CloudifyNetworkError } from "../src/cloudify/index.js";
import { clientFor, startTestEmulator } from "./support/emulator.js";
import { TEST_TLS_CERT, TEST_TLS_KEY } from "./support/emulator-tls.js";

let emulator: EmulatorHandle;
let dir: string;

beforeAll(async () => {
  emulator = await startTestEmulator({ tls: { key: TEST_TLS_KEY, cert: TEST_TLS_CERT } });
  dir = mkdtempSync(join(tmpdir(), "cfy-tls-"));
});

afterAll(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("TLS to the manager", () => {
  it("serves HTTPS", () => {
    expect(emulator.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("trusts the manager's certificate given as PEM text", async () => {
    const client = clientFor(emulator, { tls: { ca: TEST_TLS_CERT } });
    expect((await client.version()).version).toBe("7.0.4");
    await client.close();
  });

  it("trusts the manager's certificate given as a CA file", async () => {
    const caFile = join(dir, "ca.pem");
    writeFileSync(caFile, TEST_TLS_CERT);
    const client = clientFor(emulator, { tls: { caFile } });
    expect((await client.blueprints.get("redis")).id).toBe("redis");
    await client.close();
  });

  it("refuses an unknown certificate without retrying, unless verification is switched off", async () => {
    const strict = clientFor(emulator);
    emulator.requests.clear();
    const error = await strict.version().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CloudifyNetworkError);
    expect((error as CloudifyNetworkError).kind).toBe("other");
    expect(emulator.requests.count()).toBe(0);
    await strict.close();

    const insecure = clientFor(emulator, { tls: { insecure: true } });
    expect((await insecure.version()).version).toBe("7.0.4");
    await insecure.close();
  });
});
