# syntax=docker/dockerfile:1
#
# cloudify-osb-broker image: `cfy-broker serve` as an unprivileged user, under tini.
#
#   docker build -t cfy-broker .
#   docker run -p 8080:8080 --hostname cfy-broker \
#     -v /path/to/broker.yaml:/etc/cfy-broker/broker.yaml:ro -v cfy-broker-state:/var/lib/cfy-broker \
#     -e BROKER_USERNAME=... -e BROKER_PASSWORD=... -e BROKER_ENCRYPTION_KEY=... \
#     -e CLOUDIFY_URL=https://manager.example.com -e CLOUDIFY_PASSWORD=... cfy-broker
#
# The state directory's lock names the host: give replacement containers the same hostname
# (as above, or a StatefulSet) so one that follows a crashed container can take over the lock.
# CI builds and runs this file with podman (scripts/build-image.sh, test/container-image.test.ts);
# test/container-entrypoint.test.ts also runs its ENTRYPOINT and HEALTHCHECK as plain processes.
#
# Node.js 22 LTS in every stage. NODE_IMAGE names the full image; the runtime stage uses its
# `-slim` variant (CI builds from a local stand-in of both, see scripts/build-image.sh).

ARG NODE_IMAGE=node:22-bookworm

# ---- build: all dependencies, TypeScript -> dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY generated ./generated
COPY schema ./schema
RUN npm run build

# ---- deps: production dependencies only (no codegen toolchain, no emulator) ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` runs the TypeScript build, which needs dev dependencies.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: Node.js, tini, CA certificates, the compiled broker and its dependencies ----
FROM ${NODE_IMAGE}-slim AS runtime
# tini as PID 1 forwards signals to the broker and reaps zombies; the CA bundle sits at the
# path broker.yaml's cloudify.tls.ca_file defaults to (slim images lack both).
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates tini \
  && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
ENV NODE_ENV=production
# Size the heap to the state: NODE_OPTIONS=--max-old-space-size=<MiB> (docs/OPERATIONS.md "Memory").
WORKDIR /app
# package.json marks the root the CLI resolves schema/ from.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schema ./schema
COPY broker.yaml ./broker.yaml
# The default configuration: the example, reading everything from the environment. Mount your own.
COPY broker.yaml /etc/cfy-broker/broker.yaml
RUN mkdir -p /var/lib/cfy-broker && chown node:node /var/lib/cfy-broker && chmod 700 /var/lib/cfy-broker
VOLUME ["/var/lib/cfy-broker"]
USER node
EXPOSE 8080
# Probes the port the broker really listens on (read from /proc, however it was configured);
# the health endpoints need no credentials. Liveness: a Cloudify outage or a full disk does not
# make the container unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "/app/dist/src/container/healthcheck.js", "--path", "/livez"]
# tini runs the broker as its child and forwards SIGTERM; `serve` closes the server, waits for
# in-flight state commits, releases the state lock and exits 0, which tini passes on.
# SIGHUP reloads broker.yaml. Arguments given after the image name are appended to serve's.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/cfy-broker.js", "serve", "--config", "/etc/cfy-broker/broker.yaml", "--state", "/var/lib/cfy-broker"]
