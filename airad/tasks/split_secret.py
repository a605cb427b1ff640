"""The installation's split secret: which labelled rows of a bundled or CSV task are held out as
test, which are validation, and how test.csv is shuffled and numbered depend on it, not only on
the run's seed. A script that can load a public copy of the data and knows the seed still cannot
rebuild the split.

The secret is 32 random bytes in `<tasks root>/split-secret` (the daemon's tasks root is
`<state dir>/tasks`, hidden from every job), mode 0600, created once, atomically: racing creators
(two daemons, grading processes) all end up reading the one file that won. Later starts read it,
so replays and resumes prepare the same layouts. It lives beside the layouts it decides, so every
process that opens a task under one tasks root agrees on it. Daemons sharing one NATS share one
secret: the first daemon's goes into the `airad_installation` KV bucket and every later daemon
`adopt`s it at start-up, so a run resumed by another daemon keeps its split. Copying the file into
another installation's tasks root (with an empty bucket) gives that installation identical splits.

Only values derived by HMAC-SHA256 leave this module: RNG seeds (`derive_seed`) and a short,
non-reversible tag for layout dir names (`layout_tag`). Never log, record or return the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import time
from pathlib import Path

import numpy as np

__all__ = [
    "SECRET_BYTES",
    "SECRET_FILE",
    "SplitSecretError",
    "adopt",
    "derive_seed",
    "read_file",
    "held_out_rows",
    "layout_tag",
    "load_or_create",
]

SECRET_FILE = "split-secret"
SECRET_BYTES = 32
SCHEME = 1  # bump when the way splits are drawn from the secret changes: layouts get new dir names


class SplitSecretError(RuntimeError):
    """The secret file exists but cannot be used (wrong size, unreadable)."""


def load_or_create(directory: Path) -> bytes:
    """The secret in `directory` (a tasks root), created there first if it has none."""
    path = Path(directory) / SECRET_FILE
    if not path.exists():
        _create(path)
    return _read(path)


def read_file(path: Path) -> bytes:
    """A secret kept in a file of the operator's choosing (`split_key_file`)."""
    try:
        return _read(Path(path), keep_private=False)
    except OSError as exc:
        raise SplitSecretError(f"cannot read the split secret file {path}: {exc}") from None


def adopt(directory: Path, secret: bytes) -> None:
    """Make `secret` the one in `directory` (a daemon joining an installation takes the secret the
    installation shares), replacing the file atomically; layouts drawn with another secret are
    never reused, as their dir names carry its tag."""
    if len(secret) != SECRET_BYTES:
        raise SplitSecretError(f"a split secret is {SECRET_BYTES} bytes, not {len(secret)}")
    path = Path(directory) / SECRET_FILE
    if path.exists() and _read(path) == secret:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(secret)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(staging, path)


def derive_seed(secret: bytes, label: str) -> int:
    """A 256-bit RNG seed for `label` (e.g. `"wine|3|0.2"`): HMAC-SHA256 of the label under the secret."""
    return int.from_bytes(hmac.new(secret, label.encode(), hashlib.sha256).digest(), "big")


def layout_tag(secret: bytes) -> str:
    """8 hex chars naming the secret (and scheme) a layout was drawn with, for its dir name."""
    return hmac.new(secret, f"layout|v{SCHEME}".encode(), hashlib.sha256).hexdigest()[:8]


def held_out_rows(secret: bytes, label: str, n_rows: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(test rows, labelled rows) of `range(n_rows)`: fixed per installation and `label`, whatever
    the run's seed (so test scores compare across seeds), and unknown without the secret."""
    order = np.random.default_rng(derive_seed(secret, f"{label}|test|{test_fraction:g}")).permutation(n_rows)
    n_test = int(round(n_rows * test_fraction))
    return order[:n_test], order[n_test:]


def _create(path: Path) -> None:
    """Write a fresh secret to a private temp file and hard-link it into place; a creator that
    loses the race (the link exists) drops its own, so every caller reads the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(secrets.token_bytes(SECRET_BYTES))
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system: exclusive create, readers wait for it whole
            _create_exclusive(path)
    finally:
        staging.unlink(missing_ok=True)


def _create_exclusive(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as stream:
        stream.write(secrets.token_bytes(SECRET_BYTES))
        stream.flush()
        os.fsync(stream.fileno())


def _read(path: Path, wait_s: float = 2.0, keep_private: bool = True) -> bytes:
    deadline = time.monotonic() + wait_s
    while True:
        data = path.read_bytes()
        if len(data) == SECRET_BYTES:
            break
        if len(data) > SECRET_BYTES or time.monotonic() > deadline:
            raise SplitSecretError(f"{path}: expected {SECRET_BYTES} bytes, found {len(data)}")
        time.sleep(0.02)  # an exclusive creator is still writing it
    mode = path.stat().st_mode
    if keep_private and mode & (stat.S_IRWXG | stat.S_IRWXO):  # copied in with a looser mode: keep it private
        try:
            path.chmod(0o600)
        except OSError:
            pass
    return data
