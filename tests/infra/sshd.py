"""A private OpenSSH server on a loopback port, for integration tests and benchmarks.

`Sshd` generates its own host key, a fresh client key allowed to log in as the current user, and a
known-hosts file that trusts the host key; it starts `sshd -D` on a free port of 127.0.0.1 and stops
it by PID, per-connection children included. `sshd_server` is the same thing as a context manager,
and the `sshd` fixture hands one to a test.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncssh
import pytest

from airad.executors.config import SshHost

SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""


def sshd_binary() -> str | None:
    """The sshd binary (it is often outside a plain user's PATH)."""
    return shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd",) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_key(path: Path) -> asyncssh.SSHKey:
    """A fresh ed25519 key, private half at `path` (mode 0600)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(path))
    path.chmod(0o600)
    return key


def sshd_descendants(pid: int) -> list[int]:
    """The sshd processes below `pid` (one or two per connection). The commands they run are left to
    end as they would on a real link loss: SIGKILLing a login shell halfway through its startup files
    can leave their locks behind (pyenv's rehash lock stalls every later login for a minute)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            ppid = int(text.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        child = int(stat.parent.name)
        children.setdefault(ppid, []).append(child)
        names[child] = text[text.find("(") + 1:text.rfind(")")]
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop(0)
        if names.get(child) == "sshd":
            found.append(child)
            queue.extend(children.get(child, []))
    return found


def kill_all(pids: list[int]) -> None:
    """SIGKILL each pid that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Sshd:
    """One private sshd: its files under `directory`, its port fixed for its whole life, so a
    restart comes back where clients expect it."""

    def __init__(self, directory: Path, port: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.binary = sshd_binary()
        self.process: subprocess.Popen | None = None
        self.log = self.directory / "sshd.log"
        self.client_key = self.directory / "client_key"
        self.known_hosts = self.directory / "known_hosts"
        host_key = write_key(self.directory / "host_key")
        client = write_key(self.client_key)
        (self.directory / "authorized_keys").write_bytes(client.export_public_key())
        self.known_hosts.write_bytes(f"[127.0.0.1]:{self.port} ".encode() + host_key.export_public_key())
        self.config = self.directory / "sshd_config"
        self.config.write_text(SSHD_CONFIG.format(port=self.port, dir=self.directory))

    @property
    def name(self) -> str:
        """How clients address it, as `host:port`."""
        return f"127.0.0.1:{self.port}"

    def host(self, **fields) -> SshHost:
        """An `SshHost` that logs in here with the client key and checks the host key."""
        values = dict(
            address="127.0.0.1", port=self.port, user=getpass.getuser(),
            key_file=str(self.client_key), known_hosts=str(self.known_hosts),
        )
        return SshHost(**{**values, **fields})

    def start(self, timeout_s: float = 10.0) -> None:
        """Start sshd and wait until it greets on its port."""
        if self.binary is None:
            raise RuntimeError("sshd is not installed (apt-get install openssh-server)")
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "-D", "-f", str(self.config), "-E", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not self._greets():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sshd on port {self.port} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                return probe.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def drop_connections(self) -> None:
        """Kill every per-connection sshd process; the listener stays up."""
        if self.process is not None:
            kill_all(sshd_descendants(self.process.pid))

    def stop(self) -> None:
        """Stop the listener and every connection it served."""
        if self.process is None:
            return
        children = sshd_descendants(self.process.pid)
        self.process.kill()
        self.process.wait()
        kill_all(children)
        self.process = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down for `down_s`, start again on the same port with the same keys."""
        self.stop()
        time.sleep(down_s)
        self.start()


@contextmanager
def sshd_server(directory: Path | None = None, port: int | None = None) -> Iterator[Sshd]:
    """A running `Sshd` for the life of the block; its files in `directory`, or in a temporary dir
    removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="airad-sshd-") as scratch:
        server = Sshd(Path(directory or scratch), port)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def require_sshd() -> None:
    """Fail under CI, skip elsewhere, when sshd is not installed."""
    from tests.conftest import require

    if sshd_binary() is None:
        require("sshd")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """A private sshd for one test."""
    require_sshd()
    with sshd_server(tmp_path / "sshd") as server:
        yield server
