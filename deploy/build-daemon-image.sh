#!/usr/bin/env bash
# Build the daemon image (airad-daemon:latest) from deploy/Containerfile, with no registry: on
# airad-base:bookworm, the Debian base scripts/build-image.sh makes with debootstrap. Where the engine
# has no such base yet, scripts/build-image.sh runs first (it makes the base, then the runtime image
# that container jobs run in).
#
#   deploy/build-daemon-image.sh [--host unix:///path/docker.sock] [--tag NAME:TAG]
#
# --host (or DOCKER_HOST) picks the engine (docker, or podman's Docker-compatible `docker`);
# PIP_INDEX_URL and PIP_CERT (a CA bundle) are handed to pip in the build. The build context is a
# temporary copy of what the install needs (pyproject.toml, README.md, constraints.txt, airad/ and the
# entrypoint), not the checkout with its venv.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [--host URL] [--tag NAME:TAG]" >&2
  exit 2
}

TAG=airad-daemon:latest
while [ $# -gt 0 ]; do
  case "$1" in
    --host|-H) [ $# -ge 2 ] || usage; export DOCKER_HOST="$2"; shift 2 ;;
    --tag|-t) [ $# -ge 2 ] && [ -n "$2" ] || usage; TAG="$2"; shift 2 ;;
    *) usage ;;
  esac
done
BASE=airad-base:bookworm
PIP_INDEX=${PIP_INDEX_URL:-https://pypi.org/simple}
CERT=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
export DOCKER_BUILDKIT=0

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  echo "build-daemon-image: $BASE is missing: scripts/build-image.sh makes it" >&2
  scripts/build-image.sh
fi

work=$(mktemp -d)
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/context/deploy"
cp -r pyproject.toml README.md constraints.txt airad "$work/context/"
cp deploy/Containerfile deploy/airad-entrypoint.sh "$work/context/deploy/"
find "$work/context/airad" -name __pycache__ -prune -exec rm -rf {} +
if [ -s "$CERT" ]; then cp "$CERT" "$work/context/host-ca.crt"; fi
docker build --network host --build-arg "BASE=$BASE" --build-arg "PIP_INDEX_URL=$PIP_INDEX" \
  -f "$work/context/deploy/Containerfile" -t "$TAG" "$work/context"
