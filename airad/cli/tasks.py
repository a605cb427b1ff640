"""`airad tasks` (bundled tasks, metrics, MLE-bench competitions) and `airad task freeze FILE`."""

from __future__ import annotations

import argparse
from pathlib import Path

from airad.cli import output as out
from airad.cli.errors import EXIT_OK, CliError
from airad.daemon.settings import Settings


async def cmd_tasks(args: argparse.Namespace, settings: Settings) -> int:
    """The bundled tasks, the metrics a user task may name (`--metrics`), or MLE-bench's (`--mlebench`)."""
    if args.mlebench:
        return _mlebench_tasks(args)
    rows = out.metric_rows() if args.metrics else out.bundled_task_rows()
    print(out.to_json(rows) if args.json else out.tasks_table(rows, metrics=args.metrics))
    return EXIT_OK


def _mlebench_tasks(args: argparse.Namespace) -> int:
    from airad.tasks.mlebench_check import check_competitions, tasks_toml

    root = Path(args.mlebench).expanduser()
    if not root.is_dir():
        raise CliError(
            f"--mlebench {root}: no such folder (MLE-bench prepares competitions under ~/.cache/mle-bench/data)"
        )
    rows = check_competitions(root, Path(args.leaderboards) if args.leaderboards else None)
    if args.json:
        print(out.to_json(rows))
    elif args.toml:
        print(tasks_toml(rows), end="")
    else:
        print(out.mlebench_table(rows))
    return EXIT_OK


async def cmd_task_freeze(args: argparse.Namespace, settings: Settings) -> int:
    """`airad task freeze FILE`: a contract file's SHA-256 as a ready-to-paste [task] table."""
    from airad.tasks.contract import freeze

    path = Path(args.file)
    try:
        sha, table = freeze(path)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(out.to_json({"path": str(path.resolve()), "sha256": sha, "toml": table}))
    else:
        print(table, end="")
    return EXIT_OK


def register(command) -> None:
    """Add `tasks` and `task freeze` to `airad`'s parser."""
    tasks = command(
        "tasks", cmd_tasks, "list bundled tasks (kind, metric, rows, features, categoricals, missing values)"
    )
    tasks.add_argument("--metrics", action="store_true", help="list the metrics a user task may name instead")
    tasks.add_argument(
        "--mlebench",
        metavar="ROOT",
        help="check MLE-bench lite's competitions prepared under ROOT "
        "(ROOT/<competition>/prepared): ready, or why not, and medals",
    )
    tasks.add_argument(
        "--leaderboards",
        metavar="DIR",
        help="with --mlebench: DIR/<competition>/leaderboard.csv (MLE-bench's mlebench/competitions)",
    )
    tasks.add_argument(
        "--toml", action="store_true", help="with --mlebench: the ready ones as [[tasks]] for an experiment file"
    )
    task = command("task", cmd_task_freeze, "user tasks: `airad task freeze FILE`", json_flag=False)
    freeze = task.add_subparsers(dest="task_command", required=True).add_parser(
        "freeze", help="print a contract file's SHA-256 as a ready-to-paste [task] TOML table"
    )
    freeze.add_argument("file")
    freeze.add_argument("--json", action="store_true", help="machine-readable output")
