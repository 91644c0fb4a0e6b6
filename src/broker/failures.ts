/**
 * The closed set of ways a broker request can fail, owned by the domain. The protocol layer
 * maps each kind to an HTTP status and OSB error code in one table (src/osb/errors.ts); the
 * domain never names a status code.
 */
export type FailureKind =
  /** The request is malformed or names something that is not in the catalog. */
  | "BadRequest"
  | "NotFound"
  /** The resource exists with different attributes (OSB section 12). */
  | "Conflict"
  /** The resource does not exist any more (deprovision, unbind, last operation of a tombstone). */
  | "Gone"
  /** The request needs `accepts_incomplete=true`. */
  | "AsyncRequired"
  /** Another operation on the resource is in progress. */
  | "ConcurrencyError"
  | "RequiresApp"
  | "MaintenanceInfoConflict"
  /** Valid, but cannot be done (plan change refused, instance not provisioned...). */
  | "UnprocessableEntity"
  /** A broker-side failure (e.g. credentials that cannot be rendered). */
  | "InternalError"
  /** Cloudify cannot be reached; the platform should retry. */
  | "ServiceUnavailable";

export interface FailureDetails {
  /** Only on failed updates and deprovisions (OSB H12). */
  instanceUsable?: boolean;
  /** Only on failed updates (OSB H12). */
  updateRepeatable?: boolean;
}

export interface FailureOptions extends FailureDetails {
  /** What went wrong underneath (e.g. the TemplateRenderError), for tools that can point at it. */
  cause?: unknown;
}

export class BrokerFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly description: string,
    readonly details: FailureOptions = {},
  ) {
    super(description, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "BrokerFailure";
  }
}

export const ASYNC_REQUIRED_DESCRIPTION =
  "This service plan requires client support for asynchronous service operations: retry with accepts_incomplete=true.";

/** The request would answer 202 but did not say it accepts incomplete operations (OSB A2). */
export function asyncRequired(): BrokerFailure {
  return new BrokerFailure("AsyncRequired", ASYNC_REQUIRED_DESCRIPTION);
}
