"""What every `airad` command module shares: exit codes, the user-facing error, stopping on a signal,
reading a request file."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import anyio

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code attached."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


async def stop_on_signal(scope: anyio.CancelScope) -> None:
    """Cancel `scope` on the first SIGINT or SIGTERM."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


def read_request_file(path: Path, parse: Callable, noun: str):
    """A request from a TOML or JSON file, checked by `parse` (`parse_request` or `parse_experiment`),
    with the files it names resolved beside it; any problem is a CliError naming the file and field."""
    from airad.schemas.errors import FieldError

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return parse(raw, toml=path.suffix.lower() == ".toml", base_dir=path.resolve().parent)
    except FieldError as exc:
        raise CliError(f"{path}: invalid {noun}: {exc.field}: {exc.reason}") from None
