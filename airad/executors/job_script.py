"""The shell wrapper every detached job runs under (local, SSH and Slurm executors), and the reading
of what it leaves behind.

A job dir holds `job.sh`, the script's `work/` dir, and after a run: `started/` (created atomically,
so the job runs at most once however often it is started), `started/at`, `started/pid` (the process
group of the job), `stdout`, `stderr`, `ended_at` and `exit_code`, written last. Everything the
daemon needs to follow the job after its own restart is in those files, so a handle only has to say
where the dir is.

The script runs under coreutils `timeout` (a deadline that holds even if the daemon is dead), within
its `Limits` (a cgroup of its own where the host allows one, a disk watch, `ulimit` fallbacks), in
an environment emptied by `env -i` (no daemon secrets). When it ends, whatever it left running in
its cgroup is killed, and the limit it hit, if any, is written to `limit_hit`.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from airad.executors.base import OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES, JobResult, truncation_marker

SCRIPT = "job.sh"
WORK = "work"
STARTED = "started"
EXIT_CODE = "exit_code"
CANCELLED = "cancelled"
LIMIT_HIT = "limit_hit"
KILL_GRACE_S = 5
TIMEOUT_EXIT_CODES = (124, 137)
OOM_MARKERS = (b"MemoryError", b"Cannot allocate memory", b"std::bad_alloc", b"out of memory")


def cap_in_place_sh(names: Sequence[str]) -> str:
    """Shell that rewrites each of `names` (in the current dir) that is too big as `read_capped`
    would read it, so that a remote job dir can be copied back whole."""
    head, tail = OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES
    marker = f"\\n[airad: output truncated: %s bytes written; the first {head} and the last {tail} kept]\\n"
    return (
        f'for f in {" ".join(names)}; do [ -f "$f" ] || continue; size=$(wc -c < "$f"); '
        f'[ "$size" -gt {head + tail} ] || continue; '
        f'{{ head -c {head} "$f"; printf \'{marker}\' "$size"; tail -c {tail} "$f"; }} > "$f.capped" '
        f'&& mv -f "$f.capped" "$f"; done; '
    )


def read_capped(path: Path, head: int = OUTPUT_HEAD_BYTES, tail: int = OUTPUT_TAIL_BYTES) -> bytes:
    """A job's stdout or stderr file, whole when it is small, else its first `head` and last `tail`
    bytes around a `truncation_marker`: a script that writes gigabytes never gets them into memory.
    A missing file reads as empty."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size <= head + tail:
                return file.read(head + tail)
            first = file.read(head)
            file.seek(size - tail)
            last = file.read(tail)
    except OSError:
        return b""
    return first + truncation_marker(size, len(first), len(last)) + last


class Limits(NamedTuple):
    """What bounds a whole job, beyond its deadline: `memory_mb` of all its processes together
    (tmpfs included), `processes`, `cpus`, and `disk_mb` written (its work dir, stdout and stderr).
    `cgroups` is where the host lets the wrapper make the job's cgroup (`sandbox_launch.cgroup_facts`;
    without one, memory falls back to `ulimit -v` per process and processes are not bounded);
    `cgroup_name` names the job's cgroup; `owner` is the uid the sandbox runs the job as, when the
    wrapper must hand the work dir to it (a daemon running as root)."""

    memory_mb: int | None = None
    processes: int | None = None
    cpus: int | None = None
    disk_mb: int | None = None
    cgroups: Mapping | None = None
    cgroup_name: str = "job"
    owner: int | None = None


DEFAULT_LIMITS = Limits()


def cgroup_name(job_dir: str) -> str:
    """The name of a job's cgroup: its dir's name and a digest of its whole path, so two daemons
    (or hosts' roots) with the same job ids never share one."""
    return f"{os.path.basename(job_dir.rstrip('/'))}-{hashlib.sha1(job_dir.encode()).hexdigest()[:8]}"


def _cgroup_dirs(limits: Limits) -> list[tuple[str, str]]:
    """(controller, dir) of the job's cgroups: one dir for all on v2, one per controller on v1."""
    facts = limits.cgroups or {}
    if facts.get("version") == 2:
        path = f"{facts['base']}/{limits.cgroup_name}"
        return [("memory", path), ("pids", path), ("cpu", path)]
    if facts.get("version") == 1:
        return [(controller, f"{base}/{limits.cgroup_name}") for controller, base in sorted(facts["base"].items())]
    return []


