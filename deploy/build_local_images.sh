#!/bin/sh
# The base images from Debian's packages, for a machine where Docker Hub cannot be reached:
# pulse-base (debootstrap's minimal bookworm with python3, imported once), then pulse-node,
# pulse-postgres and pulse-redis built on it (deploy/images/). Needs root for debootstrap.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/deploy/docker_env.sh"
BASE=${LOCAL_BASE_IMAGE:-pulse-base:bookworm}
if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "debootstrap: missing (apt-get install -y debootstrap)" >&2; exit 1; }
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" \
    "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
  tar -C "$rootfs" -c . | "$DOCKER" import - "$BASE" >/dev/null
fi
for name in node postgres redis; do
  "$DOCKER" build -q -f "$root/deploy/images/$name.Dockerfile" --build-arg BASE_IMAGE="$BASE" \
    -t "pulse-$name:bookworm" "$root" >/dev/null
done
echo "local images: $BASE pulse-node:bookworm pulse-postgres:bookworm pulse-redis:bookworm"
