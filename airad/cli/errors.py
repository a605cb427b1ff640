"""What every `airad` command module shares: exit codes, the user-facing error, stopping on a signal,
reading a request file."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from airad.daemon.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code attached."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


class Interrupted(CliError):
    """A command stopped by SIGINT or SIGTERM: exit code 128 + the signal's number (130, 143)."""

    def __init__(self, signum: int, detail: str = ""):
        super().__init__(f"interrupted; {detail}" if detail else "interrupted", 128 + signum)


STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def stop_on_signal(scope: anyio.CancelScope) -> None:
    """Cancel `scope` on the first SIGINT or SIGTERM."""
    with anyio.open_signal_receiver(*STOPPING_SIGNALS) as signals:
        async for _ in signals:
            scope.cancel()
            return


@contextmanager
def cancelled_on_signal(scope: anyio.CancelScope) -> Iterator[list[int]]:
    """For the `with`, SIGINT or SIGTERM cancels `scope` and is added to the list yielded. Unlike
    `stop_on_signal` it needs no task, so it still holds while the scope's `finally` blocks run: a
    second signal cannot cut them short."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        scope.cancel()

    for signum in STOPPING_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        yield received
    finally:
        for signum in STOPPING_SIGNALS:
            loop.remove_signal_handler(signum)


async def until_signal(
    handler: Callable[[argparse.Namespace, Settings], Awaitable[int]], args: argparse.Namespace, settings: Settings
) -> int:
    """Await the command `handler(args, settings)`; SIGINT or SIGTERM cancels it, so that every `finally`
    runs (the embedded nats-server's stop among them), then raises Interrupted, with `args.interruption`
    (what the command left behind, when it set that) as its detail."""
    with anyio.CancelScope() as scope, cancelled_on_signal(scope) as received:
        return await handler(args, settings)
    raise Interrupted(received[0], getattr(args, "interruption", ""))


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
