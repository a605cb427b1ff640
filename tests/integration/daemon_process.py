"""Start `airad daemon` as a real subprocess and read a run's events with plain nats-py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats

TERMINAL = {"run.finished", "run.rejected"}


class DaemonProcess:
    """`airad daemon --nats URL` in its own process group, with its log in the state dir."""

    def __init__(self, nats_url: str, state_dir: Path, lease_ttl_s: float = 2.0, env: dict[str, str] | None = None):
        self.nats_url = nats_url
        self.extra_env = env or {}
        self.state_dir = state_dir
        self.lease_ttl_s = lease_ttl_s
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> "DaemonProcess":
        self.starts += 1
        env = {
            **os.environ,
            "AIRAD_STATE_DIR": str(self.state_dir),
            "AIRAD_LEASE_TTL_S": str(self.lease_ttl_s),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.state_dir / f"daemon-{os.getpid()}-{id(self)}-{self.starts}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airad.cli", "--nats", self.nats_url, "daemon"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        return self

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.state_dir.glob("daemon-*.log")))

    def kill(self) -> None:
        """SIGKILL the whole process group, like a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


async def publish_raw(nats_url: str, payload: bytes, subject: str = "airad.requests") -> int:
    """Publish bytes on airad.requests (or `subject`) with plain nats-py; returns the stream sequence."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for _ in range(100):
            try:
                ack = await js.publish(subject, payload)
                return ack.seq
            except nats.js.errors.NoStreamResponseError:
                await _sleep(0.1)
        raise RuntimeError("AIRAD_REQUESTS stream never appeared")
    finally:
        await nc.close()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def run_events(
    nats_url: str, run_id: str, *, until=None, timeout_s: float = 180.0, prefix: str = "airad.events."
) -> list[dict]:
    """The run's events as JSON dicts, read with a plain JetStream subscription, until `until(events)`
    (default: a terminal event) or the timeout. `prefix="airad.experiment-events."` reads an experiment's."""
    until = until or (lambda events: bool(events) and events[-1]["type"] in TERMINAL)
    nc = await nats.connect(nats_url)
    events: list[dict] = []
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout_s
        sub = None
        while sub is None:
            try:
                sub = await js.subscribe(f"{prefix}{run_id}", ordered_consumer=True)
            except nats.js.errors.NotFoundError:
                if time.monotonic() > deadline:
                    raise
                await _sleep(0.1)
        while not until(events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"run {run_id}: gave up after {timeout_s}s with {[e['type'] for e in events]}")
            try:
                message = await sub.next_msg(timeout=min(remaining, 5.0))
            except nats.errors.TimeoutError:
                continue
            events.append(json.loads(message.data))
        await sub.unsubscribe()
        return events
    finally:
        await nc.close()
