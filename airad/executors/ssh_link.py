"""One SSH link per host: an asyncssh connection shared by every job on the host, redialled with
backoff, host keys checked against known_hosts, a bounded number of sessions, SFTP, and inputs
uploaded once per host by content digest (each file sent once: `ssh_inputs`) and swept once no
job has used them for the host's `inputs_keep_s`. Used by the ssh executor and by Slurm's login
node."""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import posixpath
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import structlog

from airad.executors.base import JobLost
from airad.executors.config import SshHost
from airad.executors.ssh_inputs import FILES, link_command, manifest, manifest_text, send_files

T = TypeVar("T")
LINK_ERRORS = (OSError, asyncssh.DisconnectError, asyncssh.ChannelOpenError, asyncssh.SFTPConnectionLost)
CONNECT_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 60.0
KEEPALIVE_S = 15.0
MAX_CHANNELS = 8
PUBLISH_INPUTS = "mv -T {staging} {inputs} 2>/dev/null || rm -rf {staging}"
TOUCH_EVERY_S = 600.0
SWEEP_EVERY_S = 3600.0
STALE_UPLOAD_MINUTES = 1440
# Removes inputs copies under {inputs} not modified for {minutes} minutes that no job dir under {root}
# links to (a job's work/input; nothing else under a work dir is looked at). A copy is moved aside
# (and touched, so no other sweep takes it for a dead one) before it is deleted, and restored if a
# job linked to it meanwhile. Uploads and sweeps that died half-way go after a day, and so do the
# files under .files/ that no copy links to any more (see ssh_inputs). Prints the names it removed.
SWEEP_INPUTS = (
    r"""
cd {inputs} 2>/dev/null || exit 0
linked() {{ find {root} -path {inputs} -prune -o -path '*/work/input' -type l """
    r"""-exec readlink {{}} + -o -path '*/work/*' -prune \
  2>/dev/null | sed 's|.*/||'; }}
old() {{ [ -n "$(find "$1" -maxdepth 0 -mmin +"$2" 2>/dev/null)" ]; }}
in_use=$(linked)
for d in * .sweep-*; do
  [ -d "$d" ] || continue
  case "$d" in
    .sweep-*|*.partial-*) old "$d" {stale} && rm -rf "$d"; continue ;;
  esac
  old "$d" {minutes} || continue
  printf '%s\n' "$in_use" | grep -qxF "$d" && continue
  mv -T "$d" ".sweep-$d" 2>/dev/null && touch ".sweep-$d" || continue
  if linked | grep -qxF "$d"; then mv -T ".sweep-$d" "$d" 2>/dev/null || rm -rf ".sweep-$d"; continue; fi
  rm -rf ".sweep-$d" && echo "$d"
done
find .files -type f -links 1 -mmin +{stale} -delete 2>/dev/null || true
"""
)
log = structlog.get_logger("airad.executors")


class HostKeyRejected(JobLost):
    """The host's key is unknown or differs from the one in known_hosts: the link is refused."""


