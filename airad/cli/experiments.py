"""`airad experiment submit|ls|show|cancel|report` and `airad cancel RUN`."""

from __future__ import annotations

from pathlib import Path

import msgspec

from airad.cli import experiment_output as xout, output as out
from airad.cli.errors import EXIT_FAILED, EXIT_OK, CliError, read_request_file
from airad.daemon.settings import Settings
from airad.daemon.validation import parse_experiment
from airad.events.experiment import ExperimentState, evolve_experiment, fold_experiment
from airad.events.fold import RunState, evolve, fold
from airad.schemas.experiment import ExperimentRequest
from airad.schemas.experiment_events import ExperimentRunFinished


def read_experiment(path: Path) -> ExperimentRequest:
    """An experiment request from a TOML or JSON file, validated."""
    return read_request_file(path, parse_experiment, "experiment request")


async def publish_experiment(js, request: ExperimentRequest) -> str:
    """Publish an experiment request on `airad.experiments`; return the id the daemon will use for it."""
    from airad.daemon.experiments import derived_experiment_id
    from airad.events.jetstream import EXPERIMENTS_SUBJECT

    ack = await js.publish(EXPERIMENTS_SUBJECT, msgspec.json.encode(request))
    return request.experiment_id or derived_experiment_id(ack.seq)


def _experiment_log(js):
    from airad.events.jetstream import JetStreamEventLog
    from airad.events.log import EXPERIMENT_EVENTS

    return JetStreamEventLog(js, EXPERIMENT_EVENTS)


async def follow_experiment(js, experiment_id: str, *, quiet: bool) -> ExperimentState:
    """Print a line as each run ends until the experiment is done (or rejected); return its state."""
    state = ExperimentState(experiment_id)
    async for event in _experiment_log(js).watch(experiment_id):
        state = evolve_experiment(state, event)
        if not quiet and isinstance(event, ExperimentRunFinished):
            print(xout.run_finished_line(state, event), flush=True)
        if state.terminal:
            return state
    return state


async def _read_state(js, experiment_id: str) -> ExperimentState:
    events = await _experiment_log(js).read(experiment_id)
    if not events:
        raise CliError(f"no experiment {experiment_id!r} in the log", EXIT_FAILED)
    return fold_experiment(events)


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


async def cmd_submit(args, settings: Settings) -> int:
    """`airad experiment submit FILE [--wait]`."""
    from airad.daemon.connection import nats_connection

    request = read_experiment(Path(args.file))
    async with nats_connection(settings, args.environ) as (nc, _):
        js = nc.jetstream()
        experiment_id = await publish_experiment(js, request)
        if not args.wait:
            print(out.to_json({"experiment_id": experiment_id}) if args.json else experiment_id)
            return EXIT_OK
        if not args.json:
            runs = len(request.tasks) * len(request.solvers) * len(request.seeds)
            print(f"experiment {experiment_id} submitted: {runs} runs; waiting", flush=True)
        state = await follow_experiment(js, experiment_id, quiet=args.json)
    return _print_report(state, args.json)


async def cmd_show(args, settings: Settings) -> int:
    """`airad experiment show EXP [--follow]`."""
    from airad.daemon.connection import nats_connection

    async with nats_connection(settings, args.environ) as (nc, _):
        js = nc.jetstream()
        state = await _read_state(js, args.experiment_id)
        if args.follow and not state.terminal:
            if not args.json:
                print(xout.status_line(state), flush=True)
            state = await follow_experiment(js, args.experiment_id, quiet=args.json)
    if args.json:
        print(out.to_json(_progress(state)))
    else:
        print(xout.status_line(state))
        if state.runs:
            print(xout.progress_table(state))
    return EXIT_FAILED if state.status == "rejected" else EXIT_OK


async def cmd_ls(args, settings: Settings) -> int:
    """`airad experiment ls`: every experiment in the log, oldest first."""
    import anyio

    from airad.daemon.connection import nats_connection

    async with nats_connection(settings, args.environ) as (nc, _):
        log = _experiment_log(nc.jetstream())
        ids = await log.ids()
        states: dict[str, ExperimentState] = {}

        async def read(experiment_id: str) -> None:
            states[experiment_id] = fold_experiment(await log.read(experiment_id))

        async with anyio.create_task_group() as tg:
            for experiment_id in ids:
                tg.start_soon(read, experiment_id)
    ordered = sorted(states.values(), key=lambda s: (s.submitted_at or 0.0, s.experiment_id))
    print(out.to_json([_progress(s) | {"submitted_at": s.submitted_at} for s in ordered]) if args.json
          else xout.experiments_table(ordered))
    return EXIT_OK


