"""Bubblewrap for a job on the host it runs on: no network, the host read-only, a /tmp of its own,
its work dir writable, its inputs read-only, and the job root (other jobs, other tasks' inputs), the
login's home and any `hidden` dirs replaced by empty tmpfs; `ro_binds` (a model cache, say) shown
read-only on top. A job with GPUs sees the host's /dev.

Standard library only, so it runs on any host with a Python 3: the ssh executor runs its `probe`
over SSH once per host; a Slurm job runs it as its launcher (`run`), which probes the compute node
the job landed on and execs bwrap there.

    python sandbox_launch.py probe SPEC_JSON               -> the host's facts, as JSON
    python sandbox_launch.py run SPEC_JSON -- COMMAND...   -> COMMAND in bwrap (or exit 126)

SPEC_JSON holds `python`, `root`, `hidden` and `ro_binds` (each `PATH` or `HOST:SANDBOX`, `~` meaning
the login's home), and for `run` also `work`, `gpus` and `required`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
NO_BWRAP = 126


def probe(python: str, root: str, hidden: list[str], ro_binds: list[str] = ()) -> dict:
    """This host's facts: where a working bwrap is (None, and the `problem`, when it is missing or
    cannot create namespaces here), the dirs holding `python` (every hop of its symlinks, and this
    interpreter's prefixes), which of the home and `hidden` dirs exist, `root`'s real path, and
    `ro_binds` as (host path, sandbox path) pairs with `~` expanded."""
    dirs, path = set(), os.path.abspath(shutil.which(python, path=SYSTEM_PATH) or python)
    for _ in range(40):
        dirs.add(os.path.dirname(os.path.dirname(path)))
        if not os.path.islink(path):
            break
        path = os.path.abspath(os.path.join(os.path.dirname(path), os.readlink(path)))
    dirs.update({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
    hide = [os.path.realpath(os.path.expanduser(p)) for p in ["~", *hidden]]
    bwrap, problem = shutil.which("bwrap") or shutil.which("bwrap", path=SYSTEM_PATH), "bwrap is not installed"
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
        "ro_binds": [_bind_pair(bind) for bind in ro_binds],
    }


def _bind_pair(bind: str) -> list[str]:
    host, _, inside = bind.partition(":")
    host = os.path.realpath(os.path.expanduser(host))
    return [host, os.path.expanduser(inside) if inside else host]


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
    for host, inside in found.get("ro_binds", []):
        args += ["--ro-bind-try", host, inside]
    args += ["--bind", work, work, "--ro-bind", inputs, inputs]
    args += ["--unshare-all", "--die-with-parent", "--chdir", work, "--"]
    return args


def run(spec: dict, command: list[str]) -> None:
    """Exec `command` in bwrap per `spec` (see the module's doc); without a working bwrap, exec it
    as is, saying so on stderr, unless the sandbox is required (then exit 126 saying why)."""
    found = probe(spec["python"], spec["root"], spec["hidden"], spec.get("ro_binds", []))
    if found["bwrap"] is None:
        if spec["required"]:
            print(f"airad: sandbox = true but on {os.uname().nodename} {found['problem']}", file=sys.stderr)
            sys.exit(NO_BWRAP)
        print(f"airad: running unsandboxed: on {os.uname().nodename} {found['problem']}", file=sys.stderr, flush=True)
        os.execvp(command[0], command)
    work = os.path.realpath(spec["work"])
    inputs = os.path.realpath(os.path.join(work, "input"))
    os.execv(found["bwrap"], bwrap_argv(found, work, inputs, spec["gpus"]) + command)


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "probe":
        spec = json.loads(argv[2])
        print(json.dumps(probe(spec["python"], spec["root"], spec["hidden"], spec.get("ro_binds", []))))
    elif len(argv) > 4 and argv[1] == "run" and argv[3] == "--":
        run(json.loads(argv[2]), argv[4:])
    else:
        sys.exit(f"usage: {argv[0]} probe SPEC_JSON | run SPEC_JSON -- COMMAND...")


if __name__ == "__main__":
    main(sys.argv)
