#!/usr/bin/env bash
# Build the job runtime image (airad-runtime:latest) from the Containerfile, with no registry: the
# base image airad-base:bookworm is made here with debootstrap (its tarball cached under
# ${XDG_CACHE_HOME:-~/.cache}/airad, so only the first build downloads Debian) and imported.
#
#   scripts/build-image.sh [--host unix:///path/docker.sock] [--tag NAME:TAG] [--deep-learning] [--dry-run]
#
# --host (or DOCKER_HOST) picks the engine; PIP_INDEX_URL and PIP_CERT (a CA bundle) are handed to
# pip in the build; DEBIAN_MIRROR picks the apt mirror. Making the base tarball needs root.
#
# --deep-learning (opt-in: several GB) then builds airad-runtime-dl:latest on the runtime image, with
# the exact versions of scripts/runtime-dl-requirements.txt (PyTorch, torchvision, timm, transformers,
# xgboost-cpu, lightgbm, catboost). torch and torchvision come from TORCH_INDEX_URL, by default the
# same index as the rest (PyPI, whose Linux x86_64 torch wheels are CUDA builds); set it to
# https://download.pytorch.org/whl/cpu for CPU-only wheels, or to .../whl/cu126 (say) for a CUDA
# that suits an older driver. --tag names the last image built (the deep-learning one with
# --deep-learning). --dry-run prints what would be built, and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [--host URL] [--tag NAME:TAG] [--deep-learning] [--dry-run]" >&2
  exit 2
}

RUNTIME_TAG=airad-runtime:latest
DL_TAG=airad-runtime-dl:latest
DL_PINS=scripts/runtime-dl-requirements.txt
TAG=
DEEP_LEARNING=0
DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --host|-H) [ $# -ge 2 ] || usage; export DOCKER_HOST="$2"; shift 2 ;;
    --tag|-t) [ $# -ge 2 ] && [ -n "$2" ] || usage; TAG="$2"; shift 2 ;;
    --deep-learning) DEEP_LEARNING=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) usage ;;
  esac
done
if [ -n "$TAG" ] && [ "$DEEP_LEARNING" = 1 ]; then DL_TAG=$TAG; elif [ -n "$TAG" ]; then RUNTIME_TAG=$TAG; fi
PIP_INDEX=${PIP_INDEX_URL:-https://pypi.org/simple}
TORCH_INDEX=${TORCH_INDEX_URL:-$PIP_INDEX}

if [ "$DRY_RUN" = 1 ]; then
  echo "runtime image: $RUNTIME_TAG (Containerfile, constraints.txt)"
  if [ "$DEEP_LEARNING" = 1 ]; then
    echo "deep-learning image: $DL_TAG (on $RUNTIME_TAG, $DL_PINS)"
    echo "torch index: $TORCH_INDEX"
    grep -E '^[A-Za-z0-9_.-]+==' "$DL_PINS" | sed 's/^/  /'
  fi
  exit 0
fi

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
docker build --network host --build-arg "BASE=$BASE" --build-arg "PIP_INDEX_URL=$PIP_INDEX" \
  -f "$work/context/Containerfile" -t "$RUNTIME_TAG" "$work/context"
[ "$DEEP_LEARNING" = 1 ] || exit 0

# The deep-learning layer, built as the runtime image is: pip runs in a first stage, and only the
# venv reaches the image, so neither index URL nor the CA bundle is in a layer or the history.
cp "$DL_PINS" "$work/context/"
cat >"$work/context/Containerfile.dl" <<'CONTAINERFILE'
ARG RUNTIME=airad-runtime:latest
FROM ${RUNTIME} AS build
USER root
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG TORCH_INDEX_URL=https://pypi.org/simple
COPY constraints.txt runtime-dl-requirements.txt host-ca.cr[t] /tmp/airad-build/
RUN cd /tmp/airad-build \
 && cert=/etc/ssl/certs/ca-certificates.crt \
 && if [ -s host-ca.crt ]; then cert=/tmp/airad-build/host-ca.crt; fi \
 && pip="/opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --cert $cert -c constraints.txt" \
 && $pip --index-url "$TORCH_INDEX_URL" --extra-index-url "$PIP_INDEX_URL" \
      $(grep -E '^torch(vision)?==' runtime-dl-requirements.txt) \
 && $pip --index-url "$PIP_INDEX_URL" -r runtime-dl-requirements.txt \
 && cd / && rm -rf /tmp/airad-build

FROM ${RUNTIME}
COPY --from=build /opt/venv /opt/venv
CONTAINERFILE
docker build --network host --build-arg "RUNTIME=$RUNTIME_TAG" --build-arg "PIP_INDEX_URL=$PIP_INDEX" \
  --build-arg "TORCH_INDEX_URL=$TORCH_INDEX" -f "$work/context/Containerfile.dl" -t "$DL_TAG" "$work/context"
