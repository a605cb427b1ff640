"""Bubblewrap on an SSH host: each job with no network, the host read-only, and the job root (other
jobs, other tasks' inputs), the login's home and any `hidden` paths out of sight.

What a host has is probed once per link with its own Python: where bwrap is, which dirs hold the
interpreter (every hop of its symlinks, its prefix and base prefix: kept visible when what contains
them is hidden), and which of the paths to hide exist there (a missing one cannot be covered)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from msgspec import Struct

PROBE = r"""
import json, os, shutil, sys
python, root, hidden = sys.argv[1], sys.argv[2], sys.argv[3:]
dirs, path = set(), os.path.abspath(shutil.which(python) or python)
for _ in range(40):
    dirs.add(os.path.dirname(os.path.dirname(path)))
    if not os.path.islink(path):
        break
    path = os.path.abspath(os.path.join(os.path.dirname(path), os.readlink(path)))
dirs.update({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
hide = [os.path.realpath(os.path.expanduser(p)) for p in ["~", *hidden]]
print(json.dumps({
    "bwrap": shutil.which("bwrap", path="/usr/local/bin:/usr/bin:/bin"),
    "python_dirs": sorted(d for d in dirs if d != "/"),
    "hidden": sorted({p for p in hide if os.path.isdir(p) and p != "/"}),
    "root": os.path.realpath(root),
}))
"""


class HostSandbox(Struct, frozen=True):
    """What a host's probe found: its bwrap (None: not installed), interpreter dirs, existing dirs to
    hide, and the job root's real path."""

    bwrap: str | None
    python_dirs: list[str]
    hidden: list[str]
    root: str


def probe_command(python: str, root: str, hidden: Sequence[str]) -> str:
    """The remote command that prints a `HostSandbox` as JSON."""
    return shlex.join([python, "-c", PROBE, python, root, *hidden])


def parse_probe(output: str) -> HostSandbox:
    """The probe's JSON line as a `HostSandbox`."""
    return HostSandbox(**json.loads(output.strip().splitlines()[-1]))


def bwrap_argv(sandbox: HostSandbox, *, work: str, inputs: str, gpus: bool) -> list[str]:
    """bwrap's arguments (up to and including `--`) for a job whose work dir is `work` and whose
    inputs copy is `inputs` (both under the job root). A GPU job sees the host's /dev."""
    assert sandbox.bwrap is not None
    args = [sandbox.bwrap, "--ro-bind", "/", "/"]
    args += ["--dev-bind", "/dev", "/dev"] if gpus else ["--dev", "/dev"]
    args += ["--proc", "/proc", "--tmpfs", "/tmp"]
    for path in [*sandbox.hidden, sandbox.root]:
        args += ["--tmpfs", path]
    for path in sandbox.python_dirs:
        args += ["--ro-bind", path, path]
    args += ["--bind", work, work, "--ro-bind", inputs, inputs]
    args += ["--unshare-all", "--die-with-parent", "--chdir", work, "--"]
    return args
