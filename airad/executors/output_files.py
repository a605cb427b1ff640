"""Read a job's output files beneath its work dir without following any link.

A job writes its outputs (`submission/submission.csv`) where it likes, and a hostile one can put a
symbolic link, a FIFO or a device where a file or dir is expected, hoping the daemon (outside the
sandbox) follows it to a file the job could not read itself. So each output is opened one component
at a time from the work dir: every dir with `O_DIRECTORY|O_NOFOLLOW` relative to the one before it
(`openat`), the file itself with `O_NOFOLLOW|O_NONBLOCK` (a FIFO cannot block the open), and only a
regular file (`fstat`) is read, and never more than `limit + 1` bytes of it. Anything else raises
`OutputRefused` with the reason; a missing output raises `FileNotFoundError`.

Standard library only, so the ssh and Slurm executors run this very file on the host that has the
job dir, with `python3 -I -c` (`read_command`):

    python3 -I -c SOURCE read ROOT LIMIT REL...

prints, for each REL in order, one JSON line `{"name": REL, ...}` holding `"size": N` (followed by
exactly N raw bytes, the file), `"missing": true` or `"refused": REASON`; `parse_read_output` reads
that back.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
CHUNK = 1 << 20
KINDS = (
    (stat.S_ISLNK, "symbolic link"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISREG, "regular file"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


class OutputRefused(Exception):
    """An output that is there but is not collected; `reason` says why, naming the path from the
    work dir ("submission is a symbolic link")."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def too_big_reason(size: int, limit: int) -> str:
    """The reason given for an output file over `limit` bytes."""
    return f"{size} bytes, over the {limit} byte limit on an output file"


def kind(mode: int) -> str:
    """What sort of file a `st_mode` says it is."""
    return next((name for test, name in KINDS if test(mode)), "unknown file type")


def components(relative: str) -> list[str]:
    """The names along `relative`; `OutputRefused` for an absolute path, `..`, `.` or an empty name."""
    parts = relative.split("/")
    if not relative or "\0" in relative or any(part in ("", ".", "..") for part in parts):
        raise OutputRefused(f"{relative!r} is not a plain relative path")
    return parts


def _refusal(parent: int, name: str, shown: str, error: OSError, wanted: str) -> Exception:
    """The exception for a failed open of `name` in the dir `parent`: FileNotFoundError when it is
    missing, else `OutputRefused` saying what is there instead of a `wanted`."""
    if error.errno == errno.ENOENT:
        return FileNotFoundError(errno.ENOENT, "no such output", shown)
    try:
        found = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except OSError:
        return OutputRefused(f"{shown} could not be opened: {error.strerror}")
    if stat.S_ISLNK(found.st_mode):
        return OutputRefused(f"{shown} is a symbolic link")
    if error.errno in (errno.ENOTDIR, errno.ENXIO, errno.ELOOP, errno.EMLINK):
        return OutputRefused(f"{shown} is not a {wanted} ({kind(found.st_mode)})")
    return OutputRefused(f"{shown} could not be opened: {error.strerror}")


def read_beneath(root: str, relative: str, limit: int) -> bytes:
    """The bytes of the regular file `relative` beneath the dir `root`, opened without following a
    link anywhere below `root` (`root` itself is the daemon's and is opened as it is). Raises
    `OutputRefused` for a link, a non-file, an unreadable file or one over `limit` bytes, and
    `FileNotFoundError` when it (or a dir on its way) is missing."""
    parts = components(relative)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, name in enumerate(parts):
            shown = "/".join(parts[: index + 1])
            last = index == len(parts) - 1
            try:
                opened = os.open(name, FILE_FLAGS if last else DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                raise _refusal(fd, name, shown, error, "regular file" if last else "directory") from None
            os.close(fd)
            fd = opened
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise OutputRefused(f"{relative} is not a regular file ({kind(found.st_mode)})")
        if found.st_size > limit:
            raise OutputRefused(too_big_reason(found.st_size, limit))
        chunks, total = [], 0
        try:
            while total <= limit:
                chunk = os.read(fd, min(CHUNK, limit + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except OSError as error:
            raise OutputRefused(f"{relative} could not be read: {error.strerror}") from None
        if total > limit:
            raise OutputRefused(too_big_reason(max(total, os.fstat(fd).st_size), limit))
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_command(python: str, root: str, limit: int, names: list[str]) -> list[str]:
    """The argv that runs this file with `python` to read `names` beneath `root` (see `main`);
    isolated (`-I`): no PYTHON* variables, no user site, not the current dir on its path."""
    return [python, "-I", "-c", source(), "read", root, str(limit), *names]


def source() -> str:
    """This file's text, for `python -c`."""
    with open(__file__, encoding="utf-8") as file:
        return file.read()


def parse_read_output(output: bytes) -> dict[str, bytes | str]:
    """What `main`'s `read` printed: each output read (bytes) or refused (the reason, a str); missing
    ones are left out. `ValueError` if the output is cut short or garbled."""
    found: dict[str, bytes | str] = {}
    offset = 0
    while offset < len(output):
        end = output.index(b"\n", offset)
        header = json.loads(output[offset:end])
        offset = end + 1
        if "size" in header:
            size = int(header["size"])
            if offset + size > len(output):
                raise ValueError(f"the output of reading {header['name']!r} is cut short")
            found[header["name"]] = output[offset : offset + size]
            offset += size
        elif "refused" in header:
            found[header["name"]] = str(header["refused"])
        elif not header.get("missing"):
            raise ValueError(f"unexpected header {header!r}")
    return found


def main(argv: list[str]) -> int:
    """`read ROOT LIMIT REL...`: each REL's header line and bytes on stdout (see the module's doc)."""
    if len(argv) < 3 or argv[0] != "read":
        print("usage: output_files.py read ROOT LIMIT REL...", file=sys.stderr)
        return 2
    root, limit, names = argv[1], int(argv[2]), argv[3:]
    out = sys.stdout.buffer
    for name in names:
        data = b""
        try:
            data = read_beneath(root, name, limit)
            header = {"name": name, "size": len(data)}
        except FileNotFoundError:
            header = {"name": name, "missing": True}
        except OutputRefused as refused:
            header = {"name": name, "refused": refused.reason}
        except OSError as error:
            header = {"name": name, "refused": f"{name} could not be read: {error.strerror}"}
        out.write(json.dumps(header).encode() + b"\n" + data)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
