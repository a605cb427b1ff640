"""The daemon: one root task group; intake of requests, one task per run, leases, resume."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
import socket

import anyio
import nats
import nats.errors
import structlog
from anyio.abc import TaskStatus
from nats.js.api import AckPolicy, ConsumerConfig

from airad.daemon.backends import Backend, build_backends
from airad.daemon.connection import connect_nats, safe_url, settings_connect_options
from airad.daemon.intake import accept
from airad.daemon.llm import LLM, LiteLLMClient
from airad.daemon.runner import drive_run
from airad.daemon.writer import RunServices
from airad.daemon.settings import Settings
from airad.events.jetstream import (
    REQUESTS_STREAM,
    REQUESTS_SUBJECT,
    JetStreamBlobStore,
    JetStreamEventLog,
    JetStreamLeases,
    JetStreamRunIndex,
    ensure_streams,
)
from airad.events.knowledge_log import JetStreamKnowledgeLog
from airad.events.log import AppendConflict, Leases
from airad.executors.base import Executor

INTAKE_CONSUMER = "airad-intake"
INTAKE_BATCH = 64
LEASE_RENEWALS_AT_ONCE = 256
log = structlog.get_logger("airad.daemon")


def new_owner_id() -> str:
    """A daemon identity unique across hosts and restarts."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Daemon:
    """Consumes run requests and drives every run it owns as a task of one task group."""

    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLM | None = None,
        executors: dict[str, Executor] | None = None,
        owner: str | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.settings = settings
        self.env = env if env is not None else {}
        self.owner = owner or new_owner_id()
        self.llm = llm
        self.executors = executors
        self.leases: Leases | None = None
        self.services: RunServices | None = None
        self._runs: dict[str, anyio.CancelScope] = {}
        self._tg: anyio.abc.TaskGroup | None = None

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
            await ensure_streams(js)
            event_log = JetStreamEventLog(js)
            index = await JetStreamRunIndex.open(js)
            self.leases = await JetStreamLeases.open(js, self.owner, self.settings.lease_ttl_s)
            backends = self._backends()
            self.services = RunServices(
                log=event_log,
                blobs=await JetStreamBlobStore.open(js),
                index=index,
                llm=self.llm or LiteLLMClient(
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
                knowledge=JetStreamKnowledgeLog(js),
            )
            subscription = await js.pull_subscribe(
                REQUESTS_SUBJECT, durable=INTAKE_CONSUMER, stream=REQUESTS_STREAM,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60.0),
            )
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await self.adopt_orphans()
                tg.start_soon(self._keep_leases)
                log.info("daemon.ready", owner=self.owner, nats=safe_url(nats_url))
                task_status.started()
                await self._consume(subscription)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await nc.close()

    async def _consume(self, subscription) -> None:
        while True:
            try:
                messages = await subscription.fetch(INTAKE_BATCH, timeout=2.0)
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
        """Record a request's outcome and ack it; on an unexpected error, leave it for redelivery."""
        request_seq = message.metadata.sequence.stream
        try:
            run_id, drive = await accept(
                self.services.log, self.services.index, message.data, request_seq, executors=self.services.executors.keys()
            )
        except AppendConflict:
            log.info("request.raced", request_seq=request_seq)
            await message.nak(delay=0.5)
            return
        except Exception:
            log.exception("request.failed", request_seq=request_seq)
            await message.nak(delay=5.0)
            return
        if drive:
            await self.start_run(run_id)
        await message.ack()
        log.info("request.accepted" if drive else "request.handled", run_id=run_id, request_seq=request_seq)

    async def start_run(self, run_id: str) -> bool:
        """Take the run's lease and drive it as a task; False if another daemon owns it."""
        if run_id in self._runs or not await self.leases.acquire(run_id):
            return False
        scope = anyio.CancelScope()
        self._runs[run_id] = scope
        self._tg.start_soon(self._drive, run_id, scope)
        return True

    async def _drive(self, run_id: str, scope: anyio.CancelScope) -> None:
        bound = log.bind(run_id=run_id)
        try:
            with scope:
                await drive_run(self.services, run_id)
        except AppendConflict as exc:
            bound.warning("run.lost", reason=str(exc))
        except Exception:
            bound.exception("run.crashed")
        finally:
            self._runs.pop(run_id, None)
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self.leases.release(run_id)

    async def adopt_orphans(self) -> int:
        """Drive every unfinished run that no live daemon holds; returns how many were taken."""
        taken = 0
        for summary in await self.services.index.list():
            if summary.status in ("new", "running") and summary.run_id not in self._runs:
                taken += await self.start_run(summary.run_id)
        if taken:
            log.info("runs.adopted", count=taken)
        return taken

    async def _keep_leases(self) -> None:
        interval = self.settings.lease_ttl_s / 3
        limiter = anyio.CapacityLimiter(LEASE_RENEWALS_AT_ONCE)
        while True:
            await anyio.sleep(interval)
            # Concurrently: one at a time, 10,000 renewals outlast the lease TTL under load.
            async with anyio.create_task_group() as renewals:
                for run_id, scope in list(self._runs.items()):
                    renewals.start_soon(self._renew, run_id, scope, limiter)
            await self.adopt_orphans()

    async def _renew(self, run_id: str, scope: anyio.CancelScope, limiter: anyio.CapacityLimiter) -> None:
        async with limiter:
            renewed = await self.leases.renew(run_id)
        if not renewed and self._runs.get(run_id) is scope:
            log.warning("lease.lost", run_id=run_id)
            scope.cancel()
