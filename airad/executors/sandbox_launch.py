"""Bubblewrap for a job on the host it runs on, built from an allow-list.

A job sees the system's program and library trees (`/usr`, `/bin`, `/lib*`, `/sbin`) and a few
files of `/etc` (the dynamic linker's cache, users and groups, time zone, certificates), all
read-only; the interpreter's dirs read-only; its inputs read-only; its own work dir writable; a
`/tmp` of its own, capped in size; a fresh `/dev` and `/proc`; nothing else: no `/run`, no host
sockets, no `/etc/shadow`, no home, no daemon state, no other job. Dirs in `hidden` that lie inside
what it sees (the bundled datasets' files inside the interpreter's packages) are covered by empty
tmpfs. `ro_binds` (a model cache, say) are shown read-only on top. A job with GPUs also sees the
host's `/dev` and `/sys`.

The job runs with no network and in namespaces of its own (user, mount, pid, ipc, uts, cgroup), as
an unprivileged uid with every capability dropped, `no_new_privs`, and no way to make further user
namespaces. When the launcher runs as root, a first bwrap (as root) builds the mounts, `setpriv`
drops to `SANDBOX_UID` (a real unprivileged uid on the host, not root behind a namespace), and a
second bwrap makes the job's user namespace; run as any other user, one bwrap does both.

Standard library only, so it runs on any host with a Python 3: the ssh executor runs its `probe`
over SSH once per host; a Slurm job runs it as its launcher (`run`), which probes the compute node
the job landed on and execs bwrap there.

    python sandbox_launch.py probe SPEC_JSON               -> the host's facts, as JSON
    python sandbox_launch.py run SPEC_JSON -- COMMAND...   -> COMMAND in bwrap (or exit 126)

SPEC_JSON holds `python`, `root`, `hidden` and `ro_binds` (each `PATH` or `HOST:SANDBOX`, `~` meaning
the login's home), optionally `hidden_packages` ({package: [data subdirs]}, found with the job's
interpreter; `run` hides them) and `tmp_mb`, and for `run` also `work`, `gpus` and `required`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
NO_BWRAP = 126
SANDBOX_UID = 65534
INNER_UID = 1000
TMP_MB = 1024
SYSTEM_TREES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_ALLOWED = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "fonts",
    "gai.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "protocols",
    "services",
    "ssl/certs",
    "timezone",
)
PACKAGE_FINDER = (
    "import importlib.util, json, os, sys\n"
    "found = []\n"
    "for name, subdirs in json.loads(sys.argv[1]).items():\n"
    "    top, *rest = name.split('.')\n"
    "    try:\n"
    "        spec = importlib.util.find_spec(top)\n"
    "    except (ImportError, ValueError):\n"
    "        continue\n"
    "    for base in (spec.submodule_search_locations or []) if spec else []:\n"
    "        base = os.path.join(base, *rest)\n"
    "        found += [os.path.join(base, d) for d in subdirs if os.path.isdir(os.path.join(base, d))]\n"
    "print(json.dumps(found))\n"
)


def probe(
    python: str, root: str, hidden: list[str], ro_binds: Sequence[str] = (), hidden_packages: dict | None = None
) -> dict:
    """This host's facts: where a working bwrap is (None, and the `problem`, when it is missing or
    cannot make a sandbox here), `setpriv` when this runs as root, the dirs holding `python` (every
    hop of its symlinks, and this interpreter's prefixes), the dirs to hide (the `hidden` ones, the
    login's home), the data dirs of `hidden_packages` in `python` (`package_dirs`: hidden from
    the jobs of tasks drawn from those packages), `root`'s real path, the
    `ro_binds` as (host path, sandbox path) pairs with `~` expanded, and the job cgroups this host
    lets the launcher make (`cgroups`, see `cgroup_facts`)."""
    dirs, path = set(), os.path.abspath(shutil.which(python, path=SYSTEM_PATH) or python)
    for _ in range(40):
        dirs.add(os.path.dirname(os.path.dirname(path)))
        if not os.path.islink(path):
            break
        path = os.path.abspath(os.path.join(os.path.dirname(path), os.readlink(path)))
    dirs.update({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
    hide = [os.path.realpath(os.path.expanduser(p)) for p in ["~", *hidden]]
    as_root = os.geteuid() == 0
    setpriv = shutil.which("setpriv", path=SYSTEM_PATH) if as_root else None
    bwrap = shutil.which("bwrap") or shutil.which("bwrap", path=SYSTEM_PATH)
    problem = "bwrap is not installed"
    if bwrap is not None and as_root and setpriv is None:
        bwrap, problem = None, "setpriv (util-linux) is not installed, and jobs must not run as root"
    found = {"bwrap": bwrap, "setpriv": setpriv, "as_root": as_root, "python_dirs": sorted(d for d in dirs if d != "/")}
    if bwrap is not None:
        trial = subprocess.run(
            _launch_argv(found, ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"], ["/bin/true"]),
            capture_output=True,
            text=True,
        )
        if trial.returncode != 0:
            bwrap, problem = None, f"bwrap cannot make a sandbox here: {trial.stderr.strip()[-300:]}"
    return {
        **found,
        "bwrap": bwrap,
        "problem": "" if bwrap else problem,
        "hidden": sorted({p for p in hide if os.path.isdir(p) and p != "/"}),
        "package_dirs": sorted({os.path.realpath(p) for p in _package_data_dirs(python, hidden_packages or {})}),
        "root": os.path.realpath(root),
        "ro_binds": [_bind_pair(bind) for bind in ro_binds],
        "cgroups": cgroup_facts(),
    }


def _package_data_dirs(python: str, packages: dict) -> list[str]:
    """The existing data dirs of `packages` ({name: [subdir, ...]}) as `python` finds them."""
    if not packages:
        return []
    try:
        out = subprocess.run(
            [python, "-I", "-c", PACKAGE_FINDER, json.dumps(packages)], capture_output=True, text=True, timeout=60
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return []


def _bind_pair(bind: str) -> list[str]:
    host, _, inside = bind.partition(":")
    host = os.path.realpath(os.path.expanduser(host))
    return [host, os.path.expanduser(inside) if inside else host]


def _launch_argv(found: dict, mounts: list[str], command: list[str], chdir: str = "/") -> list[str]:
    """The whole command line: bwrap with `mounts` (and the namespaces, privileges and session
    flags every job gets), then `command`. As root: the outer bwrap builds the mounts, `setpriv`
    drops to `SANDBOX_UID`, and an inner bwrap makes the user namespace."""
    namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    common = ["--die-with-parent", "--new-session", "--chdir", chdir]
    if not found.get("as_root"):
        return [found["bwrap"], *mounts, *namespaces, *_own_user(), *common, "--", *command]
    outer_caps = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    drop = [
        found["setpriv"],
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_UID}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
    inner = [found["bwrap"], "--dev-bind", "/", "/", *_own_user(), "--die-with-parent", "--chdir", chdir, "--"]
    return [found["bwrap"], *mounts, *namespaces, *outer_caps, *common, "--", *drop, *inner, *command]


def _own_user() -> list[str]:
    return ["--unshare-user", "--uid", str(INNER_UID), "--gid", str(INNER_UID), "--disable-userns", "--cap-drop", "ALL"]


def allowed_mounts(found: dict, work: str, inputs: str, gpus: bool, tmp_mb: int = TMP_MB) -> list[str]:
    """bwrap's mount arguments for a job whose work dir is `work` and whose inputs dir is `inputs`
    (real paths: mounts are made by real paths)."""
    args = []
    for tree in SYSTEM_TREES:
        if os.path.islink(tree):
            args += ["--symlink", os.readlink(tree), tree]
        elif os.path.isdir(tree):
            args += ["--ro-bind", tree, tree]
    args += ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/var"]
    for name in ETC_ALLOWED:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--dev-bind", "/dev", "/dev", "--ro-bind", "/sys", "/sys"] if gpus else ["--dev", "/dev"]
    args += ["--proc", "/proc", "--perms", "01777", "--size", str(tmp_mb << 20), "--tmpfs", "/tmp"]
    if not gpus:
        args += ["--perms", "01777", "--size", str(tmp_mb << 20), "--tmpfs", "/dev/shm"]
    seen = [*SYSTEM_TREES, *found["python_dirs"]]
    targets = [*found["python_dirs"], *(inside for _, inside in found.get("ro_binds", [])), work, inputs]
    for parent in _parents(targets):
        args += ["--perms", "0755", "--dir", parent]
    for path in found["python_dirs"]:
        args += ["--ro-bind", path, path]
    for host, inside in found.get("ro_binds", []):
        args += ["--ro-bind-try", host, inside]
        seen.append(inside)
    args += ["--bind", work, work, "--ro-bind", inputs, inputs]
    for path in found["hidden"]:
        if any(path == top or path.startswith(top.rstrip("/") + "/") for top in seen) and not _holds(
            path, (work, inputs)
        ):
            args += ["--tmpfs", path]
    return args


def _parents(paths: list[str]) -> list[str]:
    """The dirs above `paths` that bwrap must make as mount points, readable by everyone (bwrap
    makes them private to root otherwise), outermost first."""
    found = set()
    for path in paths:
        parent = os.path.dirname(path.rstrip("/"))
        while (
            parent not in ("/", "")
            and parent not in ("/tmp", "/var", "/etc")
            and not parent.startswith(tuple(t + "/" for t in SYSTEM_TREES))
            and parent not in SYSTEM_TREES
        ):
            found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found, key=lambda p: (p.count("/"), p))


def _holds(path: str, targets: tuple[str, ...]) -> bool:
    return any(t == path or t.startswith(path.rstrip("/") + "/") for t in targets)


def bwrap_argv(found: dict, work: str, inputs: str, gpus: bool, tmp_mb: int = TMP_MB) -> list[str]:
    """The command line that runs a job in its sandbox, up to the job's own command."""
    return _launch_argv(found, allowed_mounts(found, work, inputs, gpus, tmp_mb), [], chdir=work)


