#!/usr/bin/env bash
# Install the Debian packages the integration tests start for real: container engines (dockerd,
# podman), sshd, a single-node Slurm with munge, debootstrap for the local base image, and
# headless chromium, which opens the exported search-tree page.
# Nothing is started here: each test fixture starts what it needs, by PID, and stops it.
set -euo pipefail

PACKAGES=(docker.io podman runc openssh-server openssh-client slurmctld slurmd slurm-client munge debootstrap bubblewrap tmux chromium)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-infra: missing ${missing[*]}; install them as root with apt-get" >&2
  exit 0
fi
echo "install-infra: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
