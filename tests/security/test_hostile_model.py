"""The hostile-model suite (security issue 15): a model turned against the daemon. A scripted
OpenAI-compatible server answers each node's code prompt with the next attack of
`tests/security/hostile/attacks.py`; a real `airad daemon` runs them one node each, on the local
executor (bubblewrap) and on the container executor (a private dockerd), once as root and once as
an unprivileged system user.

Every attack must fail and its node record why (the script's `BLOCKED` lines, or the executor's
`oom` / `killed` outcome, or the harness's refusal of a linked submission); the daemon survives and
runs the next node; afterwards the secret planted in the daemon's environment, in ~/.ssh and in a
hidden dir is nowhere in the state dir, the JetStream store or the logs; nothing reached the
listeners the test opened; no process a job left behind is running; nothing a job wrote landed on
the host. The test lists every attack that got through and fails.

Resource limits are asked in the request's executor table: `memory_mb`, and `disk_mb` / `processes`
where the schema has them (`LIMITS`, added when `JobResources` declares the field).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest

from airad.client import Client, RunNotFound
from airad.executors.config import ContainerBackend
from airad.schemas.events import NodeDispatched, NodeExecuted, NodeGenerated
from airad.schemas.request import JobResources
from tests.conftest import missing, require
from tests.infra.containers import HOST_BINDS, host_image_tar, import_image
from tests.integration.daemon_process import DaemonProcess, delegated_cgroups
from tests.openai_server import ok, openai_server  # noqa: F401  (a fixture)
from tests.security.hostile import attacks as A
from tests.security.hostile.host import (
    HOSTILE_IMAGE, DaemonHome, EngineAccess, Listeners, Secrets, ensure_user, files_holding, kill,
    processes_with, python_dirs, site_packages,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

NODE_TIMEOUT_S = 30
MEMORY_MB = 512  # the interpreter with pandas and scikit-learn needs ~300 MB of address space under `ulimit -v`
LIMITS = {"disk_mb": 200, "processes": 256}  # sent only when the request schema has the field
RUN_TIMEOUT_S = 330
OUTPUT_CAP = 2 * 1024 * 1024  # stdout/stderr past this come back as head + marker + tail
SPARE = "Plan: nothing more to try.\n\n```python\nprint('spare node')\n```\n"
SUBMISSION = "submission/submission.csv"


def executor_table(kind: str) -> tuple[dict, dict[str, int]]:
    """The request's executor table, and the limits in it that the schema knows."""
    limits = {name: value for name, value in LIMITS.items() if name in JobResources.__struct_fields__}
    return {"kind": kind, "node_timeout_s": NODE_TIMEOUT_S, "cpus": 1, "memory_mb": MEMORY_MB, **limits}, limits


def privilege_user(privilege: str):
    """None to run the daemon as this process (root), else the unprivileged system user."""
    if privilege == "root":
        if os.geteuid() != 0:
            missing("the root variant needs the tests to run as root (the user variant runs as this user)")
        return None
    if os.geteuid() != 0:
        print(f"hostile-model: not root, so the unprivileged variant runs the daemon as this user (uid {os.geteuid()})")
        return None
    require("setpriv")
    require("unshare")
    require("useradd")
    return ensure_user()


@pytest.mark.parametrize("privilege", ["root", "user"])
async def test_hostile_model_on_the_local_executor(privilege, openai_server, nats_url, tmp_path):  # noqa: F811
    require("bwrap")
    user = privilege_user(privilege)
    await hostile_run("local", user, {"AIRAD_SANDBOX": "true"}, None, openai_server, nats_url, tmp_path)


@pytest.mark.parametrize("privilege", ["root", "user"])
async def test_hostile_model_on_the_container_executor(privilege, dockerd_engine, openai_server, nats_url, tmp_path):  # noqa: F811
    user = privilege_user(privilege)
    await import_image(dockerd_engine.url, host_image_tar(), HOSTILE_IMAGE)
    backend = ContainerBackend(url=dockerd_engine.url, image=HOSTILE_IMAGE, python=str(Path(sys.executable).absolute()),
                               ro_binds=(*HOST_BINDS, *python_dirs()))
    env = {"AIRAD_CONTAINER": msgspec.json.encode(backend).decode()}
    access = EngineAccess(Path(dockerd_engine.socket_path))
    if user is not None:
        access.grant(user)
    try:
        await hostile_run("container", user, env, dockerd_engine.socket_path, openai_server, nats_url, tmp_path)
    finally:
        access.restore()