async def cmd_report(args, settings: Settings) -> int:
    """`airad experiment report EXP [--json|--csv]`."""
    from airad.daemon.connection import nats_connection
    from airad.reports.experiment_report import experiment_report

    async with nats_connection(settings, args.environ) as (nc, _):
        state = await _read_state(nc.jetstream(), args.experiment_id)
    if args.csv and state.status != "rejected":
        print(xout.report_csv(experiment_report(state)), end="")
        return EXIT_OK
    return _print_report(state, args.json)


async def _mark(js, key: str, reason: str) -> None:
    from airad.events.jetstream import JetStreamCancelMarks

    await (await JetStreamCancelMarks.open(js)).mark(key, reason)


async def cmd_experiment_cancel(args, settings: Settings) -> int:
    """`airad experiment cancel EXP [--wait]`: mark the experiment cancelled (once; a done one is left alone)."""
    from airad.daemon.connection import nats_connection
    from airad.events.log import experiment_key

    async with nats_connection(settings, args.environ) as (nc, _):
        js = nc.jetstream()
        state = await _read_state(js, args.experiment_id)
        if not state.terminal:
            await _mark(js, experiment_key(args.experiment_id), "airad experiment cancel")
            if args.wait:
                state = await follow_experiment(js, args.experiment_id, quiet=True)
    print(out.to_json(_progress(state)) if args.json else xout.status_line(state))
    return EXIT_OK


async def _follow_run(js, run_id: str) -> RunState:
    from airad.events.jetstream import JetStreamEventLog

    state = RunState(run_id)
    async for event in JetStreamEventLog(js).watch(run_id):
        state = evolve(state, event)
        if state.terminal:
            break
    return state


async def cmd_cancel(args, settings: Settings) -> int:
    """`airad cancel RUN [--wait]`: mark the run cancelled (an ended run is left alone)."""
    from airad.daemon.connection import nats_connection
    from airad.events.jetstream import JetStreamEventLog

    async with nats_connection(settings, args.environ) as (nc, _):
        js = nc.jetstream()
        events = await JetStreamEventLog(js).read(args.run_id)
        if not events:
            raise CliError(f"no run {args.run_id!r} in the log", EXIT_FAILED)
        state = fold(events)
        if not state.terminal:
            await _mark(js, args.run_id, "airad cancel")
            if args.wait:
                state = await _follow_run(js, args.run_id)
    ended = state.finish_reason or state.rejection
    if args.json:
        print(out.to_json({"run_id": args.run_id, "status": state.status, "reason": ended, "cancel_requested": True}))
    elif state.terminal:
        print(f"run {args.run_id}: {state.status} ({ended})")
    else:
        print(f"run {args.run_id}: cancel requested; the daemon that drives it ends it at its next step")
    return EXIT_OK


def register(command) -> None:
    """Add `experiment ...` and `cancel` to `airad`'s parser; `command(name, handler, help)` makes one subparser."""
    cancel = command("cancel", cmd_cancel, "cancel a run: its daemon stops it at a safe point (reason 'cancelled')")
    cancel.add_argument("run_id", metavar="RUN")
    cancel.add_argument("--wait", action="store_true", help="wait until the run has ended")
    experiment = command("experiment", None, "portfolios of runs: tasks × solvers × seeds, with an aggregate report", json_flag=False)
    sub = experiment.add_subparsers(dest="experiment_command", required=True)

    def subcommand(name: str, handler, help_text: str):
        """One `airad experiment` subcommand with its handler and a --json flag."""
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    submit = subcommand("submit", cmd_submit, "publish an experiment request (TOML or JSON)")
    submit.add_argument("file")
    submit.add_argument("--wait", action="store_true", help="follow the experiment until it is done, then print its report")
    subcommand("ls", cmd_ls, "every experiment: status and runs ended / running / not started")
    show = subcommand("show", cmd_show, "an experiment's progress: runs ended / running / not started per task × solver")
    show.add_argument("experiment_id", metavar="EXP")
    show.add_argument("--follow", action="store_true", help="print each run as it ends, until the experiment is done")
    cancel_exp = subcommand("cancel", cmd_experiment_cancel, "cancel an experiment: no more runs start, running ones are cancelled")
    cancel_exp.add_argument("experiment_id", metavar="EXP")
    cancel_exp.add_argument("--wait", action="store_true", help="wait until the experiment has wound down")
    report = subcommand("report", cmd_report, "mean ± SEM per task × solver, and a ranking of the solvers")
    report.add_argument("experiment_id", metavar="EXP")
    report.add_argument("--csv", action="store_true", help="one CSV row per task × solver")
