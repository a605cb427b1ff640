"""`airad experiment submit|ls|show|cancel|report`: portfolios of runs, through `airad.Client`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from airad.cli import experiment_output as xout
from airad.cli import output as out
from airad.cli.connection import connect
from airad.cli.errors import EXIT_FAILED, EXIT_OK, CliError, read_request_file
from airad.daemon.settings import Settings
from airad.daemon.validation import parse_experiment
from airad.events.experiment import ExperimentState
from airad.schemas.experiment import ExperimentRequest, run_count
from airad.schemas.experiment_events import ExperimentEvent, ExperimentRunFinished

if TYPE_CHECKING:
    from airad.client import Client


def read_experiment(path: Path) -> ExperimentRequest:
    """An experiment request from a TOML or JSON file, validated."""
    return read_request_file(path, parse_experiment, "experiment request")


def print_run_finished(state: ExperimentState, event: ExperimentEvent) -> None:
    """Print a line when one of the experiment's runs has ended (`Client.wait_experiment`'s `on_event`)."""
    if isinstance(event, ExperimentRunFinished):
        print(xout.run_finished_line(state, event), flush=True)


async def read_experiment_state(client: Client, experiment_id: str) -> ExperimentState:
    """The experiment's state now; a CliError when the log holds no such experiment."""
    from airad.client import RunNotFound

    try:
        return await client.experiment(experiment_id)
    except RunNotFound:
        raise CliError(f"no experiment {experiment_id!r} in the log", EXIT_FAILED) from None


def _progress(state: ExperimentState) -> dict:
    return {
        "experiment_id": state.experiment_id,
        "status": state.status,
        "rejection": state.rejection,
        "runs_planned": len(state.runs),
        "runs_started": len(state.runs) - state.count("planned"),
        "runs_ended": state.count("finished"),
        "runs": state.runs,
    }


def _print_report(state: ExperimentState, as_json: bool) -> int:
    from airad.reports.experiment_report import experiment_report

    if state.status == "rejected":
        print(out.to_json(_progress(state)) if as_json else xout.status_line(state))
        return EXIT_FAILED
    report = experiment_report(state)
    print(out.to_json(report) if as_json else xout.report_text(report))
    return EXIT_OK


async def cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    """`airad experiment submit FILE [--wait]`."""
    request = read_experiment(Path(args.file))
    async with connect(settings, args.environ) as client:
        experiment_id = await client.submit_experiment(request)
        if not args.wait:
            print(out.to_json({"experiment_id": experiment_id}) if args.json else experiment_id)
            return EXIT_OK
        if not args.json:
            print(f"experiment {experiment_id} submitted: {run_count(request)} runs; waiting", flush=True)
        state = await client.wait_experiment(experiment_id, None if args.json else print_run_finished)
    return _print_report(state, args.json)


async def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """`airad experiment show EXP [--follow]`."""
    async with connect(settings, args.environ) as client:
        state = await read_experiment_state(client, args.experiment_id)
        if args.follow and not state.terminal:
            if not args.json:
                print(xout.status_line(state), flush=True)
            state = await client.wait_experiment(args.experiment_id, None if args.json else print_run_finished)
    if args.json:
        print(out.to_json(_progress(state)))
    else:
        print(xout.status_line(state))
        if state.runs:
            print(xout.progress_table(state))
    return EXIT_FAILED if state.status == "rejected" else EXIT_OK


async def cmd_ls(args: argparse.Namespace, settings: Settings) -> int:
    """`airad experiment ls`: every experiment in the log, oldest first."""
    async with connect(settings, args.environ) as client:
        states = await client.experiments()
    print(
        out.to_json([_progress(s) | {"submitted_at": s.submitted_at} for s in states])
        if args.json
        else xout.experiments_table(states)
    )
    return EXIT_OK


async def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """`airad experiment report EXP [--json|--csv]`."""
    from airad.reports.experiment_report import experiment_report

    async with connect(settings, args.environ) as client:
        state = await read_experiment_state(client, args.experiment_id)
    if args.csv and state.status != "rejected":
        print(xout.report_csv(experiment_report(state)), end="")
        return EXIT_OK
    return _print_report(state, args.json)


async def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    """`airad experiment cancel EXP [--wait]`: mark the experiment cancelled (once; a done one is left alone)."""
    async with connect(settings, args.environ) as client:
        state = await read_experiment_state(client, args.experiment_id)
        if not state.terminal:
            await client.cancel_experiment(args.experiment_id, "airad experiment cancel")
            if args.wait:
                state = await client.wait_experiment(args.experiment_id)
    print(out.to_json(_progress(state)) if args.json else xout.status_line(state))
    return EXIT_OK


def register(command) -> None:
    """Add `experiment submit|ls|show|cancel|report` to `airad`'s parser."""
    experiment = command(
        "experiment", None, "portfolios of runs: tasks × solvers × seeds, with an aggregate report", json_flag=False
    )
    sub = experiment.add_subparsers(dest="experiment_command", required=True)

    def subcommand(name: str, handler, help_text: str):
        """One `airad experiment` subcommand with its handler and a --json flag."""
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    submit = subcommand("submit", cmd_submit, "publish an experiment request (TOML or JSON)")
    submit.add_argument("file")
    submit.add_argument(
        "--wait", action="store_true", help="follow the experiment until it is done, then print its report"
    )
    subcommand("ls", cmd_ls, "every experiment: status and runs ended / running / not started")
    show = subcommand(
        "show", cmd_show, "an experiment's progress: runs ended / running / not started per task × solver"
    )
    show.add_argument("experiment_id", metavar="EXP")
    show.add_argument("--follow", action="store_true", help="print each run as it ends, until the experiment is done")
    cancel = subcommand("cancel", cmd_cancel, "cancel an experiment: no more runs start, running ones are cancelled")
    cancel.add_argument("experiment_id", metavar="EXP")
    cancel.add_argument("--wait", action="store_true", help="wait until the experiment has wound down")
    report = subcommand("report", cmd_report, "mean ± SEM per task × solver, and a ranking of the solvers")
    report.add_argument("experiment_id", metavar="EXP")
    report.add_argument("--csv", action="store_true", help="one CSV row per task × solver")
