"""The `airad` command: run, daemon, submit, runs, show, events, tui, tasks, task freeze (and cli_analysis's export, import, report, mlflow-sync; cli_experiments' experiment and cancel)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import anyio
import msgspec
import structlog

from airad.cli import analysis as cli_analysis, experiments as cli_experiments, knowledge as cli_knowledge, output as out
from airad.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, read_request_file, stop_on_signal
from airad.daemon.settings import Settings, SettingsError, load_settings
from airad.daemon.validation import parse_request
from airad.events.fold import RunState, evolve, fold
from airad.schemas.events import NodeFailed, NodeTested
from airad.schemas.request import RunRequest, task_label
from airad.schemas.policies import policy_kind

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


def read_request(path: Path) -> RunRequest:
    """A run request from a TOML or JSON file, validated; the files it names (`program_file`,
    `baseline_file`, a script task's `dir`) are resolved relative to it and inlined."""
    return read_request_file(path, parse_request, "run request")


async def publish_request(js, request: RunRequest) -> str:
    """Publish a request; return the run id the daemon will use for it."""
    from airad.daemon.intake import derived_run_id
    from airad.events.jetstream import REQUESTS_SUBJECT

    ack = await js.publish(REQUESTS_SUBJECT, msgspec.json.encode(request))
    return request.run_id or derived_run_id(ack.seq)


async def follow(log, run_id: str, *, quiet: bool) -> RunState:
    """Print each node as it finishes until the run ends; return its final state."""
    state = RunState(run_id)
    async for event in log.watch(run_id):
        state = evolve(state, event)
        if not quiet and isinstance(event, (NodeTested, NodeFailed)):
            print(out.node_line(state.nodes[event.node_id], state.metric), flush=True)
        if state.terminal:
            break
    return state


async def cmd_run(args, settings: Settings) -> int:
    from airad.daemon.connection import nats_connection
    from airad.daemon.daemon import Daemon
    from airad.events.jetstream import JetStreamEventLog

    request = read_request(Path(args.file))
    async with nats_connection(settings, args.environ) as (nc, url):
        async with anyio.create_task_group() as tg:
            await tg.start(Daemon(settings, env=args.environ).serve, url)
            js = nc.jetstream()
            run_id = await publish_request(js, request)
            if not args.json:
                print(f"run {run_id}: {task_label(request.task)} with {policy_kind(request.policy)}, "
                      f"model {request.model.name}, up to {request.budget.max_nodes} nodes (state in {settings.state_dir})",
                      flush=True)
            state = await follow(JetStreamEventLog(js), run_id, quiet=args.json)
            tg.cancel_scope.cancel()
    return _report(state, args.json)


def _report(state: RunState, as_json: bool) -> int:
    if as_json:
        from airad.reports.summary import summarize

        print(out.to_json(summarize(state, time.time())))
    else:
        print(out.final_report(state))
    return EXIT_FAILED if state.status == "rejected" else EXIT_OK


async def cmd_daemon(args, settings: Settings) -> int:
    from airad.daemon.connection import nats_connection, safe_url
    from airad.daemon.daemon import Daemon

    sink = cli_analysis.mlflow_sink(settings.mlflow_tracking_uri) if settings.mlflow_tracking_uri else None
    async with nats_connection(settings, args.environ) as (nc, url):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signal, tg.cancel_scope)
            await tg.start(Daemon(settings, env=args.environ).serve, url)
            if sink is not None:
                from airad.tracking.mlflow_sink import mirror_to_mlflow

                tg.start_soon(mirror_to_mlflow, nc.jetstream(), sink)
            print(f"airad daemon serving on {safe_url(url)} (state in {settings.state_dir})", file=sys.stderr, flush=True)
    return EXIT_OK


async def cmd_submit(args, settings: Settings) -> int:
    from airad.daemon.connection import nats_connection
    from airad.events.jetstream import JetStreamEventLog

    request = read_request(Path(args.file))
    async with nats_connection(settings, args.environ) as (nc, _):
        js = nc.jetstream()
        run_id = await publish_request(js, request)
        if not args.wait:
            print(out.to_json({"run_id": run_id}) if args.json else run_id)
            return EXIT_OK
        if not args.json:
            print(f"run {run_id} submitted; waiting", flush=True)
        state = await follow(JetStreamEventLog(js), run_id, quiet=args.json)
    return _report(state, args.json)


async def cmd_runs(args, settings: Settings) -> int:
    from airad.daemon.connection import nats_connection
    from airad.events.jetstream import JetStreamRunIndex

    async with nats_connection(settings, args.environ) as (nc, _):
        summaries = await (await JetStreamRunIndex.open(nc.jetstream())).list()
    print(out.to_json(summaries) if args.json else out.runs_table(summaries))
    return EXIT_OK


async def _events(settings: Settings, run_id: str, env: dict | None = None):
    from airad.daemon.connection import nats_connection
    from airad.events.jetstream import JetStreamEventLog

    async with nats_connection(settings, env) as (nc, _):
        events = await JetStreamEventLog(nc.jetstream()).read(run_id)
    if not events:
        raise CliError(f"no run {run_id!r} in the log", EXIT_FAILED)
    return events


async def cmd_show(args, settings: Settings) -> int:
    state = fold(await _events(settings, args.run_id, args.environ))
    if args.node is not None:
        if not 0 <= args.node < len(state.nodes):
            raise CliError(f"run {args.run_id} has no node {args.node} (it has {len(state.nodes)})", EXIT_FAILED)
        print(out.to_json(state.nodes[args.node]) if args.json else out.node_detail(state, args.node))
        return EXIT_OK
    if args.json:
        print(out.to_json(state))
    else:
        print(out.show_header(state))
        if state.nodes:
            print(out.nodes_table(state))
    return EXIT_OK


