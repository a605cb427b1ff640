"""`airad tui`: the Textual app, live over the log or replaying a run from the log or a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from airad.cli.connection import connect
from airad.cli.errors import EXIT_FAILED, EXIT_OK, CliError
from airad.daemon.settings import Settings

if TYPE_CHECKING:
    from airad.events.log import EventLog
    from airad.schemas.events import Event


def replay_events(path: Path) -> list[Event]:
    """The events of the file to replay; a CliError when it cannot be read or holds no events."""
    from airad.tui.event_file import read_event_file

    try:
        return read_event_file(path)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot replay {path}: {exc}", EXIT_FAILED) from None


async def require_run(log: EventLog, run_id: str) -> None:
    """A CliError unless the log holds events of `run_id`, so that a mistyped id never opens an empty view."""
    if await log.last(run_id) is None:
        raise CliError(f"no run {run_id} in this log (airad runs lists them)", EXIT_FAILED)


async def cmd_tui(args: argparse.Namespace, settings: Settings) -> int:
    """Open the list of runs, one run, or RUN's replay; `--from FILE` replays a file without a daemon."""
    from airad.tui.app import AiradApp

    if args.replay and not args.run_id:
        raise CliError("--replay needs a RUN")
    if args.from_file:
        await AiradApp(events=replay_events(Path(args.from_file))).run_async()
        return EXIT_OK
    from airad.events.jetstream import JetStreamEventLog, JetStreamRunIndex

    async with connect(settings, args.environ) as client:
        log, index = JetStreamEventLog(client.js), await JetStreamRunIndex.open(client.js)
        if args.run_id:
            await require_run(log, args.run_id)
        await AiradApp(log=log, index=index, run_id=args.run_id, replay=args.replay).run_async()
    return EXIT_OK


def register(command) -> None:
    """Add `tui` to `airad`'s parser."""
    tui = command("tui", cmd_tui, "watch runs live, or replay one (Textual; ? lists the keys)", json_flag=False)
    tui.add_argument("run_id", nargs="?", metavar="RUN", help="open this run (default: the list of runs)")
    tui.add_argument("--replay", action="store_true", help="step through RUN's events from the first one")
    tui.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="replay an `airad events --json` or `airad export` file, no daemon needed",
    )
