"""Dispatch overhead per node of each executor: `python bench/executors.py [--jobs 20] [--only local,ssh]`.

For each executor, on real infrastructure started here (the test suite's own fixtures as plain
functions: a private dockerd and podman, sshd on loopback, a single-node Slurm), it runs trivial
jobs one at a time and reports, as median and 90th percentile:
  prepare    the `prepare` call (staging files, creating the container, `sbatch --hold`)
  to start   from `start` to the script's first line running
  to collect from the script's last line to `wait` returning the result
  overhead   the whole round trip minus the script's own run time
and then the same jobs `--parallel` at a time, as jobs per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airad.executors.base import Executor, JobSpec  # noqa: E402

SCRIPT = "import time\nprint('start', time.time())\nprint('end', time.time())\n"


@contextmanager
def local_backend(sandbox: bool) -> Iterator[Executor]:
    from airad.executors.local import LocalExecutor

    with tempfile.TemporaryDirectory() as state:
        yield LocalExecutor(Path(state) / "work", sandbox=sandbox, hidden=(Path(state).resolve(),))


@contextmanager
def container_backend(kind: str) -> Iterator[Executor]:
    from airad.executors.container import ContainerExecutor
    from tests.infra import containers

    start = containers.start_dockerd if kind == "docker" else containers.start_podman
    with containers.running(start()) as engine:
        yield ContainerExecutor(containers.host_backend(engine.url))


@contextmanager
def ssh_backend() -> Iterator[Executor]:
    from airad.executors.ssh import SshExecutor
    from tests.infra import sshd

    with sshd.sshd_server() as server:
        yield SshExecutor([server.host(slots=4)])


@contextmanager
def slurm_backend() -> Iterator[Executor]:
    from airad.executors.slurm import SlurmExecutor
    from tests.infra import slurm

    with slurm.slurm_cluster() as cluster:
        yield SlurmExecutor(cluster.backend(), env=cluster.env)


BACKENDS: dict[str, Callable[[], contextmanager]] = {
    "local": lambda: local_backend(sandbox=False),
    "local-bwrap": lambda: local_backend(sandbox=True),
    "container-docker": lambda: container_backend("docker"),
    "container-podman": lambda: container_backend("podman"),
    "ssh": ssh_backend,
    "slurm": slurm_backend,
}


def spec(inputs: Path) -> JobSpec:
    return JobSpec(job_id=f"bench-{uuid.uuid4().hex[:10]}", files={"solution.py": SCRIPT}, inputs_dir=str(inputs),
                   timeout_s=120, memory_mb=1024, outputs=())


async def one_job(executor: Executor, inputs: Path) -> dict[str, float]:
    began = time.time()
    handle = await executor.prepare(spec(inputs))
    prepared = time.time()
    await executor.start(handle)
    result = await executor.wait(handle)
    collected = time.time()
    stamps = dict(line.split() for line in result.stdout.decode().splitlines() if line.split()[:1] in (["start"], ["end"]))
    if result.exit_code != 0 or len(stamps) != 2:
        raise RuntimeError(f"bench job failed: exit {result.exit_code}, stderr {result.stderr[-300:]!r}")
    started, ended = float(stamps["start"]), float(stamps["end"])
    return {
        "prepare": prepared - began,
        "to start": started - prepared,
        "to collect": collected - ended,
        "overhead": (collected - began) - (ended - started),
    }


async def measure(executor: Executor, jobs: int, parallel: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp)
        (inputs / "data.csv").write_text("x\n1\n")
        await one_job(executor, inputs)
        samples = [await one_job(executor, inputs) for _ in range(jobs)]
        limit = asyncio.Semaphore(parallel)

        async def bounded():
            async with limit:
                await one_job(executor, inputs)

        began = time.perf_counter()
        await asyncio.gather(*(bounded() for _ in range(jobs)))
        rate = jobs / (time.perf_counter() - began)
    figures = {}
    for key in samples[0]:
        values = sorted(sample[key] for sample in samples)
        figures[key] = (statistics.median(values), values[int(0.9 * (len(values) - 1))])
    return {"figures": figures, "jobs_per_s": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--only", default=",".join(BACKENDS), help="comma-separated: " + ", ".join(BACKENDS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = {}
    for name in args.only.split(","):
        with BACKENDS[name]() as executor:
            rows[name] = asyncio.run(measure(executor, args.jobs, args.parallel))
        if not args.json:
            figures = rows[name]["figures"]
            cells = "  ".join(f"{key} {median * 1000:7.0f} / {p90 * 1000:7.0f} ms" for key, (median, p90) in figures.items())
            print(f"{name:17s} {cells}  {rows[name]['jobs_per_s']:6.1f} jobs/s at {args.parallel} in parallel", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
