"""What a node's script finds where it runs: the interpreter, the installed packages, the GPUs, the CPUs and
the memory, as measured by a probe job on the executor (`executors/probe.py`), never as declared."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec
from msgspec import Struct

UNKNOWN_FINGERPRINT = "unknown"


class ExecutionEnvironment(Struct, frozen=True, forbid_unknown_fields=True):
    """One executor environment (a sandbox interpreter, a container image, an ssh host, a Slurm partition).

    `fingerprint`: the first 16 hex digits of the SHA-256 of `python`, the sorted `packages` and the
    `gpus` (`environment_fingerprint`), so equal software and hardware give equal fingerprints;
    "unknown" when the probe failed. `python`: the interpreter's version ("3.11.7"). `packages`: sorted
    "name==version", names lowercase with runs of "-", "_" and "." as one "-". `gpus`: one model name per
    GPU the job can see ("NVIDIA H200"), empty when none. `cpus`: the CPUs the job may use (its CPU
    affinity, or its cgroup's quota when lower). `memory_mb`: the job's memory limit in MiB as seen from
    inside; None when it found none."""

    fingerprint: str
    python: str
    packages: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()
    cpus: int = 0
    memory_mb: int | None = None

    @property
    def known(self) -> bool:
        """Whether this environment was measured (False for `UNKNOWN_ENVIRONMENT`)."""
        return self.fingerprint != UNKNOWN_FINGERPRINT


UNKNOWN_ENVIRONMENT = ExecutionEnvironment(fingerprint=UNKNOWN_FINGERPRINT, python="")
"""Stands for an environment whose probe failed: nothing is claimed about it."""


def environment_fingerprint(python: str, packages: Iterable[str], gpus: Iterable[str]) -> str:
    """The first 16 hex digits of the SHA-256 of the python version, the sorted packages and the sorted GPUs."""
    canonical = msgspec.json.encode([python, sorted(packages), sorted(gpus)])
    return hashlib.sha256(canonical).hexdigest()[:16]


def measured_environment(
    python: str, packages: Iterable[str], gpus: Iterable[str], cpus: int, memory_mb: int | None
) -> ExecutionEnvironment:
    """An environment from what a probe measured, its packages sorted and its fingerprint computed."""
    packages, gpus = tuple(sorted(packages)), tuple(gpus)
    return ExecutionEnvironment(
        fingerprint=environment_fingerprint(python, packages, gpus),
        python=python,
        packages=packages,
        gpus=gpus,
        cpus=cpus,
        memory_mb=memory_mb,
    )
