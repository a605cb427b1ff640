"""Every remote executor behind a real daemon process (the local one: test_daemon.py): SIGKILL the
daemon while a node's job runs, start another, and the job is collected by its recorded handle,
never dispatched or run a second time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec
import pytest

from airad.executors.config import ContainerBackend
from tests.infra.containers import HOST_BINDS, HOST_IMAGE, host_image_tar, import_image
from tests.infra.sshd import require_sshd, sshd_server
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events

pytestmark = pytest.mark.integration

VENV_PYTHON = str(Path(sys.executable).absolute())


def _python_dirs() -> tuple[str, ...]:
    """The dirs the venv's interpreter and packages live in, to bind into a bare test image."""
    real = Path(sys.executable).resolve()
    return tuple(sorted({str(Path(sys.prefix)), str(real.parent.parent)}))


@pytest.fixture
async def container_settings(dockerd_engine):  # noqa: F811
    await import_image(dockerd_engine.url, host_image_tar(), HOST_IMAGE)
    backend = ContainerBackend(url=dockerd_engine.url, image=HOST_IMAGE, python=VENV_PYTHON, ro_binds=(*HOST_BINDS, *_python_dirs()))
    return {"AIRAD_CONTAINER": msgspec.json.encode(backend).decode()}


@pytest.fixture
def ssh_settings(tmp_path):
    require_sshd()
    with sshd_server(tmp_path / "sshd") as server:
        host = server.host(python=VENV_PYTHON, root=str(tmp_path / "remote"))
        yield {"AIRAD_SSH_HOSTS": msgspec.json.encode([host]).decode()}


async def test_a_container_job_outlives_its_daemon(container_settings, nats_url, tmp_path):
    await crash_mid_job("container", container_settings, nats_url, tmp_path)


async def test_an_ssh_job_outlives_its_daemon(ssh_settings, nats_url, tmp_path):
    await crash_mid_job("ssh", ssh_settings, nats_url, tmp_path)


async def crash_mid_job(kind: str, env: dict[str, str], nats_url: str, tmp_path: Path) -> None:
    """Kill the daemon once a node is dispatched; check the next daemon collects that very job."""
    first = DaemonProcess(nats_url, tmp_path / "state", env=env).start()
    second = DaemonProcess(nats_url, tmp_path / "state", env=env)
    run_id = f"crash-{kind}"
    body = {
        "run_id": run_id,
        "task": {"kind": "bundled", "name": "wine"},
        "policy": {"kind": "greedy", "num_drafts": 2},
        "budget": {"max_nodes": 2},
        "executor": {"kind": kind, "node_timeout_s": 120, "memory_mb": 4096},
    }
    try:
        await publish_raw(nats_url, json.dumps(body).encode())
        before = await run_events(nats_url, run_id, until=lambda ev: any(e["type"] == "node.dispatched" for e in ev))
        first.kill()
        interrupted = next(e for e in before if e["type"] == "node.dispatched")
        second.start()
        events = await run_events(nats_url, run_id, timeout_s=300)
    finally:
        first.kill()
        second.stop()
    assert events[: len(before)] == before
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    node = interrupted["node_id"]
    dispatched = [e for e in events if e["type"] == "node.dispatched" and e["node_id"] == node]
    assert dispatched == [interrupted], "the job was dispatched again instead of reattached"
    executed = [e for e in events if e["type"] == "node.executed" and e["node_id"] == node]
    assert len(executed) == 1 and executed[0]["exit_code"] == 0, executed or events
    assert executed[0]["killed"] is None and not executed[0]["timed_out"]
    assert events[-1]["type"] == "run.finished"
    assert [e["node_id"] for e in events if e["type"] == "node.tested"] == [0, 1]


@pytest.fixture
def slurm_settings(slurm, tmp_path):  # noqa: F811
    backend = slurm.backend(root=tmp_path / "slurm-jobs", python=VENV_PYTHON)
    return {"AIRAD_SLURM": msgspec.json.encode(backend).decode(), **slurm.env}


async def test_a_slurm_job_outlives_its_daemon(slurm_settings, nats_url, tmp_path):
    await crash_mid_job("slurm", slurm_settings, nats_url, tmp_path)