def tmp_size_mb(disk_mb: int | None, memory_mb: int | None) -> int:
    """The size of a job's `/tmp` (and `/dev/shm`): within both its disk quota and its memory, as
    what it holds counts as both."""
    return min([size for size in (disk_mb, memory_mb) if size] or [TMP_MB])


def cgroup_facts(name: str = "airad-jobs") -> dict:
    """Where this host lets the launcher make one cgroup per job: `{"version": 2, "base": DIR}`
    (a delegated cgroup v2 subtree with memory, pids and cpu), `{"version": 1, "base": {controller:
    DIR}}` (cgroup v1 hierarchies it can write), or `{"version": 0, "problem": WHY}`."""
    try:
        mounts = [line.split() for line in open("/proc/self/mountinfo")]
        own = {}
        for line in open("/proc/self/cgroup"):
            number, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else ["unified"]:
                own[controller] = path
    except OSError as exc:
        return {"version": 0, "problem": f"cannot read the process's cgroups: {exc}"}
    v2 = _v2_base(mounts, own.get("unified"), name)
    if v2:
        return {"version": 2, "base": v2}
    v1 = {}
    for controller in ("memory", "pids", "cpu"):
        for fields in mounts:
            tail = fields[fields.index("-") + 1 :] if "-" in fields else []
            if tail[:1] == ["cgroup"] and controller in tail[2].split(",") and controller in own:
                base = os.path.join(fields[4] + own[controller].rstrip("/"), name)
                if _can_make(base):
                    v1[controller] = base
                break
    if "memory" in v1 and "pids" in v1:
        return {"version": 1, "base": v1}
    return {"version": 0, "problem": "no writable cgroup (v2 delegation or v1 memory and pids) for per-job limits"}


