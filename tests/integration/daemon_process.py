"""Start `airad daemon` as a real subprocess and read a run's events with plain nats-py."""

from __future__ import annotations

import json
import os
import pwd
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats

TERMINAL = {"run.finished", "run.rejected"}


class DaemonProcess:
    """`airad daemon --nats URL` in its own process group, with its log in the state dir."""

    def __init__(
        self, nats_url: str, state_dir: Path, lease_ttl_s: float = 2.0, env: dict[str, str] | None = None,
        user: str | None = None, cgroups: list[str] = (),
    ):
        """`user`: run the daemon as that user (this process must be root; see `as_user`);
        `cgroups`: start it in these cgroups (`delegated_cgroups`)."""
        self.nats_url = nats_url
        self.user = user
        self.cgroups = list(cgroups)
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
        command = [sys.executable, "-m", "airad.cli", "--nats", self.nats_url, "daemon"]
        command = as_user(self.user) + command if self.user else command
        if self.cgroups:
            join = "".join(f"echo $$ > {shlex.quote(path)}/cgroup.procs && " for path in self.cgroups)
            command = ["sh", "-c", join + 'exec "$@"', "sh", *command]
        self.process = subprocess.Popen(
            command,
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> "DaemonProcess":
        """Block until the daemon logs `daemon.ready` (its intake is pulling requests)."""
        deadline = time.monotonic() + timeout_s
        while "daemon.ready" not in self.log_text():
            assert self.alive(), self.log_text()[-3000:]
            assert time.monotonic() < deadline, f"the daemon was not ready within {timeout_s:g}s"
            time.sleep(0.1)
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
        self.terminate()
        return self.wait_stopped()

    def terminate(self) -> None:
        """SIGTERM, without waiting (`wait_stopped` waits)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout_s: float = 20.0) -> int | None:
        """Wait for the exit after `terminate`, SIGKILLing at the timeout; returns the exit code."""
        if self.process and self.process.poll() is None:
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def stop_all(daemons: "list[DaemonProcess]") -> None:
    """Stop every daemon as `stop` does, SIGTERMing all before waiting for any: a daemon takes
    seconds to exit (the interpreter's teardown of litellm's modules), and these overlap."""
    for daemon in daemons:
        daemon.terminate()
    for daemon in daemons:
        daemon.wait_stopped()


def as_user(user: str) -> list[str]:
    """The argv prefix that runs a command as `user` (its uid, gid and groups; no capabilities), from
    root. Where this interpreter lives below a dir the user may not enter (pyenv's under /root), the
    command runs in a private mount namespace with an open tmpfs over that dir and the interpreter's
    prefix bound back in: the host's own mounts and modes are left as they are."""
    entry = pwd.getpwnam(user)
    drop = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--inh-caps=-all", "--"]
    prefix = Path(sys.base_prefix).resolve()
    closed = next((d for d in reversed(prefix.parents) if d != Path("/") and not d.stat().st_mode & 0o001), None)
    if closed is None:
        return drop
    script = (
        'set -e; hold=$(mktemp -d); mount --rbind "$1" "$hold"; mount -t tmpfs -o mode=0755 airad-test "$2"; '
        'mkdir -p "$1"; mount --move "$hold" "$1"; rmdir "$hold"; shift 2; exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", str(prefix), str(closed), *drop]


@contextmanager
def delegated_cgroups(user: str, name: str) -> Iterator[list[str]]:
    """Cgroups handed over to `user` as systemd's `Delegate=yes` hands a service its subtree: made
    below this process's own, owned by the user, so a daemon started in them (`DaemonProcess(cgroups=
    ...)`) may make a cgroup per job. Yields the dirs to start it in: one per controller on cgroup v1,
    a leaf of the subtree on v2; none where this host has no cgroup to hand out."""
    from airad.executors.sandbox_launch import cgroup_facts

    entry = pwd.getpwnam(user)
    facts = cgroup_facts(name)
    if facts["version"] == 1:
        tops, join = list(facts["base"].values()), list(facts["base"].values())
    elif facts["version"] == 2:
        tops, join = [facts["base"]], [os.path.join(facts["base"], "daemon")]
        os.makedirs(join[0], exist_ok=True)
    else:
        tops, join = [], []
    for top in tops:
        for parent, dirs, files in os.walk(top):
            for path in [parent, *(os.path.join(parent, f) for f in files if f.startswith(("cgroup.", "memory.", "pids.", "cpu.")))]:
                os.chown(path, entry.pw_uid, entry.pw_gid)
    try:
        yield join
    finally:
        for top in tops:
            for parent, dirs, _ in sorted(os.walk(top), key=lambda item: -item[0].count("/")):
                try:
                    pids = Path(parent, "cgroup.procs").read_text().split()
                    for pid in pids:
                        os.kill(int(pid), signal.SIGKILL)
                    if pids:  # a cgroup with processes in it cannot be removed until they are gone
                        time.sleep(0.2)
                    os.rmdir(parent)
                except OSError:
                    pass


async def publish_raw(nats_url: str, payload: bytes, subject: str = "airad.requests") -> int:
    """Publish bytes on airad.requests (or `subject`) with plain nats-py; returns the stream sequence."""
    nc = await nats.connect(servers=nats_url.split(","))
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
    nc = await nats.connect(servers=nats_url.split(","))
    events: list[dict] = []
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout_s
        sub = None
        while sub is None:
            try:
                sub = await js.subscribe(f"{prefix}{run_id}", ordered_consumer=True)
            except (nats.js.errors.NotFoundError, nats.errors.TimeoutError):  # not yet; or a NATS leader electing
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
