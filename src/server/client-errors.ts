import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "../log/logger.js";
import { errorBody, OsbError } from "../osb/errors.js";

/**
 * Requests Node's HTTP parser refuses before the application sees them (a request line and
 * headers over 16 KiB, such as a 20,000-character instance id; malformed HTTP; a request not
 * sent in time) are answered with an OSB error body too (H12), not Node's bare status line:
 * a platform gets a `description` it can show. The connection is closed afterwards, as Node
 * does, because the rest of the request cannot be read reliably.
 */
export function answerClientErrors(server: Server, log: Logger): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's own handler: answer only when no response on this connection has begun
    // (a keep-alive connection's earlier responses are complete; a started one must not be corrupted).
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const osb = refusal(error);
    log.info({ code: error.code, status: osb.status }, "refused a request the HTTP parser could not accept");
    const body = JSON.stringify(errorBody(osb));
    socket.end(
      `HTTP/1.1 ${osb.status} ${REASONS[osb.status] ?? "Bad Request"}\r\n` +
        "Content-Type: application/json\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
  });
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

function refusal(error: NodeJS.ErrnoException): OsbError {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return new OsbError(
        "RequestHeaderFieldsTooLarge",
        "The request line and headers exceed 16 KiB; ids, query strings and headers must be shorter.",
      );
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new OsbError("RequestTimeout", "The request was not received completely in time.");
    default:
      return new OsbError("BadRequest", "The request is not valid HTTP/1.1 and cannot be read.");
  }
}
