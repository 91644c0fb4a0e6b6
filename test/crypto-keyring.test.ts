import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CryptoError,
  deriveKeyId,
  generateKey,
  isSealed,
  Keyring,
  KeyringError,
  keyringFromSpecs,
  loadKeyring,
  type SealedValue,
  SealedValueError,
  UnknownKeyError,
} from "../src/crypto/index.js";
import { capturingLogger, tempDir } from "./fixtures/state-helpers.js";

const KEY_A = generateKey();
const KEY_B = generateKey();
const ring = (...specs: string[]) => keyringFromSpecs(specs);

/** Runs `fn`, returns what it threw (the tests then assert on type, code and message). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an exception");
}

describe("seal / open", () => {
  const keys = ring(`a:${KEY_A}`);

  it("round-trips any JSON value in a self-describing envelope", () => {
    for (const value of [
      "s3cret",
      0,
      null,
      true,
      [1, "two"],
      { user: "u", password: "p", nested: { x: [1] } },
    ]) {
      const sealed = keys.seal(value);
      expect(isSealed(sealed)).toBe(true);
      expect(Object.keys(sealed).sort()).toEqual(["$sealed", "data", "iv", "kid", "tag"]);
      expect(sealed).toMatchObject({ $sealed: 1, kid: "a" });
      expect(JSON.stringify(sealed)).not.toContain("s3cret");
      expect(keys.open(JSON.parse(JSON.stringify(sealed)))).toEqual(value);
    }
    expect(keys.seal("same").data).not.toBe(keys.seal("same").data); // fresh IV each time
    expect(isSealed({ $sealed: 1, kid: "a" })).toBe(false);
    expect(isSealed("text")).toBe(false);
  });

  it("detects tampering without revealing plaintext", () => {
    const sealed = keys.seal({ password: "hunter2" });
    const flipped = (field: "data" | "tag" | "iv") => {
      const bytes = Buffer.from(sealed[field], "base64");
      bytes.writeUInt8(bytes.readUInt8(0) ^ 1, 0);
      return { ...sealed, [field]: bytes.toString("base64") };
    };
    for (const tampered of [flipped("data"), flipped("tag"), flipped("iv"), { ...sealed, ctx: "moved" }]) {
      const error = thrown(() => keys.open(tampered));
      expect(error).toBeInstanceOf(SealedValueError);
      expect(error).toMatchObject({ code: "DECRYPT_FAILED" });
      expect(error.message).not.toContain("hunter2");
    }
    expect(thrown(() => keys.open({ ...sealed, tag: "short" }))).toMatchObject({
      code: "MALFORMED_ENVELOPE",
    });
    expect(thrown(() => keys.open({ not: "sealed" } as unknown as SealedValue))).toMatchObject({
      code: "MALFORMED_ENVELOPE",
    });
  });

  it("fails authentication when the key material behind a key id differs", () => {
    const sealed = keys.seal("x");
    const impostor = ring(`a:${KEY_B}`);
    expect(thrown(() => impostor.open(sealed))).toMatchObject({ code: "DECRYPT_FAILED" });
  });

  it("names an unknown key id with a typed error", () => {
    const sealed = ring(`old:${KEY_B}`).seal("x");
    const error = thrown(() => keys.open(sealed));
    expect(error).toBeInstanceOf(UnknownKeyError);
    expect(error).toMatchObject({ code: "UNKNOWN_KEY", kid: "old" });
    expect(error.message).toContain('"old"');
  });

  it("binds a value to its context so it cannot be moved to another record", () => {
    const sealed = keys.seal({ token: "t" }, "binding:1/credentials");
    expect(sealed.ctx).toBe("binding:1/credentials");
    expect(keys.open(sealed, "binding:1/credentials")).toEqual({ token: "t" });
    expect(keys.open(sealed)).toEqual({ token: "t" });
    expect(thrown(() => keys.open(sealed, "binding:2/credentials"))).toMatchObject({
      code: "CONTEXT_MISMATCH",
    });
    // Rewriting the stored context does not help: it is authenticated.
    const moved = { ...sealed, ctx: "binding:2/credentials" };
    expect(thrown(() => keys.open(moved, "binding:2/credentials"))).toMatchObject({ code: "DECRYPT_FAILED" });
  });

  it("opens with any key but seals with the primary; reseal keeps the context", () => {
    const old = ring(`a:${KEY_A}`).seal("v", "ctx");
    const rotated = ring(`b:${KEY_B}`, `a:${KEY_A}`);
    expect(rotated.primaryId).toBe("b");
    expect(rotated.open(old)).toBe("v");
    const resealed = rotated.reseal(old);
    expect(resealed).toMatchObject({ kid: "b", ctx: "ctx" });
    expect(ring(`b:${KEY_B}`).open(resealed, "ctx")).toBe("v");
  });

  it("never shows key material when logged or serialised", () => {
    const keys2 = ring(`a:${KEY_A}`, KEY_B);
    const shown = `${inspect(keys2, { showHidden: true, depth: 10 })} ${JSON.stringify(keys2)}`;
    expect(shown).toContain("a");
    for (const key of [KEY_A, KEY_B, Buffer.from(KEY_A, "base64").toString("hex")])
      expect(shown).not.toContain(key);
  });
});

describe("loadKeyring", () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(() => cleanup());

  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };

  it("reads one key from the environment, with or without an id", () => {
    const derived = loadKeyring({ env: { BROKER_ENCRYPTION_KEY: KEY_A } });
    expect(derived.ids).toEqual([deriveKeyId(Buffer.from(KEY_A, "base64"))]);
    expect(derived.primaryId).toMatch(/^k-[0-9a-f]{16}$/);
    expect(loadKeyring({ env: { BROKER_ENCRYPTION_KEY: ` main:${KEY_A}\n` } }).ids).toEqual(["main"]);
    const urlSafe = Buffer.from(KEY_A, "base64").toString("base64url");
    expect(
      loadKeyring({ env: { BROKER_ENCRYPTION_KEY: `u:${urlSafe}` } }).open(ring(`u:${KEY_A}`).seal(1)),
    ).toBe(1);
  });

  it("reads key files as lines or JSON, first (or named) key primary", () => {
    const lines = file("keys.txt", `# rotation 2024\nnew:${KEY_B}\n\nold:${KEY_A}\n`);
    expect(loadKeyring({ file: lines })).toMatchObject({ primaryId: "new", ids: ["new", "old"] });
    const viaEnv = loadKeyring({ env: { BROKER_ENCRYPTION_KEY_FILE: lines } });
    expect(viaEnv.primaryId).toBe("new");
    const json = file(
      "keys.json",
      JSON.stringify({
        primary: "old",
        keys: [
          { id: "new", key: KEY_B },
          { id: "old", key: KEY_A },
        ],
      }),
    );
    expect(loadKeyring({ file: json })).toMatchObject({ primaryId: "old", ids: ["old", "new"] });
    const array = file("keys2.json", JSON.stringify([{ key: KEY_A }]));
    expect(loadKeyring({ file: array }).primaryId).toMatch(/^k-/);
  });

  it("makes the environment key primary when a key file is also given", () => {
    const old = file("old.txt", `old:${KEY_A}\n`);
    const keys = loadKeyring({ env: { BROKER_ENCRYPTION_KEY: `new:${KEY_B}` }, file: old });
    expect(keys).toMatchObject({ primaryId: "new", ids: ["new", "old"] });
    const conflict = file("conflict.txt", `new:${KEY_A}\n`);
    expect(() => loadKeyring({ env: { BROKER_ENCRYPTION_KEY: `new:${KEY_B}` }, file: conflict })).toThrow(
      /appears twice/,
    );
  });

  it("warns about a key file others can read", () => {
    const path = file("open.txt", `a:${KEY_A}\n`);
    chmodSync(path, 0o644);
    const { logger, lines } = capturingLogger();
    loadKeyring({ file: path, logger });
    expect(lines().some((l) => String(l.msg).includes("chmod 600"))).toBe(true);
  });

  it("gives clear errors that never contain key material", () => {
    const short = Buffer.alloc(16, 7).toString("base64");
    const cases: Array<[() => unknown, RegExp, string[]]> = [
      [() => loadKeyring({ env: {} }), /no encryption key configured/, []],
      [() => loadKeyring({ env: { BROKER_ENCRYPTION_KEY: short } }), /32 bytes, decodes to 16/, [short]],
      [
        () => loadKeyring({ env: { BROKER_ENCRYPTION_KEY: `x:${KEY_A}!` } }),
        /key "x".*not valid base64/,
        [KEY_A],
      ],
      [() => loadKeyring({ env: { BROKER_ENCRYPTION_KEY: `bad id:${KEY_A}` } }), /invalid key id/, [KEY_A]],
      [() => loadKeyring({ file: join(dir, "missing") }), /cannot read key file .*missing: ENOENT/, []],
      [() => loadKeyring({ file: file("bad.json", `{"keys": [${KEY_A}]}`) }), /invalid JSON/, [KEY_A]],
      [
        () => loadKeyring({ file: file("dup.txt", `a:${KEY_A}\na:${KEY_B}\n`) }),
        /duplicate key id "a"/,
        [KEY_A, KEY_B],
      ],
      [
        () => loadKeyring({ file: file("line.txt", `a:${KEY_A}\nb:${KEY_B.slice(0, 20)}\n`) }),
        /line 2/,
        [KEY_A],
      ],
      [() => loadKeyring({ file: file("empty.txt", "# nothing\n") }), /contains no keys/, []],
      [
        () =>
          loadKeyring({ file: file("prim.json", JSON.stringify({ primary: "z", keys: [{ key: KEY_A }] })) }),
        /"z" is not listed/,
        [KEY_A],
      ],
    ];
    for (const [fn, message, secrets] of cases) {
      const error = thrown(fn);
      expect(error).toBeInstanceOf(KeyringError);
      expect(error).toBeInstanceOf(CryptoError);
      expect(error.message).toMatch(message);
      for (const secret of secrets) expect(error.message).not.toContain(secret.slice(0, 12));
    }
    expect(thrown(() => loadKeyring({ env: {} }))).toMatchObject({ code: "NO_KEY" });
  });

  it("rejects an empty keyring", () => {
    expect(() => new Keyring([])).toThrow(KeyringError);
  });
});
