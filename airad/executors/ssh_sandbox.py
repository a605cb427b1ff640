"""The ssh executor's side of the host sandbox (`sandbox_launch`): probe a host once over SSH with
its own Python, then build each job's bwrap arguments from what the probe found."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from msgspec import Struct, structs

from airad.executors import sandbox_launch


class HostSandbox(Struct, frozen=True):
    """What a host's probe found: a working bwrap (None: missing or unusable, `problem` says which),
    the interpreter's dirs, the existing dirs to hide, the job root's real path, and the read-only
    binds as (host path, sandbox path) pairs."""

    bwrap: str | None
    problem: str
    python_dirs: list[str]
    hidden: list[str]
    root: str
    ro_binds: list[list[str]] = []
    setpriv: str | None = None
    as_root: bool = False
    cgroups: dict = {}
    package_dirs: list[str] = []


@cache
def launcher_source() -> str:
    """The text of `sandbox_launch`, run on hosts with `python -c`."""
    return Path(sandbox_launch.__file__).read_text()


def probe_command(
    python: str,
    root: str,
    hidden: Sequence[str],
    ro_binds: Sequence[str] = (),
    hidden_packages: dict | None = None,
) -> str:
    """The remote command that prints a `HostSandbox` as JSON."""
    spec = {
        "python": python,
        "root": root,
        "hidden": list(hidden),
        "ro_binds": list(ro_binds),
        "hidden_packages": hidden_packages or {},
    }
    return shlex.join([python, "-c", launcher_source(), "probe", json.dumps(spec)])


def parse_probe(output: str) -> HostSandbox:
    """The probe's JSON line as a `HostSandbox`."""
    return HostSandbox(**json.loads(output.strip().splitlines()[-1]))


def bwrap_argv(
    sandbox: HostSandbox, *, work: str, inputs: str, gpus: bool, tmp_mb: int = sandbox_launch.TMP_MB
) -> list[str]:
    """The command line (up to the job's own command) that runs a job with these real paths on the host."""
    assert sandbox.bwrap is not None
    return sandbox_launch.bwrap_argv(structs.asdict(sandbox), work, inputs, gpus, tmp_mb)