def _limits_sh(limits: Limits) -> tuple[str, str, str, str]:
    """Shell to set up the job's cgroups (run by the wrapper), to join them (run by the job's shell
    before it execs the job), to kill everything in them, and to note which limit the job hit and
    remove them."""
    dirs = _cgroup_dirs(limits)
    version = (limits.cgroups or {}).get("version")
    unique = sorted({path for _, path in dirs})
    setup, writes = [], []
    for controller, path in dirs:
        q = shlex.quote(path)
        if controller == "memory" and limits.memory_mb:
            size = limits.memory_mb << 20
            if version == 2:
                writes += [f"echo {size} > {q}/memory.max", f"echo 0 > {q}/memory.swap.max 2>/dev/null"]
            else:
                writes += [
                    f"echo {size} > {q}/memory.limit_in_bytes",
                    f"echo {size} > {q}/memory.memsw.limit_in_bytes 2>/dev/null",
                ]
        if controller == "pids" and limits.processes:
            writes.append(f"echo {limits.processes} > {q}/pids.max")
        if controller == "cpu" and limits.cpus:
            if version == 2:
                writes.append(f"echo '{limits.cpus * 100000} 100000' > {q}/cpu.max 2>/dev/null")
            else:
                writes.append(
                    f"echo 100000 > {q}/cpu.cfs_period_us 2>/dev/null; "
                    f"echo {limits.cpus * 100000} > {q}/cpu.cfs_quota_us 2>/dev/null"
                )
    for path in unique:
        setup.append(f"mkdir -p {shlex.quote(path)} || fail 'cannot make the job cgroup {path}'")
    setup += [
        f"{w} || fail 'cannot set a limit: {w.split(' > ')[-1]}'" if "2>/dev/null" not in w else w for w in writes
    ]
    join = "".join(f"echo 0 > {shlex.quote(path)}/cgroup.procs || exit 125; " for path in unique)
    kill = "".join(f"killall_in {shlex.quote(path)}; " for path in unique)
    notes = []
    for controller, path in dirs:
        q = shlex.quote(path)
        if controller == "memory" and limits.memory_mb:
            events = f"{q}/memory.events" if version == 2 else f"{q}/memory.oom_control"
            notes.append(f"grep -qs '^oom_kill [1-9]' {events} && echo oom >> {LIMIT_HIT}")
        if controller == "pids" and limits.processes:
            notes.append(f"grep -qs '^max [1-9]' {q}/pids.events && echo processes >> {LIMIT_HIT}")
    finish = "".join(f"{note}; " for note in notes) + "".join(f"rmdir {shlex.quote(p)} 2>/dev/null; " for p in unique)
    return "\n".join(setup) + ("\n" if setup else ""), join, kill, finish


KILLALL_IN = (
    "killall_in() {\n"
    '  [ -f "$1/cgroup.kill" ] && echo 1 > "$1/cgroup.kill"\n'
    "  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do\n"
    '    pids=$(cat "$1/cgroup.procs" 2>/dev/null); [ -z "$pids" ] && return 0\n'
    "    kill -KILL $pids 2>/dev/null; sleep 0.1\n"
    "  done\n"
    "}\n"
)


def _disk_watch_sh(limits: Limits, kill: str) -> str:
    """A background loop that ends the job once its work dir, stdout and stderr hold more than
    `disk_mb` (checked every 2 s; each single file is also capped by `ulimit -f`)."""
    if not limits.disk_mb:
        return ""
    quota_kb = limits.disk_mb << 10
    return (
        f"( while sleep 2; do kill -0 $job 2>/dev/null || exit 0; "
        f"used=$(du -skx {WORK} stdout stderr 2>/dev/null | awk '{{s += $1}} END {{print s + 0}}'); "
        f'if [ "$used" -gt {quota_kb} ]; then echo disk >> {LIMIT_HIT}; '
        f"kill -KILL -$job 2>/dev/null; {kill}exit 0; fi; "
        "done ) &\nwatch=$!\n"
    )


