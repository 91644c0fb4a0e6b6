/**
 * Failures of Cloudify calls, in two kinds: the manager answered with an error
 * (CloudifyApiError) or no usable answer arrived (CloudifyNetworkError). Messages carry the
 * method, path and the manager's own message, never credentials or request bodies.
 */

export abstract class CloudifyError extends Error {
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The manager (or a proxy in front of it) answered with a non-2xx status. */
export class CloudifyApiError extends CloudifyError {
  override readonly name = "CloudifyApiError";
  constructor(
    readonly status: number,
    /** The envelope's `error_code`; null when the body was not the manager's JSON envelope. */
    readonly errorCode: string | null,
    /** The manager's message (the envelope's `message`), or a description of the raw answer. */
    readonly serverMessage: string,
    method: string,
    path: string,
    /** The answer's `Retry-After`, in milliseconds (429, 503 and 408 may carry one). */
    readonly retryAfterMs?: number,
  ) {
    super(
      `Cloudify ${method} ${path} failed: ${status}${errorCode ? ` ${errorCode}` : ""}: ${serverMessage}`,
      method,
      path,
    );
  }
}

export type NetworkErrorKind = "refused" | "reset" | "timeout" | "other";

/** No response: connection refused or reset, a timeout, TLS or DNS trouble. */
export class CloudifyNetworkError extends CloudifyError {
  override readonly name = "CloudifyNetworkError";
  constructor(
    readonly kind: NetworkErrorKind,
    detail: string,
    method: string,
    path: string,
    cause?: unknown,
  ) {
    super(`Cloudify ${method} ${path} failed: ${kind}: ${detail}`, method, path, { cause });
  }
}

/** A wait (for a deployment to disappear, an execution to end) ran out of time. */
export class CloudifyWaitTimeoutError extends CloudifyError {
  override readonly name = "CloudifyWaitTimeoutError";
}

export const ErrorCodes = {
  notFound: "not_found_error",
  badParameters: "bad_parameters_error",
  conflict: "conflict_error",
  unauthorized: "unauthorized_error",
  forbidden: "forbidden_error",
  deploymentCreation: "deployment_creation_error",
  environmentCreationPending: "deployment_environment_creation_pending_error",
  environmentCreationInProgress: "deployment_environment_creation_in_progress_error",
  existingRunningExecution: "existing_running_execution_error",
  illegalExecutionParameters: "illegal_execution_parameters_error",
  nonexistentWorkflow: "nonexistent_workflow_error",
  unavailableWorkflow: "unavailable_workflow_error",
  dependentExists: "dependent_exists_error",
  missingRequiredInput: "missing_required_deployment_input_error",
  unknownInput: "unknown_deployment_input_error",
  maintenanceModeActive: "maintenance_mode_active",
  enteringMaintenanceMode: "entering_maintenance_mode",
  insufficientMemory: "insufficient_memory_error",
} as const;

/**
 * 502/503/504: a proxy or the manager failing or overloaded; 408: the request was not read in
 * time; 429: a proxy in front of the manager rate-limits. None is a refusal of the request.
 */
const TRANSIENT_STATUSES = new Set([408, 429, 502, 503, 504]);
const TRANSIENT_CODES = new Set<string>([
  ErrorCodes.maintenanceModeActive,
  ErrorCodes.enteringMaintenanceMode,
  ErrorCodes.insufficientMemory,
]);

/**
 * "Try again later": the manager was unreachable, timed out, sat behind a failing or
 * rate-limiting proxy (408/429/502/503/504) or is in maintenance. Anything else means the request itself was refused.
 * Every network error counts, TLS and DNS failures included: from the caller's side the manager
 * is unreachable, and nothing was done (the client itself only retries refused/reset/timeout).
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof CloudifyNetworkError) return true;
  if (error instanceof CloudifyApiError) {
    return (
      TRANSIENT_STATUSES.has(error.status) ||
      (error.errorCode !== null && TRANSIENT_CODES.has(error.errorCode))
    );
  }
  return false;
}

/**
 * The manager refused the client's credentials (401): an expired or revoked token, a changed
 * password. Nothing was performed: authentication runs before any handler.
 */
export function isUnauthorized(error: unknown): boolean {
  return error instanceof CloudifyApiError && error.status === 401;
}

/** The resource does not exist (404 `not_found_error`, or a bare 404). */
export function isNotFound(error: unknown): boolean {
  return error instanceof CloudifyApiError && error.status === 404;
}

/** The deployment's create_deployment_environment has not finished yet: wait and start again. */
export function isEnvironmentNotReady(error: unknown): boolean {
  return (
    error instanceof CloudifyApiError &&
    (error.errorCode === ErrorCodes.environmentCreationPending ||
      error.errorCode === ErrorCodes.environmentCreationInProgress)
  );
}

/** The manager's error_code, if the error carries one. */
export function errorCodeOf(error: unknown): string | undefined {
  return error instanceof CloudifyApiError ? (error.errorCode ?? undefined) : undefined;
}
