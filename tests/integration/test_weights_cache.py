"""The weights cache on real executors: a container job (on a private dockerd and a private podman)
and a local sandboxed job read the cache, cannot write it, and find the libraries set offline."""

from __future__ import annotations

import errno
import json
import uuid

import pytest

from airad.executors.base import JobSpec
from airad.executors.container import ContainerExecutor
from airad.executors.local import LocalExecutor
from airad.executors.weights_cache import weights_env
from tests.conftest import require

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("shared-infra")]  # engines requested by name

PROBE = r"""
import json, os
names = ("HF_HOME", "TORCH_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
home = os.environ["TORCH_HOME"]
try:
    with open(os.path.join(home, "hub", "checkpoints", "new.pt"), "w") as f:
        f.write("x")
    wrote = "wrote"
except OSError as error:
    wrote = error.errno
print(json.dumps({
    "env": {name: os.environ.get(name) for name in names},
    "read": open(os.path.join(home, "hub", "checkpoints", "resnet.pt")).read(),
    "hub": sorted(os.listdir(os.path.join(os.environ["HF_HOME"], "hub"))),
    "wrote": wrote,
}))
"""


@pytest.fixture
def cache(tmp_path):
    """A weights cache laid out as the setting expects, readable by every uid."""
    root = tmp_path / "weights"
    (root / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (root / "huggingface" / "hub" / "models--org--tiny").mkdir(parents=True)
    (root / "torch" / "hub" / "checkpoints" / "resnet.pt").write_text("pretrained")
    for path in (root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@pytest.fixture(params=["dockerd", "podman"])
def backend(request):
    return request.getfixturevalue(f"{request.param}_backend")


def job(inputs, source: str) -> JobSpec:
    return JobSpec(job_id=f"weights/{uuid.uuid4().hex[:8]}", files={"solution.py": source}, inputs_dir=str(inputs))


async def run(executor, spec: JobSpec):
    handle = await executor.prepare(spec)
    await executor.start(handle)
    return await executor.wait(handle)


def check(seen: dict, folder: str) -> None:
    assert seen["env"] == weights_env(folder)
    assert seen["read"] == "pretrained" and seen["hub"] == ["models--org--tiny"]
    assert seen["wrote"] in (errno.EROFS, errno.EACCES), seen["wrote"]


async def test_a_container_job_reads_the_cache_but_cannot_write_it_and_is_offline(backend, cache, tmp_path):
    executor = ContainerExecutor(backend, weights_cache=str(cache))
    result = await run(executor, job(tmp_path, PROBE))
    assert result.exit_code == 0, result.stderr[-2000:]
    check(json.loads(result.stdout), "/weights")
    assert not (cache / "torch" / "hub" / "checkpoints" / "new.pt").exists()


async def test_a_sandboxed_local_job_reads_the_cache_but_cannot_write_it_and_is_offline(cache, tmp_path):
    require("bwrap")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    executor = LocalExecutor(tmp_path / "work", sandbox=True, weights_cache=str(cache))
    result = await run(executor, job(inputs, PROBE))
    assert result.exit_code == 0, result.stderr[-2000:]
    check(json.loads(result.stdout), str(cache.resolve()))
    assert not (cache / "torch" / "hub" / "checkpoints" / "new.pt").exists()
