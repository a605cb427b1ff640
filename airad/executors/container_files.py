"""Files in and out of a job's container through the engine's archive API: tars to copy in, the
daemon's own marker files, and a job's outputs read without following any link (`read_output`)."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time

import aiodocker
from aiodocker.containers import DockerContainer

from airad.executors.output_files import OutputRefused, components, too_big_reason

WORK = "/work"


def archive(files: dict[str, bytes], dirs: tuple[str, ...] = (), owner: int = 0) -> bytes:
    """A tar of `dirs` (mode 755) and `files` (mode 644), owned by uid and gid `owner` (root)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in dirs:
            entry = tarfile.TarInfo(path)
            entry.type, entry.mode, entry.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
            entry.uid = entry.gid = owner
            tar.addfile(entry)
        for path, data in files.items():
            entry = tarfile.TarInfo(path)
            entry.size, entry.mode, entry.mtime = len(data), 0o644, int(time.time())
            entry.uid = entry.gid = owner
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


async def read_file(container: DockerContainer, path: str) -> bytes | None:
    """A small regular file's bytes from the container (running or not), or None if it is not there:
    the daemon's own markers, not a job's outputs (`read_output` is for those)."""
    try:
        async with container.docker._query(f"containers/{container.id}/archive", params={"path": path}) as response:
            body = await response.read()
    except aiodocker.DockerError as error:
        if error.status == 404:
            return None
        raise
    with tarfile.open(fileobj=io.BytesIO(body), mode="r") as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        extracted = tar.extractfile(member) if member is not None else None
        return extracted.read() if extracted is not None else None


# The type bits of a Go `os.FileMode`, the "mode" of the engine's stat of a path (Docker and Podman).
GO_TYPES = (
    (1 << 27, "symbolic link"),
    (1 << 31, "directory"),
    (1 << 25, "fifo"),
    (1 << 24, "socket"),
    (1 << 21, "character device"),
    (1 << 26, "block device"),
    (1 << 19, "unknown file type"),
)
GO_SYMLINK, GO_DIR = 1 << 27, 1 << 31
TAR_SLACK = 64 << 10  # the most a tar of one file adds to the file: headers, padding, end blocks


def go_kind(mode: int) -> str:
    """What sort of file a Go file mode says it is."""
    return next((name for bit, name in GO_TYPES if mode & bit), "regular file")


async def path_stat(container: DockerContainer, path: str) -> dict | None:
    """The engine's stat of `path` in the container, the last component not followed (its "mode" is
    a Go file mode); None if nothing is there. A HEAD error comes without a body to say why (aiodocker
    fails to parse it), so a GET of the path tells a missing path from an engine failure."""
    query = f"containers/{container.id}/archive"
    try:
        async with container.docker._query(query, method="HEAD", params={"path": path}) as response:
            header = response.headers.get("X-Docker-Container-Path-Stat")
            if header:
                return json.loads(base64.b64decode(header))
    except (aiodocker.DockerError, ValueError):
        pass
    try:
        async with container.docker._query(query, params={"path": path}) as response:
            response.close()
    except aiodocker.DockerError as error:
        if error.status == 404:
            return None
        raise
    raise OutputRefused(f"{path} could not be inspected in the container")


async def read_output(container: DockerContainer, relative: str, limit: int) -> bytes | None:
    """An output file of the ended container, None if it is missing. The engine follows links in a
    path it copies out (Podman even a final one), within the container, so each component below
    /work is stat'ed first: a link, or anything but dirs leading to a regular file, raises
    `OutputRefused` (the container has stopped: nothing changes between the checks and the copy).
    Of the copy only a regular-file member named as the file is taken, and no more than `limit`
    bytes (plus the tar's own) are read."""
    parts = components(relative)
    found: dict = {}
    path, mode = WORK, 0
    for index, name in enumerate(parts):
        path, shown = f"{path}/{name}", "/".join(parts[: index + 1])
        stat = await path_stat(container, path)
        if stat is None:
            return None
        found = stat
        mode = int(found.get("mode", 0))
        if mode & GO_SYMLINK:
            raise OutputRefused(f"{shown} is a symbolic link")
        if index < len(parts) - 1 and not mode & GO_DIR:
            raise OutputRefused(f"{shown} is not a directory ({go_kind(mode)})")
    if go_kind(mode) != "regular file":
        raise OutputRefused(f"{relative} is not a regular file ({go_kind(mode)})")
    size = int(found.get("size", 0))
    if size > limit:
        raise OutputRefused(too_big_reason(size, limit))
    body = bytearray()
    try:
        async with container.docker._query(f"containers/{container.id}/archive", params={"path": path}) as response:
            async for chunk in response.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > limit + TAR_SLACK:
                    response.close()  # drop the connection: releasing it would drain the rest first
                    raise OutputRefused(
                        f"over {limit + TAR_SLACK} bytes came for {relative}, "
                        f"over the {limit} byte limit on an output file"
                    )
    except aiodocker.DockerError as error:
        if error.status == 404:
            return None
        raise
    with tarfile.open(fileobj=io.BytesIO(bytes(body)), mode="r") as tar:
        member = next((m for m in tar if m.name.strip("/") == parts[-1]), None)
        if member is None:
            raise OutputRefused(f"{relative} was not in the engine's copy of it")
        if not member.isreg():
            kinds = {tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link", tarfile.DIRTYPE: "directory"}
            kind = kinds.get(member.type, "special file")
            raise OutputRefused(f"{relative} is not a regular file ({kind} in the engine's copy)")
        if member.size > limit:
            raise OutputRefused(too_big_reason(member.size, limit))
        data = tar.extractfile(member)
        assert data is not None, "a regular file's member has data"
        return data.read()
