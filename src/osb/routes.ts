import type { Route } from "./app.js";
import { deprovision } from "./handlers/deprovision.js";
import { fetchInstance } from "./handlers/fetch-instance.js";
import { instanceLastOperation } from "./handlers/instance-last-operation.js";
import { provision } from "./handlers/provision.js";
import { update } from "./handlers/update.js";
import type { OsbPorts } from "./ports.js";

const INSTANCE = "/v2/service_instances/:instance_id";

/** The OSB endpoints beyond the catalog, one handler each. */
export function instanceRoutes(ports: OsbPorts): Route[] {
  return [
    { method: "PUT", path: INSTANCE, handler: provision(ports) },
    { method: "PATCH", path: INSTANCE, handler: update(ports) },
    { method: "DELETE", path: INSTANCE, handler: deprovision(ports) },
    { method: "GET", path: INSTANCE, handler: fetchInstance(ports) },
    { method: "GET", path: `${INSTANCE}/last_operation`, handler: instanceLastOperation(ports) },
  ];
}