@dataclass
class NodeRecord:
    attack: str
    node: object  # the folded Node
    executed: NodeExecuted | None
    dispatched_at: float | None = None
    output: str = ""  # the whole stdout and stderr as stored (capped), not only the tails
    stdout_size: int = 0
    lines: list[dict] = field(default_factory=list)

    def verdicts(self, step: str) -> list[dict]:
        return [line for line in self.lines if line["step"] == step]

    def blocked(self, step: str) -> dict | None:
        return next((line for line in self.verdicts(step) if line["verdict"] == "BLOCKED"), None)

    def context(self) -> str:
        node = self.node
        return (f"[node {node.id} status {node.status}, exit {node.exit_code}, oom {node.oom}, killed {node.killed!r}, "
                f"timed out {node.timed_out}, failure {node.failure!r}; stderr tail: {node.stderr_tail[-400:]!r}]")


async def hostile_run(kind: str, user, daemon_env: dict, engine_socket: str | None, server, nats_url: str, tmp_path: Path) -> None:
    secrets_ = Secrets()
    home = DaemonHome.make(secrets_, user)
    listeners = Listeners((Path(f"/run/airad-hostile-{secrets_.tag}.sock"), home.base / "service.sock"))
    try:
        await listeners.start()
        await attack_and_judge(kind, user, daemon_env, engine_socket, server, nats_url, tmp_path, secrets_, home, listeners)
    finally:
        await listeners.stop()
        home.remove()


async def attack_and_judge(
    kind: str, user, daemon_env: dict, engine_socket: str | None, server, nats_url: str, tmp_path: Path,
    secrets_: Secrets, home: DaemonHome, listeners: Listeners,
) -> None:
    host_write = Path(f"/var/tmp/airad-hostile-{secrets_.tag}.txt")
    pth = Path(site_packages()) / f"airad_hostile_{secrets_.tag}.pth"
    leftover_tag = f"airad-hostile-leftover-{secrets_.tag}"
    executor, limits = executor_table(kind)
    config = A.AttackConfig(
        state_dir=str(home.state), nats_store=str(tmp_path / "nats"), home=str(home.home), marker_file=str(home.marker_file),
        hidden_dir=str(home.hidden), site_packages=site_packages(), host_write=str(host_write), pth_name=pth.name,
        leftover_tag=leftover_tag, nats_port=urlsplit(nats_url).port, loopback_port=listeners.tcp_port,
        model_port=urlsplit(server.url).port,
        unix_sockets=tuple(str(p) for p in listeners.socket_paths) + ((engine_socket,) if engine_socket else ()),
        secret_env=("OPENAI_API_KEY", "HOSTILE_MODEL_KEY", "AIRAD_HOSTILE_SECRET"), marker_pattern=secrets_.pattern,
        memory_mb=MEMORY_MB, disk_mb=limits.get("disk_mb", LIMITS["disk_mb"]),
    )
    server.queue(*(ok(A.answer(attack, config)) for attack in A.ATTACKS))
    server.default = ok(SPARE)
    run_id = f"hostile-{kind}-{'root' if user is None else 'user'}"
    request = {
        "run_id": run_id, "seed": 1, "task": {"kind": "bundled", "name": "breast-cancer"},
        "model": {"name": "openai/hostile-model", "api_base": f"{server.url}/v1", "api_key_env": "HOSTILE_MODEL_KEY", "timeout_s": 20},
        "policy": {"kind": "greedy", "num_drafts": len(A.ATTACKS), "parallel": 1},
        "operators": {"memory": "none", "diverse_drafts": False, "analyze": False},
        "budget": {"max_nodes": len(A.ATTACKS), "wall_seconds": 1800, "usd": None},
        "executor": executor,
    }
    env = {**daemon_env, **home.env(), "OPENAI_API_KEY": secrets_.secret, "HOSTILE_MODEL_KEY": secrets_.secret,
           "AIRAD_HOSTILE_SECRET": secrets_.secret}
    with contextlib.ExitStack() as stack:
        cgroups = stack.enter_context(delegated_cgroups(user.pw_name, f"airad-hostile-{secrets_.tag}")) if user is not None else []
        await judge_daemon(
            kind, user, cgroups, env, request, run_id, config, limits, listeners, home, secrets_, nats_url, tmp_path,
            host_write, pth, leftover_tag,
        )


