"""A sandboxed job on an SSH host (bubblewrap there, a real sshd on loopback) sees its own work dir
and inputs (and the host's read-only binds), and nothing of other jobs, other tasks' inputs, the
login's home or the network; the host is read-only to it and its /tmp is its own."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from airad.executors.base import JobSpec
from airad.executors.ssh import SshExecutor
from tests.contract.executor_contract import script

pytestmark = pytest.mark.integration

PROBE = """
import os, socket

def attempt(name, action):
    try:
        result = action()
        print("OPEN", name, repr(result)[:60])
    except Exception as exc:
        print("blocked", name, type(exc).__name__)

attempt("own-input", lambda: open("input/train.csv").read())
attempt("model-cache", lambda: open("/tmp/models/weights.txt").read())
attempt("other-job", lambda: open({other_job!r}).read())
attempt("other-inputs", lambda: open({other_inputs!r}).read())
attempt("home", lambda: open({home_file!r}).read())
attempt("write-outside", lambda: open({read_only!r}, "w").write("x"))
attempt("write-shadowed", lambda: open({outside!r}, "w").write("x"))
attempt("network", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close())
open("/tmp/scratch", "w").write("private")
attempt("own-tmp", lambda: open("/tmp/scratch").read())
"""


@pytest.fixture
def home_file():
    path = Path.home() / f".airad-sandbox-test-{uuid.uuid4().hex[:8]}"
    path.write_text("login secret")
    yield path
    path.unlink()


async def test_a_sandboxed_ssh_job_sees_only_its_own_files(sshd, tmp_path, home_file):
    root = tmp_path / "remote"
    other_job = root / "other-run" / "3" / "work" / "notes.txt"
    other_job.parent.mkdir(parents=True)
    other_job.write_text("another run's work")
    other_inputs = root / "inputs" / ("0" * 32) / "train.csv"
    other_inputs.parent.mkdir(parents=True)
    other_inputs.write_text("another task's data")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "train.csv").write_text("x\n1\n")
    outside = tmp_path / "escaped.txt"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "weights.txt").write_text("pretrained")
    executor = SshExecutor([sshd.host(root=str(root), python=sys.executable, sandbox=True, ro_binds=(f"{cache}:/tmp/models",))])
    try:
        source = PROBE.format(
            other_job=str(other_job), other_inputs=str(other_inputs), home_file=str(home_file),
            outside=str(outside), read_only=f"/usr/airad-escape-{uuid.uuid4().hex[:8]}", port=sshd.port,
        )
        handle = await executor.prepare(JobSpec(job_id="sandboxed-1", files={"solution.py": script(source)}, inputs_dir=str(inputs)))
        await executor.start(handle)
        result = await executor.wait(handle)
    finally:
        await executor.aclose()
    out = result.stdout.decode()
    assert result.exit_code == 0, result.stderr
    assert "OPEN own-input 'x\\n1\\n'" in out and "OPEN own-tmp 'private'" in out
    assert "OPEN model-cache 'pretrained'" in out
    for name in ("other-job", "other-inputs", "home", "write-outside", "network"):
        assert f"blocked {name}" in out, out
    assert not outside.exists(), "a write under /tmp must land in the sandbox's own /tmp"
    assert other_job.read_text() == "another run's work"


async def test_sandbox_true_on_a_host_without_bwrap_is_refused_with_a_reason(sshd, tmp_path, monkeypatch):
    from airad.executors import ssh_sandbox

    source = ssh_sandbox.launcher_source().replace('shutil.which("bwrap"', 'shutil.which("no-such-bwrap"')
    monkeypatch.setattr(ssh_sandbox, "launcher_source", lambda: source)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    executor = SshExecutor([sshd.host(root=str(tmp_path / "remote"), python=sys.executable, sandbox=True)])
    try:
        with pytest.raises(RuntimeError, match="sandbox = true but bwrap is not installed"):
            await executor.prepare(JobSpec(job_id="no-bwrap", files={"solution.py": script("print(1)")}, inputs_dir=str(inputs)))
    finally:
        await executor.aclose()


async def test_an_unset_sandbox_on_a_host_without_bwrap_runs_plain_and_warns(sshd, tmp_path, monkeypatch):
    import structlog.testing

    from airad.executors import ssh_sandbox

    source = ssh_sandbox.launcher_source().replace('shutil.which("bwrap"', 'shutil.which("no-such-bwrap"')
    monkeypatch.setattr(ssh_sandbox, "launcher_source", lambda: source)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    executor = SshExecutor([sshd.host(root=str(tmp_path / "remote"), python=sys.executable)])
    try:
        with structlog.testing.capture_logs() as logs:
            handle = await executor.prepare(JobSpec(job_id="plain", files={"solution.py": script("print('plain')")}, inputs_dir=str(inputs)))
        await executor.start(handle)
        result = await executor.wait(handle)
    finally:
        await executor.aclose()
    assert result.exit_code == 0 and b"plain" in result.stdout
    warnings = [e for e in logs if e["event"] == "sandbox.unavailable"]
    assert len(warnings) == 1 and warnings[0]["executor"] == "ssh" and "bwrap is not installed" in warnings[0]["reason"]
