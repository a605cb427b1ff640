#!/usr/bin/env bash
# Build the job runtime image (airad-runtime:latest) from the Containerfile, with no registry: the
# base image airad-base:bookworm is made here with debootstrap (its tarball cached under
# ${XDG_CACHE_HOME:-~/.cache}/airad, so only the first build downloads Debian) and imported.
#
#   scripts/build-image.sh [--host unix:///path/docker.sock] [--tag NAME:TAG]
#
# --host (or DOCKER_HOST) picks the engine; PIP_INDEX_URL and PIP_CERT (a CA bundle) are handed to
# pip in the build; DEBIAN_MIRROR picks the apt mirror. Making the base tarball needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=airad-runtime:latest
while [ $# -gt 0 ]; do
  case "$1" in
    --host|-H) export DOCKER_HOST="$2"; shift 2 ;;
    --tag|-t) TAG="$2"; shift 2 ;;
    *) echo "usage: $0 [--host URL] [--tag NAME:TAG]" >&2; exit 2 ;;
  esac
done

BASE=airad-base:bookworm
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-venv,ca-certificates,libgomp1,procps
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/airad
TARBALL=$CACHE/base-$SUITE-$(echo "$PACKAGES" | sha256sum | cut -c1-12).tar
CERT=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
export DOCKER_BUILDKIT=0

work=$(mktemp -d)
cleanup() {
  awk -v dir="$work/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if [ ! -s "$TARBALL" ]; then
  echo "build-image: debootstrap $SUITE into $TARBALL" >&2
  mkdir -p "$CACHE"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar --numeric-owner -C "$work/rootfs" -cf "$TARBALL.part" .
  mv "$TARBALL.part" "$TARBALL"
  rm -rf "$work/rootfs"
fi

docker image inspect "$BASE" >/dev/null 2>&1 || docker import "$TARBALL" "$BASE" >/dev/null

mkdir "$work/context"
cp Containerfile constraints.txt "$work/context/"
if [ -s "$CERT" ]; then cp "$CERT" "$work/context/host-ca.crt"; fi
docker build --network host --build-arg "BASE=$BASE" --build-arg "PIP_INDEX_URL=${PIP_INDEX_URL:-https://pypi.org/simple}" \
  -f "$work/context/Containerfile" -t "$TAG" "$work/context"
