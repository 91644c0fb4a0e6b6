import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { BindingDetails, InstanceDetails, OperationStatus, Outcome } from "../broker/service-broker.js";
import { shapeForRequest } from "./api-versions.js";
import type { OsbEnv } from "./context.js";
import type { OsbPorts } from "./ports.js";
import type {
  AsyncOperationResponse,
  BindingLastOperation,
  BindingResponse,
  FetchBindingResponse,
  FetchInstanceResponse,
  InstanceLastOperation,
  ProvisionAsyncResponse,
  ProvisionResponse,
} from "./types.js";

/**
 * Every answer body the broker sends, typed with the shapes generated from the OpenAPI document
 * (schema/osb-openapi.yaml): the domain's results become wire shapes here and nowhere else, and
 * lose here the fields the request's API version does not define (H16, api-versions.ts).
 */

/** 202 with the operation token, plus Retry-After so platforms poll at a sensible pace (A5, A6). */
export function accepted(
  c: Context<OsbEnv>,
  ports: OsbPorts,
  body: AsyncOperationResponse | ProvisionAsyncResponse,
) {
  c.header("Retry-After", String(ports.retryAfterSeconds()));
  return c.json(body, 202);
}

/** The answer to PROV and UPD: 202 with the operation while Cloudify works, else 200. */
export function instanceOutcome(
  c: Context<OsbEnv>,
  ports: OsbPorts,
  outcome: Outcome,
  endpoint: "provision" | "update",
) {
  if (outcome.kind === "accepted") {
    const body: ProvisionAsyncResponse = { operation: outcome.operation };
    if (outcome.dashboardUrl !== undefined) body.dashboard_url = outcome.dashboardUrl;
    return accepted(c, ports, shapeForRequest(c, endpoint, body));
  }
  const body: ProvisionResponse = {};
  if (outcome.dashboardUrl !== undefined) body.dashboard_url = outcome.dashboardUrl;
  return c.json(shapeForRequest(c, endpoint, body), 200);
}

/** DEPROV and UNBIND: 202 with the operation, or 200 `{}` when nothing was left to do. */
export function deletionOutcome(
  c: Context<OsbEnv>,
  ports: OsbPorts,
  outcome: { kind: "accepted"; operation: string } | { kind: "done" },
) {
  if (outcome.kind === "accepted") return accepted(c, ports, { operation: outcome.operation });
  return c.json({}, 200);
}

/** GETI 200. */
export function sendInstance(c: Context<OsbEnv>, details: InstanceDetails) {
  return c.json(shapeForRequest(c, "fetchInstance", instanceBody(details)), 200);
}

/** BIND 200/201 and GETB 200: credentials and the rest of the binding. */
export function sendBinding(c: Context<OsbEnv>, details: BindingDetails, status: ContentfulStatusCode) {
  return c.json(shapeForRequest(c, "binding", bindingBody(details)), status);
}

function instanceBody(details: InstanceDetails): FetchInstanceResponse {
  const body: FetchInstanceResponse = {
    service_id: details.serviceId,
    plan_id: details.planId,
    parameters: details.parameters,
  };
  if (details.dashboardUrl) body.dashboard_url = details.dashboardUrl;
  if (details.maintenanceVersion) body.maintenance_info = { version: details.maintenanceVersion };
  return body;
}

function bindingBody(details: BindingDetails): BindingResponse & FetchBindingResponse {
  const body = { ...details.result } as BindingResponse & FetchBindingResponse;
  if (details.expiresAt) {
    body.metadata = { expires_at: details.expiresAt };
    if (details.renewBefore) body.metadata.renew_before = details.renewBefore;
  }
  if (details.parameters) body.parameters = details.parameters;
  return body;
}

function instanceLastOperationBody(status: OperationStatus): InstanceLastOperation {
  const body: InstanceLastOperation = { state: status.state };
  if (status.description !== undefined) body.description = status.description;
  if (status.instanceUsable !== undefined) body.instance_usable = status.instanceUsable;
  if (status.updateRepeatable !== undefined) body.update_repeatable = status.updateRepeatable;
  return body;
}

function bindingLastOperationBody(status: OperationStatus): BindingLastOperation {
  const body: BindingLastOperation = { state: status.state };
  if (status.description !== undefined) body.description = status.description;
  return body;
}

/** LOI: Retry-After while in progress. */
export function sendInstanceLastOperation(c: Context<OsbEnv>, ports: OsbPorts, status: OperationStatus) {
  return lastOperation(
    c,
    ports,
    shapeForRequest(c, "instanceLastOperation", instanceLastOperationBody(status)),
  );
}

/** LOB: Retry-After while in progress. */
export function sendBindingLastOperation(c: Context<OsbEnv>, ports: OsbPorts, status: OperationStatus) {
  return lastOperation(c, ports, bindingLastOperationBody(status));
}

function lastOperation(
  c: Context<OsbEnv>,
  ports: OsbPorts,
  body: InstanceLastOperation | BindingLastOperation,
) {
  if (body.state === "in progress") c.header("Retry-After", String(ports.retryAfterSeconds()));
  return c.json(body, 200);
}
