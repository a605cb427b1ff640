"""The registry of the processes that share a state dir's embedded nats-server: the last one out stops it."""

import json
import os
import subprocess
import sys

import pytest

from airad.daemon.nats_server import EmbeddedNats, ServerUsers, process_start, shared_server


def _running(pid: int) -> bool:
    """Whether `pid` runs; a zombie (a stopped server not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def _recorded_pid(state_dir) -> int:
    return json.loads((state_dir / "nats.json").read_text())["pid"]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def sleeper():
    """Another live process, to register as a second user."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def test_live_lists_running_users_and_drops_the_files_of_dead_ones(tmp_path):
    users = ServerUsers(tmp_path)
    with users.locked():
        mine = users.add(os.getpid())
        users.add(_dead_pid())
        assert users.live() == [os.getpid()]
        assert list(users.folder.iterdir()) == [mine], "the dead process's file is removed"
        users.remove(mine)
        assert users.live() == []


def test_a_reused_pid_is_not_taken_for_the_process_that_registered(tmp_path):
    users = ServerUsers(tmp_path)
    users.folder.mkdir()
    (users.folder / f"{os.getpid()}.0").write_text("1")  # this pid, but started at another time
    assert process_start(os.getpid()) not in ("", "1")
    with users.locked():
        assert users.live() == []


def test_the_last_user_stops_the_server_and_an_earlier_one_leaves_it(tmp_path):
    with shared_server(tmp_path) as first_url:
        pid = _recorded_pid(tmp_path)
        with shared_server(tmp_path) as second_url:
            assert second_url == first_url
        assert _running(pid), "the first use still holds it"
        assert EmbeddedNats.running_url(tmp_path) == first_url
    assert not _running(pid)
    assert not (tmp_path / "nats.json").exists()
    assert EmbeddedNats.running_url(tmp_path) is None


def test_a_server_left_by_a_killed_process_is_adopted_then_stopped_by_its_last_user(tmp_path):
    left = EmbeddedNats(tmp_path)
    left_url = left.start()
    ServerUsers(tmp_path).folder.mkdir()
    (ServerUsers(tmp_path).folder / f"{_dead_pid()}.0").write_text("")
    try:
        with shared_server(tmp_path) as url:
            assert url == left_url
        assert not _running(left.process.pid)
        assert not (tmp_path / "nats.json").exists()
    finally:
        left.stop()


def test_a_live_user_of_another_process_keeps_the_server(tmp_path, sleeper):
    users = ServerUsers(tmp_path)
    with shared_server(tmp_path) as url:
        pid = _recorded_pid(tmp_path)
        with users.locked():
            other = users.add(sleeper.pid)
    assert _running(pid) and EmbeddedNats.running_url(tmp_path) == url
    with shared_server(tmp_path) as again:
        assert again == url
        with users.locked():
            users.remove(other)
    assert not _running(pid)
