/**
 * Issue 10, defect 7: platform-facing descriptions (error bodies, last_operation) say what failed
 * and what to do, never an internal address of the manager; the broker's log keeps the detail.
 */
import { describe, expect, it } from "vitest";
import { withoutAddresses } from "../src/broker/cloudify-port/addresses.js";
import { capturingLogger } from "./fixtures/state-helpers.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  type Stack,
  useStack,
  waitFor,
} from "./support/stack.js";

describe("withoutAddresses", () => {
  it.each([
    ["connect ECONNREFUSED 127.0.0.1:53122", "connect ECONNREFUSED <address>"],
    ["GET https://cfy.internal.example:8443/api/v3.1/x failed", "GET <address> failed"],
    ["to [fe80::1]:443 and 2001:db8::7 down", "to <address> and <address> down"],
    ["host manager-01.corp.lan:53333 reset", "host <address> reset"],
    ["missing required input 'size'", "missing required input 'size'"],
    ["version 7.0.4 and 10 nodes", "version 7.0.4 and 10 nodes"],
    ["at 12:30:45 the install failed", "at 12:30:45 the install failed"],
  ])("%s", (text, expected) => {
    expect(withoutAddresses(text)).toBe(expected);
  });
});

describe("descriptions while Cloudify is unreachable", () => {
  let stack: Stack;
  const captured = capturingLogger();
  useStack(
    (started) => {
      stack = started.stack;
    },
    { logger: captured.logger, env: { LOG_LEVEL: "debug" } },
  );

  it("a bind answers 503 without the manager's address; the log has it", async () => {
    const id = newId();
    await provisionInstance(stack.osb, id, provisionBody(PG.large));
    const { port } = stack.emulator!;
    const down = stack.emulator!.restart({ downMs: 4000 });
    try {
      const bind = await stack.osb.put(`${instancePath(id)}/service_bindings/${newId()}`, {
        service_id: PG.service,
        plan_id: PG.large,
      });
      expect(bind.status).toBe(503);
      expect(bind.body.description).toMatch(/Cloudify is unreachable \(connection refused\)/);
      expect(bind.body.description).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
      expect(bind.body.description).not.toContain(String(port));

      // An operation's description while it retries.
      const other = newId();
      expect((await stack.osb.put(instancePath(other), provisionBody(), ASYNC)).status).toBe(202);
      const retrying = await waitFor(async () => {
        const answer = await stack.osb.get(`${instancePath(other)}/last_operation`);
        // Keep polling until a retry description shows up.
        return /retrying/.test(answer.body?.description ?? "")
          ? { ...answer, body: { ...answer.body, state: "x" } }
          : answer;
      }, 10_000);
      expect(retrying.body.description).toMatch(/Cloudify is unreachable/);
      expect(retrying.body.description).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
      expect(retrying.body.description).not.toContain(String(port));
    } finally {
      await down;
    }
    const logged = JSON.stringify(captured.lines());
    expect(logged).toContain(`127.0.0.1:${port}`);
  });
});
