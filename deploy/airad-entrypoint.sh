#!/bin/sh
# The daemon image's entrypoint: `airad daemon` with the container's arguments.
#
# On cgroup v2, in a container's own cgroup namespace, every process starts in the namespace's root
# cgroup, and a cgroup that holds processes may not hand controllers to cgroups below it. So, where
# that cgroup is writable (a --privileged container), every process in it (this shell, and the init
# of `--init`) moves to a leaf, `daemon/`, first: the local executor then makes `airad-jobs/` beside
# it, with one cgroup per job (memory, pids and CPU of the whole job; sandbox_launch.cgroup_facts).
# systemd's DelegateSubgroup= does the same for the unit in deploy/systemd. On cgroup v1, or a
# read-only cgroupfs, nothing is moved: the daemon's start-up line `sandbox.limits` says which limits
# it can enforce.
set -e
root=/sys/fs/cgroup
if [ -f "$root/cgroup.controllers" ] && [ "$(cat /proc/self/cgroup)" = "0::/" ] \
  && mkdir -p "$root/daemon" 2>/dev/null; then
  for pid in $(cat "$root/cgroup.procs"); do
    echo "$pid" > "$root/daemon/cgroup.procs" 2>/dev/null || true
  done
fi
exec airad daemon "$@"
