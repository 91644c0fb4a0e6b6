import { cloudifyAdapter } from "../broker/cloudify-port/adapter.js";
import type { CloudifyPort } from "../broker/cloudify-port/port.js";
import { CloudifyClient } from "../cloudify/index.js";
import type { RuntimeSettings } from "../config/runtime.js";
import type { Logger } from "../log/logger.js";

/** The REST client for the configured manager and the domain's port onto it. */
export function connectCloudify(
  settings: RuntimeSettings["cloudify"],
  log: Logger,
): { client: CloudifyClient; port: CloudifyPort } {
  const client = new CloudifyClient({
    url: settings.url,
    tenant: settings.tenant,
    auth: settings.auth,
    timeoutMs: settings.timeoutMs,
    retry: { attempts: settings.retries },
    // The CA file matters only for https; the example points it at the system bundle.
    tls: {
      caFile: settings.url.startsWith("https:") ? settings.caFile : undefined,
      insecure: settings.insecure,
    },
    logger: log,
  });
  return { client, port: cloudifyAdapter(client) };
}
