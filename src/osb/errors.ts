/**
 * The closed set of errors the broker answers with. Every failure in the protocol layer and
 * the domain is one of these; `errorResponse` maps them to status and body in this one place,
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
  PayloadTooLarge: 413,
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
} as const;

export type OsbErrorCode = keyof typeof OSB_ERRORS;

export interface OsbErrorOptions {
  /** Only on failed updates and deprovisions (H12). */
  instanceUsable?: boolean;
  /** Only on failed updates (H12). */
  updateRepeatable?: boolean;
  headers?: Record<string, string>;
}

export class OsbError extends Error {
  readonly status: number;

  constructor(
    readonly code: OsbErrorCode,
    readonly description: string,
    readonly options: OsbErrorOptions = {},
  ) {
    super(description);
    this.name = "OsbError";
    this.status = OSB_ERRORS[code];
  }
}

export interface OsbErrorBody {
  error: string;
  description: string;
  instance_usable?: boolean;
  update_repeatable?: boolean;
}

export function errorBody(error: OsbError): OsbErrorBody {
  const body: OsbErrorBody = { error: error.code, description: error.description };
  if (error.options.instanceUsable !== undefined) body.instance_usable = error.options.instanceUsable;
  if (error.options.updateRepeatable !== undefined) body.update_repeatable = error.options.updateRepeatable;
  return body;
}

export const ASYNC_REQUIRED_DESCRIPTION =
  "This service plan requires client support for asynchronous service operations: retry with accepts_incomplete=true.";
