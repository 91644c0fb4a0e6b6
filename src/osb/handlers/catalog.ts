import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import type { Context } from "hono";
import { requestedMinor, shapeFor } from "../api-versions.js";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import type { Catalog } from "../types.js";

type Coding = "br" | "gzip";

/** One encoding of the catalog: its bytes and its strong entity tag. */
interface Variant {
  bytes: Uint8Array<ArrayBuffer>;
  etag: string;
}

/** Everything a catalog request needs, built once per rendered catalog (per config generation). */
interface Prepared {
  identity: Variant;
  /** Set once the background compression finished (until then, `pending` says when it will). */
  encoded: Partial<Record<Coding, Variant>>;
  pending: Partial<Record<Coding, Promise<Variant | undefined>>>;
}

/**
 * Per rendered catalog, per requested minor version (H16: each version gets the fields it
 * defines). A new render (reload, derived schemas arriving) is a new object, hence a new entry.
 */
const prepared = new WeakMap<Catalog, Map<number, Prepared>>();

/** Bodies shorter than this go uncompressed: the saving is smaller than the headers it adds. */
const MIN_COMPRESSED = 1024;

const compressors: Record<Coding, (bytes: Buffer) => Promise<Buffer>> = {
  gzip: (bytes) => promisify(gzip)(bytes, { level: 6 }),
  br: (bytes) =>
    promisify(brotliCompress)(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 6,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
};

/**
 * CAT: the catalog is rendered once per config load, and turned into bytes (plain, gzip and
 * brotli, each with its strong ETag) once per rendered catalog; requests only pick the bytes
 * the client accepts (issue 14). `If-None-Match` with the current tag answers 304 (OSB H15).
 * Compression runs on libuv's thread pool, never on the event loop (a 1,000-plan catalog is
 * 1.5 MB); the first requests of a new catalog wait for it, so a client with the same
 * Accept-Encoding always gets the same bytes and tag. The body has the fields the requested API
 * version defines (H16), so responses say `Vary: Accept-Encoding, X-Broker-API-Version`.
 */
export function getCatalog(ports: OsbPorts) {
  return (c: Context<OsbEnv>): Response | Promise<Response> => {
    const entry = prepare(ports.catalog(), requestedMinor(c));
    const coding = preferredCoding(c.req.header("Accept-Encoding"));
    if (coding === undefined) return answer(c, entry.identity, undefined);
    const ready = entry.encoded[coding];
    if (ready) return answer(c, ready, coding);
    const pending = entry.pending[coding];
    if (!pending) return answer(c, entry.identity, undefined);
    // Failing to compress only means serving plain bytes, which is always correct.
    return pending.then((variant) =>
      variant ? answer(c, variant, coding) : answer(c, entry.identity, undefined),
    );
  };
}

function answer(c: Context<OsbEnv>, variant: Variant, coding: Coding | undefined): Response {
  const headers: Record<string, string> = {
    ETag: variant.etag,
    Vary: "Accept-Encoding, X-Broker-API-Version",
  };
  const wanted = c.req.header("If-None-Match");
  if (wanted !== undefined && matches(wanted, variant.etag)) return c.body(null, 304, headers);
  headers["Content-Type"] = "application/json";
  if (coding) headers["Content-Encoding"] = coding;
  return c.body(variant.bytes, 200, headers);
}

function prepare(catalog: Catalog, minor: number): Prepared {
  let versions = prepared.get(catalog);
  if (!versions) {
    versions = new Map();
    prepared.set(catalog, versions);
  }
  const entry = versions.get(minor);
  if (entry) return entry;
  // Versions that define the same catalog fields get the same bytes, hence the same tags.
  const bytes = Buffer.from(JSON.stringify(shapeFor(minor, "catalog", catalog)));
  const tag = createHash("sha256").update(bytes).digest("base64url").slice(0, 27);
  const ready: Prepared = { identity: { bytes, etag: `"${tag}"` }, encoded: {}, pending: {} };
  versions.set(minor, ready);
  if (bytes.length >= MIN_COMPRESSED) {
    for (const coding of ["gzip", "br"] as const) {
      ready.pending[coding] = compressors[coding](bytes).then(
        (out) =>
          (ready.encoded[coding] = { bytes: out as Uint8Array<ArrayBuffer>, etag: `"${tag}-${coding}"` }),
        () => undefined,
      );
    }
  }
  return ready;
}

/**
 * The coding the client prefers among br and gzip (RFC 9110 12.5.3: q-values, `*`, `q=0`
 * refuses), or undefined for identity. On equal weights br wins: it is the smaller.
 */
export function preferredCoding(header: string | undefined): Coding | undefined {
  if (!header) return undefined;
  let best: Coding | undefined;
  let bestQ = 0;
  let wildcard: number | undefined;
  const explicit: Partial<Record<Coding, number>> = {};
  for (const part of header.split(",")) {
    const [rawName, ...params] = part.split(";");
    const name = rawName!.trim().toLowerCase();
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split("=");
      if (key?.trim().toLowerCase() === "q") q = Number(value?.trim());
    }
    if (!Number.isFinite(q)) q = 0;
    if (name === "br" || name === "gzip" || name === "x-gzip") explicit[name === "br" ? "br" : "gzip"] = q;
    else if (name === "*") wildcard = q;
  }
  for (const coding of ["br", "gzip"] as const) {
    const q = explicit[coding] ?? wildcard ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}

/** If-None-Match: a list of entity tags or `*`; weak tags compare by their opaque part (RFC 9110 13.1.2). */
function matches(header: string, etag: string): boolean {
  for (const raw of header.split(",")) {
    const tag = raw.trim();
    if (tag === "*" || tag === etag || (tag.startsWith("W/") && tag.slice(2) === etag)) return true;
  }
  return false;
}
