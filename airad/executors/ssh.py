"""Run jobs on GPU hosts over SSH: one asyncssh connection per host, shared by all of its jobs.

A job lives in `<root>/<job_id>/` on its host and runs under the shared wrapper (`job_script`),
started with `setsid` so it outlives the SSH link; the inputs are uploaded once per host to
`<root>/inputs/<digest>/` and linked as `work/input`. Everything `wait` needs is in the handle and
the job dir, so a restarted daemon follows a job a previous one started. A dropped link is
redialled with backoff for the host's `link_grace_s` before the job counts as lost. Staging,
polling and collecting go over SFTP, but for the output files, which SFTP would read through
links: the host's Python reads them (`output_files`). Start, cancel and a rare liveness check run a shell.
A collected job dir is renamed to `<root>/.trash-*`, which the next start on the host deletes.
This module places, stages, starts and cancels jobs; following one to its result is `ssh_collect`'s.
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import asyncssh
import structlog
from msgspec import structs

from airad.executors import job_script
from airad.executors.base import (
    OUTPUT_FILE_LIMIT_BYTES,
    JobLost,
    JobResult,
    JobSpec,
    decode_handle,
    encode_handle,
)
from airad.executors.config import SshHost
from airad.executors.local import thread_limits
from airad.executors.sandbox_launch import SANDBOX_UID, tmp_size_mb
from airad.executors.ssh_collect import collect_result
from airad.executors.ssh_link import HostKeyRejected, SshLink, inputs_digest, remote_script
from airad.executors.ssh_sandbox import HostSandbox, bwrap_argv, parse_probe, probe_command

log = structlog.get_logger("airad.executors")
REMOTE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
HANDLE_FIELDS = ("host", "port", "dir", "timeout_s", "outputs", "gpus", "memory")
DOWN_S = 30.0

START = """cd {dir} 2>/dev/null && [ -f job.sh ] || {{ echo gone; exit 0; }}
setsid sh job.sh </dev/null >/dev/null 2>&1 &
rm -rf {root}/.trash-*
echo started"""
CANCEL = """cd {dir} 2>/dev/null || exit 0
[ -f exit_code ] && exit 0
touch cancelled
if mkdir started 2>/dev/null; then
  date +%s.%N > ended_at; echo 137 > exit_code.tmp && mv exit_code.tmp exit_code; exit 0
