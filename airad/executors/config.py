"""Where the daemon's executors run: the backends an operator configures in the daemon's settings.

A run request only names an executor kind and its resources; the hosts, sockets and images behind
each kind are the daemon's business (and its secrets, such as SSH key files, stay out of requests).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Slots = Annotated[int, Meta(ge=1)]


class SshHost(Struct, frozen=True, forbid_unknown_fields=True):
    """A machine reached over SSH: a GPU box for the ssh executor, or a Slurm login node.

    `known_hosts` is the known-hosts file to check the host key against (None: the user's default
    file); checking is only skipped with `insecure_no_host_check = true`. `gpus` GPU ids are handed
    out one job at a time as CUDA_VISIBLE_DEVICES; `slots` is how many jobs may run at once.
    `link_grace_s` is how long a dropped link is redialled before its running jobs count as lost
    (the jobs themselves go on running on the host). Task inputs are copied to the host once, under
    `<root>/inputs/`; a copy no job links to and none used for `inputs_keep_s` is deleted.
    `sandbox`: run the ssh executor's jobs in bubblewrap on the host (no network; the host read-only;
    the job root, the login's home and the `hidden` dirs out of sight; `ro_binds`, each `PATH` or
    `HOST:SANDBOX` with `~` the login's home, shown read-only: a model cache); None: when the host
    has a working bwrap.
    """

    address: str
    port: Annotated[int, Meta(ge=1, le=65535)] = 22
    user: str | None = None
    key_file: str | None = None
    known_hosts: str | None = None
    insecure_no_host_check: bool = False
    gpus: tuple[str, ...] = ()
    slots: Slots = 2
    root: str = "/tmp/airad-jobs"
    python: str = "python3"
    link_grace_s: Annotated[float, Meta(ge=0)] = 300.0
    inputs_keep_s: Annotated[float, Meta(ge=0)] = 7 * 86400.0
    sandbox: bool | None = None
    hidden: tuple[str, ...] = ()
    ro_binds: tuple[str, ...] = ()


class ContainerBackend(Struct, frozen=True, forbid_unknown_fields=True):
    """A Docker or Podman API endpoint (`unix:///run/docker.sock`, `tcp://host:2375`) and the image
    jobs run in by default (built from the project's Containerfile by scripts/build-image.sh).

    `ro_binds` are host paths mounted read-only into every job, each `PATH` or `HOST:CONTAINER`
    (a shared model cache, or the host's /usr for a bare test image); none may be or hold an engine
    socket, /run or /var/run (the executor refuses such a backend). `pids_limit` caps the processes
    and threads of a job that names no limit of its own; `disk_mb` is the disk quota (MiB written in
    its work dir, /tmp and the rest of its container) of a job that names none.
    """

    url: str
    image: str = "airad-runtime:latest"
    python: str = "python3"
    slots: Slots = 2
    ro_binds: tuple[str, ...] = ()
    pids_limit: Annotated[int, Meta(ge=16)] = 1024
    disk_mb: Annotated[int, Meta(ge=16)] = 10240


class SlurmBackend(Struct, frozen=True, forbid_unknown_fields=True):
    """A Slurm cluster: job dirs under `root` on a filesystem shared with the compute nodes, commands
    run locally or on `login` over SSH. `sandbox`: run each job in bubblewrap on the compute node it
    lands on (no network; the node read-only; the job root, the home and the `hidden` dirs out of
    sight; `ro_binds` shown read-only, as for ssh hosts); None: where the node has a working bwrap;
    true: a node without one fails the job."""

    root: str
    python: str = "python3"
    partition: str | None = None
    login: SshHost | None = None
    slots: Slots = 64
    sandbox: bool | None = None
    hidden: tuple[str, ...] = ()
    ro_binds: tuple[str, ...] = ()
