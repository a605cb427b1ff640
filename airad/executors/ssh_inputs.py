"""Inputs copied to a host file by file, each file sent once: a task's views for several seeds (or
several tasks made from the same files) share most of their files, hard-linked on the daemon's host.

The host keeps one copy of each file under `<inputs root>/.files/<key>`, the key naming the local
file (device, inode, size, mtime: the same for every hard link of it, new when it is rewritten). An
inputs copy is a tree of hard links to those files, built on the host by a small Python script from
a manifest; only the files it lacks are sent. A file no inputs copy links to any more is swept with
the copies (`ssh_link.SWEEP_INPUTS`).
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import shlex
import uuid
from pathlib import Path

import asyncssh

FILES = ".files"
SENDS_AT_ONCE = 8

# Reads [key, relative path] lines (JSON) on stdin; hard-links each known file into the staging dir
# (or copies it where links are refused); prints the keys of the files it lacks, one per line.
LINK_FILES = r"""
import json, os, shutil, sys
staging, files = sys.argv[1], sys.argv[2]
os.makedirs(staging, exist_ok=True)
missing = {}
for line in sys.stdin:
    key, relative = json.loads(line)
    target = os.path.join(staging, relative)
    if key is None:
        os.makedirs(target, exist_ok=True)
        continue
    source = os.path.join(files, key)
    if not os.path.isfile(source):
        missing[key] = True
        continue
    if os.path.lexists(target):
        continue
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
print("\n".join(missing))
"""


def file_key(stat: os.stat_result) -> str:
    """A name for a local file's content: the same for all its hard links, new once it is rewritten."""
    return f"{stat.st_dev:x}-{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"


def manifest(inputs: Path) -> tuple[list[tuple[str | None, str]], dict[str, Path]]:
    """Every folder ([None, path]) and file ([key, path]) of `inputs`, following links, and each
    key's local file."""
    entries: list[tuple[str | None, str]] = [(None, ".")]
    local: dict[str, Path] = {}
    for top, dirs, files in os.walk(inputs, followlinks=True):
        dirs.sort()
        relative_top = os.path.relpath(top, inputs)
        if relative_top != ".":
            entries.append((None, relative_top))
        for name in sorted(files):
            path = Path(top, name)
            key = file_key(path.stat())
            entries.append((key, os.path.relpath(path, inputs)))
            local[key] = path
    return entries, local


def link_command(python: str, staging: str, files: str) -> str:
    """The remote command that builds `staging` from the host's files (LINK_FILES)."""
    return " ".join([shlex.quote(python), "-c", shlex.quote(LINK_FILES), shlex.quote(staging), shlex.quote(files)])


def manifest_text(entries: list[tuple[str | None, str]]) -> str:
    """The manifest as LINK_FILES reads it."""
    return "".join(json.dumps(entry) + "\n" for entry in entries)


async def send_files(sftp, local: dict[str, Path], keys: list[str], files: str) -> int:
    """Copy the files named by `keys` into the host's `files` dir (each under a partial name, then
    renamed, so a half-sent file is never linked); how many were sent."""
    await sftp.makedirs(files, exist_ok=True)
    gate = asyncio.Semaphore(SENDS_AT_ONCE)

    async def send(key: str) -> None:
        partial = posixpath.join(files, f"{key}.partial-{uuid.uuid4().hex[:8]}")
        async with gate:
            await sftp.put(str(local[key]), partial)
            try:
                await sftp.posix_rename(partial, posixpath.join(files, key))
            except asyncssh.SFTPError:  # a server without the extension: a plain rename, unless another sender won
                if await sftp.exists(posixpath.join(files, key)):
                    await sftp.remove(partial)
                else:
                    await sftp.rename(partial, posixpath.join(files, key))

    await asyncio.gather(*(send(key) for key in keys))
    return len(keys)
