"""`airad daemon`: serve run and experiment requests until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import sys

import anyio

from airad.cli.analysis import mlflow_sink
from airad.cli.errors import EXIT_OK, stop_on_signal
from airad.daemon.settings import Settings


async def cmd_daemon(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until a signal; mirror the runs into MLflow as well when `mlflow_tracking_uri` is set."""
    from airad.daemon.connection import nats_connection, safe_url
    from airad.daemon.daemon import Daemon

    sink = mlflow_sink(settings.mlflow_tracking_uri) if settings.mlflow_tracking_uri else None
    async with nats_connection(settings, args.environ) as (nc, url):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signal, tg.cancel_scope)
            await tg.start(Daemon(settings, env=args.environ).serve, url)
            if sink is not None:
                from airad.tracking.mlflow_sink import mirror_to_mlflow

                tg.start_soon(mirror_to_mlflow, nc.jetstream(), sink)
            print(
                f"airad daemon serving on {safe_url(url)} (state in {settings.state_dir})", file=sys.stderr, flush=True
            )
    return EXIT_OK


def register(command) -> None:
    """Add `daemon` to `airad`'s parser."""
    command("daemon", cmd_daemon, "serve run requests until SIGINT/SIGTERM", json_flag=False)
