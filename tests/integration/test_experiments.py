"""An experiment through a real nats-server and real daemon processes: SIGKILLed in the middle, a new
daemon finishes it, and the report is complete; cancelling runs and experiments with the CLI."""

import csv
import io
import json

import msgspec
import nats
import pytest

from airad.events.jetstream import JetStreamEventLog
from airad.events.fold import fold
from airad.events.log import RunSummary
from airad.schemas.events import RunFinished, RunSubmitted
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events
from tests.integration.test_cli import airad

pytestmark = pytest.mark.integration

EXPERIMENTS = "airad.experiments"
EXPERIMENT_EVENTS = "airad.experiment-events."
# An hour: progress must come from the run index's announcements, not from polling it.
POLL = {"AIRAD_EXPERIMENT_POLL_S": "3600"}


def _experiment(experiment_id: str, *, max_nodes: int, seeds=(0, 1), parallel: int = 4) -> bytes:
    """2 bundled tasks × 2 policies × `seeds`, offline coder, local executor."""
    return json.dumps({
        "experiment_id": experiment_id,
        "tasks": [{"kind": "bundled", "name": "wine"}, {"kind": "bundled", "name": "breast-cancer"}],
        "solvers": [
            {"name": "greedy", "policy": {"kind": "greedy", "num_drafts": 2, "debug_prob": 1.0}},
            {"name": "mcts", "policy": {"kind": "mcts", "num_children": 2}},
        ],
        "seeds": list(seeds),
        "budget": {"max_nodes": max_nodes, "wall_seconds": 900},
        "executor": {"kind": "local", "node_timeout_s": 120, "memory_mb": 4096},
        "labels": {"suite": "integration"},
        "max_parallel_runs": parallel,
    }).encode()


def _tags(events: list[dict], tag: str) -> list[dict]:
    return [e for e in events if e["type"] == tag]


async def _run_log(nats_url: str, run_id: str):
    nc = await nats.connect(nats_url)
    try:
        return await JetStreamEventLog(nc.jetstream()).read(run_id)
    finally:
        await nc.close()


async def _run_index(nats_url: str) -> list[RunSummary]:
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value("AIRAD_RUNS")
        return [msgspec.json.decode((await kv.get(key)).value, type=RunSummary) for key in await kv.keys()]
    finally:
        await nc.close()


