import { randomUUID } from "node:crypto";
import { Client } from "undici";
import { provisionBody } from "./stack.js";

export interface LoadResult {
  /** Requests answered as expected. */
  ok: number;
  /** Everything else: network errors and unexpected statuses, with what happened. */
  failures: string[];
  /** Instances whose provision the broker accepted (202). */
  provisioned: string[];
  /** Connections the broker closed with `Connection: close` (a draining broker does). */
  closedByServer: number;
}

/**
 * Bounded load against a broker on 127.0.0.1: `clients` loops, each on its own keep-alive
 * connection, cycling through catalog reads, provisions and last_operation polls. A loop
 * ends when `until` resolves, after `maxPerClient` requests, or when the broker answers with
 * `Connection: close` (it is shutting down: that connection's client is done, nothing failed).
 */
export async function runLoad(options: {
  url: string;
  username: string;
  password: string | (() => string);
  clients: number;
  maxPerClient: number;
  until: Promise<unknown>;
}): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failures: [], provisioned: [], closedByServer: 0 };
  let stopped = false;
  void options.until.then(() => {
    stopped = true;
  });
  const password =
    typeof options.password === "function" ? options.password : () => options.password as string;
  const loop = async (n: number) => {
    const client = new Client(options.url, { pipelining: 1 });
    let last: string | undefined;
    try {
      for (let i = 0; i < options.maxPerClient && !stopped; i++) {
        const kind = i % 4 === 1 ? "provision" : i % 4 === 3 && last ? "poll" : "catalog";
        const id = kind === "provision" ? randomUUID() : last;
        const path =
          kind === "catalog"
            ? "/v2/catalog"
            : kind === "provision"
              ? `/v2/service_instances/${id}?accepts_incomplete=true`
              : `/v2/service_instances/${id}/last_operation`;
        const expected = kind === "provision" ? 202 : 200;
        try {
          const response = await client.request({
            method: kind === "provision" ? "PUT" : "GET",
            path,
            headers: {
              authorization: `Basic ${Buffer.from(`${options.username}:${password()}`).toString("base64")}`,
              "x-broker-api-version": "2.17",
              "content-type": "application/json",
            },
            body: kind === "provision" ? JSON.stringify(provisionBody()) : undefined,
          });
          const text = await response.body.text();
          if (response.statusCode !== expected) {
            result.failures.push(
              `client ${n}: ${kind} answered ${response.statusCode}: ${text.slice(0, 200)}`,
            );
          } else {
            result.ok++;
            if (kind === "provision") {
              last = id;
              result.provisioned.push(id!);
            }
          }
          if (response.headers.connection === "close") {
            result.closedByServer++;
            return;
          }
        } catch (error) {
          result.failures.push(`client ${n}: ${kind} failed: ${(error as Error).message}`);
          return;
        }
      }
    } finally {
      await client.close().catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, n) => loop(n)));
  return result;
}
