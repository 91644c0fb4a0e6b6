import type { FailureDetails, FailureKind } from "../broker/failures.js";
import { BrokerFailure } from "../broker/failures.js";
import type { ErrorResponse } from "./types.js";

/**
 * The one table from failures to HTTP status and OSB `error` code. It covers the domain's
 * closed set of failures (`satisfies` below makes a new kind fail to compile until it is
 * mapped) and the failures only the protocol layer meets (auth, version, routing, body size),
 * so a status code can never drift between endpoints (OSB H10, H12, H13).
 */
export const OSB_ERRORS = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  Gone: 410,
  PreconditionFailed: 412,
  /** The client sent no complete request in time (refused by Node's HTTP parser: src/server/client-errors.ts). */
  RequestTimeout: 408,
  PayloadTooLarge: 413,
  /** The request line and headers exceed Node's limit (16 KiB), e.g. an id of 20,000 characters. */
  RequestHeaderFieldsTooLarge: 431,
  // The four codes OSB defines (H13), all 422.
  AsyncRequired: 422,
  ConcurrencyError: 422,
  RequiresApp: 422,
  MaintenanceInfoConflict: 422,
  /** 422 without a spec-defined code: the request is valid but cannot be done now (e.g. plan change refused). */
  UnprocessableEntity: 422,
  /** Basic auth locked out after repeated failures from one client (brute-force protection). */
  TooManyRequests: 429,
  InternalError: 500,
  /** Cloudify cannot be reached or answered 5xx; the platform should retry. */
  ServiceUnavailable: 503,
} as const satisfies Record<FailureKind, number> & Record<string, number>;

export type OsbErrorCode = keyof typeof OSB_ERRORS;

export interface OsbErrorOptions extends FailureDetails {
  headers?: Record<string, string>;
  /** What went wrong underneath (e.g. the TemplateRenderError), for tools that can point at it. */
  cause?: unknown;
}

/** A failure of the protocol layer itself, or a domain failure on its way to the wire. */
export class OsbError extends Error {
  readonly status: number;

  constructor(
    readonly code: OsbErrorCode,
    readonly description: string,
    readonly options: OsbErrorOptions = {},
  ) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OsbError";
    this.status = OSB_ERRORS[code];
  }
}

/** Any error as the OSB error it answers with: unknown errors are a 500 that reveals nothing. */
export function toOsbError(error: unknown): OsbError {
  if (error instanceof OsbError) return error;
  if (error instanceof BrokerFailure) return new OsbError(error.kind, error.description, error.details);
  return new OsbError(
    "InternalError",
    "The broker failed to handle the request; see the broker logs for details.",
  );
}

export type OsbErrorBody = ErrorResponse & {
  error: string;
  description: string;
  instance_usable?: boolean;
  update_repeatable?: boolean;
};

export function errorBody(error: OsbError): OsbErrorBody {
  const body: OsbErrorBody = { error: error.code, description: error.description };
  if (error.options.instanceUsable !== undefined) body.instance_usable = error.options.instanceUsable;
  if (error.options.updateRepeatable !== undefined) body.update_repeatable = error.options.updateRepeatable;
  return body;
}