async def judge_daemon(
    kind, user, cgroups, env, request, run_id, config, limits, listeners, home, secrets_, nats_url, tmp_path,
    host_write, pth, leftover_tag,
) -> None:
    daemon = DaemonProcess(nats_url, home.state, env=env, user=user.pw_name if user is not None else None, cgroups=cgroups)
    started = time.monotonic()
    problems: list[str] = []
    records: dict[str, NodeRecord] = {}
    try:
        daemon.start()
        async with Client(nats_url) as client:
            await client.submit(request)
            state = await wait_for_run(client, run_id, daemon)
            records = await node_records(client, run_id, state)
        if not daemon.alive():
            problems.append(f"the daemon died during the run:\n{daemon.log_text()[-3000:]}")
        if state.status != "finished":
            problems.append(f"the run ended {state.status}: {state.finish_reason} {state.finish_detail} {state.rejection}")
        await asyncio.sleep(1.0)  # a leftover has had every chance to be reaped
        leftovers = processes_with(leftover_tag.encode())
        kill([pid for pid, _ in leftovers])
        problems += judge(records, kind, limits, listeners, leftovers, host_write, pth)
        problems += rewritten_answers(home.state, records.get("root"))
    finally:
        code = daemon.stop()
        for planted in (host_write, pth):
            if planted.exists():
                problems.append(f"root: a job wrote {planted} on the host")
                planted.unlink()
        kill([pid for pid, _ in processes_with(leftover_tag.encode())])
    leaks = files_holding(secrets_.secret.encode(), [home.state, tmp_path / "nats"])
    if leaks:
        problems.append(f"the secret is on disk in the state dir / JetStream store / logs: {leaks[:10]}")
    if code not in (0, None):
        problems.append(f"the daemon exited {code} when stopped")
    seconds = time.monotonic() - started
    log_tail = daemon.log_text()[-2500:]
    print(f"hostile-model {run_id}: {len(A.ATTACKS)} attacks in {seconds:.0f} s, limits sent {limits or 'none (not in the schema)'}")
    for record in records.values():
        node = record.node
        print(f"  {record.attack}: exit {node.exit_code} oom {node.oom} killed {node.killed!r} valid {node.valid} "
              f"score {node.score} error {node.score_error[:120]!r}")
        for line in record.lines:
            print(f"    {line['step']} {line['verdict']} {line['detail'][:200]}")
    assert not problems, (
        f"{len(problems)} attack(s) or checks got through ({run_id}, {seconds:.0f} s; limits sent: {limits or 'none'}):\n- "
        + "\n- ".join(problems) + f"\n\ndaemon log tail:\n{log_tail}"
    )


async def wait_for_run(client: Client, run_id: str, daemon: DaemonProcess):
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = None
    while time.monotonic() < deadline:
        try:
            state = await client.run(run_id)
        except RunNotFound:
            state = None
        if state is not None and state.terminal:
            return state
        if not daemon.alive():
            raise AssertionError(f"the daemon died; nodes so far: {summary(state)}\n{daemon.log_text()[-4000:]}")
        await asyncio.sleep(1.0)
    raise AssertionError(f"run {run_id} did not end within {RUN_TIMEOUT_S} s; nodes so far: {summary(state)}\n{daemon.log_text()[-3000:]}")


def summary(state) -> str:
    if state is None:
        return "(no run yet)"
    return "; ".join(f"{n.id}:{A.attack_of(n.code)}:{n.status}" for n in state.nodes)


async def node_records(client: Client, run_id: str, state) -> dict[str, NodeRecord]:
    events = await client.events(run_id)
    executed = {e.node_id: e for e in events if isinstance(e, NodeExecuted)}
    dispatched = {e.node_id: e.at for e in events if isinstance(e, NodeDispatched)}
    generated = {e.node_id: e for e in events if isinstance(e, NodeGenerated)}
    records = {}
    for node in state.nodes:
        attack = A.attack_of(generated[node.id].code) if node.id in generated else None
        if attack is None:
            continue
        record = NodeRecord(attack, node, executed.get(node.id), dispatched.get(node.id))
        if record.executed is not None:
            stdout = await client.blob(record.executed.stdout_ref) if record.executed.stdout_ref else b""
            stderr = await client.blob(record.executed.stderr_ref) if record.executed.stderr_ref else b""
            record.stdout_size = len(stdout)
            record.output = stdout.decode(errors="replace") + "\n" + stderr.decode(errors="replace")
            record.lines = A.report_lines(record.output)
        records[attack] = record
    return records


# Steps each attack's script must report BLOCKED (unless an outcome checked below stands for it).
MUST_BLOCK = {
    "env": ("environ", "proc-environ", "proc-daemon"),
    "network": ("nats", "loopback", "model-server"),
    "sockets": ("connect", "shadow"),
    "root": ("caps", "umount", "state-dir", "home", "answers", "jetstream", "proc-environ", "remount"),
    "symlink-dir": ("see-hidden",),
}
# Steps that must be reported either way: whether they got through is seen on the host.
MUST_REPORT = {"root": ("host-write", "pth", "answers-write")}