async def test_an_experiment_survives_a_sigkill_and_reports_every_run_and_a_ranking(nats_url, tmp_path):
    require("bwrap")
    first = DaemonProcess(nats_url, tmp_path / "state", env=POLL).start()
    second = DaemonProcess(nats_url, tmp_path / "state", env=POLL)
    try:
        await publish_raw(nats_url, _experiment("crash", max_nodes=2, seeds=(0,)), subject=EXPERIMENTS)

        def some_runs_ended(events):
            return len(_tags(events, "experiment.run_finished")) >= 2

        before = await run_events(nats_url, "crash", prefix=EXPERIMENT_EVENTS, until=some_runs_ended, timeout_s=300)
        first.kill()
        assert not _tags(before, "experiment.done"), "the kill must land in the middle of the experiment"
        second.start()
        events = await run_events(
            nats_url, "crash", prefix=EXPERIMENT_EVENTS, timeout_s=420,
            until=lambda ev: bool(ev) and ev[-1]["type"] == "experiment.done",
        )
    finally:
        first.kill()
        second.stop()
    assert events[: len(before)] == before, "the second daemon appended to the first one's history"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    run_ids = [e["run_id"] for e in _tags(events, "experiment.run_started")]
    finished = [e["run_id"] for e in _tags(events, "experiment.run_finished")]
    assert len(run_ids) == 4 and len(set(run_ids)) == 4, "every run started exactly once"
    assert sorted(finished) == sorted(run_ids), "every run finished exactly once"
    done = events[-1]
    assert done["type"] == "experiment.done" and done["complete"] == 4 and not done["cancelled"]
    tested: dict[tuple[str, str], int] = {}
    for run_id in run_ids:
        history = await _run_log(nats_url, run_id)
        assert sum(isinstance(e, RunSubmitted) for e in history) == 1
        assert sum(isinstance(e, RunFinished) for e in history) == 1 and isinstance(history[-1], RunFinished)
        state = fold(history)
        assert state.finish_reason == "max_nodes" and len(state.nodes) == 2
        assert state.request.labels == {"suite": "integration", "experiment": "crash", "solver": run_id.split("-")[2]}
        cell = (state.request.task.name, state.request.labels["solver"])
        picked = state.nodes[state.best_node_id] if state.best_node_id is not None else None
        tested[cell] = tested.get(cell, 0) + int(picked is not None and picked.test_score is not None)
    assert sum(tested.values()) >= 1, "some run has a tested node (the offline coder's drafts are a third buggy)"
    assert sorted(s.run_id for s in await _run_index(nats_url)) == sorted(run_ids), "no stray or rejected runs"

    state_dir = tmp_path / "cli"
    report = airad("--nats", nats_url, "experiment", "report", "crash", "--json", state_dir=state_dir)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["status"] == "done" and data["runs_ended"] == 4
    cells = {(c["task"], c["solver"]): c for c in data["cells"]}
    assert set(cells) == {(t, s) for t in ("wine", "breast-cancer") for s in ("greedy", "mcts")}
    for cell in cells.values():
        assert (cell["planned"], cell["ended"], cell["runs"]) == (1, 1, 1)
        assert cell["nodes"]["mean"] == 2 and cell["wall_s"]["n"] == 1 and cell["cost_usd"]["n"] == 1
        assert cell["test"]["n"] == tested[(cell["task"], cell["solver"])] and cell["any_medal_pct"] is None
    ranking = data["ranking"]
    assert ranking["method"].startswith("Bradley–Terry") and ranking["contests"] == 2
    assert sorted(s["solver"] for s in ranking["solvers"]) == ["greedy", "mcts"]
    assert all(s["rank"] in (1, 2) and s["comparisons"] == 2 for s in ranking["solvers"])

    text = airad("--nats", nats_url, "experiment", "report", "crash", state_dir=state_dir)
    assert text.returncode == 0 and "Bradley–Terry" in text.stdout and "4/4 runs ended" in text.stdout
    rows = list(csv.DictReader(io.StringIO(airad("--nats", nats_url, "experiment", "report", "crash", "--csv", state_dir=state_dir).stdout)))
    assert len(rows) == 4 and {r["runs"] for r in rows} == {"1"} and all(r["rank"] for r in rows)
    show = airad("--nats", nats_url, "experiment", "show", "crash", state_dir=state_dir)
    assert show.returncode == 0 and "experiment crash: done: 4/4 runs ended" in show.stdout
    listed = airad("--nats", nats_url, "experiment", "ls", state_dir=state_dir)
    header, line = listed.stdout.splitlines()
    assert header.split()[:3] == ["EXPERIMENT", "STATUS", "TASKS"] and line.split()[:6] == ["crash", "done", "2", "2", "1", "4/4"]
    [entry] = json.loads(airad("--nats", nats_url, "experiment", "ls", "--json", state_dir=state_dir).stdout)
    assert (entry["experiment_id"], entry["status"], entry["runs_ended"]) == ("crash", "done", 4)


def _run_request(run_id: str) -> bytes:
    return json.dumps({
        "run_id": run_id,
        "task": {"kind": "bundled", "name": "breast-cancer"},
        "policy": {"kind": "greedy", "num_drafts": 30, "parallel": 2},
        "budget": {"max_nodes": 40, "wall_seconds": 900},
        "executor": {"kind": "local", "node_timeout_s": 120, "memory_mb": 4096},
    }).encode()


def _dispatched(events: list[dict]) -> bool:
    return bool(_tags(events, "node.dispatched"))


def _assert_cancelled_cleanly(events: list[dict]) -> None:
    assert events[-1]["type"] == "run.finished" and events[-1]["reason"] == "cancelled"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    selected = sorted(e["node_id"] for e in _tags(events, "node.selected"))
    ended = sorted(e["node_id"] for e in events if e["type"] in ("node.tested", "node.failed"))
    assert ended == selected and len(selected) < 40, "every node ends once, and the run stopped early"


