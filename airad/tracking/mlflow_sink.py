"""Mirror airad runs into MLflow: one MLflow run per airad run, written from the event log.

mlflow (the `mlflow` extra: mlflow-skinny) is imported when a sink is opened, never at import.
A sink is fed by `tail_runs` (a subscriber of `airad.events.>`), so the daemon's run loop never
waits on MLflow. The MLflow run's `airad.last_seq` tag is the cursor: events at or below it are
already mirrored, so syncing again (or after a restart) writes nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import anyio

from airad.events.fold import RunState
from airad.schemas.events import Event
from airad.tracking.mlflow_mapping import CURSOR_TAG, RUN_ID_TAG, Mirror, millis, mirror
from airad.tracking.tail import TailResult, tail_runs

DEFAULT_EXPERIMENT = "airad"
FILE_STORE_SWITCH = "MLFLOW_ALLOW_FILE_STORE=true"


class TrackingError(RuntimeError):
    """The tracking store cannot be used: mlflow is not installed, or the URI does not open."""


def _is_file_store(tracking_uri: str) -> bool:
    return urlparse(tracking_uri).scheme in ("", "file")


def store_uri(tracking_uri: str) -> str:
    """The tracking URI to write and to read back: a plain directory becomes its absolute `file://` URI,
    anything else (a `file:` URI, sqlite:, http:) is kept as given."""
    if urlparse(tracking_uri).scheme:
        return tracking_uri
    return Path(tracking_uri).expanduser().resolve().as_uri()


def reading_note(tracking_uri: str) -> str | None:
    """What a user must set to read the store with MLflow's own client, for a file store (MLflow 3
    refuses one unless MLFLOW_ALLOW_FILE_STORE is true); None for a store MLflow reads as it is."""
    if not _is_file_store(tracking_uri):
        return None
    return (
        f"{tracking_uri} is an MLflow file store, which MLflow reads only with {FILE_STORE_SWITCH} in its "
        f'environment: export {FILE_STORE_SWITCH}, then MlflowClient(tracking_uri="{tracking_uri}")'
    )


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


class MlflowSink:
    """Writes airad runs to one MLflow experiment. Its methods block (MLflow's client is
    synchronous): call them from a worker thread in async code."""

    def __init__(self, client, experiment_id: str):
        self.client = client
        self.experiment_id = experiment_id
        self._runs: dict[str, tuple[str, int]] = {}

    @classmethod
    def open(cls, tracking_uri: str, experiment: str = DEFAULT_EXPERIMENT) -> MlflowSink:
        """Connect to the tracking store and get or create the experiment. A `file:` URI opts into
        MLflow's file store, which MLflow 3 otherwise refuses (MLFLOW_ALLOW_FILE_STORE), in this process
        only: `reading_note` says what a reader must set."""
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise TrackingError(
                f"mlflow is not installed ({exc}); install airad's extra: pip install 'airad[mlflow]'"
            ) from None
        if _is_file_store(tracking_uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            client = MlflowClient(tracking_uri)
            found = client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        except Exception as exc:
            raise TrackingError(f"cannot open the MLflow tracking store {tracking_uri}: {exc}") from None
        return cls(client, experiment_id)

    def mlflow_run(self, run_id: str) -> tuple[str, int] | None:
        """(MLflow run id, last seq mirrored) of an airad run already in the experiment."""
        if run_id not in self._runs:
            found = self.client.search_runs(
                [self.experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'", max_results=1
            )
            if not found:
                return None
            self._runs[run_id] = (found[0].info.run_id, int(found[0].data.tags.get(CURSOR_TAG, "0")))
        return self._runs[run_id]

    def sync(self, state: RunState, new_events: Sequence[Event]) -> int:
        """Mirror the events of `new_events` past the run's cursor; `state` is the fold up to the
        last of them. Returns how many events were mirrored."""
        known = self.mlflow_run(state.run_id)
        cursor = known[1] if known else 0
        fresh = [event for event in new_events if event.seq > cursor]
        if not fresh:
            return 0
        if known is None:
            start = state.submitted_at or fresh[0].at
            created = self.client.create_run(
                self.experiment_id, start_time=millis(start), tags={RUN_ID_TAG: state.run_id}, run_name=state.run_id
            )
            known = (created.info.run_id, 0)
        self._write(known[0], mirror(state, fresh))
        self._runs[state.run_id] = (known[0], state.last_seq)
        return len(fresh)

    def _write(self, mlflow_run_id: str, batch: Mirror) -> None:
        from mlflow.entities import Metric, Param, RunTag

        for chunk in _chunks([Param(k, v) for k, v in batch.params.items()], 100):
            if chunk:
                self.client.log_batch(mlflow_run_id, params=chunk, synchronous=True)
        metrics = [Metric(p.key, p.value, p.timestamp_ms, p.step) for p in batch.metrics]
        for chunk in _chunks(metrics, 1000):
            if chunk:
                self.client.log_batch(mlflow_run_id, metrics=chunk, synchronous=True)
        if batch.status != "RUNNING":
            self.client.set_terminated(mlflow_run_id, status=batch.status, end_time=batch.end_time_ms)
        tags = [RunTag(k, v) for k, v in batch.tags.items() if k != CURSOR_TAG]
        tags.append(RunTag(CURSOR_TAG, batch.tags[CURSOR_TAG]))
        for chunk in _chunks(tags, 100):
            self.client.log_batch(mlflow_run_id, tags=chunk, synchronous=True)


async def mirror_to_mlflow(js, sink: MlflowSink, *, follow: bool = True, flush_every_s: float = 1.0) -> TailResult:
    """Tail `airad.events.>` into `sink` (its blocking MLflow calls run in a worker thread)."""

    async def apply(state: RunState, events: list[Event]) -> int:
        return await anyio.to_thread.run_sync(sink.sync, state, events)

    return await tail_runs(js, apply, follow=follow, flush_every_s=flush_every_s)