def judge(records: dict[str, NodeRecord], kind: str, limits: dict, listeners: Listeners, leftovers, host_write: Path, pth: Path) -> list[str]:
    problems = []
    for attack in A.ATTACKS:
        record = records.get(attack.name)
        if record is None:
            problems.append(f"{attack.name}: no node ran it (the daemon stopped running nodes?)")
            continue
        if record.executed is None:
            problems.append(f"{attack.name}: its node has no node.executed {record.context()}")
            continue
        for line in record.lines:
            if line["verdict"] == "ESCAPED":
                problems.append(f"{attack.name}.{line['step']} ESCAPED {line['detail'][:600]}")
        for step in MUST_BLOCK.get(attack.name, ()):
            if record.blocked(step) is None and not any(l["verdict"] == "ESCAPED" for l in record.verdicts(step)):
                problems.append(f"{attack.name}.{step}: never reported (the script stopped early) {record.context()}")
        for step in MUST_REPORT.get(attack.name, ()):
            if not record.verdicts(step):
                problems.append(f"{attack.name}.{step}: never reported (the script stopped early) {record.context()}")
        problems += [f"{attack.name}: {p}" for p in CHECKS.get(attack.name, lambda r, k, l: [])(record, kind, limits)]
    if listeners.accepted:
        problems.append(f"network/sockets: the test's listeners accepted connections from jobs: {listeners.accepted}")
    if leftovers:
        problems.append(f"leftover: still running on the host after its node ended: {leftovers}")
    return problems


def rewritten_answers(state_dir: Path, root: NodeRecord | None) -> list[str]:
    """The task's private files written to since the root attack's node was dispatched."""
    if root is None or root.dispatched_at is None:
        return []
    touched = [str(p) for p in state_dir.glob("tasks/*/*/private/*") if p.stat().st_mtime >= root.dispatched_at]
    return [f"root: a job rewrote the task's private files on the host: {touched}"] if touched else []


def check_symlink(record: NodeRecord, kind: str, limits: dict) -> list[str]:
    problems = []
    node = record.node
    if not record.verdicts("link"):
        problems.append(f"the script never made its link {record.context()}")
    if SUBMISSION in node.outputs:
        problems.append(f"the daemon followed the link and stored the linked file as the submission (blob {node.outputs[SUBMISSION][:16]})")
    if node.valid:
        problems.append(f"the linked file was graded: score {node.score}")
    if "link" not in node.score_error.lower():
        problems.append(f"the score's error does not name the refusal: {node.score_error!r}")
    return problems


def check_fork_bomb(record: NodeRecord, kind: str, limits: dict) -> list[str]:
    node, line = record.node, record.blocked("fork")
    if node.killed == "too many processes":
        return []
    if line is None or "EAGAIN" not in line["detail"]:
        return [f"neither killed='too many processes' nor fork() failing with EAGAIN {record.context()}"]
    started = int(re.search(r"after (\d+) processes", line["detail"])[1])
    if "processes" in limits and started > limits["processes"]:
        return [f"fork() failed only after {started} processes, over the requested {limits['processes']}"]
    return []


def check_memory(record: NodeRecord, kind: str, limits: dict) -> list[str]:
    if record.node.oom:
        return []
    return [f"node.executed.oom is not set {record.context()}"]


def check_disk(record: NodeRecord, kind: str, limits: dict) -> list[str]:
    line = record.blocked("write")
    if record.node.killed == "disk quota" or (line and re.search(r"ENOSPC|EFBIG|EDQUOT", line["detail"])):
        return []
    return [f"neither killed='disk quota' nor a write failing with ENOSPC/EFBIG/EDQUOT {record.context()}"]


def check_benchmark(record: NodeRecord, kind: str, limits: dict) -> list[str]:
    node = record.node
    if record.blocked("load") is None and not record.verdicts("match"):
        return [f"the script reported neither its load nor its match {record.context()}"]
    if node.score is not None and node.score >= 1.0:
        return [f"the looked-up labels scored a perfect validation score {node.score}"]
    return []


def check_leftover(record: NodeRecord, kind: str, limits: dict) -> list[str]:
    return [] if record.verdicts("spawn") else [f"the script never started its process {record.context()}"]


def check_flood(record: NodeRecord, kind: str, limits: dict) -> list[str]:
    problems = []
    if not record.verdicts("flood"):
        problems.append(f"the script's last line is missing from its stdout tail {record.context()}")
    if record.stdout_size > OUTPUT_CAP + 4096:
        problems.append(f"{record.stdout_size} bytes of stdout were stored (cap {OUTPUT_CAP})")
    if "output truncated" not in record.output:
        problems.append("the stored stdout has no truncation marker")
    if len(record.node.stdout_tail) > 4001:
        problems.append(f"the event's stdout tail holds {len(record.node.stdout_tail)} characters")
    return problems


CHECKS = {
    "symlink-dir": check_symlink, "symlink-file": check_symlink, "fork-bomb": check_fork_bomb, "memory": check_memory,
    "disk": check_disk, "benchmark": check_benchmark, "leftover": check_leftover, "stdout-flood": check_flood,
}
