"""`airad environment`: probe one executor's environment (python, packages, GPUs, CPUs, memory) and print it."""

from __future__ import annotations

import argparse
from collections import Counter

from airad.cli import output as out
from airad.cli.errors import EXIT_FAILED, EXIT_OK, CliError
from airad.daemon.backends import build_backends
from airad.daemon.environments import probe_inputs_dir, probe_job_id
from airad.daemon.settings import Settings
from airad.executors.probe import ProbeError, probe_environment, probe_spec
from airad.schemas import request
from airad.schemas.environment import ExecutionEnvironment

EXECUTOR_KINDS = ("local", "container", "ssh", "slurm")
SETTING_OF_KIND = {"container": "[container] (AIRAD_CONTAINER)", "ssh": "[[ssh_hosts]]", "slurm": "[slurm]"}


async def cmd_environment(args: argparse.Namespace, settings: Settings) -> int:
    """Probe the chosen executor once, with a default request's resources, and print what its scripts see."""
    kind = args.executor or ("container" if args.image else "local")
    if args.image and kind != "container":
        raise CliError("--image applies to --executor container only")
    if args.gpus < 0:
        raise CliError("--gpus must be 0 or more")
    if args.gpus and kind == "local":
        raise CliError("--gpus applies to --executor container, ssh or slurm (local jobs get no GPUs)")
    backends = build_backends(settings, args.environ)
    if kind not in backends:
        raise CliError(f"the {kind} executor is not configured: set {SETTING_OF_KIND[kind]} in the daemon's settings")
    executor = backends[kind].executor
    spec = probe_spec(probe_job_id(kind), str(probe_inputs_dir(settings.state_path / "work")), _resources(kind, args))
    try:
        environment = await probe_environment(executor, spec)
    except ProbeError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    finally:
        aclose = getattr(executor, "aclose", None)
        if aclose is not None:
            await aclose()
    print(out.to_json(environment) if args.json else environment_text(kind, environment))
    return EXIT_OK


def _resources(kind: str, args: argparse.Namespace) -> request.ExecutorSpec:
    """A default request's executor spec of `kind`, with the image and GPUs asked for."""
    if kind == "container":
        return request.ContainerExecutor(image=args.image, gpus=args.gpus)
    if kind == "ssh":
        return request.SshExecutor(gpus=args.gpus)
    if kind == "slurm":
        return request.SlurmExecutor(gpus=args.gpus)
    return request.LocalExecutor()


def environment_text(kind: str, environment: ExecutionEnvironment) -> str:
    """An environment for people: a few `name  value` lines, then one installed package a line."""
    memory = f"{environment.memory_mb} MiB" if environment.memory_mb is not None else "no limit found"
    gpus = ", ".join(f"{count} × {name}" for name, count in Counter(environment.gpus).items()) or "none"
    rows = [
        ("executor", kind),
        ("python", environment.python),
        ("fingerprint", environment.fingerprint),
        ("cpus", str(environment.cpus)),
        ("memory", memory),
        ("gpus", gpus),
        ("packages", str(len(environment.packages))),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join([*lines, *(f"  {package}" for package in environment.packages)])


def register(command) -> None:
    """Add `environment` to `airad`'s parser."""
    environment = command(
        "environment",
        cmd_environment,
        "probe an executor: the python, packages, GPUs, CPUs and memory its scripts see",
    )
    environment.add_argument(
        "--executor", choices=EXECUTOR_KINDS, help="which backend to probe (default: local, or container with --image)"
    )
    environment.add_argument("--image", help="with --executor container: the image to probe (default: the backend's)")
    environment.add_argument(
        "--gpus", type=int, default=0, metavar="N", help="with container, ssh or slurm: probe a job given N GPUs"
    )
