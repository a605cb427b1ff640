"""`airad` commands over finished runs: export, import, report, mlflow-sync."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import anyio

from airad.cli import output as out
from airad.cli import report_output
from airad.cli.connection import connect
from airad.cli.errors import EXIT_FAILED, EXIT_OK, CliError, stop_on_signal
from airad.daemon.settings import Settings
from airad.events.fold import RunState, fold


async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """`airad export RUN -o PATH [--format airad|aide]`."""
    from airad.events.jetstream import JetStreamBlobStore, JetStreamEventLog
    from airad.reports.aide_export import export_aide
    from airad.reports.export import export_run, header_of

    async with connect(settings, args.environ) as client:
        log, blobs = JetStreamEventLog(client.js), await JetStreamBlobStore.open(client.js)
        try:
            if args.format == "aide":
                files = await export_aide(log, blobs, args.run_id)
            else:
                data = await export_run(log, blobs, args.run_id)
        except LookupError as exc:
            raise CliError(str(exc), EXIT_FAILED) from None
    target = Path(args.output)
    if args.format == "aide":
        target.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (target / name).write_text(text)
        result = {"run_id": args.run_id, "format": "aide", "path": str(target), "files": sorted(files)}
        line = f"run {args.run_id}: {', '.join(sorted(files))} written to {target}"
    else:
        target.write_bytes(data)
        header = header_of(data)
        result = {
            "run_id": args.run_id,
            "format": "airad",
            "path": str(target),
            "events": header.events,
            "blobs": header.blobs,
        }
        line = f"run {args.run_id}: {header.events} events and {header.blobs} blobs written to {target}"
    print(out.to_json(result) if args.json else line)
    return EXIT_OK


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """`airad import FILE [--run-id RUN]`: add an exported run, and its summary, to this log."""
    from airad.events.jetstream import JetStreamBlobStore, JetStreamEventLog, JetStreamRunIndex
    from airad.reports.export import RunExistsError, RunFileError, import_run
    from airad.reports.summary import summarize

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    async with connect(settings, args.environ) as client:
        try:
            run_id = await import_run(
                data, JetStreamEventLog(client.js), await JetStreamBlobStore.open(client.js), run_id=args.run_id
            )
        except RunFileError as exc:
            raise CliError(f"{path}: {exc}") from None
        except ValueError as exc:
            raise CliError(str(exc)) from None
        except RunExistsError as exc:
            raise CliError(str(exc), EXIT_FAILED) from None
        state = await client.run(run_id)
        await (await JetStreamRunIndex.open(client.js)).put(summarize(state, time.time()))
    if args.json:
        print(out.to_json({"run_id": run_id, "events": state.last_seq, "status": state.status}))
    else:
        print(f"imported run {run_id}: {state.last_seq} events, {len(state.nodes)} nodes, {state.status}")
        if not state.terminal:
            print(f"run {run_id} is unfinished: a daemon serving this log will resume it")
    return EXIT_OK


async def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """`airad report [RUN...]`: chosen vs oracle node per run, and mean ± SEM per task and policy."""
    from airad.reports.report import build_report, select_runs

    labels = _label_filter(args.label)
    states = select_runs(await _run_states(settings, args.run_ids, args.environ), task=args.task, labels=labels)
    report = build_report(states, by_labels=args.by)
    if args.csv:
        print(report_output.report_csv(report), end="")
    else:
        print(out.to_json(report) if args.json else report_output.report_text(report))
    return EXIT_OK


def _label_filter(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--label wants KEY=VALUE, got {pair!r}")
        labels[key] = value
    return labels


async def _run_states(settings: Settings, run_ids: list[str], environ: Mapping[str, str]) -> list[RunState]:
    """The folded runs named, or every finished run in the index when none is named."""
    async with connect(settings, environ) as client:
        if not run_ids:
            run_ids = [s.run_id for s in await client.runs() if s.status == "finished"]
        histories = [(run_id, await client.events(run_id)) for run_id in run_ids]
    missing = [run_id for run_id, events in histories if not events]
    if missing:
        raise CliError(f"no run {missing[0]!r} in the log", EXIT_FAILED)
    return [fold(events) for _, events in histories]


def mlflow_sink(tracking_uri: str, experiment: str = "airad"):
    """An MLflow sink for `mlflow-sync` and the daemon; a CliError when MLflow cannot be reached or is missing."""
    from airad.tracking.mlflow_sink import MlflowSink, TrackingError

    try:
        return MlflowSink.open(tracking_uri, experiment)
    except TrackingError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None


async def cmd_mlflow_sync(args: argparse.Namespace, settings: Settings) -> int:
    """`airad mlflow-sync [--once]`: mirror the runs into MLflow, following the log unless --once."""
    from airad.tracking.mlflow_sink import mirror_to_mlflow, reading_note, store_uri

    uri = args.tracking_uri or settings.mlflow_tracking_uri
    if not uri:
        raise CliError("mlflow-sync needs --tracking-uri URI (or the mlflow_tracking_uri setting)")
    uri = store_uri(uri)
    sink = mlflow_sink(uri, args.experiment)
    note = reading_note(uri)
    if note:
        print(f"airad: {note}", file=sys.stderr)
    result = None
    async with connect(settings, args.environ) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signal, tg.cancel_scope)
            result = await mirror_to_mlflow(client.js, sink, follow=not args.once)
            tg.cancel_scope.cancel()
    if result is None:
        return EXIT_OK
    if args.json:
        print(out.to_json(result))
    else:
        print(
            f"read {result.read} events of {result.runs} runs; wrote {result.written} new ones to {uri} "
            f"(experiment {args.experiment})"
        )
    if result.failed:
        print(f"airad: could not mirror runs {', '.join(result.failed)} (see the log)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def register(command) -> None:
    """Add these commands to `airad`'s parser; `command(name, handler, help)` makes one subparser."""
    export = command(
        "export", cmd_export, "write a run to one replayable file, or as AIDE's journal.json with a tree page"
    )
    export.add_argument("run_id")
    export.add_argument(
        "-o", "--output", required=True, metavar="PATH", help="the file (airad) or directory (aide) to write"
    )
    export.add_argument(
        "--format",
        choices=["airad", "aide"],
        default="airad",
        help="airad: events and blobs as JSON lines, for `airad import`; "
        "aide: journal.json, best_solution.py, tree.html",
    )
    import_ = command("import", cmd_import, "add a run written by `airad export` to this log, with its blobs")
    import_.add_argument("file")
    import_.add_argument("--run-id", help="import under this run id instead of the exported one")
    report = command("report", cmd_report, "chosen vs oracle node per run, mean ± SEM per task and policy")
    report.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="runs to report (default: every finished run)")
    report.add_argument("--task", help="only runs of this task")
    report.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="only runs with this label")
    report.add_argument("--by", action="append", default=[], metavar="KEY", help="also group by this label")
    report.add_argument("--csv", action="store_true", help="one CSV row per run")
    mlflow = command(
        "mlflow-sync", cmd_mlflow_sync, "mirror runs into MLflow: params, node metrics, best node (`mlflow` extra)"
    )
    mlflow.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI, e.g. file:///path/mlruns (default: the mlflow_tracking_uri setting)",
    )
    mlflow.add_argument("--experiment", default="airad", help="MLflow experiment name (default: airad)")
    mlflow.add_argument(
        "--once", action="store_true", help="mirror what the log holds now and exit, instead of following it"
    )
