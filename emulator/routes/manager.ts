import type { Router } from "../http/router.js";

/** Version and health (MGR `resources_v1/version.py`, `resources_v3_1/status.py`). */
export function registerManagerRoutes(router: Router, base: string): void {
  const version: Parameters<Router["add"]>[3] = (_ctx, app) => ({
    status: 200,
    body: {
      version: app.version.version,
      edition: app.version.edition,
      distribution: "rhel",
      distro_release: "emulator",
      build: null,
      date: null,
      commit: null,
    },
  });
  router.add("GET", "/api/version", "user", version);
  router.add("GET", `${base}/version`, "user", version);

  router.add("GET", `${base}/status`, "user", (ctx) => {
    const summary = ctx.boolQuery("summary", false);
    const service = (extra: Record<string, unknown> = {}) => ({
      status: "Active",
      is_remote: false,
      extra_info: extra,
    });
    return {
      status: 200,
      body: {
        status: "OK",
        services: summary
          ? {}
          : {
              Webserver: service(),
              "Management Worker": service(),
              "Manager Rest-Service": service(),
              "Cloudify API": service(),
              Database: service(),
              "AMQP-Postgres": service(),
            },
      },
    };
  });

  router.add("GET", `${base}/ok`, "none", () => ({ status: 200, body: "OK" }));
}
