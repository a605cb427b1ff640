"""Reattach to a job on an ssh host and collect its result: poll its job dir over SFTP until the
wrapper wrote the exit status (a shell checks now and then that the job's process group lives),
read the status files, stdout and stderr over SFTP and the output files through the host's Python
(`output_files`: SFTP would follow links), then move the job dir aside to `<root>/.trash-*`. Needs
only the handle's fields, so a restarted daemon collects a job a previous one started."""

from __future__ import annotations

import asyncio
import posixpath
import shlex
import time
import uuid
from collections.abc import Sequence
from functools import partial
from typing import cast

import asyncssh

from airad.executors import job_script, output_files
from airad.executors.base import (
    OUTPUT_HEAD_BYTES,
    OUTPUT_TAIL_BYTES,
    JobLost,
    JobResult,
    refused_output_note,
    truncation_marker,
)
from airad.executors.ssh_link import SshLink, remote_script

POLL_MAX_S = 1.0
LIVENESS_S = 30.0

LIVENESS = """cd {dir} 2>/dev/null || {{ echo missing; exit 0; }}
[ -f exit_code ] && {{ echo done; exit 0; }}
[ -s started/pid ] || {{ echo running; exit 0; }}
kill -0 -$(cat started/pid) 2>/dev/null && {{ echo running; exit 0; }}
for _ in $(seq 50); do [ -f exit_code ] && {{ echo done; exit 0; }}; sleep 0.1; done
echo dead"""


async def job_state(link: SshLink, job_dir: str, conn: asyncssh.SSHClientConnection) -> str:
    """ "done" once the wrapper wrote the exit status, "missing" without a job dir, else "running"."""
    sftp = await link.sftp(conn)
    ended, present = await asyncio.gather(
        sftp.exists(posixpath.join(job_dir, job_script.EXIT_CODE)),
        sftp.isdir(job_dir),
    )
    return "done" if ended else "running" if present else "missing"


async def discard(link: SshLink, job_dir: str, conn: asyncssh.SSHClientConnection) -> None:
    """Move a collected job dir aside in one SFTP rename; the next `start` on the host deletes it."""
    trash = posixpath.join(link.host.root, f".trash-{uuid.uuid4().hex}")
    await (await link.sftp(conn)).rename(job_dir, trash)


async def read_file(sftp: asyncssh.SFTPClient, path: str) -> bytes | None:
    """A remote file's bytes, or None if it is missing or not a file."""
    try:
        async with sftp.open(path, "rb") as handle:
            return cast(bytes, await handle.read())
    except asyncssh.SFTPConnectionLost:
        raise
    except asyncssh.SFTPError:
        return None


async def read_output_files(
    conn: asyncssh.SSHClientConnection,
    python: str,
    work: str,
    names: Sequence[str],
    limit: int,
) -> tuple[dict[str, bytes], bytes]:
    """The output files `names` under the job's `work` dir, read on the host by `output_files` (one
    `python -c` run: no link followed, nothing over `limit` bytes), and the notes for those refused.
    SFTP is not used for them: it follows links."""
    if not names:
        return {}, b""
    command = shlex.join(output_files.read_command(python, work, limit, list(names)))
    result = await conn.run(command, encoding=None, check=False)
    if result.exit_status is None and result.exit_signal is None:
        raise asyncssh.ConnectionLost("the command ended without a status")
    stderr = cast(bytes, result.stderr or b"").decode(errors="replace").strip()[-500:]
    if result.exit_status != 0:
        raise RuntimeError(f"reading the outputs in {work} failed (exit {result.exit_status}): {stderr}")
    try:
        found = output_files.parse_read_output(cast(bytes, result.stdout or b""))
    except ValueError as exc:
        raise RuntimeError(f"reading the outputs in {work}: {exc}; {stderr}") from None
    outputs = {name: data for name, data in found.items() if isinstance(data, bytes)}
    notes = b"".join(refused_output_note(name, reason) for name, reason in found.items() if isinstance(reason, str))
    return outputs, notes


async def read_capped_file(sftp: asyncssh.SFTPClient, path: str) -> bytes:
    """A job's remote stdout or stderr as `job_script.read_capped` reads a local one: whole when small,
    else its head and tail around the truncation marker, read by range (gigabytes never cross the
    link). A missing file reads as empty."""
    head, tail = OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES
    try:
        async with sftp.open(path, "rb") as handle:
            size = (await handle.stat()).size or 0
            if size <= head + tail:
                return cast(bytes, await handle.read())
            first = cast(bytes, await handle.read(head, 0))
            last = cast(bytes, await handle.read(tail, size - tail))
    except asyncssh.SFTPConnectionLost:
        raise
    except asyncssh.SFTPError:
        return b""
    return first + truncation_marker(size, len(first), len(last)) + last


async def collect_result(link: SshLink, fields: dict, output_limit_bytes: int) -> JobResult:
    """Wait for the job in the handle's `fields` to end, collect its result over the link (output
    files over `output_limit_bytes` refused), move its job dir aside for deletion."""
    await until_done(link, fields["dir"])
    result = await link.call(
        partial(read_result, link, fields, output_limit_bytes), link.host.link_grace_s, timeout_s=None
    )
    try:
        await link.call(partial(discard, link, fields["dir"]), grace_s=0)
    except (JobLost, asyncssh.SFTPError):
        pass
    return result


async def until_done(link: SshLink, job_dir: str) -> None:
    """Poll over SFTP (no shell); every `LIVENESS_S` a shell command also checks that the job's
    process group is alive."""
    grace, delay, checked = link.host.link_grace_s, 0.1, time.monotonic()
    while True:
        state = await link.call(partial(job_state, link, job_dir), grace)
        if state == "running" and time.monotonic() - checked >= LIVENESS_S:
            state, checked = await link.run(remote_script(LIVENESS, dir=job_dir), grace), time.monotonic()
        if state == "done":
            return
        if state == "missing":
            raise JobLost(f"job dir {job_dir} is gone on ssh host {link.name}")
        if state == "dead":
            raise JobLost(f"job in {job_dir} on ssh host {link.name} died without an exit status")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, POLL_MAX_S)


async def read_result(
    link: SshLink, fields: dict, output_limit_bytes: int, conn: asyncssh.SSHClientConnection
) -> JobResult:
    """The job's result from its job dir: status files, capped stdout and stderr, output files."""
    sftp = await link.sftp(conn)
    job_dir = fields["dir"]
    names = [
        job_script.EXIT_CODE,
        f"{job_script.STARTED}/at",
        "ended_at",
        job_script.CANCELLED,
        job_script.LIMIT_HIT,
    ]
    found, (outputs, notes), stdout, stderr = await asyncio.gather(
        asyncio.gather(*(read_file(sftp, posixpath.join(job_dir, name)) for name in names)),
        read_output_files(
            conn,
            link.host.python,
            posixpath.join(job_dir, job_script.WORK),
            fields["outputs"],
            output_limit_bytes,
        ),
        read_capped_file(sftp, posixpath.join(job_dir, "stdout")),
        read_capped_file(sftp, posixpath.join(job_dir, "stderr")),
    )
    exit_text, started_at, ended_at, cancelled, limit_hit = found
    return job_script.result_from_files(
        limit_hit=limit_hit,
        exit_text=exit_text or b"",
        started_at=job_script.parse_number(started_at),
        ended_at=job_script.parse_number(ended_at),
        timeout_s=fields["timeout_s"],
        memory_limited=fields["memory"],
        cancelled=cancelled is not None,
        stdout=stdout,
        stderr=stderr + notes,
        outputs=outputs,
    )
