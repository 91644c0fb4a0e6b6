import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

/**
 * Graceful stop of an HTTP server without failing any client that is already connected.
 *
 * Node's `server.close()` also closes idle keep-alive connections at once, which races with a
 * client writing its next request on one of them (the client sees a reset). Instead this
 * stops listening only, answers every further request with `Connection: close` (so each
 * connection ends after its current exchange), and lets idle connections end at the
 * keep-alive timeout the server announced to clients, which they already respect.
 */
export function drainableServer(server: Server) {
  const sockets = new Set<Socket>();
  const active = new Set<ServerResponse>();
  let draining = false;

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  // Runs before the application's listener, so the header is in place before it answers.
  server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.setHeader("Connection", "close");
    active.add(res);
    res.once("close", () => active.delete(res));
  });

  return {
    get draining() {
      return draining;
    },
    /** Stops accepting; resolves once every connection has ended. */
    async drain(): Promise<void> {
      draining = true;
      for (const res of active) if (!res.headersSent) res.setHeader("Connection", "close");
      await new Promise<void>((resolve) => {
        // net.Server's close: stop listening, leave the open connections alone.
        NetServer.prototype.close.call(server, () => resolve());
      });
    },
    /** Ends every remaining connection at once (the deadline passed). */
    forceClose(): void {
      for (const socket of sockets) socket.destroy();
    },
    connections: () => sockets.size,
    inFlight: () => active.size,
  };
}

export type DrainableServer = ReturnType<typeof drainableServer>;
