"""The runtime image, for real: scripts/build-image.sh builds the Containerfile on a locally made
Debian base (its tarball cached under the user's cache dir, so only the first run downloads Debian)
against a private dockerd, and a job runs in it with the ML stack at the pinned versions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from airad.executors.base import JobSpec
from airad.executors.config import ContainerBackend
from airad.executors.container import ContainerExecutor
from tests.conftest import require

# One group, so one worker builds the image (~100 s) once for all three tests: its own group, not
# the engines' "shared-infra", so the build runs beside the container and Slurm tests, not after them.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800), pytest.mark.xdist_group("runtime-image")]

ROOT = Path(__file__).resolve().parents[2]

FIT = """
import os
import lightgbm, sklearn, xgboost
from sklearn.datasets import make_classification
X, y = make_classification(n_samples=200, random_state=0)
model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
print("sklearn", sklearn.__version__, "lightgbm", lightgbm.__version__, "xgboost", xgboost.__version__)
os.makedirs("submission", exist_ok=True)
open("submission/submission.csv", "w").write(f"accuracy\\n{model.score(X, y):.2f}\\n")
"""


@pytest.fixture(scope="session")
def runtime_backend(dockerd_engine):  # noqa: F811
    """The runtime image, built once per session (and, by the module's group, by one worker only):
    session-scoped, as a worker may interleave this module's tests with others', and a module-scoped
    build then ran once per test (~100 s each)."""
    require("debootstrap")
    require("docker")
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-image.sh"), "--host", dockerd_engine.url, "--tag", "airad-runtime:test"],
        capture_output=True, text=True, timeout=1500,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return ContainerBackend(url=dockerd_engine.url, image="airad-runtime:test")


async def test_a_job_in_the_built_image_fits_a_model_with_the_pinned_stack(runtime_backend, tmp_path):
    executor = ContainerExecutor(runtime_backend)
    spec = JobSpec(job_id="image/fit", files={"solution.py": FIT}, inputs_dir=str(tmp_path), timeout_s=300.0, cpus=1, memory_mb=2048)
    handle = await executor.prepare(spec)
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert b"sklearn 1.7.2 lightgbm 4.6.0 xgboost 3.2.0" in result.stdout
    assert result.outputs["submission/submission.csv"].startswith(b"accuracy\n")


def test_the_quickstart_runs_with_executor_container(runtime_backend, tmp_path):
    import json
    import os
    import sys
    import tomllib

    request = tomllib.loads((ROOT / "examples" / "container.toml").read_text())
    assert request["executor"]["kind"] == "container"
    request["budget"]["max_nodes"] = 4
    request["run_id"] = "quickstart-in-containers"
    lines = [f"{key} = {json.dumps(value)}" for key, value in request.items() if not isinstance(value, dict)]
    for table, values in request.items():
        if isinstance(values, dict):
            lines.append(f"[{table}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    (tmp_path / "request.toml").write_text("\n".join(lines) + "\n")
    (tmp_path / "settings.toml").write_text(f'[container]\nurl = "{runtime_backend.url}"\nimage = "{runtime_backend.image}"\n')
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    airad = [sys.executable, "-m", "airad.cli", "--config", str(tmp_path / "settings.toml"), "--state-dir", str(tmp_path / "state")]
    run = subprocess.run([*airad, "run", str(tmp_path / "request.toml"), "--json"], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["nodes"] == 4
    assert summary["best_score"] is not None and 0.5 < summary["best_score"] <= 1.0
    events = subprocess.run([*airad, "events", "quickstart-in-containers", "--json"], capture_output=True, text=True, env=env, timeout=120)
    dispatched = [json.loads(line) for line in events.stdout.splitlines() if '"node.dispatched"' in line]
    assert len(dispatched) == 4 and all(e["executor"] == "container" and "container" in json.loads(e["handle"]) for e in dispatched)


AUDIT = r"""
import json, os, subprocess
def found(*args):
    return subprocess.run(["find", "/", "-xdev", *args, "-print"], capture_output=True, text=True).stdout.split()
print(json.dumps({
    "uid": os.getuid(),
    "owned": found("-user", str(os.getuid())),
    "writable_dirs": found("-type", "d", "-writable"),
}))
"""


async def test_the_built_image_runs_jobs_as_nobody_and_keeps_no_build_secrets(runtime_backend, tmp_path):
    import json

    import aiodocker

    async with aiodocker.Docker(url=runtime_backend.url) as docker:
        image = await docker.images.inspect(runtime_backend.image)
        async with docker._query(f"images/{runtime_backend.image}/history") as response:
            history = json.dumps(await response.json())
    assert image["Config"]["User"] == "65534:65534"
    assert "PIP_INDEX_URL" not in history and "host-ca" not in history and "airad-build" not in history, history
    executor = ContainerExecutor(runtime_backend)
    spec = JobSpec(job_id="image/audit", files={"solution.py": AUDIT}, inputs_dir=str(tmp_path), timeout_s=120.0)
    handle = await executor.prepare(spec)
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.exit_code == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert seen["uid"] == 65534
    assert all(path == "/work" or path.startswith("/work/") for path in seen["owned"]), seen["owned"]
    sticky_tmp = {"/tmp", "/var/tmp", "/run/lock", "/var/lock"}  # world-writable, sticky: in the job's own layer, in its quota
    assert set(seen["writable_dirs"]) - sticky_tmp <= {"/work", "/work/submission"} | {p for p in seen["writable_dirs"] if p.startswith("/work/")}, seen