def inputs_digest(inputs: Path) -> str:
    """A name for an inputs dir's content, from its files' relative paths, sizes and mtimes."""
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(inputs, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            path = Path(top, name)
            stat = path.stat()
            digest.update(f"{path.relative_to(inputs)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def remote_script(template: str, **paths: str) -> str:
    """`template` with its paths shell-quoted, run by `sh` whatever the login shell is."""
    return "sh -c " + shlex.quote(template.format(**{k: shlex.quote(v) for k, v in paths.items()}))


class SshLink:
    """One host's connection, dialled on first use and redialled after it drops; also the host's
    slot and GPU bookkeeping (`busy` maps a job dir to the GPU ids it holds)."""

    def __init__(self, host: SshHost):
        self.host = host
        self.name = f"{host.address}:{host.port}"
        self.busy: dict[str, tuple[str, ...]] = {}
        self.down_until = 0.0
        self.channels = asyncio.Semaphore(MAX_CHANNELS)
        self._lock = asyncio.Lock()
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient] | None = None
        self._uploads: dict[str, asyncio.Lock] = {}
        self._touched: dict[str, float] = {}
        self._swept: dict[str, float] = {}
        self._sweeps: set[asyncio.Task] = set()
        self.files_sent = 0

    def free_gpus(self) -> list[str]:
        """GPU ids no job holds."""
        held = {gpu for gpus in self.busy.values() for gpu in gpus}
        return [gpu for gpu in self.host.gpus if gpu not in held]

    def fits(self, gpus: int) -> bool:
        """Whether a job needing `gpus` GPUs can start here now."""
        return len(self.busy) < self.host.slots and len(self.free_gpus()) >= gpus

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The live connection, dialled if there is none."""
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn, self._sftp = await self._dial(), None
            return self._conn

    async def _dial(self) -> asyncssh.SSHClientConnection:
        host = self.host
        options: dict[str, Any] = dict(
            port=host.port,
            username=host.user,
            config=None,
            connect_timeout=CONNECT_TIMEOUT_S,
            keepalive_interval=KEEPALIVE_S,
            keepalive_count_max=4,
            known_hosts=None if host.insecure_no_host_check else (host.known_hosts or ()),
        )
        if host.key_file:
            options["client_keys"] = [host.key_file]
        try:
            return await asyncssh.connect(host.address, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            where = host.known_hosts or "~/.ssh/known_hosts"
            raise HostKeyRejected(
                f"ssh host {self.name}: host key not trusted ({exc.reason}); checked against {where}."
                " Add the host's key there (ssh-keyscan) or set insecure_no_host_check"
            ) from None

    async def sftp(self, conn: asyncssh.SSHClientConnection) -> asyncssh.SFTPClient:
        """The SFTP session on `conn`, opened once per connection."""
        async with self._lock:
            if self._sftp is None or self._sftp[0] is not conn:
                self._sftp = (conn, await conn.start_sftp_client())
            return self._sftp[1]

    def drop(self, conn: asyncssh.SSHClientConnection | None) -> None:
        """Forget `conn` if it is still the current one, so the next call redials."""
        if conn is not None and conn is self._conn:
            conn.close()
            self._conn, self._sftp = None, None

    async def close(self) -> None:
        """Stop any sweep and close the connection, if any."""
        for sweep in self._sweeps:
            sweep.cancel()
        await asyncio.gather(*self._sweeps, return_exceptions=True)
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()

    async def call(
        self,
        operation: Callable[[asyncssh.SSHClientConnection], Awaitable[T]],
        grace_s: float,
        timeout_s: float | None = COMMAND_TIMEOUT_S,
    ) -> T:
        """`operation` on the live connection, retried on a fresh one while the link has been down
        for less than `grace_s`; then `JobLost` naming the host."""
        lost_since, delay = None, 0.2
        while True:
            conn = None
            try:
                async with self.channels:
                    conn = await self.connection()
                    return await asyncio.wait_for(operation(conn), timeout_s)
            except HostKeyRejected:
                raise
            except LINK_ERRORS as exc:
                self.drop(conn)
                now = time.monotonic()
                lost_since = lost_since or now
                left = grace_s - (now - lost_since)
                if left <= 0:
                    raise JobLost(f"ssh link to {self.name} lost: {str(exc) or type(exc).__name__}") from exc
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, 5.0)

    async def run(self, script: str, grace_s: float, stdin: str | None = None) -> str:
        """A remote command's stripped stdout; a failing command raises `RuntimeError`."""

        async def operation(conn: asyncssh.SSHClientConnection) -> str:
            result = await conn.run(script, input=stdin, check=False)
            if result.exit_status is None and result.exit_signal is None:
                raise asyncssh.ConnectionLost("the command ended without a status")
            if result.exit_status != 0:
                raise RuntimeError(f"on {self.name}: {script!r} failed: {str(result.stderr).strip()[-500:]}")
            return str(result.stdout).strip()

        return await self.call(operation, grace_s)

    async def upload_inputs(self, local: Path, remote: str, grace_s: float) -> None:
        """Make `remote` a copy of `local` unless it is there already: the files the host lacks are
        sent once into the inputs root's `.files/`, the copy is built of hard links to them in a
        partial dir, then renamed (see `ssh_inputs`)."""
        lock = self._uploads.setdefault(remote, asyncio.Lock())
        async with lock:

            async def present(conn: asyncssh.SSHClientConnection) -> bool:
                sftp = await self.sftp(conn)
                if await sftp.isdir(remote):
                    await self.touch_inputs(sftp, remote)
                    return True
                return False

            if not await self.call(present, grace_s):
                entries, local_files = await asyncio.to_thread(manifest, local)
                staging = f"{remote}.partial-{uuid.uuid4().hex[:8]}"
                files = posixpath.join(posixpath.dirname(remote), FILES)
                build = link_command(self.host.python, staging, files)
                missing = (await self.run(build, grace_s, stdin=manifest_text(entries))).split()
                if missing:

                    async def send(conn: asyncssh.SSHClientConnection) -> int:
                        return await send_files(await self.sftp(conn), local_files, missing, files)

                    self.files_sent += await self.call(send, grace_s, timeout_s=None)
                    still = (await self.run(build, grace_s, stdin=manifest_text(entries))).split()
                    if still:
                        raise RuntimeError(
                            f"on {self.name}: {len(still)} input files vanished while {remote} was built"
                        )
                await self.run(remote_script(PUBLISH_INPUTS, staging=staging, inputs=remote), grace_s)
        self.sweep_inputs_soon(posixpath.dirname(remote))

    async def touch_inputs(self, sftp: asyncssh.SFTPClient, remote: str) -> None:
        """Mark the inputs copy at `remote` as used now (at most every few minutes), so sweeps keep it."""
        every = min(TOUCH_EVERY_S, self.host.inputs_keep_s / 4)
        if time.monotonic() - self._touched.get(remote, -every) >= every:
            await sftp.utime(remote)
            self._touched[remote] = time.monotonic()

    def sweep_inputs_soon(self, inputs_root: str) -> None:
        """Start sweeping the unused inputs copies under `inputs_root` in the background, unless this
        link swept them within the hour; the copies kept are those a job links to or used lately."""
        now = time.monotonic()
        if now - self._swept.get(inputs_root, -SWEEP_EVERY_S) < SWEEP_EVERY_S:
            return
        self._swept[inputs_root] = now
        task = asyncio.get_running_loop().create_task(self.sweep_inputs(inputs_root))
        self._sweeps.add(task)
        task.add_done_callback(self._sweeps.discard)

    async def sweep_inputs(self, inputs_root: str) -> list[str]:
        """Remove the inputs copies under `inputs_root` that no job needs (see SWEEP_INPUTS); their
        names. A sweep that fails is logged and tried again an hour later."""
        script = remote_script(
            SWEEP_INPUTS,
            inputs=inputs_root,
            root=posixpath.dirname(inputs_root),
            minutes=str(math.ceil(self.host.inputs_keep_s / 60)),
            stale=str(STALE_UPLOAD_MINUTES),
        )
        try:
            removed = (await self.run(script, grace_s=0)).split()
        except (TimeoutError, JobLost, RuntimeError) as exc:
            log.warning("inputs sweep failed", host=self.name, inputs=inputs_root, error=str(exc))
            return []
        if removed:
            log.info("inputs swept", host=self.name, inputs=inputs_root, removed=len(removed))
        return removed