fi
for _ in $(seq 20); do [ -s started/pid ] && break; sleep 0.1; done
[ -s started/pid ] && kill -KILL -$(cat started/pid) 2>/dev/null
exit 0"""


async def remote_exists(link: SshLink, path: str, conn: asyncssh.SSHClientConnection) -> bool:
    """Whether `path` exists on the host."""
    return await (await link.sftp(conn)).exists(path)


async def write_file(sftp: asyncssh.SFTPClient, path: str, text: str) -> None:
    """Write `text` to a remote file."""
    async with sftp.open(path, "w") as handle:
        await handle.write(text)


def real_path(sandbox: HostSandbox, root: str, path: str) -> str:
    """`path` under the configured job `root`, rewritten under the root's real path (bwrap mounts by
    real paths)."""
    relative = posixpath.relpath(path, root)
    return posixpath.join(sandbox.root, relative)


class SshExecutor:
    """Executor over a pool of SSH hosts: each job goes to the host with the most free slots that has
    the GPUs it asks for; its GPU ids reach it as CUDA_VISIBLE_DEVICES and are recorded in the handle.
    On a host with bubblewrap (or `sandbox = true`) each job runs sandboxed (`ssh_sandbox`)."""

    name = "ssh"

    def __init__(
        self,
        hosts: Sequence[SshHost],
        *,
        output_limit_bytes: int = OUTPUT_FILE_LIMIT_BYTES,
        hidden_packages: dict[str, tuple[str, ...]] | None = None,
    ):
        if not hosts:
            raise ValueError("the ssh executor needs at least one host")
        self.output_limit_bytes = output_limit_bytes
        self.hidden_packages = {name: list(dirs) for name, dirs in (hidden_packages or {}).items()}
        self.links = {(host.address, host.port): SshLink(host) for host in hosts}
        self._freed = asyncio.Condition()
        self._sandboxes: dict[str, HostSandbox | None] = {}

    async def prepare(self, spec: JobSpec) -> str:
        """Reserve a slot (and GPUs) on a host and upload the job there; a host that cannot be
        reached is skipped for a while, and `JobLost` says why when none can."""
        if any(part in ("", ".", "..") for part in spec.job_id.split("/")):
            raise ValueError(f"job id {spec.job_id!r} is not a relative path")
        inputs = Path(spec.inputs_dir).resolve()
        digest = await asyncio.to_thread(inputs_digest, inputs) if inputs.is_dir() else "empty"
        failures: dict[str, str] = {}
        while True:
            link, job_dir = await self._reserve(spec, skip=failures)
            try:
                await self._stage(link, spec, job_dir, inputs, digest)
            except BaseException as exc:
                await self._release(link, job_dir)
                if not isinstance(exc, JobLost) or isinstance(exc, HostKeyRejected):
                    raise
                link.down_until = time.monotonic() + DOWN_S
                failures[link.name] = str(exc)
                continue
            return encode_handle(
                host=link.host.address,
                port=link.host.port,
                dir=job_dir,
                timeout_s=spec.timeout_s,
                outputs=list(spec.outputs),
                gpus=list(link.busy[job_dir]),
                memory=spec.memory_mb is not None,
            )

    async def _reserve(self, spec: JobSpec, skip: dict[str, str]) -> tuple[SshLink, str]:
        async with self._freed:
            while True:
                able = [link for link in self.links.values() if len(link.host.gpus) >= spec.gpus]
                if not able:
                    raise ValueError(f"no ssh host has {spec.gpus} GPUs")
                able = [link for link in able if link.name not in skip]
                if not able:
                    raise JobLost("no ssh host reachable: " + "; ".join(skip.values()))
                fitting = [link for link in able if link.fits(spec.gpus)]
                if fitting:
                    now = time.monotonic()
                    link = min(fitting, key=lambda k: (k.down_until > now, len(k.busy) - k.host.slots))
                    job_dir = posixpath.join(link.host.root, spec.job_id)
                    link.busy[job_dir] = tuple(link.free_gpus()[: spec.gpus])
                    return link, job_dir
                await self._freed.wait()

    async def _release(self, link: SshLink, job_dir: str) -> None:
        async with self._freed:
            link.busy.pop(job_dir, None)
            self._freed.notify_all()

    async def _stage(self, link: SshLink, spec: JobSpec, job_dir: str, inputs: Path, digest: str) -> None:
        """Lay out the job dir over SFTP (a shell only to clear a dir left by an earlier try)."""
        host = link.host
        remote_inputs = posixpath.join(host.root, "inputs", digest)
        work = posixpath.join(job_dir, job_script.WORK)
        command = list(spec.command)
        if command and command[0] == "python":
            command[0] = host.python
        sandbox = await self._sandbox(link)
        if sandbox is not None:
            if spec.hide_dataset_packages:
                sandbox = structs.replace(sandbox, hidden=[*sandbox.hidden, *sandbox.package_dirs])
            command = (
                bwrap_argv(
                    sandbox,
                    work=real_path(sandbox, host.root, work),
                    inputs=real_path(sandbox, host.root, remote_inputs),
                    gpus=spec.gpus > 0,
                    tmp_mb=tmp_size_mb(spec.disk_mb, spec.memory_mb),
                )
                + command
            )
        env = {
            **REMOTE_ENV,
            "HOME": work,
            **thread_limits(spec.cpus),
            **spec.env,
            "CUDA_VISIBLE_DEVICES": ",".join(link.busy[job_dir]),
        }
        files = {posixpath.join(work, name): text for name, text in spec.files.items()}
        limits = job_script.Limits(
            memory_mb=spec.memory_mb,
            processes=spec.processes,
            cpus=spec.cpus,
            disk_mb=spec.disk_mb,
            cgroups=sandbox.cgroups if sandbox is not None else None,
            cgroup_name=job_script.cgroup_name(job_dir),
            owner=SANDBOX_UID if sandbox is not None and sandbox.as_root else None,
        )
        files[posixpath.join(job_dir, job_script.SCRIPT)] = job_script.render(
            command, timeout_s=spec.timeout_s, env=env, limits=limits
        )

        async def upload(conn: asyncssh.SSHClientConnection) -> bool:
            sftp = await link.sftp(conn)
            await sftp.makedirs(work)
            for subdir in sorted({posixpath.dirname(path) for path in files} - {work, job_dir}):
                await sftp.makedirs(subdir, exist_ok=True)
            writes = (write_file(sftp, path, text) for path, text in files.items())
            await asyncio.gather(sftp.symlink(remote_inputs, posixpath.join(work, "input")), *writes)
            if not await sftp.isdir(remote_inputs):
                return False
            await link.touch_inputs(sftp, remote_inputs)
            return True

        if await link.call(partial(remote_exists, link, job_dir), grace_s=0):
            await link.run(f"rm -rf {shlex.quote(job_dir)}", grace_s=0)
        if not await link.call(upload, grace_s=0):
            await link.upload_inputs(inputs, remote_inputs, grace_s=0)
        link.sweep_inputs_soon(posixpath.dirname(remote_inputs))

    async def _sandbox(self, link: SshLink) -> HostSandbox | None:
        """The host's sandbox, probed on first use; None when jobs there run unsandboxed."""
        host = link.host
        if host.sandbox is False:
            return None
        if link.name not in self._sandboxes:
            found = parse_probe(
                await link.run(
                    probe_command(host.python, host.root, host.hidden, host.ro_binds, self.hidden_packages), grace_s=0
                )
            )
            if found.bwrap is None and host.sandbox:
                raise RuntimeError(
                    f"ssh host {link.name}: sandbox = true but {found.problem} (apt-get install bubblewrap)"
                )
            if found.bwrap is None:
                log.warning(
                    "sandbox.unavailable", executor="ssh", host=link.name, reason=found.problem, jobs="unsandboxed"
                )
            self._sandboxes[link.name] = found if found.bwrap else None
        return self._sandboxes[link.name]

    def _link(self, fields: dict) -> SshLink:
        link = self.links.get((fields["host"], fields["port"]))
        if link is None:
            raise JobLost(f"ssh host {fields['host']}:{fields['port']} is not one of this executor's hosts")
        return link

    async def _claim(self, link: SshLink, fields: dict) -> None:
        async with self._freed:
            link.busy[fields["dir"]] = tuple(fields["gpus"])

    async def start(self, handle: str) -> None:
        """Start the job detached from the SSH session; the wrapper makes a second start a no-op."""
        fields = decode_handle(handle, *HANDLE_FIELDS)
        link = self._link(fields)
        state = await link.run(remote_script(START, dir=fields["dir"], root=link.host.root), link.host.link_grace_s)
        if state == "started":
            await self._claim(link, fields)

    async def wait(self, handle: str) -> JobResult:
        """Poll for the exit status, collect the files over SFTP, move the job dir aside for deletion."""
        fields = decode_handle(handle, *HANDLE_FIELDS)
        link = self._link(fields)
        await self._claim(link, fields)
        try:
            return await collect_result(link, fields, self.output_limit_bytes)
        finally:
            await self._release(link, fields["dir"])

    async def cancel(self, handle: str) -> None:
        """Mark the job cancelled and kill its process group; a job never started is kept from starting.
        An unknown handle, a finished job or a host that stays unreachable is left alone."""
        try:
            fields = decode_handle(handle, *HANDLE_FIELDS)
            link = self._link(fields)
            await link.run(remote_script(CANCEL, dir=fields["dir"]), link.host.link_grace_s)
        except JobLost:
            return
        await self._release(link, fields["dir"])

    async def aclose(self) -> None:
        """Close every host's connection (jobs keep running on their hosts)."""
        await asyncio.gather(*(link.close() for link in self.links.values()))
