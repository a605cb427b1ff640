"""The example plugins (examples/plugins/, installed by scripts/setup.sh) in a real daemon process on a
real nats-server: a successive-halving run with its `simplify` operator (airad-halving), its decisions
replayed from the log; a run on the `friedman` task kind (airad-friedman), graded by the plugin's
harness; intake's rejections; and each plugin's own tests."""

from __future__ import annotations

import asyncio
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from airad.agents.policy import decide
from airad.agents.policy_view import policy_view
from airad.daemon.nats_server import EmbeddedNats
from airad.daemon.plugins import installed_plugins
from airad.events.fold import fold
from airad.schemas.events import Event, NodeSelected, NodeTested
from tests.conftest import missing, require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("example-plugin")]

PLUGINS = Path(__file__).parents[2] / "examples" / "plugins"
REQUEST = {
    "run_id": "halving-1",
    "task": {"kind": "bundled", "name": "breast-cancer"},
    "policy": {"kind": "successive-halving", "drafts": 3, "rounds": 1},
    "budget": {"max_nodes": 6},
    "seed": 2,
}


def require_plugin() -> None:
    """The example plugins installed where this test runs (and so where its daemon runs): missing, they
    fail in CI and skip elsewhere, like any missing infrastructure."""
    plugins = installed_plugins()
    if "successive-halving" in plugins.policies and "simplify" in plugins.operators and "friedman" in plugins.tasks:
        return
    missing("the example plugins are not installed (scripts/setup.sh installs examples/plugins/*)")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One nats-server and one daemon process, with the plugin installed, for this module's tests."""
    require("bwrap")
    require_plugin()
    root = tmp_path_factory.mktemp("example-plugin")
    server = EmbeddedNats(root / "nats")
    url = server.start()
    process = DaemonProcess(url, root / "state").start()
    yield url, process
    process.stop()
    server.stop()


async def _submit(nats_url: str, body: dict, timeout_s: float = 240.0) -> list[dict]:
    await publish_raw(nats_url, json.dumps(body).encode())
    return await run_events(nats_url, body["run_id"], timeout_s=timeout_s)


@pytest.fixture(scope="module")
def halving_run(served) -> list[dict]:
    """The events of the example request's run, as JSON, read once it ended."""
    nats_url, _ = served
    return asyncio.run(_submit(nats_url, REQUEST))


def _typed(events: list[dict]) -> list[Event]:
    return [msgspec.convert(event, Event) for event in events]


def _by_node(events: list[dict], kind: str) -> dict[int, dict]:
    return {event["node_id"]: event for event in events if event["type"] == kind}


def test_the_run_records_the_plugin_policy_and_follows_its_schedule(halving_run, served):
    events = halving_run
    assert events[0]["type"] == "run.submitted" and events[-1]["type"] == "run.finished", events[-1]
    assert events[-1]["reason"] == "max_nodes"
    policy = events[0]["request"]["policy"]
    params = {"drafts": 3, "rounds": 1}
    assert policy == {"kind": "plugin", "name": "successive-halving", "params": params, "parallel": 1}

    selected = [(e["operator"], tuple(e["parent_ids"])) for e in events if e["type"] == "node.selected"]
    assert len(selected) == 6
    assert selected[:3] == [("draft", ())] * 3
    scored = _by_node(events, "node.scored")
    assert {0, 1, 2} <= set(scored), "every draft is scored"
    valid = {n: scored[n]["score"] for n in (0, 1, 2) if scored[n]["valid"] and scored[n]["score"] is not None}
    assert len(valid) >= 2, scored
    ranked = sorted(valid, key=lambda n: (-valid[n], n))  # roc_auc: higher is better
    # round 1 improves the best ceil(0.5 * valid drafts), best first; a buggy improvement is debugged once
    simplify = [n for n, (operator, _) in enumerate(selected) if operator == "simplify"]
    assert len(simplify) == 1, selected
    round_one = selected[3 : simplify[0]]
    assert [parents for operator, parents in round_one if operator == "improve"] == [
        (n,) for n in ranked[: math.ceil(0.5 * len(ranked))]
    ], selected
    for operator, parents in round_one:
        assert operator in ("improve", "debug"), selected
        if operator == "debug":
            assert selected[parents[0]][0] == "improve" and not scored.get(parents[0], {}).get("valid"), selected
    # simplify takes the round's best, then the run's best is improved
    results = [n for n in (*ranked, *range(3, simplify[0])) if scored.get(n, {}).get("valid")]
    best = max(results, key=lambda n: (scored[n]["score"], -n))
    assert selected[simplify[0]] == ("simplify", (best,)), selected
    for index in range(simplify[0] + 1, len(selected)):
        before = [n for n in range(index) if scored.get(n, {}).get("valid")]
        assert selected[index] == ("improve", (max(before, key=lambda n: (scored[n]["score"], -n)),)), selected
    generated = _by_node(events, "node.generated")
    node = simplify[0]
    assert node in generated and generated[node]["code"].strip(), "the offline coder answers simplify as improve"
    assert "offline" in generated[node]["model"], generated[node]["model"]
    assert node in scored and scored[node]["metric"] == "roc_auc"
    failed = _by_node(events, "node.failed")
    assert all(n in scored or n in failed for n in range(6)), "every node ends scored or failed"
    _, daemon = served
    assert daemon.alive()


