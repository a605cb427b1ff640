"""The `airad` parser, assembled from the command groups' `register`, and `main`, which runs the chosen command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import anyio
import nats.errors
import structlog

from airad.cli import (
    analysis,
    daemon,
    environment,
    experiments,
    knowledge,
    plugins,
    runs,
    status,
    tasks,
    templates,
    tui,
)
from airad.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, until_signal
from airad.daemon.settings import SettingsError, load_settings
from airad.events.nats_faults import describe
from airad.events.stream_setup import StreamSetupError

GROUPS = (runs, status, daemon, tui, analysis, experiments, knowledge, tasks, environment, templates, plugins)
"""The command groups, in the order `airad --help` lists their commands."""


def configure_logging(level: str) -> None:
    """structlog to stderr, configured once here."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S"),
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
    )


def _global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--config", type=Path, default=default, help="settings TOML file (default: AIRAD_* variables only)"
    )
    parser.add_argument("--state-dir", default=default, help="where the embedded nats-server, tasks and work dirs live")
    parser.add_argument(
        "--nats",
        default=default,
        help="NATS URL of an existing server, or several comma-separated (nats://a:4222,nats://b:4222) "
        "(default: an embedded server under the state dir)",
    )
    parser.add_argument("--log-level", default=default, choices=["debug", "info", "warning", "error"])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `airad`: global options (before or after the command), then each group's
    commands."""
    parser = argparse.ArgumentParser(prog="airad", description="Run AI research agents at scale over an event log.")
    _global_options(parser)
    after = argparse.ArgumentParser(add_help=False)
    _global_options(after, default=argparse.SUPPRESS)  # given after the command, they override those before it
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str, json_flag: bool = True) -> argparse.ArgumentParser:
        """One `airad` command whose `handler(args, settings)` is awaited, with a --json flag unless told not."""
        p = sub.add_parser(name, help=help_text, parents=[after])
        p.set_defaults(handler=handler)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    for group in GROUPS:
        group.register(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `airad` console script."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm's bundled price map: no network at import
    args.environ = dict(os.environ)  # read once, here at the edge: where the daemon finds API keys by name
    try:
        default_level = "info" if args.command == "daemon" else "warning"
        settings = load_settings(
            args.config, env=args.environ, state_dir=args.state_dir, nats_url=args.nats, log_level=args.log_level
        )
        configure_logging(args.log_level or (settings.log_level if args.command == "daemon" else default_level))
        return _run(args, settings)
    except CliError as exc:
        print(f"airad: {exc}", file=sys.stderr)
        return exc.code
    except SettingsError as exc:
        print(f"airad: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the command started, which turns a signal into Interrupted
        return 130
    except BrokenPipeError:  # the reader stopped early (`airad events RUN | head`): not a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return EXIT_OK
    except OSError as exc:
        print(f"airad: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except StreamSetupError as exc:
        print(f"airad: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except nats.errors.Error as exc:
        print(f"airad: NATS failed: {describe(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _run(args: argparse.Namespace, settings) -> int:
    """Run the command; an error that ended it from inside a task group is raised as itself, so `main`
    reports it in one line."""
    try:
        return anyio.run(until_signal, args.handler, args, settings)
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        if len(leaves) == 1 and isinstance(leaves[0], Exception):
            raise leaves[0] from group
        raise


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


if __name__ == "__main__":
    sys.exit(main())
