"""The environment probe: its script measured here, the fingerprint, the probe's errors, and the daemon's
cache sharing one probe between callers and remembering a failure as unknown."""

import resource
import subprocess
import sys

import anyio
import msgspec
import pytest
import structlog.testing

from airad.daemon.environments import Environments
from airad.executors.base import JobResult, JobSpec
from airad.executors.probe import PROBE_SCRIPT, ProbeError, ProbeReport, probe_environment, probe_spec
from airad.schemas.environment import (
    UNKNOWN_ENVIRONMENT,
    ExecutionEnvironment,
    environment_fingerprint,
    measured_environment,
)
from airad.schemas.request import ContainerExecutor, LocalExecutor, SlurmExecutor, SshExecutor


def _run_probe_script(tmp_path, env: dict[str, str] | None = None, memory_limit: int | None = None) -> bytes:
    (tmp_path / "probe.py").write_text(PROBE_SCRIPT)

    def limit_memory() -> None:
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    subprocess.run(
        [sys.executable, "probe.py"],
        cwd=tmp_path,
        env=env,
        preexec_fn=limit_memory,
        check=True,
        timeout=120,
        capture_output=True,
    )
    return (tmp_path / "environment.json").read_bytes()


SMI_ROWS = "0, GPU-aaaa1111, NVIDIA H200\n1, GPU-bbbb2222, NVIDIA H200\n2, GPU-cccc3333, NVIDIA A100-SXM4-80GB\n"


@pytest.mark.parametrize(
    ("visible", "smi_exit", "gpus"),
    [
        (None, 0, ["NVIDIA H200", "NVIDIA H200", "NVIDIA A100-SXM4-80GB"]),
        ("2", 0, ["NVIDIA A100-SXM4-80GB"]),
        ("GPU-cccc,0", 0, ["NVIDIA A100-SXM4-80GB", "NVIDIA H200"]),
        ("", 0, []),
        ("-1", 0, []),
        ("5,6,7", 0, ["NVIDIA H200", "NVIDIA H200", "NVIDIA A100-SXM4-80GB"]),
        (None, 9, []),
    ],
)
def test_the_probe_script_lists_the_gpus_the_job_may_use(tmp_path, visible, smi_exit, gpus):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\nprintf '{SMI_ROWS}'\nexit {smi_exit}\n")
    smi.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"} | ({"CUDA_VISIBLE_DEVICES": visible} if visible is not None else {})
    report = msgspec.json.decode(_run_probe_script(tmp_path, env), type=ProbeReport)
    assert list(report.gpus) == gpus


def test_the_probe_script_finds_a_per_process_memory_limit(tmp_path):
    unlimited = msgspec.json.decode(_run_probe_script(tmp_path), type=ProbeReport)
    limited = msgspec.json.decode(_run_probe_script(tmp_path, memory_limit=4 << 30), type=ProbeReport)
    assert limited.memory_mb == min(4096, unlimited.memory_mb or 4096)


def test_without_nvidia_smi_the_probe_finds_no_gpus(tmp_path):
    report = msgspec.json.decode(_run_probe_script(tmp_path, {"PATH": str(tmp_path)}), type=ProbeReport)
    assert report.gpus == ()


def test_the_probe_script_measures_this_interpreter(tmp_path):
    report = msgspec.json.decode(_run_probe_script(tmp_path), type=ProbeReport)
    environment = measured_environment(report.python, report.packages, report.gpus, report.cpus, report.memory_mb)
    assert msgspec.json.decode(msgspec.json.encode(environment), type=ExecutionEnvironment) == environment
    assert environment.python == ".".join(map(str, sys.version_info[:3]))
    names = [package.split("==")[0] for package in environment.packages]
    assert "numpy" in names and "scikit-learn" in names and "msgspec" in names
    assert list(environment.packages) == sorted(environment.packages) and len(names) == len(set(names))
    assert all(name == name.lower() and "_" not in name and "." not in name for name in names)
    assert environment.cpus >= 1 and len(environment.fingerprint) == 16 and environment.known


def test_the_fingerprint_is_stable_and_follows_packages_python_and_gpus():
    packages = ("numpy==2.0.0", "pandas==2.2.0")
    fingerprint = environment_fingerprint("3.11.7", packages, ())
    assert fingerprint == environment_fingerprint("3.11.7", reversed(packages), ())
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert fingerprint != environment_fingerprint("3.11.7", ("numpy==2.0.1", "pandas==2.2.0"), ())
    assert fingerprint != environment_fingerprint("3.11.7", packages[:1], ())
    assert fingerprint != environment_fingerprint("3.12.1", packages, ())
    assert fingerprint != environment_fingerprint("3.11.7", packages, ("NVIDIA H200",))
    measured = measured_environment("3.11.7", reversed(packages), (), cpus=4, memory_mb=None)
    assert measured.packages == packages and measured.fingerprint == fingerprint
    assert measured_environment("3.11.7", packages, (), cpus=64, memory_mb=1024).fingerprint == fingerprint
    assert not UNKNOWN_ENVIRONMENT.known and UNKNOWN_ENVIRONMENT.packages == ()


def test_the_probe_spec_carries_the_requests_resources_and_no_inputs(tmp_path):
    spec = probe_spec("p-1", str(tmp_path), ContainerExecutor(cpus=2, memory_mb=1024, gpus=1, image="img:1"))
    assert (spec.cpus, spec.memory_mb, spec.gpus, spec.image) == (2, 1024, 1, "img:1")
    assert spec.files == {"probe.py": PROBE_SCRIPT} and spec.command == ("python", "probe.py")
    assert spec.outputs == ("environment.json",) and spec.timeout_s == 120 and spec.inputs_dir == str(tmp_path)
    local = probe_spec("p-2", str(tmp_path), LocalExecutor())
    assert (local.gpus, local.image) == (0, None)


