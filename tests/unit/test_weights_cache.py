"""The weights cache, without running a job: the setting, the variables that point the libraries at
the folder offline, the read-only mount a container job gets, and what the local executor hands its
jobs."""

from __future__ import annotations

import shlex

import pytest

from airad.daemon.backends import build_backends
from airad.daemon.settings import load_settings
from airad.executors import job_script
from airad.executors.base import JobSpec
from airad.executors.config import ContainerBackend
from airad.executors.container import ContainerExecutor
from airad.executors.container_config import WEIGHTS_DIR, create_config
from airad.executors.local import LocalExecutor
from airad.executors.weights_cache import weights_env

BACKEND = ContainerBackend(url="unix:///tmp/engine.sock", ro_binds=("/usr",))
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def spec(**fields) -> JobSpec:
    return JobSpec(job_id="unit/weights", files={"solution.py": "print(1)\n"}, inputs_dir="/data/in", **fields)


def env_of(config: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for item in config["Env"])


def test_the_variables_point_every_library_into_the_folder_offline():
    assert weights_env("/weights") == {"HF_HOME": "/weights/huggingface", "TORCH_HOME": "/weights/torch", **OFFLINE}
    assert weights_env("/srv/w/")["TORCH_HOME"] == "/srv/w/torch"


def test_a_container_job_sees_the_cache_read_only_with_the_libraries_offline():
    config = create_config(spec(), BACKEND, weights_cache="/srv/weights")
    assert config["HostConfig"]["Binds"] == [
        "/data/in:/work/input:ro",
        "/usr:/usr:ro",
        f"/srv/weights:{WEIGHTS_DIR}:ro",
    ]
    env = env_of(config)
    assert {name: env[name] for name in weights_env(WEIGHTS_DIR)} == weights_env(WEIGHTS_DIR)


def test_without_a_cache_a_container_job_gets_neither_mount_nor_variables():
    config = create_config(spec(), BACKEND)
    assert config["HostConfig"]["Binds"] == ["/data/in:/work/input:ro", "/usr:/usr:ro"]
    assert not set(weights_env(WEIGHTS_DIR)) & set(env_of(config))


def test_a_jobs_own_variables_win_over_the_caches():
    env = env_of(create_config(spec(env={"HF_HUB_OFFLINE": "0"}), BACKEND, weights_cache="/srv/weights"))
    assert env["HF_HUB_OFFLINE"] == "0" and env["TRANSFORMERS_OFFLINE"] == "1"


@pytest.mark.parametrize("folder", ["/run/weights", "/var/run", "relative/weights", "/srv/engine.sock"])
def test_a_cache_that_could_reach_an_engine_or_is_relative_is_refused(folder):
    with pytest.raises(ValueError, match="ro_binds entry"):
        ContainerExecutor(BACKEND, weights_cache=folder)
    ContainerExecutor(BACKEND, weights_cache="/srv/weights")


def test_the_setting_comes_from_the_file_or_the_environment_and_reaches_both_executors(tmp_path):
    config = tmp_path / "airad.toml"
    config.write_text(
        f'weights_cache = "/srv/weights"\nstate_dir = "{tmp_path}/state"\n[container]\nurl = "unix:///tmp/e.sock"\n'
    )
    settings = load_settings(config, env={"HOME": "/h"})
    assert settings.weights_cache == "/srv/weights"
    assert load_settings(env={"HOME": "/h", "AIRAD_WEIGHTS_CACHE": "/w"}).weights_cache == "/w"
    assert load_settings(env={"HOME": "/h"}).weights_cache is None
    backends = build_backends(settings, env={})
    assert backends["container"].executor.weights_cache == "/srv/weights"
    assert backends["local"].executor.weights_cache == "/srv/weights"


async def test_a_local_job_gets_the_variables_and_sandboxes_show_the_cache_read_only(tmp_path):
    cache = tmp_path / "weights"
    cache.mkdir()
    inputs = tmp_path / "in"
    inputs.mkdir()
    executor = LocalExecutor(tmp_path / "work", sandbox=False, weights_cache=str(cache))
    assert executor.ro_binds == (str(cache.resolve()),)
    handle = await executor.prepare(JobSpec(job_id="unit/local", files={"solution.py": ""}, inputs_dir=str(inputs)))
    script = (tmp_path / "work" / "unit_local" / job_script.SCRIPT).read_text()
    for name, value in weights_env(str(cache.resolve())).items():
        assert shlex.quote(f"{name}={value}") in script, name
    assert handle
    with pytest.raises(ValueError, match="must be absolute"):
        LocalExecutor(tmp_path / "work", sandbox=False, weights_cache="weights")
