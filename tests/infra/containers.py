"""Private container engines for tests and benchmarks: a `dockerd` and a `podman system service`,
each with its own state under a fresh dir in /tmp, its Docker API on a unix socket there, stopped by
PID; and a small test image that borrows the host's /usr (read-only binds) so jobs start instantly.

Plain functions and context managers, so a benchmark can use them too; the pytest fixtures at the
end wrap them for one test session.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import pytest

from airad.executors.config import ContainerBackend
from tests.conftest import require

HOST_IMAGE = "airad-host:test"
HOST_BINDS = ("/usr",)
START_TIMEOUT_S = 60.0

PODMAN_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{root}/events.log"
tmp_dir = "{root}/tmp"

[network]
network_config_dir = "{root}/networks"
"""

STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{root}/storage"
runroot = "{root}/run"
"""


@dataclass
class Engine:
    """A running private container engine: `url` is its Docker API, `root` holds all its state."""

    kind: str
    url: str
    root: Path
    process: subprocess.Popen

    @property
    def socket_path(self) -> str:
        """The engine's API socket."""
        return self.url.removeprefix("unix://")


def short_root(kind: str) -> Path:
    """A fresh dir with a short path: unix sockets (the API's, containerd's, conmon's) live below it,
    and a socket path may not exceed 107 bytes."""
    return Path(tempfile.mkdtemp(prefix=f"airad-{kind}-", dir="/tmp"))


def start_dockerd(dockerd: str = "dockerd") -> Engine:
    """A private dockerd with no bridge and no iptables rules, running its own containerd."""
    root = short_root("dk")
    (root / "daemon.json").write_text("{}\n")
    namespace = "".join(c for c in root.name if c.isalnum())
    argv = [
        dockerd, "--bridge=none", "--iptables=false", "--log-level=warn",
        "--host", f"unix://{root}/docker.sock", "--config-file", str(root / "daemon.json"),
        "--data-root", str(root / "data"), "--exec-root", str(root / "x"), "--pidfile", str(root / "dockerd.pid"),
        "--containerd-namespace", namespace, "--containerd-plugins-namespace", f"{namespace}-plugins",
    ]
    return launch("dockerd", argv, root, os.environ.copy())


def start_podman(podman: str = "podman") -> Engine:
    """A private `podman system service` (Docker-compatible API) with its own storage and runroot."""
    root = short_root("pm")
    for name in ("tmp", "networks", "storage", "run"):
        (root / name).mkdir()
    (root / "containers.conf").write_text(PODMAN_CONF.format(root=root))
    (root / "storage.conf").write_text(STORAGE_CONF.format(root=root))
    env = {**os.environ, "CONTAINERS_CONF": str(root / "containers.conf"), "CONTAINERS_STORAGE_CONF": str(root / "storage.conf")}
    argv = [podman, "--log-level=warn", "system", "service", "--time=0", f"unix://{root}/podman.sock"]
    return launch("podman", argv, root, env)


