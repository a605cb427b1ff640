"""The daemon's cache of measured executor environments: each environment is probed once, on first use."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import anyio
import structlog

from airad.executors.base import Executor
from airad.executors.probe import PROBE_TIMEOUT_S, probe_environment, probe_spec
from airad.schemas.environment import UNKNOWN_ENVIRONMENT, ExecutionEnvironment
from airad.schemas.request import ExecutorSpec

RETRY_AFTER_S = 600.0
PROBE_DEADLINE_S = PROBE_TIMEOUT_S + 180.0
log = structlog.get_logger("airad.environments")

EnvironmentKey = tuple[str, str | None, str | None, int]
"""(backend name, container image, Slurm partition, GPUs): what picks one environment of a backend."""


def probe_inputs_dir(work_dir: Path) -> Path:
    """The empty dir every probe job gets as its inputs (made if missing), under the daemon's work dir so
    that executors sharing its filesystem (Slurm) see it too."""
    inputs = Path(work_dir) / "environment-probe-inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    return inputs


def probe_job_id(executor_name: str) -> str:
    """A fresh job id for a probe on the backend `executor_name`."""
    return f"environment-probe-{executor_name}-{uuid.uuid4().hex[:12]}"


def environment_key(executor_name: str, resources: ExecutorSpec) -> EnvironmentKey:
    """The cache key of the environment a request's executor spec runs its scripts in."""
    return (
        executor_name,
        getattr(resources, "image", None),
        getattr(resources, "partition", None),
        getattr(resources, "gpus", 0),
    )


class Environments:
    """Per-daemon cache of `ExecutionEnvironment`s by `environment_key`. Callers asking for the same key
    at once share one probe. A failed probe is logged and remembered as `UNKNOWN_ENVIRONMENT` for
    `retry_after_s`, then probed again; `of` never raises for a failed probe. Probe jobs get an empty
    inputs dir under `work_dir`, and `deadline_s` to finish, queueing included."""

    def __init__(
        self,
        work_dir: Path,
        *,
        retry_after_s: float = RETRY_AFTER_S,
        deadline_s: float = PROBE_DEADLINE_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.work_dir = Path(work_dir)
        self.retry_after_s = retry_after_s
        self.deadline_s = deadline_s
        self.clock = clock
        self._known: dict[EnvironmentKey, tuple[ExecutionEnvironment, float | None]] = {}
        self._locks: dict[EnvironmentKey, anyio.Lock] = {}

    async def of(self, executor_name: str, executor: Executor, resources: ExecutorSpec) -> ExecutionEnvironment:
        """The environment `executor` (the backend `executor_name`) runs scripts in under `resources`:
        cached, or probed now; `UNKNOWN_ENVIRONMENT` while a failed probe waits for its retry."""
        key = environment_key(executor_name, resources)
        async with self._locks.setdefault(key, anyio.Lock()):
            cached = self._fresh(key)
            if cached is not None:
                return cached
            environment, expires_at = await self._probe(key, executor, resources)
            self._known[key] = (environment, expires_at)
            return environment

    def _fresh(self, key: EnvironmentKey) -> ExecutionEnvironment | None:
        environment, expires_at = self._known.get(key, (None, None))
        if environment is None or (expires_at is not None and self.clock() >= expires_at):
            return None
        return environment

    async def _probe(
        self, key: EnvironmentKey, executor: Executor, resources: ExecutorSpec
    ) -> tuple[ExecutionEnvironment, float | None]:
        try:
            spec = probe_spec(probe_job_id(key[0]), str(probe_inputs_dir(self.work_dir)), resources)
            with anyio.fail_after(self.deadline_s):
                environment = await probe_environment(executor, spec)
        except Exception as exc:
            log.warning(
                "environment.probe_failed",
                executor=key[0],
                image=key[1],
                partition=key[2],
                gpus=key[3],
                error=str(exc) or type(exc).__name__,
                retry_in_s=self.retry_after_s,
            )
            return UNKNOWN_ENVIRONMENT, self.clock() + self.retry_after_s
        log.info(
            "environment.probed",
            executor=key[0],
            image=key[1],
            partition=key[2],
            fingerprint=environment.fingerprint,
            python=environment.python,
            packages=len(environment.packages),
            gpus=len(environment.gpus),
        )
        return environment, None
