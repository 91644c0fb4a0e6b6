# syntax=docker/dockerfile:1
#
# cloudify-osb-broker image: `cfy-broker serve` as an unprivileged user.
#
#   docker build -t cfy-broker .
#   docker run -p 8080:8080 --hostname cfy-broker \
#     -v /path/to/broker.yaml:/etc/cfy-broker/broker.yaml:ro -v cfy-broker-state:/var/lib/cfy-broker \
#     -e BROKER_USERNAME=... -e BROKER_PASSWORD=... -e BROKER_ENCRYPTION_KEY=... \
#     -e CLOUDIFY_URL=https://manager.example.com -e CLOUDIFY_PASSWORD=... cfy-broker
#
# The state directory's lock names the host: give replacement containers the same hostname
# (as above, or a StatefulSet) so one that follows a crashed container can take over the lock.
# test/container-entrypoint.test.ts runs this file's ENTRYPOINT and HEALTHCHECK as plain
# processes and checks the paths below against the README.

ARG NODE_IMAGE=node:20-bookworm

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

# ---- runtime: production dependencies and the compiled broker only ----
FROM ${NODE_IMAGE}-slim AS runtime
# CA bundle at the path broker.yaml's cloudify.tls.ca_file defaults to (slim images lack it).
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` runs the TypeScript build, which needs dev dependencies; dist/
# comes from the build stage instead.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schema ./schema
COPY generated ./generated
COPY broker.yaml ./broker.yaml
# The default configuration: the example, reading everything from the environment. Mount your own.
COPY broker.yaml /etc/cfy-broker/broker.yaml
RUN mkdir -p /var/lib/cfy-broker && chown node:node /var/lib/cfy-broker && chmod 700 /var/lib/cfy-broker
VOLUME ["/var/lib/cfy-broker"]
USER node
EXPOSE 8080
# /healthz needs no credentials. Probes BROKER_PORT (default 8080, as in the example broker.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.BROKER_PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; `serve` closes the server, waits for
# in-flight state commits, releases the state lock and exits 0. SIGHUP reloads broker.yaml.
# Arguments given after the image name in `docker run` are appended to serve's.
ENTRYPOINT ["node", "/app/bin/cfy-broker.js", "serve", "--config", "/etc/cfy-broker/broker.yaml", "--state", "/var/lib/cfy-broker"]
