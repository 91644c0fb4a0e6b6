import { expect, test } from "vitest";
import { type Stack, useStack } from "./support/stack.js";

let stack: Stack;
useStack(
  (started) => {
    stack = started.stack;
  },
  { emulator: false },
);

test("H15 the catalog carries an ETag; If-None-Match with it answers 304 without a body", async () => {
  const first = await stack.osb.get("/v2/catalog");
  expect(first.status).toBe(200);
  const etag = first.headers.get("etag");
  expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
  expect((await stack.osb.get("/v2/catalog")).headers.get("etag")).toBe(etag);

  const again = await stack.osb.get("/v2/catalog", { headers: { "If-None-Match": etag! } });
  expect(again.status).toBe(304);
  expect(again.body).toBeUndefined();
  expect(again.headers.get("etag")).toBe(etag);

  const stale = await stack.osb.get("/v2/catalog", { headers: { "If-None-Match": '"some-older-tag"' } });
  expect(stale.status).toBe(200);
  expect(stale.body.services.length).toBeGreaterThan(0);
});

test("H15 a conditional request still needs auth and a version header", async () => {
  const etag = (await stack.osb.get("/v2/catalog")).headers.get("etag")!;
  expect(
    (await stack.osb.get("/v2/catalog", { headers: { "If-None-Match": etag, Authorization: undefined } }))
      .status,
  ).toBe(401);
  expect(
    (
      await stack.osb.get("/v2/catalog", {
        headers: { "If-None-Match": etag, "X-Broker-API-Version": undefined },
      })
    ).status,
  ).toBe(412);
});
