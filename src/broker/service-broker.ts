import type {
  BindingDetails,
  BindingService,
  BindOutcome,
  BindRequest,
  UnbindOutcome,
  UnbindRequest,
} from "./bindings/binding-service.js";
import type { DeploymentPresence } from "./instances/deployment-presence.js";
import type {
  DeprovisionRequest,
  InstanceDetails,
  InstanceService,
  OperationStatus,
  Outcome,
  ProvisionRequest,
  UpdateRequest,
} from "./instances/instance-service.js";

/**
 * The domain as the protocol layer sees it: one method per OSB endpoint (the catalog aside,
 * which the protocol layer renders from the configuration). Failures are thrown as
 * `BrokerFailure`s (failures.ts); results are domain values the protocol layer turns into wire
 * shapes. Handler tests can put a fake behind this interface.
 */
export interface ServiceBroker {
  provision(request: ProvisionRequest): Promise<Outcome>;
  update(request: UpdateRequest): Promise<Outcome>;
  deprovision(request: DeprovisionRequest): Promise<Outcome>;
  fetchInstance(instanceId: string): Promise<InstanceDetails>;
  instanceLastOperation(instanceId: string): Promise<OperationStatus>;
  bind(request: BindRequest): Promise<BindOutcome>;
  unbind(request: UnbindRequest): Promise<UnbindOutcome>;
  fetchBinding(instanceId: string, bindingId: string): Promise<BindingDetails>;
  bindingLastOperation(instanceId: string, bindingId: string): Promise<OperationStatus>;
}

/**
 * The services answer from the broker's record; `presence` then confirms against Cloudify that
 * the instance's deployment was not deleted behind the broker's back (CFY-GONE), before
 * anything is delivered or reported as fine.
 */
export function serviceBroker(
  instances: InstanceService,
  bindings: BindingService,
  presence: DeploymentPresence,
): ServiceBroker {
  return {
    provision: (request) => instances.provision(request),
    update: (request) => instances.update(request),
    deprovision: (request) => instances.deprovision(request),
    async fetchInstance(instanceId) {
      const details = instances.fetch(instanceId);
      await presence.refuseIfGone(instanceId);
      return details;
    },
    instanceLastOperation: (instanceId) =>
      presence.instanceStatus(instanceId, instances.lastOperation(instanceId)),
    async bind(request) {
      await presence.refuseIfGone(request.instanceId);
      return bindings.bind(request);
    },
    unbind: (request) => bindings.unbind(request),
    async fetchBinding(instanceId, bindingId) {
      const details = bindings.fetch(instanceId, bindingId);
      await presence.refuseIfGone(instanceId);
      return details;
    },
    bindingLastOperation: (instanceId, bindingId) =>
      presence.bindingStatus(bindingId, bindings.lastOperation(instanceId, bindingId)),
  };
}

export type {
  BindingDetails,
  BindOutcome,
  BindRequest,
  DeprovisionRequest,
  InstanceDetails,
  OperationStatus,
  Outcome,
  ProvisionRequest,
  UnbindOutcome,
  UnbindRequest,
  UpdateRequest,
};
