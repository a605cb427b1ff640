"""Shared fixtures: a real nats-server per test, the CI rule that missing infrastructure fails."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# The real-model tests are opt-in (docs/models.md): collected only with AIRAD_REAL_MODEL=1, where a
# missing model fails them. Without it they are not part of the run at all, rather than skipped.
collect_ignore_glob = [] if os.environ.get("AIRAD_REAL_MODEL") == "1" else ["realmodel/*"]
# The deep-learning image's test is opt-in too (several GB to build): AIRAD_DL_IMAGE=1.
collect_ignore_glob += [] if os.environ.get("AIRAD_DL_IMAGE") == "1" else ["dlimage/*"]
# One split secret for every daemon the tests start, so the offline coder (whose answers follow the
# data it is shown) behaves the same on every run; tests of the secret itself pass their own.
os.environ.setdefault("AIRAD_SPLIT_KEY_FILE", str(Path(__file__).parent / "fixtures" / "split-secret"))
# The daemons and `airad run`s the tests start score no reference baselines (a second or two of CPU a
# run, over the hundreds of runs here), except where a test asks for them: test_baselines.py.
os.environ.setdefault("AIRAD_REFERENCE_BASELINES", "false")

from airad.daemon.nats_server import EmbeddedNats  # noqa: E402

# The xdist group of the tests that use each session-scoped engine or cluster.
SHARED_INFRA = {"dockerd_engine": "shared-infra", "podman_engine": "shared-infra", "slurm": "slurm"}

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config) -> None:
    """Declare xdist's group mark also when xdist is not loaded (`-p no:xdist`), where it means nothing."""
    config.addinivalue_line("markers", "xdist_group(name): run every test of the group in one xdist worker")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """Under pytest-xdist (`--dist loadgroup`), every test of a shared engine runs in one worker (the
    "shared-infra" group), and every test of the Slurm cluster in one worker ("slurm"), so each is
    started once, not once per worker; the two groups may run side by side. A test that already
    names its group keeps it: one that asks for an engine by name, with `request.getfixturevalue`,
    must carry `pytest.mark.xdist_group("shared-infra")` itself.

    tryfirst: xdist's own hook of this name, on each worker, reads the groups to make the node ids
    it schedules by (`...::test@group`); run after it, as a plain hook of a conftest is, the marks
    added here came too late and only the tests that name their group in their module were grouped:
    each worker started its own engines and cluster, and the session-scoped runtime image was built
    once per worker that drew one of its tests."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        groups = sorted({SHARED_INFRA[name] for name in SHARED_INFRA if name in getattr(item, "fixturenames", ())})
        if groups:
            item.add_marker(pytest.mark.xdist_group(groups[0]))


def missing(message: str) -> NoReturn:
    """Infrastructure a test needs is missing: a failure in CI, a skip elsewhere."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)  # only outside CI: under CI=true the line above fails instead


def require(tool: str) -> str:
    """The path of `tool`; a missing tool fails in CI and skips elsewhere."""
    path = shutil.which(tool)
    if path is None:
        missing(f"{tool} is not installed (scripts/setup.sh installs it)")
    return path


@pytest.fixture
def nats_url(tmp_path: Path):
    """A private nats-server with JetStream, on loopback, for one test."""
    server = EmbeddedNats(tmp_path / "nats")
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def js(nats_url: str):
    """A JetStream context with airad's streams created."""
    import nats

    from airad.events.jetstream import ensure_streams

    nc = await nats.connect(nats_url)
    context = nc.jetstream()
    await ensure_streams(context)
    yield context
    await nc.close()


# Infrastructure fixtures, registered here once so that a session-scoped engine or cluster starts
# once per test process, not once per module that uses it (imported last: they import `require`).
from tests.infra.containers import dockerd_backend, dockerd_engine, podman_backend, podman_engine  # noqa: E402,F401
from tests.infra.slurm import slurm  # noqa: E402,F401
from tests.infra.sshd import sshd  # noqa: E402,F401