def _v2_base(mounts: list[list[str]], own: str | None, name: str) -> str | None:
    """A dir `name` for job cgroups with memory and pids on, beside or below the process's own
    cgroup v2 (systemd's `Delegate=yes` puts a service in a leaf of the subtree it hands over)."""
    if own is None:
        return None
    wanted = {"memory", "pids", "cpu"}
    for fields in mounts:
        tail = fields[fields.index("-") + 1 :] if "-" in fields else []
        if tail[:1] != ["cgroup2"]:
            continue
        mine = fields[4] + own.rstrip("/")
        for parent in [mine, os.path.dirname(mine)] if own.rstrip("/") else [mine]:
            base = os.path.join(parent, name)
            try:
                available = set(open(os.path.join(parent, "cgroup.controllers")).read().split())
            except OSError:
                continue
            if not {"memory", "pids"} <= available or not _can_make(base):
                continue
            for directory in (parent, base):
                _enable(directory, wanted)
            try:
                enabled = set(open(os.path.join(base, "cgroup.subtree_control")).read().split())
            except OSError:
                continue
            if {"memory", "pids"} <= enabled:
                return base
        return None
    return None


def _enable(directory: str, wanted: set[str]) -> None:
    """Turn on the `wanted` controllers (those available) for `directory`'s children, if allowed."""
    try:
        have = set(open(os.path.join(directory, "cgroup.controllers")).read().split())
        enabled = set(open(os.path.join(directory, "cgroup.subtree_control")).read().split())
        missing = (wanted & have) - enabled
        if missing:
            with open(os.path.join(directory, "cgroup.subtree_control"), "w") as control:
                control.write(" ".join(f"+{c}" for c in sorted(missing)))
    except OSError:
        pass


