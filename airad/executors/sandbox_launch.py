"""Bubblewrap for a job on the host it runs on: no network, the host read-only, a /tmp of its own,
its work dir writable, its inputs read-only, and the job root (other jobs, other tasks' inputs), the
login's home and any `hidden` dirs replaced by empty tmpfs. A job with GPUs sees the host's /dev.

Standard library only, so it runs on any host with a Python 3: the ssh executor runs its `probe`
over SSH once per host; a Slurm job runs it as its launcher (`run`), which probes the compute node
the job landed on and execs bwrap there.

    python sandbox_launch.py probe PYTHON ROOT [HIDDEN...]        -> the host's facts, as JSON
    python sandbox_launch.py run SPEC_JSON -- COMMAND...           -> COMMAND in bwrap (or exit 126)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
NO_BWRAP = 126


def probe(python: str, root: str, hidden: list[str]) -> dict:
    """Where a working bwrap is (None, and the `problem`, when it is missing or cannot create
    namespaces here), the dirs holding `python` (every hop of its symlinks,
    and this interpreter's prefixes), which of the home and `hidden` dirs exist, and `root`'s real path."""
    dirs, path = set(), os.path.abspath(shutil.which(python, path=SYSTEM_PATH) or python)
    for _ in range(40):
        dirs.add(os.path.dirname(os.path.dirname(path)))
        if not os.path.islink(path):
            break
        path = os.path.abspath(os.path.join(os.path.dirname(path), os.readlink(path)))
    dirs.update({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
    hide = [os.path.realpath(os.path.expanduser(p)) for p in ["~", *hidden]]
    bwrap, problem = shutil.which("bwrap", path=SYSTEM_PATH), "bwrap is not installed"
    if bwrap is not None:
        trial = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-all", "--", "/bin/true"], capture_output=True, text=True)
        if trial.returncode != 0:
            bwrap, problem = None, f"bwrap cannot make a sandbox here: {trial.stderr.strip()[-300:]}"
    return {
        "bwrap": bwrap,
        "problem": "" if bwrap else problem,
        "python_dirs": sorted(d for d in dirs if d != "/"),
        "hidden": sorted({p for p in hide if os.path.isdir(p) and p != "/"}),
        "root": os.path.realpath(root),
    }


def bwrap_argv(found: dict, work: str, inputs: str, gpus: bool) -> list[str]:
    """bwrap's arguments (up to and including `--`) for a job whose work dir is `work` and whose
    inputs dir is `inputs`, both real paths (mounts are made by real paths)."""
    args = [found["bwrap"], "--ro-bind", "/", "/"]
    args += ["--dev-bind", "/dev", "/dev"] if gpus else ["--dev", "/dev"]
    args += ["--proc", "/proc", "--tmpfs", "/tmp"]
    for path in [*found["hidden"], found["root"]]:
        args += ["--tmpfs", path]
    for path in found["python_dirs"]:
        args += ["--ro-bind", path, path]
    args += ["--bind", work, work, "--ro-bind", inputs, inputs]
    args += ["--unshare-all", "--die-with-parent", "--chdir", work, "--"]
    return args


def run(spec: dict, command: list[str]) -> None:
    """Exec `command` in bwrap per `spec` (python, root, hidden, work, gpus, required); without bwrap,
    exec it as is unless the sandbox is required (then exit 126 saying why)."""
    found = probe(spec["python"], spec["root"], spec["hidden"])
    if found["bwrap"] is None:
        if spec["required"]:
            print(f"airad: sandbox = true but on {os.uname().nodename} {found['problem']}", file=sys.stderr)
            sys.exit(NO_BWRAP)
        os.execvp(command[0], command)
    work = os.path.realpath(spec["work"])
    inputs = os.path.realpath(os.path.join(work, "input"))
    os.execv(found["bwrap"], bwrap_argv(found, work, inputs, spec["gpus"]) + command)


def main(argv: list[str]) -> None:
    if argv[1] == "probe":
        print(json.dumps(probe(argv[2], argv[3], argv[4:])))
    elif argv[1] == "run" and argv[3] == "--":
        run(json.loads(argv[2]), argv[4:])
    else:
        sys.exit(f"usage: {argv[0]} probe PYTHON ROOT [HIDDEN...] | run SPEC_JSON -- COMMAND...")


if __name__ == "__main__":
    main(sys.argv)