def launch(kind: str, argv: list[str], root: Path, env: dict[str, str]) -> Engine:
    """Start an engine process (its log in `root/engine.log`) and wait until its API answers. It runs
    in `root`: podman's conmon writes an `oom` marker file into its working dir."""
    socket_name = "docker.sock" if kind == "dockerd" else "podman.sock"
    with open(root / "engine.log", "wb") as log:
        process = subprocess.Popen(argv, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    engine = Engine(kind, f"unix://{root}/{socket_name}", root, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ping(engine.socket_path):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(engine)
            log_tail = (root / "engine.log").read_text(errors="replace")[-3000:] if root.exists() else ""
            raise RuntimeError(f"{kind} did not start:\n{log_tail}")
        time.sleep(0.2)
    return engine


def ping(socket_path: str) -> bool:
    """Whether a Docker API answers `/_ping` on the socket."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(socket_path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: engine\r\n\r\n")
            return b" 200 " in sock.recv(1024).split(b"\r\n", 1)[0]
    except OSError:
        return False


def stop(engine: Engine) -> None:
    """Remove the engine's containers, stop it by PID (SIGTERM, then SIGKILL), and delete its state."""
    if engine.process.poll() is None and ping(engine.socket_path):
        try:
            asyncio.run(remove_containers(engine.url))
        except (aiodocker.DockerError, OSError):
            pass
    if engine.process.poll() is None:
        engine.process.send_signal(signal.SIGTERM)
        try:
            engine.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            engine.process.kill()
            engine.process.wait()
    unmount_below(engine.root)
    shutil.rmtree(engine.root, ignore_errors=True)


async def remove_containers(url: str) -> None:
    """Force-remove every container of the engine."""
    async with aiodocker.Docker(url=url) as docker:
        for container in await docker.containers.list(all=True):
            await container.delete(force=True, v=True)


def unmount_below(root: Path) -> None:
    """Lazily unmount whatever an engine left mounted under `root`, deepest first, so deleting
    `root` cannot reach through a mount."""
    prefix = f"{root}/"
    with open("/proc/self/mounts") as mounts:
        targets = [line.split()[1] for line in mounts]
    for target in sorted((t for t in targets if t.startswith(prefix) or t == str(root)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


@contextmanager
def running(engine: Engine) -> Iterator[Engine]:
    """Yield the engine, stopping it afterwards."""
    try:
        yield engine
    finally:
        stop(engine)


def host_image_tar() -> bytes:
    """A root filesystem of empty mount points and merged-/usr links: with the host's /usr bound
    read-only it runs the host's python3. /root is enterable: jobs run as an unprivileged uid, and
    an interpreter bound in may live below it (pyenv's)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, mode in (("usr", 0o755), ("work", 0o755), ("etc", 0o755), ("root", 0o755), ("tmp", 0o1777),
                           ("proc", 0o555), ("sys", 0o555), ("dev", 0o755)):
            entry = tarfile.TarInfo(name)
            entry.type, entry.mode = tarfile.DIRTYPE, mode
            tar.addfile(entry)
        for name in ("bin", "sbin", "lib", "lib64"):
            entry = tarfile.TarInfo(name)
            entry.type, entry.linkname = tarfile.SYMTYPE, f"usr/{name}"
            tar.addfile(entry)
    return buffer.getvalue()


async def import_image(url: str, tar: bytes, tag: str) -> None:
    """`docker import` through the API: a root filesystem tar becomes image `tag`."""
    async with aiodocker.Docker(url=url) as docker:
        async with docker._query(
            "images/create", "POST", params={"fromSrc": "-", "repo": tag},
            data=tar, headers={"Content-Type": "application/x-tar"},
        ) as response:
            reply = await response.read()
        if b'"error' in reply:
            raise RuntimeError(f"import of {tag} failed: {reply[-500:]!r}")
        await docker.images.inspect(tag)


def host_backend(url: str, tag: str = HOST_IMAGE) -> ContainerBackend:
    """Import the host-borrowing test image into the engine at `url`; the backend that runs jobs
    in it."""
    asyncio.run(import_image(url, host_image_tar(), tag))
    return ContainerBackend(url=url, image=tag, python="python3", ro_binds=HOST_BINDS)


@pytest.fixture(scope="session")
def dockerd_engine() -> Iterator[Engine]:
    """A private dockerd for the test session."""
    require("runc")
    with running(start_dockerd(require("dockerd"))) as engine:
        yield engine


@pytest.fixture(scope="session")
def podman_engine() -> Iterator[Engine]:
    """A private podman API service for the test session."""
    require("runc")
    with running(start_podman(require("podman"))) as engine:
        yield engine


@pytest.fixture(scope="session")
def dockerd_backend(dockerd_engine: Engine) -> ContainerBackend:
    """The session dockerd with the host-borrowing test image."""
    return host_backend(dockerd_engine.url)


@pytest.fixture(scope="session")
def podman_backend(podman_engine: Engine) -> ContainerBackend:
    """The session podman service with the host-borrowing test image."""
    return host_backend(podman_engine.url)