def _can_make(base: str) -> bool:
    try:
        os.makedirs(base, exist_ok=True)
        trial = os.path.join(base, f"probe-{os.getpid()}")
        os.mkdir(trial)
        os.rmdir(trial)
        return True
    except OSError:
        return False


def run(spec: dict, command: list[str]) -> None:
    """Exec `command` in bwrap per `spec` (see the module's doc); without a working bwrap, exec it
    as is, saying so on stderr, unless the sandbox is required (then exit 126 saying why)."""
    found = probe(spec["python"], spec["root"], spec["hidden"], spec.get("ro_binds", []), spec.get("hidden_packages"))
    found["hidden"] = [*found["hidden"], *found["package_dirs"]]
    if found["bwrap"] is None:
        if spec["required"]:
            print(f"airad: sandbox = true but on {os.uname().nodename} {found['problem']}", file=sys.stderr)
            sys.exit(NO_BWRAP)
        print(f"airad: running unsandboxed: on {os.uname().nodename} {found['problem']}", file=sys.stderr, flush=True)
        os.execvp(command[0], command)
    work = os.path.realpath(spec["work"])
    inputs = os.path.realpath(os.path.join(work, "input"))
    if found["as_root"]:
        give_to_sandbox(work)
    argv = bwrap_argv(found, work, inputs, spec["gpus"], spec.get("tmp_mb", TMP_MB))
    os.execv(argv[0], argv + command)


def give_to_sandbox(work: str) -> None:
    """Make a work dir and everything in it belong to `SANDBOX_UID` (links are not followed), so a
    job dropped to that uid can write there; only needed when the launcher runs as root."""
    os.lchown(work, SANDBOX_UID, SANDBOX_UID)
    for parent, dirs, files in os.walk(work):
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), SANDBOX_UID, SANDBOX_UID)


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "probe":
        spec = json.loads(argv[2])
        print(
            json.dumps(
                probe(
                    spec["python"], spec["root"], spec["hidden"], spec.get("ro_binds", []), spec.get("hidden_packages")
                )
            )
        )
    elif len(argv) > 4 and argv[1] == "run" and argv[3] == "--":
        run(json.loads(argv[2]), argv[4:])
    else:
        sys.exit(f"usage: {argv[0]} probe SPEC_JSON | run SPEC_JSON -- COMMAND...")


if __name__ == "__main__":
    main(sys.argv)