async def test_airad_cancel_ends_a_running_run_and_a_run_adopted_later_sees_its_mark(nats_url, tmp_path):
    require("bwrap")
    state_dir = tmp_path / "cli"
    daemon = DaemonProcess(nats_url, tmp_path / "state").start()
    later = DaemonProcess(nats_url, tmp_path / "state")
    try:
        await publish_raw(nats_url, _run_request("stop-me"))
        await run_events(nats_url, "stop-me", until=_dispatched)
        done = airad("--nats", nats_url, "cancel", "stop-me", "--wait", "--json", state_dir=state_dir, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["reason"] == "cancelled"
        _assert_cancelled_cleanly(await run_events(nats_url, "stop-me"))

        await publish_raw(nats_url, _run_request("orphan"))
        await run_events(nats_url, "orphan", until=_dispatched)
        daemon.kill()
        marked = airad("--nats", nats_url, "cancel", "orphan", state_dir=state_dir, timeout=60)
        assert marked.returncode == 0 and "cancel requested" in marked.stdout, marked.stderr
        later.start()
        events = await run_events(nats_url, "orphan", timeout_s=120)
        _assert_cancelled_cleanly(events)
        assert len(_tags(events, "run.started")) == 2, "the daemon that adopted the run saw the mark"
        again = airad("--nats", nats_url, "cancel", "orphan", state_dir=state_dir, timeout=60)
        assert again.returncode == 0 and "finished (cancelled)" in again.stdout
        missing = airad("--nats", nats_url, "cancel", "no-such-run", state_dir=state_dir, timeout=60)
        assert missing.returncode == 1 and "no run 'no-such-run'" in missing.stderr
        assert later.alive()
    finally:
        daemon.kill()
        later.stop()


async def test_airad_experiment_cancel_cancels_running_runs_and_starts_no_more(nats_url, tmp_path):
    require("bwrap")
    daemon = DaemonProcess(nats_url, tmp_path / "state", env=POLL).start()
    try:
        request = tmp_path / "halt.json"
        request.write_bytes(_experiment("halt", max_nodes=40, seeds=(0,), parallel=2))
        submitted = airad("--nats", nats_url, "experiment", "submit", str(request), "--json", state_dir=tmp_path / "cli")
        assert submitted.returncode == 0 and json.loads(submitted.stdout) == {"experiment_id": "halt"}, submitted.stderr
        started = await run_events(
            nats_url, "halt", prefix=EXPERIMENT_EVENTS, until=lambda ev: len(_tags(ev, "experiment.run_started")) >= 2,
        )
        running = [e["run_id"] for e in _tags(started, "experiment.run_started")]
        await run_events(nats_url, running[0], until=_dispatched)
        shown = json.loads(airad("--nats", nats_url, "experiment", "show", "halt", "--json", state_dir=tmp_path / "cli").stdout)
        assert shown["status"] == "running" and shown["runs_planned"] == 4 and shown["runs_started"] == 2
        done = airad("--nats", nats_url, "experiment", "cancel", "halt", "--wait", "--json", state_dir=tmp_path / "cli", timeout=180)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "cancelled"
        events = await run_events(nats_url, "halt", prefix=EXPERIMENT_EVENTS, until=lambda ev: bool(ev) and ev[-1]["type"] == "experiment.done")
        assert daemon.alive()
    finally:
        daemon.stop()
    assert len(_tags(events, "experiment.cancelled")) == 1 and events[-1]["cancelled"]
    assert [e["run_id"] for e in _tags(events, "experiment.run_started")] == running, "no run starts after the cancel"
    finished = {e["run_id"]: e["result"] for e in _tags(events, "experiment.run_finished")}
    assert sorted(finished) == sorted(running) and all(r["reason"] == "cancelled" for r in finished.values())
    for run_id in running:
        _assert_cancelled_cleanly(await run_events(nats_url, run_id))
