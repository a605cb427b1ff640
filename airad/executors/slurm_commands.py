"""Where the Slurm executor's commands run: on this host, or over SSH on the cluster's login node.

Both places offer the same small interface: run an argv (with bytes on stdin, getting bytes back) and
make a local inputs dir visible to the cluster. Job dirs are written and read as tar streams through
`run`, so one code path stages and collects jobs wherever the commands run; a job's output files,
which a tar would read through a linked dir, are read by `output_files` run with `python`.
"""

from __future__ import annotations

import asyncio
import io
import posixpath
import shlex
import sys
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol, cast

import asyncssh

from airad.executors import job_script, output_files
from airad.executors.base import refused_output_note
from airad.executors.config import SshHost
from airad.executors.ssh_link import SshLink, inputs_digest

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
MISSING_DIR_STATUS = 3
WRITE_TREE = 'mkdir -p "$1" && exec tar -x -f - --no-same-owner -m -C "$1"'
READ_TREE = f'cd "$1" 2>/dev/null || exit {MISSING_DIR_STATUS}; shift; exec tar -c -f - --ignore-failed-read -- "$@"'


class Completed(NamedTuple):
    """A finished command: its exit status and what it printed."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def error(self) -> str:
        """The end of stderr, as text for an error message."""
        return self.stderr.decode(errors="replace").strip()[-500:]


class Commands(Protocol):
    """Runs commands where the Slurm client tools and the job dirs are, where `python` is a Python 3."""

    python: str

    async def run(self, argv: Sequence[str], stdin: bytes = b"") -> Completed:
        """Run `argv` to its end."""
        ...

    async def inputs_path(self, inputs: Path) -> str:
        """The path at which the cluster sees the local dir `inputs`."""
        ...

    async def close(self) -> None:
        """Let go of any connection."""
        ...


class LocalCommands:
    """Commands run on this host (the Slurm tools and the job dirs' filesystem are here) with `env`
    over a default PATH."""

    def __init__(self, env: Mapping[str, str]):
        self.env = {"PATH": DEFAULT_PATH, **env}
        self.python = sys.executable

    async def run(self, argv: Sequence[str], stdin: bytes = b"") -> Completed:
        """Run `argv` as a subprocess."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate(stdin)
        assert process.returncode is not None, "communicate() waited for the process"
        return Completed(process.returncode, stdout, stderr)

    async def inputs_path(self, inputs: Path) -> str:
        """The dir itself: this host shares its filesystem with the compute nodes."""
        return str(inputs.resolve())

    async def close(self) -> None:
        """Nothing to close."""


class SshCommands:
    """Commands run on a login node over SSH, with `env` set in front of each; inputs are uploaded once
    per content digest to `<root>/inputs/`."""

    def __init__(self, host: SshHost, root: str, env: Mapping[str, str]):
        self.link = SshLink(host)
        self.root = root
        self.python = host.python
        self.prefix = ["env", *(f"{key}={value}" for key, value in sorted(env.items()))] if env else []

    async def run(self, argv: Sequence[str], stdin: bytes = b"") -> Completed:
        """Run `argv` on the login node, redialling a dropped link for the host's grace time."""
        command = shlex.join([*self.prefix, *argv])

        async def operation(conn: asyncssh.SSHClientConnection) -> Completed:
            result = await conn.run(command, input=stdin, encoding=None, check=False)
            if result.exit_status is None and result.exit_signal is None:
                raise asyncssh.ConnectionLost("the command ended without a status")
            return Completed(
                result.exit_status if result.exit_status is not None else 255,
                cast(bytes, result.stdout or b""),
                cast(bytes, result.stderr or b""),
            )

        return await self.link.call(operation, self.link.host.link_grace_s, timeout_s=None)

    async def inputs_path(self, inputs: Path) -> str:
        """Upload `inputs` to the login node's filesystem unless an identical copy is there."""
        inputs = inputs.resolve()
        digest = await asyncio.to_thread(inputs_digest, inputs) if inputs.is_dir() else "empty"
        remote = posixpath.join(self.root, "inputs", digest)
        await self.link.upload_inputs(inputs, remote, self.link.host.link_grace_s)
        return remote

    async def close(self) -> None:
        """Close the SSH connection."""
        await self.link.close()


def pack(files: Mapping[str, bytes], dirs: Sequence[str] = (), links: Mapping[str, str] = {}) -> bytes:
    """A tar stream of `files` (relative path → bytes), empty `dirs` and symlinks (`links`: path → target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


async def write_tree(commands: Commands, directory: str, stream: bytes) -> None:
    """Create `directory` and unpack the tar `stream` into it."""
    done = await commands.run(["sh", "-c", WRITE_TREE, "sh", directory], stdin=stream)
    if done.returncode != 0:
        raise RuntimeError(f"cannot write job dir {directory}: {done.error}")


async def read_tree(
    commands: Commands,
    directory: str,
    names: Sequence[str],
    capped: Sequence[str] = (),
) -> dict[str, bytes] | None:
    """The regular files among `names` (relative to `directory`) that exist, or None if the dir is gone.
    Files in `capped` (a job's stdout and stderr) are first cut to their head and tail where they are
    (`job_script.read_capped`), so gigabytes never cross over. Not for a job's outputs: tar follows
    a link in the middle of a path (`read_outputs`)."""
    prelude = job_script.cap_in_place_sh(capped) if capped else ""
    script = READ_TREE.replace("shift; ", "shift; " + prelude, 1)
    done = await commands.run(["sh", "-c", script, "sh", directory, *names])
    if done.returncode == MISSING_DIR_STATUS:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"cannot read job dir {directory}: {done.error}")
    found = {}
    with tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r") as tar:
        for member in tar:
            if member.isfile():
                data = tar.extractfile(member)
                assert data is not None, "a regular file's member has data"
                found[member.name] = data.read()
    return found


async def read_outputs(
    commands: Commands,
    work: str,
    names: Sequence[str],
    limit: int,
) -> tuple[dict[str, bytes], bytes]:
    """A job's output files `names` under its `work` dir, read where the commands run by
    `output_files` (no link followed, nothing over `limit` bytes), and the notes for those refused."""
    if not names:
        return {}, b""
    done = await commands.run(output_files.read_command(commands.python, work, limit, list(names)))
    if done.returncode != 0:
        raise RuntimeError(f"cannot read the outputs in {work}: {done.error}")
    try:
        found = output_files.parse_read_output(done.stdout)
    except ValueError as exc:
        raise RuntimeError(f"cannot read the outputs in {work}: {exc}; {done.error}") from None
    outputs = {name: data for name, data in found.items() if isinstance(data, bytes)}
    notes = b"".join(refused_output_note(name, reason) for name, reason in found.items() if isinstance(reason, str))
    return outputs, notes