async def cmd_events(args, settings: Settings) -> int:
    from airad.schemas.events import encode_event

    for event in await _events(settings, args.run_id, args.environ):
        print(encode_event(event).decode() if args.json else out.event_line(event))
    return EXIT_OK


async def cmd_tui(args, settings: Settings) -> int:
    from airad.tui.app import AiradApp

    if args.replay and not args.run_id:
        raise CliError("--replay needs a RUN")
    if args.from_file:
        from airad.tui.event_file import read_event_file

        try:
            events = read_event_file(Path(args.from_file))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot replay {args.from_file}: {exc}") from None
        await AiradApp(events=events).run_async()
        return EXIT_OK
    from airad.daemon.connection import nats_connection
    from airad.events.jetstream import JetStreamEventLog, JetStreamRunIndex

    async with nats_connection(settings, args.environ) as (nc, _):
        js = nc.jetstream()
        app = AiradApp(log=JetStreamEventLog(js), index=await JetStreamRunIndex.open(js), run_id=args.run_id, replay=args.replay)
        await app.run_async()
    return EXIT_OK


async def cmd_tasks(args, settings: Settings) -> int:
    if args.mlebench:
        return _mlebench_tasks(args)
    rows = out.metric_rows() if args.metrics else out.bundled_task_rows()
    print(out.to_json(rows) if args.json else out.tasks_table(rows, metrics=args.metrics))
    return EXIT_OK


def _mlebench_tasks(args) -> int:
    from airad.tasks.mlebench_check import check_competitions, tasks_toml

    root = Path(args.mlebench).expanduser()
    if not root.is_dir():
        raise CliError(f"--mlebench {root}: no such folder (MLE-bench prepares competitions under ~/.cache/mle-bench/data)")
    rows = check_competitions(root, Path(args.leaderboards) if args.leaderboards else None)
    if args.json:
        print(out.to_json(rows))
    elif args.toml:
        print(tasks_toml(rows), end="")
    else:
        print(out.mlebench_table(rows))
    return EXIT_OK


async def cmd_task(args, settings: Settings) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `airad`."""
    parser = argparse.ArgumentParser(prog="airad", description="Run AI research agents at scale over an event log.")
    parser.add_argument("--config", type=Path, help="settings TOML file (default: AIRAD_* variables only)")
    parser.add_argument("--state-dir", help="where the embedded nats-server, tasks and work dirs live")
    parser.add_argument("--nats", help="NATS URL of an existing server (default: embedded server under the state dir)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str, json_flag: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    command("run", cmd_run, "run one request end to end in this process").add_argument("file")
    command("daemon", cmd_daemon, "serve run requests until SIGINT/SIGTERM", json_flag=False)
    submit = command("submit", cmd_submit, "publish a run request (TOML or JSON)")
    submit.add_argument("file")
    submit.add_argument("--wait", action="store_true", help="follow the run until it ends")
    command("runs", cmd_runs, "list runs")
    show = command("show", cmd_show, "show a run and its nodes, or one node in full")
    show.add_argument("run_id")
    show.add_argument("--node", type=int, help="print this node's plan, code, output and review")
    command("events", cmd_events, "print a run's events").add_argument("run_id")
    tui = command("tui", cmd_tui, "watch runs live, or replay one (Textual; ? lists the keys)", json_flag=False)
    tui.add_argument("run_id", nargs="?", metavar="RUN", help="open this run (default: the list of runs)")
    tui.add_argument("--replay", action="store_true", help="step through RUN's events from the first one")
    tui.add_argument("--from", dest="from_file", metavar="FILE", help="replay an `airad events --json` or `airad export` file, no daemon needed")
    cli_analysis.register(command)
    cli_experiments.register(command)
    cli_knowledge.register(command)
    tasks = command("tasks", cmd_tasks, "list bundled tasks (kind, metric, rows, features, categoricals, missing values)")
    tasks.add_argument("--metrics", action="store_true", help="list the metrics a user task may name instead")
    tasks.add_argument("--mlebench", metavar="ROOT", help="check MLE-bench lite's competitions prepared under ROOT "
                       "(ROOT/<competition>/prepared): ready, or why not, and medals")
    tasks.add_argument("--leaderboards", metavar="DIR", help="with --mlebench: DIR/<competition>/leaderboard.csv "
                       "(MLE-bench's mlebench/competitions)")
    tasks.add_argument("--toml", action="store_true", help="with --mlebench: the ready ones as [[tasks]] for an experiment file")
    task = command("task", cmd_task, "user tasks: `airad task freeze FILE`", json_flag=False)
    freeze = task.add_subparsers(dest="task_command", required=True).add_parser(
        "freeze", help="print a contract file's SHA-256 as a ready-to-paste [task] TOML table"
    )
    freeze.add_argument("file")
    freeze.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `airad` console script."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm's bundled price map: no network at import
    args.environ = dict(os.environ)  # read once, here at the edge: where the daemon finds API keys by name
    try:
        default_level = "info" if args.command == "daemon" else "warning"
        settings = load_settings(args.config, env=args.environ, state_dir=args.state_dir, nats_url=args.nats, log_level=args.log_level)
        configure_logging(args.log_level or (settings.log_level if args.command == "daemon" else default_level))
        return anyio.run(args.handler, args, settings)
    except CliError as exc:
        print(f"airad: {exc}", file=sys.stderr)
        return exc.code
    except SettingsError as exc:
        print(f"airad: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"airad: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
