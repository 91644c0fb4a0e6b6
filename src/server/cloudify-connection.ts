import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { cloudifyAdapter } from "../broker/cloudify-port/adapter.js";
import type { CloudifyPort } from "../broker/cloudify-port/port.js";
import { type CloudifyAuth, type CloudifyCall, CloudifyClient } from "../cloudify/index.js";
import type { RuntimeSettings } from "../config/runtime.js";
import type { Logger } from "../log/logger.js";

type Settings = RuntimeSettings["cloudify"];

/** What the manager last did: the readiness check and the probe read it. */
export interface CloudifyReachability {
  /** When the manager last answered with credentials it accepted (start time before the first call). */
  lastAnswerAt: number;
  /** Why the latest call since then failed, if one did. */
  lastFailure?: string;
  /**
   * When the probe still waiting for an answer was sent: a frozen manager (connections
   * accepted, never answered) fails no call until the client's timeout, yet answers nothing.
   */
  waitingSince?: number;
}

/** Silence after which the next answer counts as the manager coming back (not a flapping call). */
const OUTAGE_MS = 5_000;

/**
 * The connection to the configured manager, replaceable on reload: the domain holds one
 * `port` whose calls always go to the client built from the settings in force. A replaced
 * client finishes its in-flight calls before its pool closes.
 */
export class CloudifyConnection {
  readonly port: CloudifyPort;
  readonly reachability: CloudifyReachability = { lastAnswerAt: Date.now() };
  /** Called when the manager answers after failing for longer than OUTAGE_MS. */
  onRecovered?: () => void;
  private client: CloudifyClient;
  private adapter: CloudifyPort;
  private fingerprint: string;

  constructor(
    settings: Settings,
    private readonly log: Logger,
    private readonly observe?: (call: CloudifyCall) => void,
  ) {
    this.fingerprint = fingerprintOf(settings);
    this.client = this.build(settings);
    this.adapter = cloudifyAdapter(this.client);
    // Each call looks up the adapter in force, so a reload reaches engine steps already queued.
    this.port = new Proxy({} as CloudifyPort, {
      get:
        (_, name: keyof CloudifyPort) =>
        (...args: unknown[]) =>
          (this.adapter[name] as (...a: unknown[]) => unknown)(...args),
    });
  }

  /** The REST client in force (for calls outside the domain port, e.g. the readiness probe). */
  get current(): CloudifyClient {
    return this.client;
  }

  /**
   * Switches to new settings when they (or the CA file they name) changed. Throws, leaving
   * the old connection in force, when the new one cannot be built (unreadable CA file).
   */
  update(settings: Settings): boolean {
    const fingerprint = fingerprintOf(settings);
    if (fingerprint === this.fingerprint) return false;
    const client = this.build(settings);
    const old = this.client;
    this.client = client;
    this.adapter = cloudifyAdapter(client);
    this.fingerprint = fingerprint;
    this.reachability.lastAnswerAt = Date.now();
    this.reachability.lastFailure = undefined;
    old
      .close()
      .catch((error) => this.log.warn({ err: error }, "closing the previous Cloudify connection failed"));
    this.log.info({ url: settings.url, tenant: settings.tenant }, "Cloudify connection replaced");
    return true;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** A cheap call that keeps readiness honest while the broker is idle; one at a time. */
  async probe(): Promise<void> {
    if (this.reachability.waitingSince !== undefined) return;
    this.reachability.waitingSince = Date.now();
    try {
      await this.client.version();
    } catch {
      // The outcome is tracked by the connection (track).
    } finally {
      this.reachability.waitingSince = undefined;
    }
  }

  private build(settings: Settings): CloudifyClient {
    return new CloudifyClient({
      url: settings.url,
      tenant: settings.tenant,
      auth: settings.auth,
      ...(settings.authFile ? { reauthenticate: () => reread(settings) } : {}),
      timeoutMs: settings.timeoutMs,
      retry: { attempts: settings.retries },
      // The CA file matters only for https; the example points it at the system bundle.
      tls: { caFile: caFileOf(settings), insecure: settings.insecure },
      logger: this.log,
      onCall: (call) => {
        this.track(call);
        this.observe?.(call);
      },
    });
  }

  private track(call: CloudifyCall): void {
    if (call.status === 401) {
      this.reachability.lastFailure = "Cloudify refuses the broker's credentials (401)";
    } else if (call.status !== undefined && call.status < 500) {
      const recovered =
        this.reachability.lastFailure !== undefined &&
        Date.now() - this.reachability.lastAnswerAt > OUTAGE_MS;
      this.reachability.lastAnswerAt = Date.now();
      this.reachability.lastFailure = undefined;
      if (recovered) this.onRecovered?.();
    } else {
      this.reachability.lastFailure =
        call.status === undefined ? `no answer (${call.failure})` : `HTTP ${call.status}`;
    }
  }
}

/**
 * The credentials as their file holds them now: a token rotated into a mounted Secret replaces
 * an expired one without waiting for a reload (trailing newline removed, as when loading).
 */
async function reread(settings: Settings): Promise<CloudifyAuth> {
  const value = (await readFile(settings.authFile as string, "utf8")).replace(/\r?\n$/, "");
  return "token" in settings.auth ? { token: value } : { ...settings.auth, password: value };
}

function caFileOf(settings: Settings): string | undefined {
  return settings.url.startsWith("https:") ? settings.caFile : undefined;
}

/** Settings plus the CA file's content: a rotated certificate in a mounted Secret counts as a change. */
function fingerprintOf(settings: Settings): string {
  const caFile = caFileOf(settings);
  let ca = "";
  try {
    ca = caFile ? readFileSync(caFile, "utf8") : "";
  } catch {
    ca = "unreadable"; // building the client reports it
  }
  return JSON.stringify([settings, ca]);
}
