/**
 * Races on one instance and one binding (issue 10, the suite): identical and different requests
 * sent at the same moment to a real broker. Exactly one operation and one deployment per
 * instance, one Cloudify execution per binding, and a bind and a deprovision of the same
 * instance are never both accepted (defect 4: one "instance busy" rule, ConcurrencyError).
 */
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../../emulator/index.js";
import { deploymentIdFor } from "../../src/broker/model/ids.js";
import { bindBody, bindingPath } from "../fixtures/bindings-helpers.js";
import { resultRow } from "../support/lifecycles.js";
import type { OsbClient, OsbResponse } from "../support/osb-client.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  useStack,
  waitForInstanceOperation,
} from "../support/stack.js";

let osb: OsbClient;
let emulator: EmulatorHandle;
useStack((started) => {
  ({ osb, emulator } = started);
});

const deprovisionQuery = {
  query: { accepts_incomplete: "true", service_id: PG.service, plan_id: PG.small },
};
const executionsOf = (instanceId: string, workflow: string) =>
  emulator.state.executions(deploymentIdFor(instanceId)).filter((e) => e.workflow_id === workflow);
/** PUT /deployments/<id> requests: one per instance, whatever the races. */
const deploymentsOf = (instanceId: string) =>
  emulator.requests.count({ method: "PUT", path: `/api/v3.1/deployments/${deploymentIdFor(instanceId)}` });

/** What a race scenario counted, for its row of RESULTS.md (printed as `RESULT | ...`). */
interface RaceTally {
  acknowledged: number;
  completed: number;
  lost: number;
  duplicated: number;
  fiveXx: number;
}
const newTally = (): RaceTally => ({ acknowledged: 0, completed: 0, lost: 0, duplicated: 0, fiveXx: 0 });
const count5xx = (t: RaceTally, answers: readonly OsbResponse[]) => {
  t.fiveXx += answers.filter((a) => a.status >= 500).length;
};
const report = (t: RaceTally, scenario: string, faults: string) =>
  console.log(`RESULT ${resultRow(`race: ${scenario}`, faults, t, t.fiveXx)}`);

