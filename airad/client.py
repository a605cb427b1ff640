"""`airad.Client`: submit runs, watch their events and read their state over NATS, from Python."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, overload

import anyio
import msgspec
import nats.js.errors

from airad.events.experiment import ExperimentState, evolve_experiment, fold_experiment
from airad.events.fold import RunState, evolve, fold
from airad.events.jetstream import (
    EXPERIMENTS_SUBJECT,
    INTAKE_CONSUMER,
    REQUESTS_STREAM,
    REQUESTS_SUBJECT,
    JetStreamBlobStore,
    JetStreamEventLog,
    JetStreamRunIndex,
    ensure_streams,
)
from airad.events.jetstream_marks import JetStreamCancelMarks
from airad.events.log import EXPERIMENT_EVENTS, RunSummary, experiment_key
from airad.reports.experiment_report import ExperimentReport, experiment_report
from airad.schemas.errors import FieldError
from airad.schemas.events import TERMINAL_EVENTS, Event
from airad.schemas.experiment import ExperimentRequest
from airad.schemas.experiment_events import TERMINAL_EXPERIMENT_EVENTS, ExperimentEvent
from airad.schemas.json_schema import integral_floats_as_ints
from airad.schemas.request import RunRequest, derived_experiment_id, derived_run_id
from airad.schemas.request_files import inline_files

if TYPE_CHECKING:
    import pandas
    from nats.aio.client import Client as NATS
    from nats.js import JetStreamContext

NODE_COLUMNS = (
    "id",
    "operator",
    "parent_ids",
    "status",
    "buggy",
    "valid",
    "score",
    "test_score",
    "exit_code",
    "timed_out",
    "oom",
    "killed",
    "duration_s",
    "tokens",
    "cost_usd",
    "model",
    "medal",
    "above_median",
    "reported_metric",
    "failure",
    "score_error",
    "plan",
)


class InvalidRequest(ValueError):
    """A run request that does not match the RunRequest schema; nothing was published."""


class RunNotFound(LookupError):
    """The log holds no event of this run."""


RequestSource = RunRequest | ExperimentRequest | dict | str | os.PathLike
"""What `to_request` accepts: a request struct, its dict, or the path of its TOML / JSON file."""


@overload
def to_request(request: RequestSource) -> RunRequest: ...


@overload
def to_request(request: RequestSource, kind: type[ExperimentRequest]) -> ExperimentRequest: ...


def to_request(request: RequestSource, kind: type = RunRequest) -> Any:
    """A validated RunRequest (or `kind`: ExperimentRequest) from a struct, a dict, or a TOML / JSON
    file path (by its suffix).

    Everything goes through the wire form, so field constraints are checked exactly as the daemon
    checks them; whether the task's files exist on the daemon's host is left to the daemon. A file's
    `program_file` / `baseline_file` (and a script task's `dir`) are resolved relative to it and
    inlined, as `airad submit` does."""
    try:
        data: object = request
        if isinstance(request, (str, os.PathLike)):
            path = Path(request)
            raw = path.read_bytes()
            decoded = msgspec.toml.decode(raw) if path.suffix.lower() == ".toml" else msgspec.json.decode(raw)
            data = inline_files(decoded, path.resolve().parent)
        if not isinstance(data, msgspec.Struct):
            data = integral_floats_as_ints(msgspec.to_builtins(data))  # 1.0 is an integer, as the daemon reads it
        return msgspec.json.decode(msgspec.json.encode(data), type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError, TypeError, FieldError) as exc:
        noun = "experiment request" if kind is ExperimentRequest else "run request"
        raise InvalidRequest(f"invalid {noun}: {exc}") from None


def node_rows(state: RunState) -> list[dict]:
    """One dict per node of the run, with the keys of `NODE_COLUMNS`."""
    return [{column: getattr(node, column) for column in NODE_COLUMNS} for node in state.nodes]


class Client:
    """An airad client over NATS: `async with airad.Client("nats://127.0.0.1:4222") as client: ...`.

    It talks only to NATS (the request stream, the event log, the run index, the blob store), so it
    works against any daemon that serves the same server, from a script or a notebook.

    Authentication and TLS, as the server requires: `user` + `password`, `token`, `nkey_seed_file`,
    `tls_ca_file` (and `tls_cert_file` + `tls_key_file` for a client certificate). `connect` raises
    `airad.events.connect.NatsConnectError` (a ConnectionError) naming what went wrong."""

    def __init__(
        self,
        nats_url: str = "nats://127.0.0.1:4222",
        *,
        connect_timeout_s: float = 5.0,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        nkey_seed_file: str | None = None,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
    ):
        self.nats_url = nats_url
        self.connect_timeout_s = connect_timeout_s
        self._auth = dict(
            user=user,
            password=password,
            token=token,
            nkey_seed_file=nkey_seed_file,
            tls_ca_file=tls_ca_file,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
        )
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None

    @classmethod
    def from_connection(cls, nc: NATS) -> Client:
        """A client over a NATS connection opened elsewhere whose streams exist (the `airad` command's);
        `close` leaves that connection open."""
        client = cls()
        client._js = nc.jetstream()
        return client

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and make sure airad's streams exist (`async with` does this for you)."""
        from airad.events.connect import connect_nats, connect_options

        nc = await connect_nats(
            self.nats_url,
            connect_options(self.nats_url, **self._auth),
            name="airad-client",
            connect_timeout_s=self.connect_timeout_s,
            max_reconnect_attempts=3,
        )
        try:
            await ensure_streams(nc.jetstream())
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, nc.jetstream()

    async def close(self) -> None:
        """Close the connection."""
        if self._nc is not None:
            await self._nc.close()
            self._nc = self._js = None

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context; raises when the client is not connected."""
        if self._js is None:
            raise RuntimeError("the client is not connected: use `async with airad.Client(url) as client`")
        return self._js

    async def serving(self, within_s: float = 2.5) -> bool:
        """Whether a daemon is taking run requests: some daemon's pull on the shared intake consumer is
        waiting (a daemon's intake always has one open, renewed every 2 s); sampled for `within_s`."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                info = await self.js.consumer_info(REQUESTS_STREAM, INTAKE_CONSUMER)
            except nats.js.errors.NotFoundError:
                return False
            if info.num_waiting:
                return True
            if time.monotonic() >= deadline:
                return False
            await anyio.sleep(0.25)

    async def submit(self, request: RunRequest | dict | str | os.PathLike) -> str:
        """Validate and publish a run request; return its run id. Raises InvalidRequest before
        publishing anything when the request does not match the schema. A request that names a taken
        `run_id` is answered elsewhere: `submitted` and `outcome` find where."""
        return (await self.submitted(request))[0]

    async def submitted(self, request: RunRequest | dict | str | os.PathLike) -> tuple[str, int, RunRequest]:
        """`submit`, returning (the run id asked for or derived, the request's stream sequence, the
        request as published), for `outcome`."""
        request = to_request(request)
        ack = await self.js.publish(REQUESTS_SUBJECT, msgspec.json.encode(request))
        return request.run_id or derived_run_id(ack.seq), ack.seq, request

    async def outcome(self, run_id: str, request_seq: int, request: RunRequest) -> str:
        """The run that holds the outcome of the request published as `request_seq` naming `run_id`
        (docs/events.md): `run_id` when that run is this request's (or the same request's), else
        `req-<request_seq>`, where a request under a taken id is rejected. Waits for the run's first event."""
        if request.run_id is None:
            return run_id
        async with aclosing(cast(AsyncGenerator, JetStreamEventLog(self.js).watch(run_id))) as events:
            async for first in events:
                mine = getattr(first, "request_seq", None) == request_seq or getattr(first, "request", None) == request
                return run_id if mine else derived_run_id(request_seq)
        return run_id

    async def watch(self, run_id: str, after_seq: int = 0, *, follow: bool = False) -> AsyncGenerator[Event, None]:
        """The run's events with seq > after_seq, live; ends after the run's terminal event
        (`run.finished` / `run.rejected`) unless `follow`. A run not yet started is waited for."""
        async with aclosing(cast(AsyncGenerator, JetStreamEventLog(self.js).watch(run_id))) as events:
            async for event in events:
                if event.seq > after_seq:
                    yield event
                if not follow and isinstance(event, TERMINAL_EVENTS):
                    return

    async def wait(self, run_id: str, on_event: Callable[[RunState, Event], object] | None = None) -> RunState:
        """The run's state once it has finished or was rejected. `on_event(state, event)`, when given,
        is called as each event arrives, with the state that includes it (to show progress)."""
        state = RunState(run_id)
        async with aclosing(self.watch(run_id)) as events:
            async for event in events:
                state = evolve(state, event)
                if on_event is not None:
                    on_event(state, event)
        return state

    async def events(self, run_id: str) -> list[Event]:
        """Every event of the run so far, in seq order (empty for an unknown run)."""
        return await JetStreamEventLog(self.js).read(run_id)

    async def run(self, run_id: str) -> RunState:
        """The run's state now: the fold of its events. Raises RunNotFound for an unknown run."""
        events = await self.events(run_id)
        if not events:
            raise RunNotFound(run_id)
        return fold(events)

    async def runs(self) -> list[RunSummary]:
        """One summary per run, by submission time."""
        return await (await JetStreamRunIndex.open(self.js)).list()

    async def nodes(self, run_id: str) -> pandas.DataFrame:
        """The run's nodes as a pandas DataFrame, one row per node in id order, columns
        `NODE_COLUMNS`; `buggy` marks a failed node or one whose output the harness could not score."""
        import pandas

        return pandas.DataFrame(node_rows(await self.run(run_id)), columns=list(NODE_COLUMNS))

    async def blob(self, ref: str) -> bytes:
        """A blob (prompt, completion, full output, output file) by its SHA-256; KeyError when absent."""
        return await (await JetStreamBlobStore.open(self.js)).get(ref)

    async def submit_experiment(self, request: ExperimentRequest | dict | str | os.PathLike) -> str:
        """Validate and publish an experiment request (tasks × solvers × seeds); return its id.
        Raises InvalidRequest before publishing anything when it does not match the schema."""
        request = to_request(request, ExperimentRequest)
        ack = await self.js.publish(EXPERIMENTS_SUBJECT, msgspec.json.encode(request))
        return request.experiment_id or derived_experiment_id(ack.seq)

    async def experiment(self, experiment_id: str) -> ExperimentState:
        """The experiment's state now: the fold of its events. Raises RunNotFound for an unknown one."""
        events = await JetStreamEventLog(self.js, EXPERIMENT_EVENTS).read(experiment_id)
        if not events:
            raise RunNotFound(experiment_id)
        return fold_experiment(events)

    async def experiments(self) -> list[ExperimentState]:
        """Every experiment's state now, oldest submission first."""
        log = JetStreamEventLog(self.js, EXPERIMENT_EVENTS)
        states: list[ExperimentState] = []

        async def read(experiment_id: str) -> None:
            states.append(fold_experiment(await log.read(experiment_id)))

        async with anyio.create_task_group() as tg:
            for experiment_id in await log.ids():
                tg.start_soon(read, experiment_id)
        return sorted(states, key=lambda state: (state.submitted_at or 0.0, state.experiment_id))

    async def wait_experiment(
        self,
        experiment_id: str,
        on_event: Callable[[ExperimentState, ExperimentEvent], object] | None = None,
    ) -> ExperimentState:
        """The experiment's state once it is done (every run ended, or cancelled) or was rejected.
        `on_event(state, event)`, when given, is called as each event arrives, with the state that includes it."""
        state = ExperimentState(experiment_id)
        log = JetStreamEventLog(self.js, EXPERIMENT_EVENTS)
        async with aclosing(cast(AsyncGenerator, log.watch(experiment_id))) as events:
            async for event in events:
                state = evolve_experiment(state, event)
                if on_event is not None:
                    on_event(state, event)
                if isinstance(event, TERMINAL_EXPERIMENT_EVENTS):
                    break
        return state

    async def experiment_report(self, experiment_id: str) -> ExperimentReport:
        """Per task and solver: held-out score and any-medal % (mean ± SEM), nodes, cost, wall time;
        and the solvers' ranking across tasks (Bradley–Terry)."""
        return experiment_report(await self.experiment(experiment_id))

    async def cancel(self, run_id: str, reason: str = "") -> None:
        """Ask for the run to be cancelled: the daemon that drives it ends it ('cancelled') at its next
        step. The mark is kept; a run that has already ended is left as it was."""
        await (await JetStreamCancelMarks.open(self.js)).mark(run_id, reason)

    async def cancel_experiment(self, experiment_id: str, reason: str = "") -> None:
        """Ask for the experiment to be cancelled: no more of its runs start, the running ones are
        cancelled. An experiment that is done is left as it was."""
        await (await JetStreamCancelMarks.open(self.js)).mark(experiment_key(experiment_id), reason)
