"""Build the daemon's executors from its settings, each with the number of jobs it may run at once, and say
at start-up what the local one can enforce."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import structlog

from airad.daemon.settings import Settings
from airad.executors.base import Executor
from airad.executors.local import LocalExecutor
from airad.tasks.dataset_files import DATASET_PACKAGE_DATA


class Backend(NamedTuple):
    """An executor and its capacity (slots shared by every run of the daemon)."""

    executor: Executor
    slots: int


def build_backends(settings: Settings, env: Mapping[str, str]) -> dict[str, Backend]:
    """The local executor always; container, ssh and slurm when their settings are present."""
    state = settings.state_path
    limit = settings.max_output_file_mb << 20
    backends = {
        "local": Backend(
            LocalExecutor(
                state / "work",
                sandbox=settings.sandbox,
                hidden=(state.resolve(),),
                ro_binds=settings.sandbox_ro_binds,
                output_limit_bytes=limit,
                hidden_packages=DATASET_PACKAGE_DATA,
                weights_cache=settings.weights_cache,
            ),
            settings.local_slots,
        ),
    }
    if settings.container is not None:
        from airad.executors.container import ContainerExecutor

        backends["container"] = Backend(
            ContainerExecutor(
                settings.container,
                output_limit_bytes=limit,
                hidden_packages=DATASET_PACKAGE_DATA,
                weights_cache=settings.weights_cache,
            ),
            settings.container.slots,
        )
    if settings.ssh_hosts:
        from airad.executors.ssh import SshExecutor

        backends["ssh"] = Backend(
            SshExecutor(settings.ssh_hosts, output_limit_bytes=limit, hidden_packages=DATASET_PACKAGE_DATA),
            sum(host.slots for host in settings.ssh_hosts),
        )
    if settings.slurm is not None:
        from airad.executors.slurm import SlurmExecutor

        slurm_env = {name: value for name, value in env.items() if name.startswith("SLURM_") or name == "PATH"}
        backends["slurm"] = Backend(
            SlurmExecutor(
                settings.slurm, env=slurm_env, output_limit_bytes=limit, hidden_packages=DATASET_PACKAGE_DATA
            ),
            settings.slurm.slots,
        )
    return backends


log = structlog.get_logger("airad.daemon")


async def log_enforced_limits(executor) -> None:
    """Say at start-up what the local executor can enforce on this host (sandbox, memory, processes,
    CPU, disk), so an operator sees a weak set-up before any job runs."""
    describe = getattr(executor, "enforced_limits", None)
    if describe is None:
        return
    try:
        limits = await describe()
    except Exception as exc:  # a required sandbox that cannot be made: the first job fails loudly too
        log.error("sandbox.limits", problem=f"{type(exc).__name__}: {exc}")
        return
    log.info("sandbox.limits", executor="local", **limits)
