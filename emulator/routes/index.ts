import { Router } from "../http/router.js";
import { registerBlueprintRoutes } from "./blueprints.js";
import { registerDeploymentRoutes } from "./deployments.js";
import { registerEventRoutes } from "./events.js";
import { registerExecutionRoutes } from "./executions.js";
import { registerManagerRoutes } from "./manager.js";
import { registerNodeRoutes } from "./nodes.js";
import { registerSecretRoutes } from "./secrets.js";
import { registerTokenRoutes } from "./tokens.js";
import { registerUpdateRoutes } from "./updates.js";

export const API_BASE = "/api/v3.1";

/** The manager's REST surface (v3.1 plus the un-versioned /api/version). */
export function buildApiRouter(): Router {
  const router = new Router();
  registerManagerRoutes(router, API_BASE);
  registerTokenRoutes(router, API_BASE);
  registerBlueprintRoutes(router, API_BASE);
  registerDeploymentRoutes(router, API_BASE);
  registerExecutionRoutes(router, API_BASE);
  registerUpdateRoutes(router, API_BASE);
  registerEventRoutes(router, API_BASE);
  registerSecretRoutes(router, API_BASE);
  registerNodeRoutes(router, API_BASE);
  return router;
}