class FakeExecutor:
    """Answers every job with `result` (or raises it) once `release` is set; counts the jobs prepared."""

    name = "fake"

    def __init__(self, result: JobResult | Exception, release: anyio.Event | None = None):
        self.result = result
        self.release = release
        self.prepared: list[JobSpec] = []
        self.cancelled: list[str] = []

    async def prepare(self, spec: JobSpec) -> str:
        self.prepared.append(spec)
        return spec.job_id

    async def start(self, handle: str) -> None:
        pass

    async def wait(self, handle: str) -> JobResult:
        if self.release is not None:
            await self.release.wait()
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    async def cancel(self, handle: str) -> None:
        self.cancelled.append(handle)


def _finished(data: bytes, exit_code: int = 0, stderr: bytes = b"") -> JobResult:
    return JobResult(exit_code=exit_code, duration_s=0.5, stderr=stderr, outputs={"environment.json": data})


REPORT = b'{"python": "3.11.7", "packages": ["numpy==2.0.0"], "gpus": ["NVIDIA H200"], "cpus": 2, "memory_mb": 4096}'


async def test_probe_environment_reads_what_the_job_wrote(tmp_path):
    executor = FakeExecutor(_finished(_run_probe_script(tmp_path)))
    environment = await probe_environment(executor, probe_spec("p", str(tmp_path), LocalExecutor()))
    assert any(package.startswith("numpy==") for package in environment.packages)
    gpu_box = await probe_environment(FakeExecutor(_finished(REPORT)), probe_spec("p", ".", LocalExecutor()))
    assert (gpu_box.gpus, gpu_box.cpus, gpu_box.memory_mb) == (("NVIDIA H200",), 2, 4096)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (_finished(b"", exit_code=1, stderr=b"Traceback...\nImportError: no json"), "exited with code 1; stderr: "),
        (JobResult(exit_code=0, duration_s=0.1), "wrote no environment.json; stderr was empty"),
        (JobResult(exit_code=None, duration_s=120, timed_out=True), "timed out after 120 s"),
        (_finished(b"{not json"), "environment.json that is not JSON"),
        (_finished(REPORT.replace(b'"cpus": 2', b'"cpus": "2"')), "invalid environment.json: Expected `int`"),
        (_finished(REPORT[:-1] + b', "extra": 1}'), "invalid environment.json: Object contains unknown field"),
    ],
)
async def test_a_failed_probe_says_what_went_wrong(result, message):
    with pytest.raises(ProbeError, match="the environment probe on fake") as raised:
        await probe_environment(FakeExecutor(result), probe_spec("p", ".", LocalExecutor()))
    assert message in str(raised.value)
    if result.stderr:
        assert "ImportError: no json" in str(raised.value)


async def test_concurrent_callers_share_one_probe_per_environment(tmp_path):
    release = anyio.Event()
    executor = FakeExecutor(_finished(REPORT), release)
    environments = Environments(tmp_path)
    found: list[ExecutionEnvironment] = []

    async def ask(resources) -> None:
        found.append(await environments.of("slurm", executor, resources))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask, SlurmExecutor(partition="gpu"))
        tg.start_soon(ask, SlurmExecutor(partition="cpu"))
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert len(executor.prepared) == 2 and len(found) == 6
    assert {environment.gpus for environment in found} == {("NVIDIA H200",)}
    assert all(spec.inputs_dir == executor.prepared[0].inputs_dir for spec in executor.prepared)
    assert not any((tmp_path / "environment-probe-inputs").iterdir())
    again = await environments.of("slurm", executor, SlurmExecutor(partition="gpu", cpus=4))
    assert again == found[0] and len(executor.prepared) == 2
    await environments.of("slurm", executor, SlurmExecutor(partition="gpu", gpus=1))
    assert len(executor.prepared) == 3


async def test_a_failed_probe_is_unknown_until_its_retry(tmp_path):
    now = [1000.0]
    environments = Environments(tmp_path, clock=lambda: now[0])
    broken = FakeExecutor(_finished(b"", exit_code=1, stderr=b"no python here"))
    with structlog.testing.capture_logs() as logs:
        assert await environments.of("container", broken, ContainerExecutor(image="bare")) is UNKNOWN_ENVIRONMENT
    [failed] = [entry for entry in logs if entry["event"] == "environment.probe_failed"]
    assert failed["image"] == "bare" and "exited with code 1; stderr: no python here" in failed["error"]
    now[0] += 599
    assert await environments.of("container", broken, ContainerExecutor(image="bare")) is UNKNOWN_ENVIRONMENT
    assert len(broken.prepared) == 1
    now[0] += 2
    fixed = FakeExecutor(_finished(REPORT))
    environment = await environments.of("container", fixed, ContainerExecutor(image="bare"))
    assert environment.known and len(fixed.prepared) == 1
    lost = FakeExecutor(RuntimeError("host unreachable"))
    assert await environments.of("ssh", lost, SshExecutor()) is UNKNOWN_ENVIRONMENT


async def test_a_probe_past_its_deadline_is_cancelled_and_unknown(tmp_path):
    hung = FakeExecutor(_finished(REPORT), anyio.Event())
    environments = Environments(tmp_path, deadline_s=0.1)
    assert await environments.of("slurm", hung, SlurmExecutor()) is UNKNOWN_ENVIRONMENT
    assert hung.cancelled == [hung.prepared[0].job_id]
