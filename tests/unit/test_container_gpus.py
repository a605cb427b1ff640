"""How a container job's GPUs reach each engine, without an engine: which engine a `/version` answer
names, and the device requests a job's create config carries on Docker and on Podman."""

from __future__ import annotations

import pytest

from airad.executors.base import JobSpec
from airad.executors.config import ContainerBackend
from airad.executors.container_config import create_config
from airad.executors.container_gpus import DOCKER, PODMAN, Engine, GpusUnsupported, engine_of, gpu_requests

BACKEND = ContainerBackend(url="unix:///tmp/engine.sock")
DOCKER_VERSION = {
    "Platform": {"Name": "Docker Engine - Community"},
    "Components": [{"Name": "Engine", "Version": "27.3.1"}, {"Name": "containerd", "Version": "1.7.22"}],
    "Version": "27.3.1",
    "ApiVersion": "1.47",
}
PODMAN_VERSION = {
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [{"Name": "Podman Engine", "Version": "5.4.2", "Details": {"APIVersion": "5.4.2"}}],
    "Version": "5.4.2",
    "ApiVersion": "1.41",
}


def spec(gpus: int) -> JobSpec:
    return JobSpec(job_id="unit/gpus", files={"solution.py": "print(1)\n"}, inputs_dir="/data/in", gpus=gpus)


def test_the_engine_is_told_apart_by_its_version_components():
    assert engine_of(DOCKER_VERSION) == Engine(DOCKER, (27, 3, 1))
    assert engine_of(PODMAN_VERSION) == Engine(PODMAN, (5, 4, 2))
    assert engine_of({"Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}) == Engine(PODMAN, (4, 3, 1))
    assert engine_of({"Version": "20.10.24+dfsg1"}) == Engine(DOCKER, (20, 10, 24))
    assert engine_of({}) == Engine(DOCKER, ())


@pytest.mark.parametrize("gpus", [0, 1, 2])
def test_docker_gets_a_device_request_for_a_count_of_gpus(gpus):
    host = create_config(spec(gpus), BACKEND, engine=Engine(DOCKER, (27, 3, 1)))["HostConfig"]
    if gpus == 0:
        assert "DeviceRequests" not in host
    else:
        assert host["DeviceRequests"] == [{"Driver": "", "Count": gpus, "Capabilities": [["gpu"]]}]
    assert "Devices" not in host


@pytest.mark.parametrize("gpus", [0, 1, 2])
def test_podman_gets_cdi_devices_one_per_gpu(gpus):
    host = create_config(spec(gpus), BACKEND, engine=Engine(PODMAN, (5, 4, 2)))["HostConfig"]
    if gpus == 0:
        assert "DeviceRequests" not in host
    else:
        ids = [f"nvidia.com/gpu={index}" for index in range(gpus)]
        assert host["DeviceRequests"] == [{"Driver": "cdi", "DeviceIDs": ids}]
    assert "Devices" not in host


def test_a_config_made_without_an_engine_asks_as_docker_does():
    assert create_config(spec(1), BACKEND)["HostConfig"]["DeviceRequests"] == gpu_requests(Engine(DOCKER), 1)


@pytest.mark.parametrize("version", [(4, 3, 1), (5, 3, 9), ()])
def test_a_podman_that_drops_gpu_requests_refuses_a_gpu_job_but_runs_others(version):
    engine = Engine(PODMAN, version)
    with pytest.raises(GpusUnsupported, match=r"podman .* asks for 2 GPU.*podman 5\.4 or later"):
        create_config(spec(2), BACKEND, engine=engine)
    assert "DeviceRequests" not in create_config(spec(0), BACKEND, engine=engine)["HostConfig"]
