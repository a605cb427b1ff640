"""The daemon: one root task group; intake of requests, one task per run (and per experiment), leases,
cancel marks, resume."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path

import anyio
import nats
import nats.errors
import structlog
from anyio.abc import TaskStatus

from airad.daemon.backends import Backend, build_backends, log_enforced_limits
from airad.daemon.cancels import CancelWatch
from airad.daemon.connection import connect_nats, safe_url, settings_connect_options
from airad.daemon.environments import Environments
from airad.daemon.experiments import Experiments, ExperimentServices
from airad.daemon.grading import Grader
from airad.daemon.intake import accept
from airad.daemon.llm import LLM, LiteLLMClient
from airad.daemon.opened_tasks import OpenedTasks
from airad.daemon.request_stream import publish_run, pulled
from airad.daemon.run_services import RunServices
from airad.daemon.runner import drive_run
from airad.daemon.settings import Settings
from airad.daemon.settle import settle
from airad.events.installation import first_value
from airad.events.jetstream import (
    EXPERIMENTS_SUBJECT,
    INTAKE_CONSUMER,
    REQUESTS_SUBJECT,
    JetStreamBlobStore,
    JetStreamEventLog,
    JetStreamRunIndex,
    ensure_streams,
)
from airad.events.jetstream_marks import JetStreamCancelMarks, JetStreamLeases
from airad.events.knowledge_log import JetStreamKnowledgeLog
from airad.events.log import EXPERIMENT_EVENTS, AppendConflict, Leases
from airad.events.nats_faults import NATS_FAULTS, describe, keep_going
from airad.events.presence import DaemonInfo, DaemonPresence, installed_version
from airad.executors.base import Executor
from airad.tasks import split_secret

EXPERIMENTS_CONSUMER = "airad-experiments"
INTAKE_BATCH = 64
LEASE_RENEWALS_AT_ONCE = 256
log = structlog.get_logger("airad.daemon")


def new_owner_id() -> str:
    """A daemon identity unique across hosts and restarts."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Daemon:
    """Consumes run and experiment requests and drives every run and experiment it owns as a task of
    one task group, each under a lease of its key (a run id, or `experiment.<id>`)."""

    # Made by `serve` once it is connected; nothing reads them before.
    leases: Leases
    presence: DaemonPresence
    services: RunServices
    cancels: CancelWatch
    experiments: Experiments
    _tg: anyio.abc.TaskGroup

    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLM | None = None,
        executors: dict[str, Executor] | None = None,
        owner: str | None = None,
        env: Mapping[str, str] | None = None,
        adopts: bool = True,
    ):
        """`adopts=False`: take back only the runs that once reached this daemon through its intake or
        `start_run` (a lease lost under load), never other orphans (`airad run`'s embedded daemon,
        which serves one request)."""
        self.settings = settings
        self.adopts = adopts
        self.env = env if env is not None else {}
        self.owner = owner or new_owner_id()
        self.llm = llm
        self.executors = executors
        self._owned: dict[str, anyio.CancelScope] = {}
        self._runs: set[str] = set()  # runs owned or being taken (the other owned keys are experiments)
        self._starting: set[str] = set()
        self._given: set[str] = set()  # every run start_run took, for `adopts=False`
        self._started_at = time.time()

    def _backends(self) -> dict[str, Backend]:
        if self.executors is None:
            return build_backends(self.settings, self.env)
        return {name: Backend(executor, self.settings.local_slots) for name, executor in self.executors.items()}

    async def serve(self, nats_url: str, *, task_status: TaskStatus = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect, resume orphaned runs, then consume requests until cancelled."""
        options = settings_connect_options(self.settings, nats_url, self.env)
        nc = await connect_nats(nats_url, options, name=f"airad-daemon {self.owner}", max_reconnect_attempts=-1)
        try:
            js = nc.jetstream()
            replicas = self.settings.nats_replicas
            await ensure_streams(js, replicas=replicas)
            await _share_split_secret(
                js, self.settings.state_path / "tasks", self.settings.split_key_file, replicas=replicas
            )
            event_log = JetStreamEventLog(js)
            index = await JetStreamRunIndex.open(js, replicas)
            self.leases = await JetStreamLeases.open(js, self.owner, self.settings.lease_ttl_s, replicas)
            self.presence = await DaemonPresence.open(js, 3 * self.settings.lease_ttl_s, replicas)
            backends = self._backends()
            grader = Grader(self.settings.grading_processes)
            self.services = RunServices(
                log=event_log,
                blobs=await JetStreamBlobStore.open(js, replicas),
                index=index,
                llm=self.llm
                or LiteLLMClient(
                    concurrency=self.settings.model_concurrency,
                    requests_per_minute=self.settings.model_requests_per_minute or None,
                    retries=self.settings.model_retries,
                    env=self.env,
                ),
                executors={name: backend.executor for name, backend in backends.items()},
                limiters={name: anyio.CapacityLimiter(backend.slots) for name, backend in backends.items()},
                tasks_root=self.settings.state_path / "tasks",
                owner=self.owner,
                generation_attempts=self.settings.generation_attempts,
                reference_baselines=self.settings.reference_baselines,
                grader=grader,
                tasks=OpenedTasks(prepare=grader.prepare),
                knowledge=JetStreamKnowledgeLog(js),
                environments=Environments(self.settings.state_path / "work"),
            )
            self.cancels = CancelWatch(await JetStreamCancelMarks.open(js, replicas))
            self.experiments = Experiments(
                ExperimentServices(
                    log=JetStreamEventLog(js, EXPERIMENT_EVENTS),
                    runs=event_log,
                    index=index,
                    marks=self.cancels.marks,
                    publish=partial(publish_run, js),
                    poll_s=self.settings.experiment_poll_s,
                ),
                self.own,
                self.cancels,
                executors=self.services.executors.keys(),
            )
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await tg.start(self.cancels.run)
                await tg.start(self.experiments.listen)
                await self._adopt_at_start()
                tg.start_soon(self._keep_leases)
                tg.start_soon(
                    keep_going,
                    "experiments.intake",
                    lambda: pulled(js, EXPERIMENTS_SUBJECT, EXPERIMENTS_CONSUMER, self.experiments.consume),
                )
                await log_enforced_limits(self.services.executors.get("local"))
                await self._announce()
                log.info("daemon.ready", owner=self.owner, nats=safe_url(nats_url))
                task_status.started()
                await keep_going("intake", lambda: pulled(js, REQUESTS_SUBJECT, INTAKE_CONSUMER, self._consume))
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._withdraw()
                await nc.close()

    async def _announce(self) -> None:
        """Say on NATS that this daemon serves, and what it drives (`airad status` reads it)."""
        runs = sorted(self._runs)
        await self.presence.announce(
            DaemonInfo(
                owner=self.owner,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=self._started_at,
                seen_at=time.time(),
                runs=tuple(runs),
                experiments=tuple(sorted(key for key in self._owned if key not in self._runs)),
                max_runs=self.settings.max_runs,
                version=installed_version(),
            )
        )

    async def _withdraw(self) -> None:
        """Take this daemon's heartbeat back as it stops (else it expires by itself)."""
        presence = getattr(self, "presence", None)
        if presence is None:
            return
        try:
            await presence.withdraw(self.owner)
        except NATS_FAULTS as exc:
            log.warning("presence.withdraw_failed", error=describe(exc))

    async def _adopt_at_start(self) -> None:
        """Adopt the orphans before serving; NATS failing now leaves them to the lease loop's next round."""
        try:
            await self.adopt_orphans()
        except* NATS_FAULTS as failed:
            log.warning("runs.adopt_failed", error="; ".join(describe(e) for e in failed.exceptions))

    async def _consume(self, subscription) -> None:
        """Take run requests from the intake consumer while there is room, until cancelled; a NATS
        fault ends it (`keep_going` subscribes again)."""
        while True:
            room = self._room()
            if room <= 0:
                await anyio.sleep(0.5)
                continue
            try:
                messages = await subscription.fetch(min(INTAKE_BATCH, room), timeout=2.0)
            except nats.errors.TimeoutError:
                continue
            # A batch is handled concurrently: each request costs a few round trips to NATS, and one
            # at a time they capped intake at a few requests a second under load. Two requests of a
            # batch that claim the same run_id race on the fenced first append; the loser is
            # redelivered and then sees the winner's run.
            async with anyio.create_task_group() as batch:
                for message in messages:
                    batch.start_soon(self._handle_request, message)

    async def _handle_request(self, message) -> None:
        await settle(message, self._accept, self.start_run, "run")

    async def _accept(self, data: bytes, request_seq: int, failure: str | None = None) -> tuple[str, bool]:
        return await accept(
            self.services.log,
            self.services.index,
            data,
            request_seq,
            executors=self.services.executors.keys(),
            failure=failure,
        )

    async def own(
        self, key: str, drive: Callable[[], Awaitable[None]], kind: str = "run", ident: str | None = None
    ) -> bool:
        """Take `key`'s lease and run `drive()` as a task while the lease holds; False if this or
        another daemon already owns it. `kind` and `ident` name it in the log (`run.lost`, run_id=...)."""
        if key in self._owned or key in self._starting:
            return False
        self._starting.add(key)  # intake and adoption may both reach a run while its lease is being taken
        try:
            if not await self.leases.acquire(key):
                return False
        finally:
            self._starting.discard(key)
        scope = anyio.CancelScope()
        self._owned[key] = scope
        self._tg.start_soon(self._hold, key, scope, drive, kind, ident or key)
        return True

    def _room(self) -> int:
        """How many more runs this daemon may take (`max_runs`; unlimited when 0)."""
        if not self.settings.max_runs:
            return INTAKE_BATCH
        return self.settings.max_runs - len(self._runs)

    async def _hold(
        self, key: str, scope: anyio.CancelScope, drive: Callable[[], Awaitable[None]], kind: str, ident: str
    ) -> None:
        bound = log.bind(**{f"{kind}_id": ident})
        try:
            with scope:
                await drive()
        except AppendConflict as exc:
            bound.warning(f"{kind}.lost", reason=str(exc))
        except NATS_FAULTS as exc:
            bound.warning(f"{kind}.interrupted", error=describe(exc), note="adopted again once NATS answers")
        except Exception:
            bound.exception(f"{kind}.crashed")
        finally:
            self._owned.pop(key, None)
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                try:
                    await self.leases.release(key)
                except NATS_FAULTS as exc:  # the lease then expires by itself
                    bound.warning("lease.release_failed", error=describe(exc))

    async def start_run(self, run_id: str) -> bool:
        """Take the run's lease and drive it as a task; False if another daemon owns it, or this
        one drives `max_runs` runs already."""
        if run_id in self._runs or self._room() <= 0:
            return False
        self._runs.add(run_id)
        if not await self.own(run_id, partial(self._drive_run, run_id)):
            self._runs.discard(run_id)
            return False
        self._given.add(run_id)
        return True

    async def _drive_run(self, run_id: str) -> None:
        try:
            cancel = await self.cancels.register(run_id)
            try:
                await drive_run(self.services, run_id, cancel)
            finally:
                self.cancels.unregister(run_id)
        finally:
            self._runs.discard(run_id)

    async def adopt_orphans(self) -> int:
        """Drive every unfinished run and experiment that no live daemon holds; returns how many were taken."""
        orphans = [
            s.run_id
            for s in await self.services.index.list()
            if s.status in ("new", "running")
            and s.run_id not in self._owned
            and (self.adopts or s.run_id in self._given)
        ]
        started: list[bool] = []
        limiter = anyio.CapacityLimiter(LEASE_RENEWALS_AT_ONCE)

        async def take(run_id: str) -> None:
            async with limiter:
                started.append(await self.start_run(run_id))

        # Concurrently: a lease takes a few round trips, and a thousand runs one after the other
        # kept most of a crashed daemon's runs waiting for minutes.
        async with anyio.create_task_group() as tg:
            for run_id in orphans:
                tg.start_soon(take, run_id)
        taken = sum(started)
        if taken:
            log.info("runs.adopted", count=taken)
        return taken + (await self.experiments.adopt() if self.adopts else 0)

    async def _keep_leases(self) -> None:
        """Every third of the lease TTL: renew every lease held, then adopt orphans. A round that NATS
        fails (the server away for a moment) is logged and the next one tries again; a lease that
        expired meanwhile is found lost there, and its run adopted again."""
        interval = self.settings.lease_ttl_s / 3
        limiter = anyio.CapacityLimiter(LEASE_RENEWALS_AT_ONCE)
        while True:
            await anyio.sleep(interval)
            try:
                await self._announce()
                # Concurrently: one at a time, 10,000 renewals outlast the lease TTL under load.
                async with anyio.create_task_group() as renewals:
                    for run_id, scope in list(self._owned.items()):
                        renewals.start_soon(self._renew, run_id, scope, limiter)
                await self.adopt_orphans()
            except* NATS_FAULTS as failed:
                error = "; ".join(describe(e) for e in failed.exceptions)
                log.warning("leases.round_failed", error=error)

    async def _renew(self, run_id: str, scope: anyio.CancelScope, limiter: anyio.CapacityLimiter) -> None:
        async with limiter:
            renewed = await self.leases.renew(run_id)
        if not renewed and self._owned.get(run_id) is scope:
            log.warning("lease.lost", run_id=run_id)
            scope.cancel()




async def _share_split_secret(js, tasks_root: Path, configured: str | None = None, *, replicas: int = 1) -> None:
    """Make this daemon's split secret (`tasks.split_secret`: the `configured` file's, else its
    own) the one all daemons on this NATS use, so a run another daemon resumes keeps its validation
    and test rows. A configured secret that differs from the one the NATS shares is an error."""
    if configured:
        local = await anyio.to_thread.run_sync(split_secret.read_file, Path(configured))
    else:
        local = await anyio.to_thread.run_sync(split_secret.load_or_create, tasks_root)
    shared = await first_value(js, split_secret.SECRET_FILE, local, replicas)
    if configured and shared != local:
        raise split_secret.SplitSecretError(
            f"split_key_file {configured} differs from the split secret the daemons on this NATS already share"
        )
    await anyio.to_thread.run_sync(split_secret.adopt, tasks_root, shared)