def test_the_logged_decisions_replay_from_the_log(halving_run):
    """Folding the log up to each node.selected and asking the plugin again gives exactly the recorded
    operator and parents; scrambled test scores move no decision (the view has none)."""
    events = _typed(halving_run)
    recorded, replayed = _replay(events)
    assert len(recorded) == 6
    assert replayed == recorded

    rng = random.Random(7)
    scrambled = [msgspec.structs.replace(e, score=rng.random()) if isinstance(e, NodeTested) else e for e in events]
    assert scrambled != events
    assert _replay(scrambled)[1] == recorded


def _replay(events: list[Event]) -> tuple[list, list]:
    recorded, replayed = [], []
    plugins = installed_plugins().policies
    for index, event in enumerate(events):
        if isinstance(event, NodeSelected):
            state = fold(events[:index])
            request = state.request
            assert request is not None
            action = decide(request.policy, policy_view(state), request.seed, plugins)
            recorded.append((event.operator, event.parent_ids))
            replayed.append((action.operator, action.parent_ids))
    return recorded, replayed


FRIEDMAN = {
    "run_id": "friedman-1",
    "task": {"kind": "friedman", "rows": 600, "noise": 0.5},
    "policy": {"kind": "greedy", "num_drafts": 2},
    "budget": {"max_nodes": 2},
    "seed": 1,
}


async def test_a_run_on_the_plugin_task_kind_is_graded_by_its_harness(served):
    nats_url, daemon = served
    events = await _submit(nats_url, FRIEDMAN)
    assert events[-1]["type"] == "run.finished" and events[-1]["reason"] == "max_nodes", events[-1]
    assert events[0]["request"]["task"] == {"kind": "plugin", "name": "friedman", "params": {"rows": 600, "noise": 0.5}}
    scored, tested = _by_node(events, "node.scored"), _by_node(events, "node.tested")
    assert set(scored) == {0, 1} and set(tested) == {0, 1}, [e["type"] for e in events]
    valid = [n for n in scored if scored[n]["valid"]]
    assert valid, scored
    for n in valid:
        assert scored[n]["metric"] == "rmse" and scored[n]["lower_is_better"] is True, scored[n]
        assert 0 <= scored[n]["score"] < 10 and math.isfinite(tested[n]["score"]), (scored[n], tested[n])
    assert daemon.alive()


REJECTED = [
    ({"policy": {"kind": "halving"}}, "$.policy.kind", "successive-halving"),
    ({"policy": {"kind": "successive-halving", "drafts": 1}}, "$.policy.params.drafts", ">= 2"),
    ({"policy": {"kind": "successive-halving", "rungs": 3}}, "$.policy.params.rungs", "unknown field `rungs`"),
    ({"task": {"kind": "friedman", "rows": 10}}, "$.task.params.rows", ">= 200"),
    ({"task": {"kind": "friedman", "rows": 2_000_000}}, "$.task.params.rows", "at most 1,000,000 rows"),
]


async def test_intake_rejects_an_unknown_kind_and_bad_parameters(served):
    nats_url, daemon = served
    for index, (change, field, reason) in enumerate(REJECTED):
        body = {**REQUEST, "run_id": f"plugin-bad-{index}", **change}
        events = await _submit(nats_url, body, timeout_s=60)
        assert [e["type"] for e in events] == ["run.rejected"], events
        assert events[0]["field"] == field and reason in events[0]["reason"], events[0]
    assert daemon.alive()


@pytest.mark.parametrize("package", ["airad-halving", "airad-friedman"])
def test_the_plugins_own_tests_pass(package):
    require_plugin()
    plugin = PLUGINS / package
    found = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugin / package.replace("-", "_") / "tests")],
        cwd=plugin,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert found.returncode == 0, found.stdout[-4000:] + found.stderr[-2000:]
    assert " passed" in found.stdout and "failed" not in found.stdout, found.stdout[-2000:]
