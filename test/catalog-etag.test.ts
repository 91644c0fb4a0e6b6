import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { expect, test } from "vitest";
import { preferredCoding } from "../src/osb/handlers/catalog.js";
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

/** A GET whose body is not decoded (fetch would undo the Content-Encoding). */
function rawGet(
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL("/v2/catalog", stack.osb.baseUrl),
      {
        headers: {
          Authorization: `Basic ${Buffer.from(`${stack.osb.username}:${stack.osb.password}`).toString("base64")}`,
          "X-Broker-API-Version": "2.17",
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The first request of a catalog already gets the compressed bytes (compression is waited for). */
const getEncoded = (coding: string) => rawGet({ "Accept-Encoding": coding });

test("CAT a client accepting gzip or br gets the same catalog pre-compressed, with its own ETag and 304", async () => {
  const plain = await rawGet({});
  expect(plain.status).toBe(200);
  expect(plain.headers["content-encoding"]).toBeUndefined();
  expect(plain.headers.vary).toMatch(/Accept-Encoding/i);
  const catalog: unknown = JSON.parse(plain.body.toString("utf8"));

  const decoders = { gzip: gunzipSync, br: brotliDecompressSync } as const;
  const tags = new Set([plain.headers.etag]);
  for (const coding of ["gzip", "br"] as const) {
    const encoded = await getEncoded(coding);
    expect(encoded.status).toBe(200);
    expect(encoded.headers["content-encoding"]).toBe(coding);
    expect(encoded.headers["content-type"]).toMatch(/^application\/json/);
    expect(encoded.headers.vary).toMatch(/Accept-Encoding/i);
    expect(encoded.body.length).toBeLessThan(plain.body.length);
    expect(JSON.parse(decoders[coding](encoded.body).toString("utf8"))).toEqual(catalog);
    // Different bytes, so a different strong tag; the same tag again on the next request.
    const etag = encoded.headers.etag!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    tags.add(etag);
    expect((await rawGet({ "Accept-Encoding": coding })).headers.etag).toBe(etag);

    const notModified = await rawGet({ "Accept-Encoding": coding, "If-None-Match": etag });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    expect(notModified.headers.etag).toBe(etag);
  }
  expect(tags.size).toBe(3);
});

test("CAT q-values decide the coding: q=0 refuses it, identity when nothing acceptable is offered", async () => {
  expect((await rawGet({ "Accept-Encoding": "br;q=0, gzip" })).headers["content-encoding"]).toBe("gzip");
  expect((await rawGet({ "Accept-Encoding": "gzip;q=0.5, br;q=0.2" })).headers["content-encoding"]).toBe(
    "gzip",
  );
  expect((await rawGet({ "Accept-Encoding": "*" })).headers["content-encoding"]).toBe("br");
  for (const refused of ["identity", "gzip;q=0", "deflate", "*;q=0"]) {
    const response = await rawGet({ "Accept-Encoding": refused });
    expect(response.status, refused).toBe(200);
    expect(response.headers["content-encoding"], refused).toBeUndefined();
    expect(JSON.parse(response.body.toString("utf8")).services.length).toBeGreaterThan(0);
  }
});

test("CAT preferredCoding reads Accept-Encoding per RFC 9110", () => {
  expect(preferredCoding(undefined)).toBeUndefined();
  expect(preferredCoding("")).toBeUndefined();
  expect(preferredCoding("gzip, deflate, br")).toBe("br");
  expect(preferredCoding("GZIP")).toBe("gzip");
  expect(preferredCoding("x-gzip")).toBe("gzip");
  expect(preferredCoding("br;q=0.1, gzip;q=0.9")).toBe("gzip");
  expect(preferredCoding("br;q=0, *")).toBe("gzip");
  expect(preferredCoding("*;q=0")).toBeUndefined();
  expect(preferredCoding("gzip;q=abc")).toBeUndefined();
});