def render(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str],
    limits: Limits = DEFAULT_LIMITS,
    once: bool = True,
) -> str:
    """The wrapper for `argv`, run with `work/` as its current dir. With `once=False` a second start
    runs the job again (Slurm requeues a preempted job that way)."""
    assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in sorted(env.items()))
    command = " ".join(shlex.quote(part) for part in argv)
    setup, join, kill, finish = _limits_sh(limits)
    has_memory_cgroup = any(c == "memory" for c, _ in _cgroup_dirs(limits))
    ulimits = f"ulimit -v {limits.memory_mb * 1024}\n" if limits.memory_mb and not has_memory_cgroup else ""
    if limits.processes and not any(c == "pids" for c, _ in _cgroup_dirs(limits)):
        user = limits.owner if limits.owner is not None else "$(id -u)"
        ulimits += f"ulimit -p $(( $(ps -L -o lwp= -u {user} 2>/dev/null | wc -l) + {limits.processes} ))\n"
    ulimits += f"ulimit -f {limits.disk_mb * 2048}\n" if limits.disk_mb else ""
    owner = (
        f"chown -hR {limits.owner}:{limits.owner} {WORK} || fail 'cannot hand the work dir to the sandbox user'\n"
        if limits.owner is not None
        else ""
    )
    claim = (
        f"mkdir {STARTED} 2>/dev/null || exit 0\n" if once else f"rm -f {EXIT_CODE} {LIMIT_HIT}; mkdir -p {STARTED}\n"
    )
    return (
        "#!/bin/sh\n"
        "# airad job wrapper: runs the job once, records its pid, times and exit status beside it.\n"
        'cd "$(dirname "$0")" || exit 1\n'
        f"{claim}"
        f"date +%s.%N > {STARTED}/at\n"
        'fail() { echo "airad: $1" >> stderr; date +%s.%N > ended_at; '
        f"echo 125 > {EXIT_CODE}.tmp && mv {EXIT_CODE}.tmp {EXIT_CODE}; exit 125; }}\n"
        f"{KILLALL_IN}"
        f"{owner}{setup}{ulimits}"
        f"( {join}cd {WORK} && exec env -i {assignments} "
        f"timeout --kill-after={KILL_GRACE_S} {timeout_s:.0f} {command} )"
        " </dev/null >stdout 2>stderr &\n"
        "job=$!\n"
        f"echo $job > {STARTED}/pid\n"
        f"{_disk_watch_sh(limits, kill)}"
        "wait $job\n"
        "code=$?\n"
        f"{'kill $watch 2>/dev/null; ' if limits.disk_mb else ''}{kill}{finish}\n"
        "date +%s.%N > ended_at\n"
        f"echo $code > {EXIT_CODE}.tmp && mv {EXIT_CODE}.tmp {EXIT_CODE}\n"
    )


def parse_number(text: bytes | str | None) -> float | None:
    """A number written by the wrapper, or None if the file was missing or half-written."""
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def result_from_files(
    *,
    exit_text: bytes | str,
    started_at: float | None,
    ended_at: float | None,
    timeout_s: float,
    memory_limited: bool,
    cancelled: bool,
    stdout: bytes,
    stderr: bytes,
    outputs: dict[str, bytes],
    limit_hit: bytes | str | None = None,
) -> JobResult:
    """Turn the wrapper's files into a `JobResult`: a timeout is `timeout`'s exit status after the
    deadline; a failed job that went past its disk quota or its cgroup's process limit was `killed`
    for it ("disk quota", "too many processes"); an OOM is a failed job whose memory cgroup killed a
    process, or whose stderr shows an allocation failure under a memory limit."""
    exit_code = parse_number(exit_text)
    code = int(exit_code) if exit_code is not None else None
    duration = max(0.0, (ended_at or 0.0) - (started_at or ended_at or 0.0))
    timed_out = not cancelled and code in TIMEOUT_EXIT_CODES and duration >= timeout_s - 1.0
    hit = set((limit_hit.decode(errors="replace") if isinstance(limit_hit, bytes) else limit_hit or "").split())
    failed = code not in (0, None) and not cancelled
    killed = "cancelled" if cancelled else None
    if failed and "disk" in hit:
        killed = "disk quota"
    elif failed and "processes" in hit and "oom" not in hit:
        killed = "too many processes"
    oom = (
        failed
        and killed is None
        and not timed_out
        and ("oom" in hit or (memory_limited and any(m in stderr[-20000:] for m in OOM_MARKERS)))
    )
    return JobResult(
        exit_code=code,
        duration_s=duration,
        timed_out=timed_out and killed is None,
        stdout=stdout,
        stderr=stderr,
        outputs=outputs,
        oom=oom,
        killed=killed,
    )
