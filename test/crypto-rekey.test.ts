import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stateCommand } from "../src/cli/commands/state.js";
import {
  generateKey,
  isSealed,
  keyringFromSpecs,
  mapSealed,
  type SealedValue,
  UnknownKeyError,
} from "../src/crypto/index.js";
import { rekeyStore } from "../src/maintenance/rekey.js";
import { FileStateStore } from "../src/state/index.js";
import { allFileBytes, tempDir, textSink } from "./fixtures/state-helpers.js";

const OLD = generateKey();
const NEW = generateKey();
const SECRET = "pa55-PLAINTEXT-do-not-store";
const oldRing = keyringFromSpecs([`old:${OLD}`]);

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** Every envelope's key id found anywhere in the store. */
function kids(store: FileStateStore): string[] {
  const found: string[] = [];
  mapSealed(store.export(), (sealed) => {
    found.push(sealed.kid);
    return sealed;
  });
  return found;
}

async function seed(): Promise<void> {
  const store = new FileStateStore({ dir });
  await store.open();
  await store.commit([
    {
      type: "put",
      collection: "bindings",
      id: "b1",
      value: {
        instance: "i1",
        credentials: oldRing.seal({ username: "u", password: SECRET }, "bindings/b1/credentials"),
        extra: [{ note: "plain" }, { token: oldRing.seal(`${SECRET}-2`) }],
      },
    },
    { type: "put", collection: "instances", id: "i1", value: { plan: "small", parameters: { size: 1 } } },
  ]);
  await store.close();
}

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const out = textSink();
  const err = textSink();
  const code = await stateCommand(args, { stdout: out.stream, stderr: err.stream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe("sealed values in the state store", () => {
  it("never puts the plaintext of a sealed secret on disk", async () => {
    await seed();
    expect(allFileBytes(dir).includes(SECRET)).toBe(false);
    const store = new FileStateStore({ dir });
    await store.open();
    await store.compact();
    await store.close();
    expect(allFileBytes(dir).includes(SECRET)).toBe(false);
    expect(allFileBytes(dir).includes("plain")).toBe(true); // the grep itself works
  });

  it("rekeyStore re-seals every envelope with the new primary, generically and idempotently", async () => {
    await seed();
    const rotation = keyringFromSpecs([`new:${NEW}`, `old:${OLD}`]);
    const store = new FileStateStore({ dir });
    await store.open();
    const before = store.get<{ credentials: SealedValue }>("bindings", "b1")!;
    expect(rotation.open(before.credentials, "bindings/b1/credentials")).toEqual({
      username: "u",
      password: SECRET,
    });
    const instance = store.get("instances", "i1");

    expect(await rekeyStore(store, rotation)).toEqual({ records: 1, values: 2, primary: "new" });
    expect(kids(store)).toEqual(["new", "new"]);
    expect(store.get("instances", "i1")).toBe(instance); // untouched record: not rewritten
    expect(await rekeyStore(store, rotation)).toEqual({ records: 0, values: 0, primary: "new" });
    await store.close();

    const reopened = new FileStateStore({ dir });
    await reopened.open();
    const after = reopened.get<{ credentials: SealedValue; extra: [unknown, { token: SealedValue }] }>(
      "bindings",
      "b1",
    )!;
    const newOnly = keyringFromSpecs([`new:${NEW}`]);
    expect(newOnly.open(after.credentials, "bindings/b1/credentials")).toEqual({
      username: "u",
      password: SECRET,
    });
    expect(newOnly.open(after.extra[1].token)).toBe(`${SECRET}-2`);
    expect(() => oldRing.open(after.credentials)).toThrow(UnknownKeyError);
    await reopened.close();
  });
});

describe("cfy-broker state export / rekey", () => {
  it("exports ciphertext by default and plaintext only with --decrypt", async () => {
    await seed();
    const plain = await run(["export", "--state", dir]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toContain(SECRET);
    expect(isSealed(JSON.parse(plain.stdout).bindings.b1.credentials)).toBe(true);

    const decrypted = await run(["export", "--state", dir, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: `old:${OLD}`,
    });
    expect(decrypted.code, decrypted.stderr).toBe(0);
    expect(JSON.parse(decrypted.stdout).bindings.b1).toEqual({
      instance: "i1",
      credentials: { username: "u", password: SECRET },
      extra: [{ note: "plain" }, { token: `${SECRET}-2` }],
    });

    const noKey = await run(["export", "--state", dir, "--decrypt"]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("no encryption key configured");
    const wrongKey = await run(["export", "--state", dir, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: `new:${NEW}`,
    });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('key id "old"');
    expect(wrongKey.stdout + wrongKey.stderr).not.toContain(SECRET);
  });

  it("rotates keys: old data readable before, only the new key id on disk after", async () => {
    await seed();
    const keys = tempDir(); // outside the state directory, which is grepped below
    const keyFile = join(keys.dir, "keys.txt");
    writeFileSync(keyFile, `new:${NEW}\nold:${OLD}\n`, { mode: 0o600 });
    try {
      const before = await run(["export", "--state", dir, "--decrypt", "--key-file", keyFile]);
      expect(JSON.parse(before.stdout).bindings.b1.credentials.password).toBe(SECRET);

      const rekey = await run(["rekey", "--state", dir, "--key-file", keyFile]);
      expect(rekey.code, rekey.stderr).toBe(0);
      expect(rekey.stdout).toContain('re-sealed 2 value(s) in 1 record(s) with key "new"');

      // rekey compacted: no envelope under the old key id remains in any state file.
      const bytes = allFileBytes(dir);
      expect(bytes.includes('"kid":"old"')).toBe(false);
      expect(bytes.includes('"kid":"new"')).toBe(true);
      expect(bytes.includes(SECRET)).toBe(false);

      const after = await run(["export", "--state", dir, "--decrypt"], {
        BROKER_ENCRYPTION_KEY: `new:${NEW}`,
      });
      expect(after.code, after.stderr).toBe(0);
      expect(JSON.parse(after.stdout).bindings.b1.extra[1].token).toBe(`${SECRET}-2`);
    } finally {
      keys.cleanup();
    }
  });

  it("rekey needs the broker stopped, and usage errors exit 2", async () => {
    await seed();
    const broker = new FileStateStore({ dir });
    await broker.open();
    const locked = await run(["rekey", "--state", dir], { BROKER_ENCRYPTION_KEY: `new:${NEW}` });
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain(`pid ${process.pid}`);
    await broker.close();

    expect((await run(["export"])).code).toBe(2);
    expect((await run(["bogus"])).code).toBe(2);
    expect((await run(["export", "--state", dir, "--nope"])).code).toBe(2);
    const missing = await run(["export", "--state", join(dir, "absent")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no state directory");
    expect((await run(["rekey", "--state", join(dir, "absent")], { BROKER_ENCRYPTION_KEY: NEW })).code).toBe(
      1,
    );
  });
});
