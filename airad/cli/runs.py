"""`airad run`, `submit`, `runs`, `show`, `events` and `cancel`: one run at a time, through `airad.Client`."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import msgspec

from airad.cli import output as out
from airad.cli.connection import connect
from airad.cli.errors import EXIT_FAILED, EXIT_OK, CliError, read_request_file
from airad.daemon.settings import Settings
from airad.daemon.validation import parse_request
from airad.events.fold import RunState
from airad.schemas.events import Event, NodeFailed, NodeTested
from airad.schemas.policies import policy_kind
from airad.schemas.request import RunRequest, models_of, task_label

if TYPE_CHECKING:
    from airad.client import Client
    from airad.daemon.daemon import Daemon


def read_request(path: Path) -> RunRequest:
    """A run request from a TOML or JSON file, validated; the files it names (`program_file`,
    `baseline_file`, a script task's `dir`) are resolved relative to it and inlined."""
    return read_request_file(path, parse_request, "run request")


def print_node(state: RunState, event: Event) -> None:
    """Print a progress line when a node has finished (`Client.wait`'s `on_event`)."""
    if isinstance(event, (NodeTested, NodeFailed)):
        print(out.node_line(state.nodes[event.node_id], state.metric), flush=True)


async def read_run(client: Client, run_id: str) -> RunState:
    """The run's state now; a CliError when the log holds no such run."""
    from airad.client import RunNotFound

    try:
        return await client.run(run_id)
    except RunNotFound:
        raise CliError(f"no run {run_id!r} in the log", EXIT_FAILED) from None


def print_result(state: RunState, as_json: bool) -> int:
    """Print how a run ended (`airad run`, `submit --wait`); exit code 1 when it was rejected, or ended
    because its model or its task could not be used (reason "model" or "error")."""
    if as_json:
        from airad.reports.summary import summarize

        print(out.to_json(summarize(state, time.time())))
    else:
        print(out.final_report(state))
    return EXIT_FAILED if state.status == "rejected" or state.finish_reason in ("model", "error") else EXIT_OK


RESUMABLE = ("new", "running")
"""The statuses of a run that was not carried to its end: `airad run` resumes it, `airad daemon` adopts it."""


def say(args: argparse.Namespace, line: str) -> None:
    """A line for the user: on stdout, or stderr under --json (where stdout holds only the JSON)."""
    print(line, file=sys.stderr if args.json else sys.stdout, flush=True)


def nodes_done(state: RunState) -> int:
    """How many of the run's nodes were carried to their end."""
    return sum(node.done for node in state.nodes)


def is_request_of(recorded: RunRequest, request: RunRequest) -> bool:
    """Whether a run's recorded request is `request`; a request that names no run id matches whatever
    id its run got."""
    if request.run_id is None:
        recorded = msgspec.structs.replace(recorded, run_id=None)
    return recorded == request


async def unfinished_runs(client: Client, request: RunRequest) -> tuple[RunState | None, int]:
    """The oldest unfinished run (status new or running) of `request`, if any, and how many other runs
    are unfinished."""
    from airad.events.fold import fold

    unfinished = [summary.run_id for summary in await client.runs() if summary.status in RESUMABLE]
    for run_id in unfinished:
        events = await client.events(run_id)
        state = fold(events) if events else None
        if state is not None and state.request is not None and is_request_of(state.request, request):
            return state, len(unfinished) - 1
    return None, len(unfinished)


class FollowedRun:
    """The run `airad run` follows: its latest state as its events arrive (`Client.wait`'s `on_event`),
    each finished node printed unless `quiet`."""

    def __init__(self, run_id: str, quiet: bool):
        self.state = RunState(run_id)
        self.quiet = quiet

    def seen(self, state: RunState, event: Event) -> None:
        """Keep the state that includes `event`; print the node it finished."""
        self.state = state
        if not self.quiet:
            print_node(state, event)

    @property
    def unfinished(self) -> bool:
        """Whether the run is in the log and has not ended, as far as the events seen so far tell."""
        return self.state.last_seq > 0 and not self.state.terminal


async def keep_driven(daemon: Daemon, run: FollowedRun, every_s: float) -> None:
    """Drive the run in this process's daemon whenever no daemon does, until cancelled: another process
    may have taken it from the shared intake and stop before it ends, or hold its lease from before."""
    from airad.events.nats_faults import NATS_FAULTS

    while True:
        if run.unfinished:
            with suppress(*NATS_FAULTS):  # NATS away for a moment: the next round
                await daemon.start_run(run.state.run_id)
        await anyio.sleep(every_s)


async def follow_run(client: Client, run: FollowedRun, max_nodes: int, args: argparse.Namespace) -> RunState:
    """The run's state once it has ended. When a signal stops the following, `args.interruption` says
    where the run stopped and how to resume it."""
    try:
        return await client.wait(run.state.run_id, run.seen)
    except anyio.get_cancelled_exc_class():
        args.interruption = (
            f"run {run.state.run_id} stopped at {nodes_done(run.state)} of {max_nodes} nodes. Run the same "
            "command again to resume it (or `airad daemon` to resume every unfinished run)."
        )
        raise


async def submit_or_resume(
    client: Client, daemon: Daemon, request: RunRequest, earlier: RunState | None, args: argparse.Namespace
) -> str:
    """The id of the run `airad run` follows: `earlier`, this request's unfinished run, resumed in
    `daemon`; else a new run of the request, submitted."""
    max_nodes = request.budget.max_nodes
    if earlier is None:
        run_id = await client.submit(request)
        if not args.json:
            print(
                f"run {run_id}: {task_label(request.task)} with {policy_kind(request.policy)}, "
                f"model {request.model.name}, up to {max_nodes} nodes (state in {daemon.settings.state_dir})",
                flush=True,
            )
        return run_id
    say(
        args,
        f"resuming run {earlier.run_id} of this request (interrupted at {nodes_done(earlier)} of {max_nodes} nodes)",
    )
    if not await daemon.start_run(earlier.run_id):
        say(args, f"run {earlier.run_id} is driven by another process now; following it")
    return earlier.run_id


def note_others(args: argparse.Namespace, others: int, state_dir: str) -> None:
    """Say that `others` runs besides this one are unfinished, and what resumes them."""
    if others:
        runs = "run is" if others == 1 else "runs are"
        say(
            args,
            f"note: {others} other {runs} unfinished in {state_dir} "
            "(`airad daemon` resumes the unfinished runs no process drives)",
        )


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """`airad run FILE`: a daemon in this process serves the one request, followed until the run ends. An
    unfinished run of the same request (one interrupted before) is resumed rather than started again."""
    from airad.client import Client
    from airad.daemon.connection import nats_connection
    from airad.daemon.daemon import Daemon

    request = read_request(Path(args.file))
    async with nats_connection(settings, args.environ) as (nc, url):
        client = Client.from_connection(nc)
        earlier, others = await unfinished_runs(client, request)
        note_others(args, others, settings.state_dir)
        async with anyio.create_task_group() as tg:
            daemon = Daemon(settings, env=args.environ, adopts=False)
            await tg.start(daemon.serve, url)
            run = FollowedRun(await submit_or_resume(client, daemon, request, earlier, args), quiet=args.json)
            tg.start_soon(keep_driven, daemon, run, settings.lease_ttl_s / 3)
            state = await follow_run(client, run, request.budget.max_nodes, args)
            tg.cancel_scope.cancel()
    return print_result(state, args.json)


async def check_models_here(request: RunRequest, environ: dict[str, str]) -> None:
    """Check the request's models from this machine before submitting: a refused key or an unknown
    model is a CliError (the run would end at once); a model this machine cannot reach, or whose key
    variable is not set here, is only noted (the daemon may reach it; it checks at the run's start)."""
    from airad.daemon.llm import LiteLLMClient, LLMError

    for model in models_of(request):
        if model.api_key_env and not environ.get(model.api_key_env):
            print(
                f"note: {model.name} not checked here ({model.api_key_env} is not set); the daemon checks it",
                flush=True,
            )
            continue
        try:
            await LiteLLMClient(env=environ).check_model(model)
        except LLMError as exc:
            if exc.kind == "unreachable":
                print(f"note: {model.name} {exc.what} from here; the daemon checks it when the run starts", flush=True)
                continue
            raise CliError(
                f"the model {model.name} {exc.what}: {exc}\nnothing was submitted (--no-model-check submits anyway)",
                EXIT_FAILED,
            ) from None


async def cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    """`airad submit FILE [--wait]`: check the request's models from here, then publish the request for
    a daemon to serve."""
    request = read_request(Path(args.file))
    if args.model_check:
        await check_models_here(request, args.environ)
    async with connect(settings, args.environ) as client:
        run_id, request_seq, published = await client.submitted(request)
        serving = await client.serving()
        if not serving:
            print(
                f"airad: no daemon is taking requests on this NATS now: run {run_id} waits in the request "
                "stream until one starts (`airad daemon`, with the same --nats)",
                file=sys.stderr,
                flush=True,
            )
        if not args.wait:
            print(out.to_json({"run_id": run_id}) if args.json else run_id)
            return EXIT_OK
        if not args.json:
            waiting = "for a daemon to start and take it" if not serving else "for it to end"
            print(f"run {run_id} submitted; waiting {waiting}", flush=True)
        try:
            answered = await client.outcome(run_id, request_seq, published)
            if answered != run_id:
                print(f"run {run_id} is another request's: this one is answered on {answered}", file=sys.stderr)
                run_id = answered
            state = await client.wait(run_id, None if args.json else print_node)
        except anyio.get_cancelled_exc_class():
            args.interruption = (
                f"stopped following run {run_id}; it stays submitted (`airad show {run_id}` shows it, "
                f"`airad cancel {run_id}` stops it)"
            )
            raise
    return print_result(state, args.json)


async def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    """`airad runs`: one line per run."""
    async with connect(settings, args.environ) as client:
        summaries = await client.runs()
    print(out.to_json(summaries) if args.json else out.runs_table(summaries))
    return EXIT_OK


async def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """`airad show RUN [--node N]`: the run and its nodes, or one node in full."""
    async with connect(settings, args.environ) as client:
        state = await read_run(client, args.run_id)
        if args.node is not None:
            if not 0 <= args.node < len(state.nodes):
                raise CliError(f"run {args.run_id} has no node {args.node} (it has {len(state.nodes)})", EXIT_FAILED)
            node = state.nodes[args.node]
            if args.json:
                print(out.to_json(node))
                return EXIT_OK
            unused = [call.completion_ref for call in node.calls if call.problem and call.completion_ref]
            answers = {ref: (await client.blob(ref)).decode("utf-8", errors="replace") for ref in unused}
            print(out.node_detail(state, args.node, answers))
            return EXIT_OK
    if args.json:
        print(out.to_json(state))
    else:
        print(out.show_header(state))
        if state.nodes:
            print(out.nodes_table(state))
    return EXIT_OK


async def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    """`airad events RUN`: the run's events, one a line."""
    from airad.schemas.events import encode_event

    async with connect(settings, args.environ) as client:
        events = await client.events(args.run_id)
    if not events:
        raise CliError(f"no run {args.run_id!r} in the log", EXIT_FAILED)
    for event in events:
        print(encode_event(event).decode() if args.json else out.event_line(event))
    return EXIT_OK


async def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    """`airad cancel RUN [--wait]`: mark the run cancelled (an ended run is left alone)."""
    async with connect(settings, args.environ) as client:
        state = await read_run(client, args.run_id)
        if not state.terminal:
            await client.cancel(args.run_id, "airad cancel")
            if args.wait:
                state = await client.wait(args.run_id)
    ended = state.finish_reason or state.rejection
    if args.json:
        print(out.to_json({"run_id": args.run_id, "status": state.status, "reason": ended, "cancel_requested": True}))
    elif state.terminal:
        print(f"run {args.run_id}: {state.status} ({ended})")
    else:
        print(f"run {args.run_id}: cancel requested; the daemon that drives it ends it at its next step")
    return EXIT_OK


def register(command) -> None:
    """Add run, submit, runs, show, events and cancel to `airad`'s parser."""
    command("run", cmd_run, "run one request end to end in this process").add_argument("file")
    submit = command("submit", cmd_submit, "publish a run request (TOML or JSON)")
    submit.add_argument("file")
    submit.add_argument("--wait", action="store_true", help="follow the run until it ends")
    submit.add_argument(
        "--no-model-check",
        dest="model_check",
        action="store_false",
        help="do not check the model from here first (a refused key or an unknown model stops the submit)",
    )
    command("runs", cmd_runs, "list runs")
    show = command("show", cmd_show, "show a run and its nodes, or one node in full")
    show.add_argument("run_id")
    show.add_argument("--node", type=int, help="print this node's plan, code, output and review")
    command("events", cmd_events, "print a run's events").add_argument("run_id")
    cancel = command("cancel", cmd_cancel, "cancel a run: its daemon stops it at a safe point (reason 'cancelled')")
    cancel.add_argument("run_id", metavar="RUN")
    cancel.add_argument("--wait", action="store_true", help="wait until the run has ended")