describe("races on one instance and one binding", () => {
  it("the same provision 12 times at once: one operation, one deployment", async () => {
    const t = newTally();
    for (let round = 0; round < 5; round++) {
      const id = newId();
      const answers = await Promise.all(
        Array.from({ length: 12 }, () => osb.put(instancePath(id), provisionBody(), ASYNC)),
      );
      count5xx(t, answers);
      for (const a of answers) expect([200, 202]).toContain(a.status);
      t.acknowledged++;
      expect(new Set(answers.filter((a) => a.status === 202).map((a) => a.body.operation)).size).toBe(1);
      const succeeded = (await waitForInstanceOperation(osb, id)).body.state === "succeeded";
      if (succeeded) t.completed++;
      else t.lost++;
      t.duplicated +=
        Math.max(0, deploymentsOf(id) - 1) + Math.max(0, executionsOf(id, "install").length - 1);
      expect(succeeded).toBe(true);
      expect(deploymentsOf(id)).toBe(1);
      expect(executionsOf(id, "install")).toHaveLength(1);
    }
    report(t, "same provision", "12 identical PUTs at once, 5 rounds");
  });

  it("different provisions for one id at once: exactly one accepted, the others 409", async () => {
    const t = newTally();
    for (let round = 0; round < 5; round++) {
      const id = newId();
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          osb.put(instancePath(id), provisionBody(PG.small, { space_guid: `space-${i}` }), ASYNC),
        ),
      );
      count5xx(t, answers);
      const statuses = answers.map((a) => a.status).sort();
      const accepted = statuses.filter((st) => st === 202).length;
      t.acknowledged += accepted;
      t.duplicated += Math.max(0, accepted - 1);
      expect(statuses).toEqual([202, 409, 409, 409, 409, 409]);
      for (const a of answers.filter((x) => x.status === 409))
        expect(typeof a.body.description).toBe("string");
      const succeeded = (await waitForInstanceOperation(osb, id)).body.state === "succeeded";
      if (succeeded) t.completed++;
      else t.lost++;
      t.duplicated += Math.max(0, deploymentsOf(id) - 1);
      expect(succeeded).toBe(true);
      expect(deploymentsOf(id)).toBe(1);
    }
    report(t, "different provisions", "6 different PUTs for one id at once, 5 rounds");
  });

  it("the same workflow bind 8 times at once: one binding, one create_user execution", async () => {
    const t = newTally();
    const id = newId();
    await provisionInstance(osb, id);
    for (let round = 0; round < 4; round++) {
      const bid = newId();
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => osb.put(bindingPath(id, bid), bindBody(PG.small), ASYNC)),
      );
      count5xx(t, answers);
      for (const a of answers) expect([200, 201, 202]).toContain(a.status);
      t.acknowledged++;
      await waitForBinding(osb, id, bid);
      t.completed++;
    }
    // One create_user per binding: 4 bindings, 4 executions.
    t.duplicated += Math.max(0, executionsOf(id, "create_user").length - 4);
    expect(executionsOf(id, "create_user")).toHaveLength(4);
    report(t, "same workflow bind", "8 identical bind PUTs at once, 4 rounds");
  });

  it("a workflow bind and a deprovision at once, 10 rounds: never both accepted (ConcurrencyError)", async () => {
    const t = newTally();
    let bothAccepted = 0;
    let refusedBusy = 0;
    for (let round = 0; round < 10; round++) {
      const id = newId();
      await provisionInstance(osb, id);
      const bid = newId();
      const [bind, gone] = await Promise.all([
        osb.put(bindingPath(id, bid), bindBody(PG.small), ASYNC),
        osb.delete(instancePath(id), deprovisionQuery),
      ]);
      const accepted = (s: number) => s >= 200 && s < 300;
      count5xx(t, [bind, gone]);
      t.acknowledged += [bind, gone].filter((a) => accepted(a.status)).length;
      if (accepted(bind.status) && accepted(gone.status)) bothAccepted++;
      for (const refused of [bind, gone].filter((a) => a.status === 422)) {
        expect(refused.body.error).toBe("ConcurrencyError");
        refusedBusy++;
      }
      // Whatever won finishes; the instance ends deprovisioned or bound, never half of both.
      if (accepted(gone.status)) {
        expect((await waitForInstanceOperation(osb, id, 30_000)).body.state).toBe("succeeded");
      } else {
        await waitForBinding(osb, id, bid);
        expect((await osb.delete(instancePath(id), deprovisionQuery)).status).toBeLessThan(500);
      }
      t.completed++;
      t.duplicated += Math.max(0, deploymentsOf(id) - 1);
      expect(deploymentsOf(id)).toBe(1);
    }
    t.duplicated += bothAccepted;
    report(
      t,
      "bind vs deprovision",
      `a workflow bind and a deprovision at once, 10 rounds (${refusedBusy} refused busy)`,
    );
    console.log(`bind vs deprovision: 10 rounds, both accepted ${bothAccepted}, refused busy ${refusedBusy}`);
    expect(bothAccepted).toBe(0);
  }, 120_000);
});

async function waitForBinding(client: OsbClient, iid: string, bid: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const last = await client.get(`${bindingPath(iid, bid)}/last_operation`);
    if (last.status === 200 && last.body.state === "in progress") {
      if (Date.now() > deadline) throw new Error("binding still in progress");
      await new Promise((resolve) => setTimeout(resolve, 25));
      continue;
    }
    // A synchronous bind has no operation to poll: the binding itself answers.
    if (last.status !== 200) expect((await client.get(bindingPath(iid, bid))).status).toBe(200);
    else expect(last.body.state).toBe("succeeded");
    return;
  }
}
