"""What every `airad` command module shares: exit codes, the user-facing error, stopping on a signal."""

from __future__ import annotations

import signal

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
