"""The shell wrapper every detached job runs under (local, SSH and Slurm executors), and the reading
of what it leaves behind.

A job dir holds `job.sh`, the script's `work/` dir, and after a run: `started/` (created atomically,
so the job runs at most once however often it is started), `started/at`, `started/pid` (the process
group of the job), `stdout`, `stderr`, `ended_at` and `exit_code`, written last. Everything the
daemon needs to follow the job after its own restart is in those files, so a handle only has to say
where the dir is.

The script runs under coreutils `timeout` (a deadline that holds even if the daemon is dead), with
`ulimit -v` as its memory limit, in an environment emptied by `env -i` (no daemon secrets).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from collections.abc import Mapping, Sequence

from airad.executors.base import OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES, JobResult, truncation_marker

SCRIPT = "job.sh"
WORK = "work"
STARTED = "started"
EXIT_CODE = "exit_code"
CANCELLED = "cancelled"
KILL_GRACE_S = 5
TIMEOUT_EXIT_CODES = (124, 137)
OOM_MARKERS = (b"MemoryError", b"Cannot allocate memory", b"std::bad_alloc", b"out of memory")


def set_aside_too_big_sh(paths: Sequence[str], prefix: str, limit: int) -> str:
    """Shell that renames each of `paths` bigger than `limit` bytes out of the way, noting it at
    the end of ./stderr as `output_too_big_note` does (`prefix` is cut from the name shown)."""
    note = f"\\n[airad: %s not collected: %s bytes, over the {limit} byte limit on an output file]\\n"
    return (
        f"for f in {' '.join(shlex.quote(p) for p in paths)}; do [ -f \"$f\" ] || continue; size=$(wc -c < \"$f\"); "
        f"[ \"$size\" -gt {limit} ] || continue; "
        f"printf '{note}' \"${{f#{prefix}}}\" \"$size\" >> stderr; mv -f \"$f\" \"$f.too-big\"; done; "
    )


def cap_in_place_sh(names: Sequence[str]) -> str:
    """Shell that rewrites each of `names` (in the current dir) that is too big as `read_capped`
    would read it, so that a remote job dir can be copied back whole."""
    head, tail = OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES
    marker = f"\\n[airad: output truncated: %s bytes written; the first {head} and the last {tail} kept]\\n"
    return (
        f"for f in {' '.join(names)}; do [ -f \"$f\" ] || continue; size=$(wc -c < \"$f\"); "
        f"[ \"$size\" -gt {head + tail} ] || continue; "
        f"{{ head -c {head} \"$f\"; printf '{marker}' \"$size\"; tail -c {tail} \"$f\"; }} > \"$f.capped\" "
        f"&& mv -f \"$f.capped\" \"$f\"; done; "
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


def render(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str],
    memory_mb: int | None = None,
    once: bool = True,
) -> str:
    """The wrapper for `argv`, run with `work/` as its current dir. With `once=False` a second start
    runs the job again (Slurm requeues a preempted job that way)."""
    assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in sorted(env.items()))
    command = " ".join(shlex.quote(part) for part in argv)
    limit = f"ulimit -v {memory_mb * 1024}\n" if memory_mb else ""
    claim = f"mkdir {STARTED} 2>/dev/null || exit 0\n" if once else f"rm -f {EXIT_CODE}; mkdir -p {STARTED}\n"
    return (
        "#!/bin/sh\n"
        "# airad job wrapper: runs the job once, records its pid, times and exit status beside it.\n"
        'cd "$(dirname "$0")" || exit 1\n'
        f"{claim}"
        f"date +%s.%N > {STARTED}/at\n"
        f"{limit}"
        f"cd {WORK} || exit 1\n"
        f"env -i {assignments} timeout --kill-after={KILL_GRACE_S} {timeout_s:.0f} {command}"
        " </dev/null >../stdout 2>../stderr &\n"
        f"echo $! > ../{STARTED}/pid\n"
        "wait $!\n"
        "code=$?\n"
        "cd ..\n"
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
) -> JobResult:
    """Turn the wrapper's files into a `JobResult`: a timeout is `timeout`'s exit status after the
    deadline, an OOM is a failed job whose stderr shows an allocation failure under a memory limit."""
    exit_code = parse_number(exit_text)
    code = int(exit_code) if exit_code is not None else None
    duration = max(0.0, (ended_at or 0.0) - (started_at or ended_at or 0.0))
    timed_out = not cancelled and code in TIMEOUT_EXIT_CODES and duration >= timeout_s - 1.0
    oom = memory_limited and code not in (0, None) and not timed_out and any(m in stderr[-20000:] for m in OOM_MARKERS)
    return JobResult(
        exit_code=code, duration_s=duration, timed_out=timed_out, stdout=stdout, stderr=stderr,
        outputs=outputs, oom=oom, killed="cancelled" if cancelled else None,
    )
