"""The local executor's sandbox and limits hold against hostile scripts, with the daemon as root
(how these tests run in CI) and with whatever cgroups the host lets it make: no capabilities, an
unprivileged uid, no mounts, no new user namespaces, only allow-listed paths, memory of all a job's
processes together, a process limit, a disk quota over many files, and nothing left running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from airad.executors import sandbox_launch
from airad.executors.base import JobSpec
from airad.executors.local import LocalExecutor
from tests.conftest import IN_CI, require

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def executor(tmp_path: Path) -> LocalExecutor:
    require("bwrap")
    return LocalExecutor(tmp_path / "work", sandbox=True)


async def run(executor: LocalExecutor, tmp_path: Path, code: str, **limits):
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    spec = JobSpec(job_id=f"run/{time.monotonic_ns()}", files={"solution.py": code}, inputs_dir=str(inputs), timeout_s=60, **limits)
    handle = await executor.prepare(spec)
    await executor.start(handle)
    return await executor.wait(handle)


async def test_a_job_has_no_capabilities_no_root_and_cannot_mount_or_nest_namespaces(executor, tmp_path):
    code = (
        "import ctypes, os, subprocess\n"
        "status = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
        "print('uid', os.getuid(), 'caps', status['CapEff'].strip(), status['CapBnd'].strip(), 'nnp', status['NoNewPrivs'].strip())\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('umount', libc.umount2(b'/proc', 2), ctypes.get_errno())\n"
        "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())\n"
        "print('remount', libc.mount(b'none', b'/', None, 32 | 4096, None), ctypes.get_errno())\n"
        "print('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n"
    )
    result = await run(executor, tmp_path, code)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("uid ") and not lines[0].startswith("uid 0 ")
    assert "caps 0000000000000000 0000000000000000 nnp 1" in lines[0]
    for line in lines[1:]:
        name, code_, errno = line.split()
        assert code_ == "-1" and int(errno) in (1, 28), line  # EPERM; unshare of a user ns: ENOSPC (limit 0)
    if os.geteuid() == 0:
        job_files = list((tmp_path / "work").rglob("*"))
        assert not job_files, "the job dir is removed after the job"


async def test_a_job_sees_only_the_allow_list(executor, tmp_path):
    code = (
        "import os, socket\n"
        "for path in ['/etc/shadow', '/run', '/var/run', '/root/.ssh', '/home', '/var/lib', '/root/.bashrc', '/root/.cache']:\n"
        "    print(path, os.path.exists(path) and path != os.path.expanduser('~'))\n"
        "print('etc', sorted(os.listdir('/etc')))\n"
        "print('top', sorted(os.listdir('/')))\n"
    )
    result = await run(executor, tmp_path, code)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    for line in lines[:-2]:
        assert line.endswith(" False"), line
    etc = eval(lines[-2].split(" ", 1)[1])
    assert set(etc) <= set(name.split("/")[0] for name in sandbox_launch.ETC_ALLOWED), etc
    top = set(eval(lines[-1].split(" ", 1)[1]))
    interpreter_tops = {Path(d).parts[1] for d in (await executor.host_facts())["python_dirs"]}
    allowed = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp", "var", "work", *interpreter_tops}
    assert top <= allowed, top - allowed
    assert "run" not in top and "sys" not in top and "boot" not in top


async def test_memory_counts_every_process_of_a_job_together(executor, tmp_path):
    facts = await executor.host_facts()
    if not facts["cgroups"].get("version"):
        message = f"this host gives no memory cgroup: {facts['cgroups']['problem']}"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    code = (
        "import os, time\n"
        "children = []\n"
        "for _ in range(3):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(120 << 20)\n"
        "        time.sleep(5)\n"
        "        os._exit(0)\n"
        "    children.append(pid)\n"
        "codes = [os.waitpid(pid, 0)[1] for pid in children]\n"
        "print('children', codes)\n"
        "raise SystemExit(1 if any(codes) else 0)\n"
    )
    result = await run(executor, tmp_path, code, memory_mb=256)
    assert result.exit_code != 0 and result.oom, (result.exit_code, result.stdout, result.stderr)


async def test_a_fork_bomb_stops_at_the_process_limit_and_is_recorded(executor, tmp_path):
    code = (
        "import os, time\n"
        "made = 0\n"
        "try:\n"
        "    while made < 3000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        made += 1\n"
        "except OSError as exc:\n"
        "    print('fork failed after', made, exc.errno)\n"
        "    raise SystemExit(1)\n"
        "print('made', made)\n"
    )
    started = time.monotonic()
    result = await run(executor, tmp_path, code, processes=64)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    made = int(result.stdout.split()[3])
    assert made < 64, result.stdout
    assert time.monotonic() - started < 50, "the sleeping children were killed with the job"
    facts = await executor.host_facts()
    if facts["cgroups"].get("version"):
        assert result.killed == "too many processes"


async def test_disk_quota_covers_every_file_of_the_work_dir(executor, tmp_path):
    code = (
        "import time\n"
        "for n in range(40):\n"
        "    with open(f'part-{n}', 'wb') as f:\n"
        "        f.write(b'x' * (10 << 20))\n"
        "time.sleep(30)\n"
    )
    result = await run(executor, tmp_path, code, disk_mb=100)
    assert result.exit_code != 0
    assert result.killed == "disk quota", (result.exit_code, result.stderr[-500:])


async def test_tmp_is_capped(executor, tmp_path):
    code = (
        "try:\n"
        "    with open('/tmp/big', 'wb') as f:\n"
        "        for _ in range(300):\n"
        "            f.write(b'x' * (1 << 20))\n"
        "    print('wrote 300 MB')\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
    )
    result = await run(executor, tmp_path, code, disk_mb=100)
    assert result.stdout.startswith(b"refused"), (result.stdout, result.stderr)


async def test_nothing_a_job_started_outlives_it(executor, tmp_path):
    marker = f"airad-leftover-{time.monotonic_ns()}"
    code = (
        "import subprocess, os\n"
        f"subprocess.Popen(['/bin/sh', '-c', 'exec -a {marker} sleep 600'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv('/bin/sh', ['/bin/sh', '-c', 'exec -a {marker} sleep 601'])\n"
        "print('left two behind')\n"
    )
    result = await run(executor, tmp_path, code)
    assert result.exit_code == 0, result.stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = [p for p in Path("/proc").glob("[0-9]*/cmdline") if _reads(p).startswith(marker.encode())]
        if not left:
            break
        time.sleep(0.2)
    assert not left, "a process of the job outlived it"


def _reads(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
