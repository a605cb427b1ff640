#!/usr/bin/env bash
# Install the Debian packages the integration tests start for real: container engines (dockerd,
# podman), sshd, a single-node Slurm with munge, debootstrap for the local base image, headless
# chromium, which opens the exported search-tree page, and Node.js with npm, which run the
# conformance test's client (tests/conformance/js, docs/clients.md); then that client's npm packages,
# exactly as its lock file pins them.
# Nothing is started here: each test fixture starts what it needs, by PID, and stops it.
set -euo pipefail

PACKAGES=(docker.io podman runc openssh-server openssh-client slurmctld slurmd slurm-client munge debootstrap bubblewrap tmux chromium nodejs npm)
# A package is there when it is installed, or when an installed package provides it (NodeSource's
# nodejs provides npm, and conflicts with Debian's).
provided=$(dpkg-query -W -f='${Status}\t${Provides}\n' 2>/dev/null | grep "install ok installed" | cut -f2 | tr ',' '\n' | sed 's/(.*//; s/ //g' || true)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || grep -qx -- "$package" <<<"$provided" || missing+=("$package")
done

install_packages() {
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-infra: missing ${missing[*]}; install them as root with apt-get" >&2
    return 0
  fi
  echo "install-infra: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

# The conformance client's packages (nats, ajv), when node_modules is missing or older than the lock file.
install_node_modules() {
  local js
  js="$(cd "$(dirname "$0")/.." && pwd)/tests/conformance/js"
  if [ -d "$js/node_modules" ] && [ ! "$js/package-lock.json" -nt "$js/node_modules" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-infra: npm is missing; the conformance test needs it (apt-get install nodejs npm)" >&2
    return 0
  fi
  echo "install-infra: npm ci in $js" >&2
  if npm ci --prefix "$js" --no-audit --no-fund >/dev/null; then
    touch "$js/node_modules"
  else
    rm -rf "$js/node_modules"
    echo "install-infra: npm ci failed in $js; the conformance test needs its node_modules" >&2
  fi
}

install_packages
install_node_modules
