"""The environment probe through the real local executor (bubblewrap sandbox), and `airad environment`
as a user runs it."""

import os
import subprocess
import sys

import msgspec
import pytest

from airad.daemon.environments import Environments
from airad.executors.local import LocalExecutor
from airad.executors.probe import probe_environment, probe_spec
from airad.schemas import request
from airad.schemas.environment import ExecutionEnvironment
from tests.conftest import require

pytestmark = pytest.mark.integration

SCIENTIFIC_STACK = {"numpy", "pandas", "scikit-learn", "lightgbm"}


@pytest.fixture
def sandboxed(tmp_path) -> LocalExecutor:
    """The local executor as the daemon builds it: jobs in bubblewrap, the state dir out of their sight."""
    require("bwrap")
    state = tmp_path / "state"
    return LocalExecutor(state / "work", sandbox=True, hidden=(state.resolve(),))


def _package_names(environment: ExecutionEnvironment) -> set[str]:
    return {package.split("==")[0] for package in environment.packages}


async def test_the_sandboxed_local_executor_reports_its_interpreters_packages(sandboxed, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    environment = await probe_environment(sandboxed, probe_spec("probe/1", str(empty), request.LocalExecutor()))
    assert SCIENTIFIC_STACK <= _package_names(environment)
    assert environment.python == ".".join(map(str, sys.version_info[:3]))
    assert environment.gpus == () and environment.cpus >= 1 and environment.known


async def test_the_daemons_cache_probes_the_sandbox_once(sandboxed, tmp_path):
    environments = Environments(tmp_path / "state" / "work")
    first = await environments.of("local", sandboxed, request.LocalExecutor())
    again = await environments.of("local", sandboxed, request.LocalExecutor(cpus=2))
    assert again is first and first.known and SCIENTIFIC_STACK <= _package_names(first)
    assert [path.name for path in (tmp_path / "state" / "work").iterdir()] == ["environment-probe-inputs"]


def airad(*args: str, state_dir) -> subprocess.CompletedProcess:
    """`airad ARGS` as a user runs it, with jobs required to run in the sandbox."""
    env = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "AIRAD_SANDBOX": "true"}
    return subprocess.run(
        [sys.executable, "-m", "airad.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def test_airad_environment_prints_a_parseable_result(tmp_path):
    require("bwrap")
    state = tmp_path / "state"
    done = airad("environment", "--json", state_dir=state)
    assert done.returncode == 0, done.stderr
    environment = msgspec.json.decode(done.stdout, type=ExecutionEnvironment)
    assert environment.known and SCIENTIFIC_STACK <= _package_names(environment)
    text = airad("environment", state_dir=state)
    assert text.returncode == 0, text.stderr
    assert f"fingerprint  {environment.fingerprint}" in text.stdout and "\n  numpy==" in text.stdout
    missing = airad("environment", "--executor", "slurm", state_dir=state)
    assert missing.returncode == 2 and "the slurm executor is not configured" in missing.stderr
