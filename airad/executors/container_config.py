"""A job's container as the engine is asked to make it (`create_config`): its command under a backstop
`timeout`, its unprivileged user, its environment, its read-only mounts (inputs, the backend's
`ro_binds`, the weights cache), its limits, its GPUs (`container_gpus`) and the labels a restarted
daemon reads back; the tar of its /work (`work_archive`); and the short container that finds the
bundled datasets' files in an image (`probe_config`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from airad.executors.base import JobSpec
from airad.executors.config import ContainerBackend
from airad.executors.container_files import WORK, archive
from airad.executors.container_gpus import DOCKER_ENGINE, Engine, gpu_requests
from airad.executors.container_limits import DISK_LABEL
from airad.executors.container_mounts import read_only_bind
from airad.executors.local import thread_limits
from airad.executors.weights_cache import weights_env

JOB_LABEL = "airad.job_id"
TIMEOUT_LABEL = "airad.timeout_s"
OUTPUTS_LABEL = "airad.outputs"
BACKSTOP_GRACE_S = 10
BASE_ENV = {"HOME": WORK, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
MIB = 1024 * 1024
JOB_UID = JOB_GID = 65534  # nobody:nogroup; numeric, so any image runs it, with or without that user
JOB_USER = f"{JOB_UID}:{JOB_GID}"
WEIGHTS_DIR = "/weights"


def weights_bind(folder: str) -> str:
    """The bind (`HOST:CONTAINER`) that shows the host's weights cache at `WEIGHTS_DIR`."""
    return f"{folder}:{WEIGHTS_DIR}"


def create_config(
    spec: JobSpec,
    backend: ContainerBackend,
    hidden: Sequence[str] = (),
    *,
    engine: Engine = DOCKER_ENGINE,
    weights_cache: str | None = None,
) -> dict:
    """The engine's create request for a job: its command in /work, limits, mounts (an empty
    read-only tmpfs over each `hidden` dir; the `weights_cache` folder read-only at `WEIGHTS_DIR`,
    with the libraries set offline), GPUs as `engine` takes them, and labels. The command runs under
    coreutils `timeout` a little past the deadline, so a job whose daemon never comes back still ends."""
    command = [backend.python if part == "python" else part for part in spec.command]
    command = ["timeout", "--kill-after=5", f"{spec.timeout_s + BACKSTOP_GRACE_S:.0f}", *command]
    binds = [f"{spec.inputs_dir}:{WORK}/input:ro", *(read_only_bind(bind) for bind in backend.ro_binds)]
    env = {**BASE_ENV, **thread_limits(spec.cpus)}
    if weights_cache:
        binds.append(read_only_bind(weights_bind(weights_cache)))
        env.update(weights_env(WEIGHTS_DIR))
    env.update(spec.env)
    memory = spec.memory_mb * MIB if spec.memory_mb else 0
    host_config = {
        "NetworkMode": "none",
        "Binds": binds,
        "Memory": memory,
        "MemorySwap": memory,
        "NanoCpus": int(spec.cpus * 1e9),
        "PidsLimit": spec.processes or backend.pids_limit,
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
        "Privileged": False,
    }
    if hidden:
        host_config["Tmpfs"] = {path: "ro,size=64k" for path in hidden}
    if devices := gpu_requests(engine, spec.gpus):
        host_config["DeviceRequests"] = devices
    return {
        "Image": spec.image or backend.image,
        "Entrypoint": command[:1],
        "Cmd": command[1:],
        "WorkingDir": WORK,
        "User": JOB_USER,
        "Env": [f"{key}={value}" for key, value in env.items()],
        "NetworkDisabled": True,
        "Labels": {
            JOB_LABEL: spec.job_id,
            TIMEOUT_LABEL: repr(float(spec.timeout_s)),
            OUTPUTS_LABEL: json.dumps(list(spec.outputs)),
            DISK_LABEL: str(job_disk_mb(spec, backend) * MIB),
        },
        "HostConfig": host_config,
    }


def probe_config(image: str, backend: ContainerBackend, command: Sequence[str]) -> dict:
    """The create request of a short, confined container that runs `command` in `image` as the job's
    user, with the backend's `ro_binds` (where an image may find its interpreter)."""
    return {
        "Image": image,
        "Entrypoint": list(command[:1]),
        "Cmd": list(command[1:]),
        "User": JOB_USER,
        "NetworkDisabled": True,
        "HostConfig": {
            "NetworkMode": "none",
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            "Binds": [read_only_bind(bind) for bind in backend.ro_binds],
        },
    }


def job_disk_mb(spec: JobSpec, backend: ContainerBackend) -> int:
    """The job's disk quota in MiB: its own, else the backend's."""
    return spec.disk_mb or backend.disk_mb


def work_archive(files: dict[str, str]) -> bytes:
    """The job's /work: its files, an empty submission/ dir, and every parent dir they need, all
    owned by the job's uid (the engine applies the tar's owner to /work itself too)."""
    work = WORK.strip("/")
    paths = {f"{work}/{name}": text.encode() for name, text in files.items()}
    dirs = {work, f"{work}/submission"}
    for path in paths:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return archive(paths, tuple(sorted(dirs)), owner=JOB_UID)
