import { describe, expect, it } from "vitest";
import { BINDINGS, INSTANCES } from "../../src/broker/model/records.js";
import { SEALED_FIELDS, Sealer, sealContext } from "../../src/broker/model/sealing.js";
import { isSealed, keyringFromSpecs } from "../../src/crypto/index.js";
import { rekeyStore } from "../../src/maintenance/rekey.js";
import { MemoryStateStore } from "../../src/state/index.js";

/**
 * K1/K2 (docs/CONTRACT.md): the fields sealed at rest are one list, and `state rekey` seals the
 * ones a broker without a key (allow_plaintext) stored in clear, leaving everything else alone.
 */
const KEY = Buffer.alloc(32, 9).toString("base64");

describe("K2 rekey seals what allow_plaintext stored in clear", () => {
  it("seals every listed binding field in clear, opens with the field's context, and is idempotent", async () => {
    const store = new MemoryStateStore();
    await store.open();
    const plaintext = {
      id: "b1",
      instanceId: "i1",
      status: "bound",
      parameters: { token: "user-secret" },
      seed: "seed-in-clear",
      result: { credentials: { password: "derived-pw" } },
      workflowParameters: { password: "derived-pw" },
      bindResource: { app_guid: "app" },
    };
    await store.commit([
      { type: "put", collection: BINDINGS, id: "b1", value: plaintext },
      { type: "put", collection: INSTANCES, id: "i1", value: { id: "i1", parameters: { size: 1 } } },
    ]);
    const keyring = keyringFromSpecs([KEY]);
    const result = await rekeyStore(store, keyring);
    expect(result).toMatchObject({ records: 1, values: SEALED_FIELDS[BINDINGS]!.length });
    const stored = store.get<Record<string, unknown>>(BINDINGS, "b1")!;
    expect(JSON.stringify(stored)).not.toContain("derived-pw");
    expect(JSON.stringify(stored)).not.toContain("user-secret");
    const sealer = new Sealer(keyring);
    for (const field of SEALED_FIELDS[BINDINGS]!) {
      expect(isSealed(stored[field]), field).toBe(true);
      expect(sealer.open(stored[field], sealContext("b1", field))).toEqual(
        plaintext[field as keyof typeof plaintext],
      );
    }
    // Fields that are not secrets, and other collections, stay as they were.
    expect(stored.bindResource).toEqual({ app_guid: "app" });
    expect(store.get(INSTANCES, "i1")).toEqual({ id: "i1", parameters: { size: 1 } });
    expect(await rekeyStore(store, keyring)).toMatchObject({ records: 0, values: 0 });
  });
});
