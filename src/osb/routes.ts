import type { Route } from "./app.js";
import { bind } from "./handlers/bind.js";
import { bindingLastOperation } from "./handlers/binding-last-operation.js";
import { getCatalog } from "./handlers/catalog.js";
import { deprovision } from "./handlers/deprovision.js";
import { fetchBinding } from "./handlers/fetch-binding.js";
import { fetchInstance } from "./handlers/fetch-instance.js";
import { instanceLastOperation } from "./handlers/instance-last-operation.js";
import { provision } from "./handlers/provision.js";
import { unbind } from "./handlers/unbind.js";
import { update } from "./handlers/update.js";
import type { OsbPorts } from "./ports.js";

const INSTANCE = "/v2/service_instances/:instance_id";
const BINDING = `${INSTANCE}/service_bindings/:binding_id`;

/** The one route table: every OSB endpoint (docs/CONTRACT.md section 2), one handler each. */
export function osbRoutes(ports: OsbPorts): Route[] {
  return [
    { method: "GET", path: "/v2/catalog", handler: getCatalog(ports) },
    { method: "PUT", path: INSTANCE, handler: provision(ports) },
    { method: "PATCH", path: INSTANCE, handler: update(ports) },
    { method: "DELETE", path: INSTANCE, handler: deprovision(ports) },
    { method: "GET", path: INSTANCE, handler: fetchInstance(ports) },
    { method: "GET", path: `${INSTANCE}/last_operation`, handler: instanceLastOperation(ports) },
    { method: "PUT", path: BINDING, handler: bind(ports) },
    { method: "DELETE", path: BINDING, handler: unbind(ports) },
    { method: "GET", path: BINDING, handler: fetchBinding(ports) },
    { method: "GET", path: `${BINDING}/last_operation`, handler: bindingLastOperation(ports) },
  ];
}
