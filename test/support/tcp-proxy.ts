import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A real TCP proxy between the broker and a server (PostgreSQL), for network faults:
 * - `refuse()`: every open connection is reset (both sides get an RST) and the listening socket is
 *   closed, so new connections are refused (ECONNREFUSED) until `restore()` listens again on the
 *   same port;
 * - `blackhole()`: open connections stay open but nothing passes any more, and new connections are
 *   accepted and never answered: a network partition, seen by the client only through timeouts.
 *   `restore()` resets the connections held (as a partition that outlived TCP would) and forwards
 *   again.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<{ client: Socket; upstream?: Socket }>();
  #mode: "open" | "refused" | "blackhole" = "open";
  port = 0;
  /** Connections accepted / reset by a fault, since start. */
  accepted = 0;
  reset = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    proxy.#server.listen(0, "127.0.0.1");
    await once(proxy.#server, "listening");
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  /** `url` with its host and port replaced by the proxy's. */
  route(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = "127.0.0.1";
    parsed.port = String(this.port);
    return parsed.toString();
  }

  get mode(): "open" | "refused" | "blackhole" {
    return this.#mode;
  }

  #accept(client: Socket): void {
    this.accepted++;
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.#pairs.add(pair);
    const forget = () => {
      this.#pairs.delete(pair);
      pair.upstream?.destroy();
      client.destroy();
    };
    client.on("error", forget);
    client.on("close", forget);
    if (this.#mode === "blackhole") return; // accepted, never answered
    const upstream = createConnection(this.#target);
    pair.upstream = upstream;
    upstream.on("error", forget);
    upstream.on("close", forget);
    client.on("data", (chunk) => {
      if (this.#mode === "open") upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (this.#mode === "open") client.write(chunk);
    });
  }

  #resetAll(): void {
    for (const pair of [...this.#pairs]) {
      this.reset++;
      this.#pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
    }
  }

  /** Resets every connection and refuses new ones. */
  async refuse(): Promise<void> {
    this.#mode = "refused";
    const closed = new Promise((resolve) => this.#server.close(resolve));
    this.#resetAll();
    await closed;
  }

  /** Stops forwarding: connections hang, new ones are accepted and never answered. */
  blackhole(): void {
    this.#mode = "blackhole";
  }

  /** Forwards again (listening again on the same port after `refuse()`). */
  async restore(): Promise<void> {
    const was = this.#mode;
    this.#mode = "open";
    if (was === "refused") {
      this.#server.listen(this.port, "127.0.0.1");
      await once(this.#server, "listening");
    } else if (was === "blackhole") {
      this.#resetAll();
    }
  }

  async close(): Promise<void> {
    this.#mode = "refused";
    this.#resetAll();
    if (this.#server.listening) await new Promise((resolve) => this.#server.close(resolve));
  }
}
