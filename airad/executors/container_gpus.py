"""How a container job's GPUs are asked of its engine, which the two engines' Docker APIs do differently.

Docker takes a device request for `Count` GPUs with the `gpu` capability (what `docker run --gpus N`
sends), served by the NVIDIA container toolkit's runtime hook. Podman's Docker-compatible API
drops such a request without a word; from Podman 5.4 it honours a device request whose driver is
`cdi`, naming CDI devices (`nvidia.com/gpu=0`, from the host's CDI spec that `nvidia-ctk cdi
generate` writes). Its `HostConfig.Devices` cannot carry a CDI name: the compat API rewrites each
entry as `host:container:permissions`, which is no CDI name any more. An older Podman is refused a
GPU job (`GpusUnsupported`) rather than handed one that silently runs without its GPUs.

Either way a job with N GPUs gets the host's first N (0 to N-1): an engine hands out no GPUs of its
own, so jobs running at once share them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

DOCKER = "docker"
PODMAN = "podman"
PODMAN_CDI_REQUESTS = (5, 4)
CDI_GPU = "nvidia.com/gpu"


class Engine(NamedTuple):
    """A container engine behind a Docker API: which one (`DOCKER` or `PODMAN`) and its version."""

    name: str
    version: tuple[int, ...] = ()


DOCKER_ENGINE = Engine(DOCKER)


class GpusUnsupported(RuntimeError):
    """The engine cannot be asked for a job's GPUs through its Docker API."""


def engine_of(version: dict) -> Engine:
    """The engine that answered `GET /version`: Podman names itself among the components ("Podman
    Engine"); anything else is taken for Docker."""
    for component in version.get("Components") or []:
        if "podman" in str(component.get("Name", "")).lower():
            return Engine(PODMAN, version_numbers(component.get("Version") or version.get("Version")))
    return Engine(DOCKER, version_numbers(version.get("Version")))


def version_numbers(text: object) -> tuple[int, ...]:
    """The leading dotted numbers of a version string (`"5.4.0-rc1"` → (5, 4, 0)); () for none."""
    match = re.match(r"\d+(?:\.\d+)*", str(text or ""))
    return tuple(int(part) for part in match[0].split(".")) if match else ()


def gpu_requests(engine: Engine, gpus: int) -> list[dict]:
    """`HostConfig.DeviceRequests` for a job with `gpus` GPUs on `engine` (none for no GPUs)."""
    if gpus <= 0:
        return []
    if engine.name != PODMAN:
        return [{"Driver": "", "Count": gpus, "Capabilities": [["gpu"]]}]
    if engine.version < PODMAN_CDI_REQUESTS:
        found = ".".join(map(str, engine.version)) or "of unknown version"
        raise GpusUnsupported(
            f"podman {found} drops GPU requests made through its Docker API, and this job asks for {gpus} GPU(s): "
            f"CDI device requests need podman {'.'.join(map(str, PODMAN_CDI_REQUESTS))} or later"
        )
    return [{"Driver": "cdi", "DeviceIDs": [f"{CDI_GPU}={index}" for index in range(gpus)]}]
