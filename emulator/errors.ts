/**
 * Manager errors as Cloudify reports them: `{message, error_code, server_traceback: null}` with the
 * HTTP status each error_code has on a real manager (MGR `manager_exceptions.py`).
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  bad_parameters_error: 400,
  no_such_include_field_error: 400,
  missing_required_deployment_input_error: 400,
  unknown_deployment_input_error: 400,
  deployment_creation_error: 400,
  deployment_environment_creation_pending_error: 400,
  deployment_environment_creation_in_progress_error: 400,
  existing_running_execution_error: 400,
  illegal_execution_parameters_error: 400,
  nonexistent_workflow_error: 400,
  unavailable_workflow_error: 400,
  dependent_exists_error: 400,
  illegal_action_error: 400,
  invalid_filter_rule: 400,
  deployment_outputs_evaluation_error: 400,
  deployment_capabilities_evaluation_error: 400,
  unauthorized_error: 401,
  forbidden_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  unsupported_content_type_error: 415,
  internal_server_error: 500,
  maintenance_mode_active: 503,
  entering_maintenance_mode: 503,
};

export class ManagerError extends Error {
  readonly status: number;
  constructor(
    readonly errorCode: string,
    message: string,
    /** Extra keys some errors add to the envelope (e.g. `err_filter_rule` for invalid_filter_rule). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ManagerError";
    this.status = STATUS_BY_CODE[errorCode] ?? 500;
  }

  toBody(): Record<string, unknown> {
    return { message: this.message, error_code: this.errorCode, server_traceback: null, ...this.extra };
  }
}

export function notFound(model: string, id: string): ManagerError {
  return new ManagerError("not_found_error", `Requested \`${model}\` with ID \`${id}\` was not found`);
}

export function badParameters(message: string): ManagerError {
  return new ManagerError("bad_parameters_error", message);
}
