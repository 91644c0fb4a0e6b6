/**
 * The one "instance is busy" rule (docs/CONTRACT.md A12) seen from outside, with requests that
 * really race: each pair is sent at once over HTTP, and the broker must accept exactly one of
 * them and answer the other 422 ConcurrencyError (H13), never 202 twice, never
 * UnprocessableEntity. Cloudify holds every new execution while the pairs race, so whichever
 * operation won is still in progress when its rival is decided; no timing is assumed.
 * Real HTTP: test → broker → Cloudify emulator, answers checked against the OpenAPI document.
 */
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import {
  ASYNC,
  bindBody,
  bindingPath,
  expectError,
  holdExecutions,
  instancePath,
  lastBindingOperation,
  unbindQuery,
  userExecutions,
  usernameOf,
  waitForBinding,
} from "./fixtures/bindings-helpers.js";
import {
  newId,
  PG,
  provisionBody,
  provisionInstance,
  useStack,
  type ValidatingOsbClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;

useStack((started) => {
  ({ osb, emulator } = started);
});

const ROUNDS = 10;
const deprovisionQuery = { query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" } };

describe("A12 racing operations on one instance", () => {
  it(`BIND (workflow) and DEPROV sent at once, ${ROUNDS} times: exactly one 202, the other 422 ConcurrencyError; the loser left no trace`, async () => {
    const instances = Array.from({ length: ROUNDS }, () => newId());
    await Promise.all(instances.map((iid) => provisionInstance(osb, iid, provisionBody(PG.small))));
    const release = holdExecutions(emulator);
    const rounds: { iid: string; bid: string; bindWon: boolean }[] = [];
    try {
      for (const iid of instances) {
        const bid = newId();
        const [bind, deprovision] = await Promise.all([
          osb.put(bindingPath(iid, bid), bindBody(PG.small), ASYNC),
          osb.delete(instancePath(iid), deprovisionQuery),
        ]);
        const statuses = [bind.status, deprovision.status].sort();
        expect(statuses, JSON.stringify([bind.body, deprovision.body])).toEqual([202, 422]);
        const loser = bind.status === 422 ? bind : deprovision;
        expectError(loser, 422, "ConcurrencyError");
        rounds.push({ iid, bid, bindWon: bind.status === 202 });
      }
    } finally {
      release();
    }
    for (const { iid, bid, bindWon } of rounds) {
      if (bindWon) {
        // The bind ran to the end on an instance nobody uninstalled; the instance is still there.
        expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
        expect((await osb.get(instancePath(iid))).status).toBe(200);
        expect((await osb.delete(bindingPath(iid, bid), unbindQuery(PG.small))).status).toBe(202);
        expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
      } else {
        // The deprovision ran; the refused bind never reached Cloudify and left no binding.
        expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
        expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(0);
        expect((await lastBindingOperation(osb, iid, bid)).status).toBe(404);
      }
    }
  });

  it("BIND and PROV of a new instance sent at once: the bind is 404 (no instance yet) or 422 ConcurrencyError, never UnprocessableEntity", async () => {
    const release = holdExecutions(emulator);
    const ids: string[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const iid = newId();
        ids.push(iid);
        const bid = newId();
        const [provision, bind] = await Promise.all([
          osb.put(instancePath(iid), provisionBody(PG.small), ASYNC),
          osb.put(bindingPath(iid, bid), bindBody(PG.small), ASYNC),
        ]);
        expect(provision.status).toBe(202);
        if (bind.status === 404) expectError(bind, 404, "NotFound");
        else expectError(bind, 422, "ConcurrencyError");
        expect((await lastBindingOperation(osb, iid, bid)).status).toBe(404);
      }
      // Once the provision is known to be running, a bind is always busy.
      const busy = expectError(
        await osb.put(bindingPath(ids[0]!, newId()), bindBody(PG.small), ASYNC),
        422,
        "ConcurrencyError",
      );
      expect(busy).toContain("provision in progress");
    } finally {
      release();
    }
    for (const iid of ids) expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
  });

  it("UNBIND (revoking) and DEPROV sent at once after a bind: exactly one 202, the other 422 ConcurrencyError", async () => {
    const instances = Array.from({ length: 4 }, () => newId());
    await Promise.all(instances.map((iid) => provisionInstance(osb, iid, provisionBody(PG.small))));
    const bindings = new Map<string, string>();
    for (const iid of instances) {
      const bid = newId();
      bindings.set(iid, bid);
      expect((await osb.put(bindingPath(iid, bid), bindBody(PG.small), ASYNC)).status).toBe(202);
      expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    }
    const release = holdExecutions(emulator);
    const winners: { iid: string; unbindWon: boolean }[] = [];
    try {
      for (const iid of instances) {
        const [unbind, deprovision] = await Promise.all([
          osb.delete(bindingPath(iid, bindings.get(iid)!), unbindQuery(PG.small)),
          osb.delete(instancePath(iid), deprovisionQuery),
        ]);
        expect(
          [unbind.status, deprovision.status].sort(),
          JSON.stringify([unbind.body, deprovision.body]),
        ).toEqual([202, 422]);
        expectError(unbind.status === 422 ? unbind : deprovision, 422, "ConcurrencyError");
        winners.push({ iid, unbindWon: unbind.status === 202 });
      }
    } finally {
      release();
    }
    for (const { iid, unbindWon } of winners) {
      if (unbindWon)
        expect((await waitForBinding(osb, iid, bindings.get(iid)!)).body.state).toBe("succeeded");
      else expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
    }
  });
});
