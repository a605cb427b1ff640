"""Output files are read beneath the work dir without following any link (`output_files`), also when
the module runs as a script on another host (`python -c`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from airad.executors import base, output_files
from airad.executors.output_files import OutputRefused, read_beneath

LIMIT = 1000


@pytest.fixture
def work(tmp_path):
    work = tmp_path / "work"
    (work / "submission").mkdir(parents=True)
    return work


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "hidden"
    secret.mkdir()
    (secret / "submission.csv").write_text("id,target\n1,secret\n")
    return secret


def refused(work, relative: str = "submission/submission.csv", limit: int = LIMIT) -> str:
    with pytest.raises(OutputRefused) as caught:
        read_beneath(str(work), relative, limit)
    return caught.value.reason


def test_a_regular_file_is_read(work):
    (work / "submission" / "submission.csv").write_text("id,y\n1,0.5\n")
    assert read_beneath(str(work), "submission/submission.csv", LIMIT) == b"id,y\n1,0.5\n"


def test_a_hard_link_is_read_as_the_file_it_is(work, tmp_path):
    (work / "elsewhere.csv").write_text("linked\n")
    os.link(work / "elsewhere.csv", work / "submission" / "submission.csv")
    assert read_beneath(str(work), "submission/submission.csv", LIMIT) == b"linked\n"


def test_a_symlinked_file_is_refused(work, outside):
    (work / "submission" / "submission.csv").symlink_to(outside / "submission.csv")
    assert refused(work) == "submission/submission.csv is a symbolic link"


def test_a_symlink_to_a_file_inside_the_work_dir_is_refused_too(work):
    (work / "real.csv").write_text("x\n")
    (work / "submission" / "submission.csv").symlink_to("../real.csv")
    assert refused(work) == "submission/submission.csv is a symbolic link"


def test_a_symlinked_dir_on_the_way_is_refused(work, outside):
    (work / "submission").rmdir()
    (work / "submission").symlink_to(outside)
    assert refused(work) == "submission is a symbolic link"


def test_a_dangling_symlink_is_refused_not_missing(work, tmp_path):
    (work / "submission" / "submission.csv").symlink_to(tmp_path / "nowhere")
    assert refused(work) == "submission/submission.csv is a symbolic link"


@pytest.mark.parametrize("relative", ["../hidden/submission.csv", "submission/../../hidden/submission.csv", "/etc/passwd",
                                      "submission//submission.csv", "", "./submission/submission.csv", "a\0b"])
def test_a_path_that_is_not_plainly_relative_is_refused(work, outside, relative):
    assert "is not a plain relative path" in refused(work, relative)


def test_a_fifo_is_refused_without_blocking(work):
    os.mkfifo(work / "submission" / "submission.csv")
    outcome = {}
    reader = threading.Thread(target=lambda: outcome.setdefault("reason", refused(work)), daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a fifo blocked"
    assert outcome["reason"] == "submission/submission.csv is not a regular file (fifo)"


def test_a_dir_where_the_file_should_be_is_refused(work):
    (work / "submission" / "submission.csv").mkdir()
    assert refused(work) == "submission/submission.csv is not a regular file (directory)"


def test_a_file_where_a_dir_should_be_is_refused(work):
    (work / "submission").rmdir()
    (work / "submission").write_text("not a dir\n")
    assert refused(work) == "submission is not a directory (regular file)"


def test_a_socket_is_refused(work):
    import socket

    path = work / "submission" / "submission.csv"
    with tempfile.TemporaryDirectory(dir="/tmp") as short, socket.socket(socket.AF_UNIX) as sock:
        sock.bind(f"{short}/s")  # a socket's path must be short: made there, then moved in place
        os.rename(f"{short}/s", path)
        assert refused(work) == "submission/submission.csv is not a regular file (socket)"


def test_a_file_over_the_limit_is_refused_with_the_note_text(work):
    with open(work / "submission" / "submission.csv", "wb") as file:
        file.truncate(LIMIT + 1)
    reason = refused(work)
    assert reason == f"{LIMIT + 1} bytes, over the {LIMIT} byte limit on an output file"
    assert base.refused_output_note("x.csv", reason) == base.output_too_big_note("x.csv", LIMIT + 1, LIMIT)


def test_a_file_at_the_limit_is_read(work):
    (work / "submission" / "submission.csv").write_bytes(b"x" * LIMIT)
    assert read_beneath(str(work), "submission/submission.csv", LIMIT) == b"x" * LIMIT


def test_a_file_growing_past_the_limit_is_not_read_past_it(work, monkeypatch):
    path = work / "submission" / "submission.csv"
    path.write_bytes(b"small")
    reads = []
    real_read = os.read

    def growing_read(fd, n):
        reads.append(n)
        return b"y" * n  # a file that never ends, whatever its size said

    monkeypatch.setattr(output_files.os, "read", growing_read)
    reason = refused(work)
    monkeypatch.setattr(output_files.os, "read", real_read)
    assert reason.endswith(f"over the {LIMIT} byte limit on an output file")
    assert sum(reads) == LIMIT + 1


def test_a_missing_file_or_dir_is_not_found(work, tmp_path):
    with pytest.raises(FileNotFoundError):
        read_beneath(str(work), "submission/submission.csv", LIMIT)
    with pytest.raises(FileNotFoundError):
        read_beneath(str(work), "nothing/submission.csv", LIMIT)
    with pytest.raises(FileNotFoundError):
        read_beneath(str(tmp_path / "gone"), "submission/submission.csv", LIMIT)


def test_an_unreadable_file_is_refused_saying_so(work):
    if os.geteuid() != 0:
        path = work / "submission" / "submission.csv"
        path.write_text("x\n")
        path.chmod(0)
        assert "could not be opened: Permission denied" in refused(work)
        return
    with tempfile.TemporaryDirectory(dir="/tmp") as base:  # root reads anything: read as nobody instead
        os.chmod(base, 0o755)
        (Path(base) / "submission").mkdir(mode=0o755)
        (Path(base) / "submission" / "submission.csv").write_text("x\n")
        os.chmod(Path(base) / "submission" / "submission.csv", 0)
        argv = output_files.read_command("/usr/bin/python3", base, LIMIT, ["submission/submission.csv"])
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *argv], capture_output=True)
    assert "could not be opened: Permission denied" in output_files.parse_read_output(done.stdout)["submission/submission.csv"]


def test_the_script_form_reads_refuses_and_misses_in_one_run(work, outside):
    (work / "submission" / "submission.csv").write_bytes(b"id,y\n1,\xff\n\n")
    (work / "empty.csv").write_bytes(b"")
    (work / "linked").symlink_to(outside)
    argv = output_files.read_command(sys.executable, str(work), LIMIT,
                                     ["submission/submission.csv", "linked/submission.csv", "missing.csv", "empty.csv"])
    done = subprocess.run(argv, capture_output=True, timeout=30, cwd="/")
    assert done.returncode == 0, done.stderr
    assert output_files.parse_read_output(done.stdout) == {
        "submission/submission.csv": b"id,y\n1,\xff\n\n",
        "linked/submission.csv": "linked is a symbolic link",
        "empty.csv": b"",
    }


def test_a_cut_short_script_output_is_an_error():
    with pytest.raises(ValueError):
        output_files.parse_read_output(b'{"name": "a.csv", "size": 10}\nabc')


def test_the_module_imports_nothing_of_airad():
    source = output_files.source()
    assert "airad" not in "".join(line for line in source.splitlines() if line.startswith(("import", "from")))


@pytest.mark.parametrize("reason", ["submission is a symbolic link", "12 bytes, over the 5 byte limit on an output file"])
def test_the_reason_for_an_uncollected_output_is_found_in_stderr(reason):
    stderr = ("job output\n" + base.refused_output_note("submission/submission.csv", reason).decode()).rstrip("\n")
    assert base.uncollected_reason(stderr, "submission/submission.csv") == f"submission/submission.csv was not collected: {reason}"
    assert base.uncollected_reason(stderr, "other.csv") is None
    assert base.output_too_big_note("a.csv", 12, 5) == b"\n[airad: a.csv not collected: 12 bytes, over the 5 byte limit on an output file]\n"
