/**
 * Issue 10, defect 6: Basic-auth brute force. After repeated wrong credentials one client is
 * locked out (429 + Retry-After), even with the right password; other clients and clients that
 * authenticate are never slowed; /metrics counts both outcomes. Real HTTP: the second client
 * connects from another loopback address.
 */
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { AuthThrottle } from "../src/osb/middleware/auth-throttle.js";
import { type Stack, useStack } from "./support/stack.js";

let stack: Stack;
useStack(
  (started) => {
    stack = started.stack;
  },
  { emulator: false },
);

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

async function catalog(authorization: string) {
  const response = await fetch(new URL("/v2/catalog", stack.broker.url), {
    headers: { Authorization: authorization, "X-Broker-API-Version": "2.17" },
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
}

/** The catalog requested from another source address (all of 127/8 is loopback on Linux). */
function catalogFrom(localAddress: string, authorization: string): Promise<number> {
  const url = new URL("/v2/catalog", stack.broker.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        localAddress,
        headers: { Authorization: authorization, "X-Broker-API-Version": "2.17" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("Basic auth brute-force protection", () => {
  it("locks out a guessing client, not the others, and counts it", async () => {
    const user = stack.env.BROKER_USERNAME!;
    const right = basic(user, stack.env.BROKER_PASSWORD!);
    // Failures below the limit do not slow or block the right password.
    for (let i = 0; i < 5; i++) expect((await catalog(basic(user, `guess-${i}`))).status).toBe(401);
    expect((await catalog(right)).status).toBe(200);

    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await catalog(basic(user, `guess-${i}`))).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(20).fill(429));
    const locked = await catalog(right);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(locked.body).toEqual({
      error: "TooManyRequests",
      description: expect.stringMatching(/^Too many failed authentication attempts/),
    });

    // Another client (another source address) is not affected.
    expect(await catalogFrom("127.0.0.2", right)).toBe(200);

    const metrics = await (await fetch(new URL("/metrics", stack.broker.url))).text();
    expect(metrics).toMatch(/osb_auth_failures_total\{outcome="rejected"\} 15/);
    expect(metrics).toMatch(/osb_auth_failures_total\{outcome="locked_out"\} 21/);
  });

  it("unlocks after the lockout and forgets a client that authenticates", () => {
    let now = 0;
    const throttle = new AuthThrottle({ maxFailures: 3, windowMs: 1000, lockMs: 5000, now: () => now });
    expect(throttle.failed("a")).toBe(false);
    expect(throttle.failed("a")).toBe(false);
    throttle.succeeded("a");
    expect(throttle.failed("a")).toBe(false);
    expect(throttle.failed("a")).toBe(false);
    expect(throttle.failed("a")).toBe(true);
    expect(throttle.lockedFor("a")).toBe(5);
    expect(throttle.lockedFor("b")).toBe(0);
    now = 5001;
    expect(throttle.lockedFor("a")).toBe(0);
    // Failures spread wider than the window never add up to a lockout.
    for (let i = 0; i < 10; i++) {
      now += 1001;
      expect(throttle.failed("c")).toBe(false);
    }
  });
});
