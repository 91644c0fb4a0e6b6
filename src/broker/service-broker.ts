import type {
  BindingDetails,
  BindingService,
  BindOutcome,
  BindRequest,
  UnbindOutcome,
  UnbindRequest,
} from "./bindings/binding-service.js";
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
  fetchInstance(instanceId: string): InstanceDetails;
  instanceLastOperation(instanceId: string): OperationStatus;
  bind(request: BindRequest): Promise<BindOutcome>;
  unbind(request: UnbindRequest): Promise<UnbindOutcome>;
  fetchBinding(instanceId: string, bindingId: string): BindingDetails;
  bindingLastOperation(instanceId: string, bindingId: string): OperationStatus;
}

export function serviceBroker(instances: InstanceService, bindings: BindingService): ServiceBroker {
  return {
    provision: (request) => instances.provision(request),
    update: (request) => instances.update(request),
    deprovision: (request) => instances.deprovision(request),
    fetchInstance: (instanceId) => instances.fetch(instanceId),
    instanceLastOperation: (instanceId) => instances.lastOperation(instanceId),
    bind: (request) => bindings.bind(request),
    unbind: (request) => bindings.unbind(request),
    fetchBinding: (instanceId, bindingId) => bindings.fetch(instanceId, bindingId),
    bindingLastOperation: (instanceId, bindingId) => bindings.lastOperation(instanceId, bindingId),
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
