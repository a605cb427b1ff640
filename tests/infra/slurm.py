"""A private single-node Slurm cluster (munged, slurmctld, slurmd) for integration tests and benchmarks.

Everything lives in one fresh dir under /tmp: the munge key and socket, slurm.conf, state, spool and
logs. The node has up to 2 CPUs, half the machine's memory and one stand-in GPU (`/dev/null`). The
daemons run in the foreground on free loopback ports, started and stopped by PID; clients reach this
cluster only through the `SLURM_CONF` in `SlurmCluster.env`. `start_slurm` / `stop_slurm` and the
`slurm_cluster` context manager are plain functions for scripts; the `slurm` fixture hands one
cluster to a whole test session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airad.executors.config import SlurmBackend
from tests.infra.sshd import free_port

TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")
PARTITION = "airad"

SLURM_CONF = """\
ClusterName=airadtest
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge/munge.socket,cred_expire=5
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
PropagateResourceLimits=NONE
MinJobAge=600
KillWait=2
ReturnToService=2
DefMemPerCPU=256
GresTypes=gpu
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""

GRES_CONF = "NodeName={node} Name=gpu File=/dev/null\n"


@dataclass
class SlurmCluster:
    """A running private cluster: its dir, its slurm.conf, the environment Slurm clients need
    (`SLURM_CONF`), its one node and partition, and the daemons' processes."""

    dir: Path
    conf: Path
    node: str
    partition: str = PARTITION
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """What to add to a Slurm client's environment to reach this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def command(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a Slurm client command (`squeue`, `scancel`, ...) against this cluster."""
        return subprocess.run(
            argv, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=30, check=check,
        )

    def backend(self, root: Path | None = None, **fields) -> SlurmBackend:
        """A backend on this cluster: job dirs under `root` (default: `jobs/` in the cluster's dir),
        this interpreter as the jobs' python."""
        root = root or self.dir / "jobs"
        root.mkdir(parents=True, exist_ok=True)
        return SlurmBackend(**{"root": str(root), "python": sys.executable, "partition": self.partition, **fields})

    def logs(self) -> str:
        """The tail of every daemon's log, for error messages."""
        parts = []
        for path in sorted((self.dir / "log").glob("*")):
            parts.append(f"== {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def report(self) -> str:
        """The node's state, every job the controller knows, and the daemons' logs: what a hung test needs."""
        nodes = self.command("sinfo", "-N", "-o", "%N %T %E", check=False)
        jobs = self.command("squeue", "-t", "all", "-o", "%i %T %r %M %j", check=False)
        return f"{nodes.stdout}{nodes.stderr}\n{jobs.stdout}{jobs.stderr}\n{self.logs()}"


def binary(tool: str) -> str | None:
    """The path of a Slurm or munge program; the daemons are often outside a plain user's PATH."""
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def memory_mb() -> int:
    """Half of this machine's memory: RealMemory must not exceed what slurmd finds."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 // 2
    raise RuntimeError("no MemTotal in /proc/meminfo")


def write_files(directory: Path, node: str) -> Path:
    """The munge key, the dirs the daemons write to, slurm.conf and gres.conf (one stand-in GPU, so
    that GPU requests schedule and jobs get CUDA_VISIBLE_DEVICES); returns slurm.conf's path."""
    for name in ("munge", "state", "spool", "log"):
        (directory / name).mkdir()
    key = directory / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    conf = directory / "slurm.conf"
    conf.write_text(SLURM_CONF.format(
        dir=directory, node=node, ctld_port=free_port(), slurmd_port=free_port(),
        cpus=min(2, os.cpu_count() or 1), memory_mb=memory_mb(), partition=PARTITION,
    ))
    (directory / "gres.conf").write_text(GRES_CONF.format(node=node))
    return conf


def spawn(cluster: SlurmCluster, name: str, argv: list[str]) -> None:
    """Start one daemon in the foreground, its output in log/<name>.out."""
    with open(cluster.dir / "log" / f"{name}.out", "wb") as out:
        cluster.processes[name] = subprocess.Popen(
            argv, env={**os.environ, **cluster.env}, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )


def wait_until(cluster: SlurmCluster, ready, what: str, timeout_s: float) -> None:
    """Poll `ready()` until it holds; fail with the logs if a daemon dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        dead = [name for name, process in cluster.processes.items() if process.poll() is not None]
        if dead or time.monotonic() > deadline:
            reason = f"{', '.join(dead)} exited" if dead else f"not within {timeout_s:.0f}s"
            raise RuntimeError(f"private Slurm: {what}: {reason}\n{cluster.logs()}")
        time.sleep(0.2)


def node_idle(cluster: SlurmCluster) -> bool:
    """Whether sinfo reports the node idle."""
    result = cluster.command("sinfo", "-h", "-n", cluster.node, "-o", "%t", check=False)
    return result.returncode == 0 and result.stdout.strip() == "idle"


def start_slurm(timeout_s: float = 60.0) -> SlurmCluster:
    """Start munged, slurmctld and slurmd in a fresh dir and wait until the node is idle."""
    directory = Path(tempfile.mkdtemp(prefix="airad-slurm-"))
    directory.chmod(0o755)
    node = socket.gethostname().split(".")[0]
    cluster = SlurmCluster(dir=directory, conf=write_files(directory, node), node=node)
    munge = directory / "munge"
    try:
        spawn(cluster, "munged", [
            binary("munged"), "--foreground", "--force", f"--socket={munge}/munge.socket",
            f"--key-file={munge}/munge.key", f"--pid-file={munge}/munged.pid",
            f"--seed-file={munge}/munged.seed", f"--log-file={directory}/log/munged.log",
        ])
        wait_until(cluster, (munge / "munge.socket").exists, "munged socket", timeout_s)
        spawn(cluster, "slurmctld", [binary("slurmctld"), "-D", "-f", str(cluster.conf)])
        spawn(cluster, "slurmd", [binary("slurmd"), "-D", "-f", str(cluster.conf), "-N", node])
        wait_until(cluster, lambda: node_idle(cluster), "node idle", timeout_s)
    except BaseException:
        stop_slurm(cluster)
        raise
    return cluster


def active_jobs(cluster: SlurmCluster) -> list[str]:
    """Ids of the cluster's jobs not yet finished (pending, running, completing)."""
    result = cluster.command("squeue", "-h", "-o", "%i", check=False)
    return result.stdout.split() if result.returncode == 0 else []


def stop_slurm(cluster: SlurmCluster, timeout_s: float = 30.0) -> None:
    """Cancel leftover jobs and wait for them to end, then stop the daemons by PID and remove the dir."""
    if "slurmctld" in cluster.processes and cluster.processes["slurmctld"].poll() is None:
        jobs = active_jobs(cluster)
        if jobs:
            cluster.command("scancel", *jobs, check=False)
        deadline = time.monotonic() + timeout_s
        while active_jobs(cluster) and time.monotonic() < deadline:
            time.sleep(0.2)
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.processes.pop(name, None)
        if process is None:
            continue
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    shutil.rmtree(cluster.dir, ignore_errors=True)


@contextmanager
def slurm_cluster(timeout_s: float = 60.0) -> Iterator[SlurmCluster]:
    """A running private cluster for the life of the block."""
    cluster = start_slurm(timeout_s)
    try:
        yield cluster
    finally:
        stop_slurm(cluster)


def require_slurm() -> None:
    """Fail under CI, skip elsewhere, when a Slurm or munge program is not installed."""
    from tests.conftest import require

    for tool in TOOLS:
        if binary(tool) is None:
            require(tool)


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    """One private Slurm cluster for the whole test session."""
    require_slurm()
    with slurm_cluster() as cluster:
        yield cluster
