"""The host paths a job's container may mount: the backend's `ro_binds`, read-only, and never one
that could hand a job an engine (a socket, /run) or the host's kernel views."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from airad.executors.config import ContainerBackend

# Host paths a read-only bind may neither be, lie below, nor contain: where engine sockets live
# (a read-only mount still lets a process connect to a socket in it), the kernel's views of the host.
FORBIDDEN_BIND_ROOTS = ("/run", "/var/run", "/proc", "/sys", "/dev")


def read_only_bind(bind: str) -> str:
    """`PATH` or `HOST:CONTAINER` as an engine bind spec, read-only."""
    host, _, target = bind.partition(":")
    return f"{host}:{target or host}:ro"


def check_ro_binds(backend: ContainerBackend, extra: Sequence[str] = ()) -> None:
    """Refuse `ro_binds` (and the `extra` binds the executor adds, such as the weights cache) that
    could hand a job an engine: a socket, a path ending in `.sock`, the engine's own socket or the
    dir holding it, anything at or below (or above) /run, /var/run, /proc, /sys or /dev, and "/"
    itself; a relative path is refused too. `ValueError` names the bad entry."""
    engine_socket = backend.url.removeprefix("unix://") if backend.url.startswith("unix://") else None
    guarded = [*FORBIDDEN_BIND_ROOTS, *([engine_socket, os.path.realpath(engine_socket)] if engine_socket else [])]
    for bind in (*backend.ro_binds, *extra):
        host = bind.partition(":")[0]
        if not os.path.isabs(host):
            raise ValueError(f"container ro_binds entry {bind!r}: the host path must be absolute")
        for path in {os.path.normpath(host), os.path.realpath(host)}:
            for root in guarded:
                if path == root or path.startswith(root.rstrip("/") + "/") or root.startswith(path.rstrip("/") + "/"):
                    raise ValueError(
                        f"container ro_binds entry {bind!r} would mount {root} (or a dir holding it) into every job: "
                        "an engine socket or the host's kernel views must never be mounted"
                    )
            try:
                is_socket = stat.S_ISSOCK(os.stat(path).st_mode)
            except OSError:
                is_socket = False
            if is_socket or path.endswith(".sock"):
                raise ValueError(
                    f"container ro_binds entry {bind!r} names a socket: it must never be mounted into a job"
                )
