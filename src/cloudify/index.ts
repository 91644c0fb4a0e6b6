/** Public API of the Cloudify Manager REST client. */
export { CloudifyClient, type CloudifyClientOptions } from "./client.js";
export {
  CloudifyApiError,
  CloudifyError,
  CloudifyNetworkError,
  CloudifyWaitTimeoutError,
  ErrorCodes,
  errorCodeOf,
  isEnvironmentNotReady,
  isNotFound,
  isTransient,
  isUnauthorized,
  type NetworkErrorKind,
} from "./errors.js";
export { describeFailure, lastErrorLine } from "./failure.js";
export type { WaitOptions } from "./poll.js";
export type { ListOptions } from "./resources/blueprints.js";
export {
  type CreateDeploymentOptions,
  type DeleteDeploymentOptions,
  toLabelList,
} from "./resources/deployments.js";
export type { ListExecutionsOptions, StartExecutionOptions } from "./resources/executions.js";
export type { InitiateUpdateOptions, ListEventsOptions } from "./resources/misc.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
export type { CloudifyAuth, CloudifyCall, Query, TlsOptions } from "./transport.js";
export * from "./types.js";
