/**
 * The image's HEALTHCHECK program (src/container/healthcheck.ts) against real sockets of this
 * process: /proc decoding, finding the listeners, probing them, and saying why it is unhealthy.
 */
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  decodeProcAddress,
  findBrokerPids,
  healthcheck,
  listenersOf,
  probeUrl,
} from "../src/container/healthcheck.js";

const servers: Server[] = [];

async function serve(host: string, status: number): Promise<number> {
  const server = createServer((request, response) => {
    response.writeHead(request.url === "/livez" ? status : 404).end(`answer ${status}`);
  });
  servers.push(server);
  server.listen(0, host);
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe.skipIf(process.platform !== "linux")("container healthcheck", () => {
  it("decodes /proc/net/tcp and tcp6 addresses", () => {
    expect(decodeProcAddress("0100007F:1F90")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(decodeProcAddress("00000000:0050")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(decodeProcAddress("00000000000000000000000001000000:1F90")).toEqual({ host: "::1", port: 8080 });
    expect(decodeProcAddress("00000000000000000000000000000000:1F90")).toEqual({ host: "::", port: 8080 });
    expect(decodeProcAddress("0000000000000000FFFF00000100007F:0BB8")).toEqual({
      host: "127.0.0.1",
      port: 3000,
    });
    expect(probeUrl({ host: "0.0.0.0", port: 1 }, "/livez")).toBe("http://127.0.0.1:1/livez");
    expect(probeUrl({ host: "::", port: 1 }, "/livez")).toBe("http://[::1]:1/livez");
  });

  it("finds the ports this process listens on and probes them", async () => {
    const port = await serve("127.0.0.1", 200);
    expect(listenersOf(process.pid)).toContainEqual({ host: "127.0.0.1", port });
    const result = await healthcheck(["--pid", String(process.pid), "--path", "/livez"]);
    expect(result).toEqual({ healthy: true, message: `http://127.0.0.1:${port}/livez: 200` });
  });

  it("is unhealthy, with the answers, when no listener says 200", async () => {
    // Other listeners of this process (none answer /livez with 200) are probed as well.
    for (const server of servers) server.close();
    const port = await serve("127.0.0.1", 503);
    const result = await healthcheck(["--pid", String(process.pid), "--path", "/livez"]);
    expect(result.healthy).toBe(false);
    expect(result.message).toContain(`http://127.0.0.1:${port}/livez: 503 answer 503`);
  });

  it("is unhealthy when the process is gone", async () => {
    const result = await healthcheck(["--pid", "999999999"]);
    expect(result).toMatchObject({
      healthy: false,
      message: expect.stringMatching(/cannot read the sockets/),
    });
  });
});

describe("finding the broker process", () => {
  it("counts node running `cfy-broker serve`, not the init that started it", () => {
    const proc = mkdtempSync(join(tmpdir(), "proc-"));
    const processes: Record<string, string[]> = {
      "1": ["/usr/bin/tini", "--", "node", "/app/bin/cfy-broker.js", "serve", "--config", "/etc/c.yaml"],
      "7": ["node", "/app/bin/cfy-broker.js", "serve", "--config", "/etc/c.yaml"],
      "9": ["/usr/local/bin/node", "--enable-source-maps", "/app/bin/cfy-broker.js", "validate"],
      "12": ["/bin/sh", "-c", "sleep 1"],
      self: ["ignored"],
    };
    try {
      for (const [pid, argv] of Object.entries(processes)) {
        mkdirSync(join(proc, pid));
        writeFileSync(join(proc, pid, "cmdline"), `${argv.join("\0")}\0`);
      }
      expect(findBrokerPids(proc)).toEqual([7]);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});
