"""A real JetStream cluster on loopback: three (or more) nats-servers routed to each other, for the
cluster tests and benchmarks. Each server is started and stopped by PID, can be SIGKILLed and
restarted on the same ports and store, and the cluster can say which server leads a stream, a
consumer or the JetStream meta group."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airad.daemon.nats_server import nats_server_binary


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports of 127.0.0.1."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class ClusterNode:
    """One nats-server of the cluster: its name, client, route and monitoring ports, and its store."""

    def __init__(self, name: str, port: int, route_port: int, http_port: int, root: Path):
        self.name = name
        self.port = port
        self.route_port = route_port
        self.http_port = http_port
        self.dir = root / name
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The node's client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, routes: list[str]) -> None:
        """Start the server (its store kept across restarts)."""
        (self.dir / "store").mkdir(parents=True, exist_ok=True)
        log = open(self.dir / "server.log", "ab")
        command = [
            nats_server_binary(),
            "-js",
            "-sd", str(self.dir / "store"),
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-m", str(self.http_port),
            "-n", self.name,
            "--cluster_name", "airad-test",
            "--cluster", f"nats://127.0.0.1:{self.route_port}",
            "--routes", ",".join(routes),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()

    def alive(self) -> bool:
        """Whether the server process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if not self.alive():
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def monitor(self, endpoint: str) -> dict:
        """A monitoring endpoint's JSON (`jsz?consumers=true`, `varz`, ...)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/{endpoint}", timeout=5) as reply:
            return json.loads(reply.read())


class NatsCluster:
    """`size` nats-servers with JetStream, routed as one cluster on loopback."""

    def __init__(self, root: Path, size: int = 3):
        ports = free_ports(3 * size)
        self.nodes = [
            ClusterNode(f"n{i + 1}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], Path(root)) for i in range(size)
        ]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated, as airad's --nats takes them."""
        return ",".join(node.url for node in self.nodes)

    def routes(self) -> list[str]:
        """The route URLs of every node."""
        return [f"nats://127.0.0.1:{node.route_port}" for node in self.nodes]

    def start(self, timeout_s: float = 60.0) -> NatsCluster:
        """Start every node and wait until JetStream has a meta leader."""
        for node in self.nodes:
            node.start(self.routes())
        self.wait_ready(timeout_s)
        return self

    def node(self, name: str) -> ClusterNode:
        """The node called `name`."""
        return next(node for node in self.nodes if node.name == name)

    def restart(self, node: ClusterNode, timeout_s: float = 60.0) -> None:
        """Start a stopped node again, on its ports and store, and wait for the cluster to be whole."""
        node.start(self.routes())
        self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until every live node answers and agrees on a meta leader."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.meta_leader() is not None and all(self._answers(node) for node in self.nodes if node.alive()):
                return
            time.sleep(0.2)
        raise TimeoutError(f"the NATS cluster had no JetStream meta leader within {timeout_s}s")

    def _answers(self, node: ClusterNode) -> bool:
        try:
            return bool(node.monitor("healthz?js-enabled-only=true"))
        except OSError:
            return False

    def _jsz(self, **query: str) -> Iterator[dict]:
        """`jsz` of every live node that answers."""
        suffix = "&".join(f"{key}={value}" for key, value in query.items())
        for node in self.nodes:
            if not node.alive():
                continue
            try:
                yield node.monitor(f"jsz?{suffix}")
            except OSError:
                continue

    def meta_leader(self) -> str | None:
        """The name of the JetStream meta group's leader, as a live node sees it."""
        for jsz in self._jsz():
            leader = (jsz.get("meta_cluster") or {}).get("leader")
            if leader:
                return leader
        return None

    def stream_leader(self, stream: str) -> str | None:
        """The name of the node leading `stream`."""
        for jsz in self._jsz(streams="true"):
            for account in jsz.get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    if detail["name"] == stream and (detail.get("cluster") or {}).get("leader"):
                        return detail["cluster"]["leader"]
        return None

    def consumer_leader(self, stream: str, consumer: str) -> str | None:
        """The name of the node leading `consumer` of `stream`."""
        for jsz in self._jsz(consumers="true"):
            for account in jsz.get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    if detail["name"] != stream:
                        continue
                    for info in detail.get("consumer_detail") or []:
                        if info["name"] == consumer and (info.get("cluster") or {}).get("leader"):
                            return info["cluster"]["leader"]
        return None

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


@contextmanager
def nats_cluster(root: Path, size: int = 3) -> Iterator[NatsCluster]:
    """A started cluster, stopped on the way out."""
    cluster = NatsCluster(root, size)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
