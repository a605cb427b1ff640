"""The daemon as a real subprocess, driven only through NATS with plain nats-py and JSON."""

import json
import re

import pytest

from airad.daemon.nats_server import EmbeddedNats
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess, publish_raw, run_events

pytestmark = pytest.mark.integration
# The tests that only send requests share one nats-server and daemon (`served`); one group, so xdist
# runs them in one worker, which starts the pair once.
SERVED = pytest.mark.xdist_group("daemon-served")

NODE = r"( node\.selected( node\.generated node\.dispatched node\.executed( node\.analyzed)? node\.scored node\.tested| node\.failed| node\.generated node\.failed))"


def _request(run_id: str | None = None, max_nodes: int = 3, **policy) -> bytes:
    body = {
        "task": {"kind": "bundled", "name": "breast-cancer"},
        "policy": {"kind": "greedy", "num_drafts": 2, "debug_prob": 1.0, **policy},
        "budget": {"max_nodes": max_nodes},
        "seed": 1,
    }
    if run_id:
        body["run_id"] = run_id
    return json.dumps(body).encode()


@pytest.fixture
def daemon(nats_url, tmp_path):
    """A daemon process of its own on the test's nats-server (tests/integration/test_client.py uses it)."""
    require("bwrap")
    process = DaemonProcess(nats_url, tmp_path / "state").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One nats-server and one daemon process for the tests that only send requests: each test's
    runs have their own ids, and a daemon start costs seconds of CPU (litellm's import)."""
    require("bwrap")
    root = tmp_path_factory.mktemp("served")
    server = EmbeddedNats(root / "nats")
    url = server.start()
    process = DaemonProcess(url, root / "state").start()
    yield url, process
    process.stop()
    server.stop()


@SERVED
async def test_plain_json_request_runs_to_the_end(served):
    nats_url, daemon = served
    await publish_raw(nats_url, _request("plain-1", max_nodes=3))
    events = await run_events(nats_url, "plain-1")
    types = " ".join(e["type"] for e in events)
    assert re.fullmatch(r"run\.submitted run\.started" + NODE + r"{3} run\.finished", types), types
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["run_id"] == "plain-1" for e in events)
    assert [e["node_id"] for e in events if e["type"] == "node.selected"] == [0, 1, 2]
    assert events[-1]["reason"] == "max_nodes"
    scored = [e for e in events if e["type"] == "node.scored"]
    assert scored and all(e["metric"] == "roc_auc" for e in scored)
    assert any(e["valid"] and 0.5 < e["score"] <= 1.0 for e in scored)
    assert daemon.alive()


@SERVED
async def test_request_without_run_id_gets_one_from_its_stream_sequence(served):
    nats_url, daemon = served
    seq = await publish_raw(nats_url, _request(max_nodes=1))
    events = await run_events(nats_url, f"req-{seq}")
    assert events[0]["type"] == "run.submitted" and events[0]["request_seq"] == seq
    assert events[-1]["type"] == "run.finished"


MALFORMED = [
    (b"this is not json", "$", "not valid JSON"),
    (b'["a", "list"]', "$", "Expected `object`"),
    (b'{"run_id": "bad-1"}', "$.task", "missing required field"),
    (b'{"run_id": "bad-2", "task": {"kind": "bundled", "name": "mnist-in-the-sky"}}', "$.task.name", "unknown bundled task"),
    (b'{"run_id": "bad-3", "task": {"kind": "bundled", "name": "wine"}, "policy": {"kind": "oracle"}}', "$.policy.kind", "no policy 'oracle'"),
    (b'{"run_id": "bad-4", "task": {"kind": "bundled", "name": "wine"}, "budget": {"max_nodes": -5}}', "$.budget.max_nodes", ">= 1"),
    (b'{"run_id": "bad-5", "task": {"kind": "bundled", "name": "wine"}, "budget": {"usd": -0.5}}', "$.budget.usd", ">= 0"),
    (b'{"run_id": "bad-6", "task": {"kind": "bundled", "name": "wine"}, "seed": "seven"}', "$.seed", "Expected `int`"),
    (b'{"run_id": "bad-7", "task": {"kind": "bundled", "name": "wine"}, "budget": {"wall_seconds": 0}}', "$.budget.wall_seconds", "> 0"),
    (b'{"task": {"kind": "bundled", "name": "wine"}, "run_id": "no spaces allowed"}', "$.run_id", "matching regex"),
]


@SERVED
async def test_ten_malformed_requests_are_rejected_and_the_daemon_keeps_serving(served):
    nats_url, daemon = served
    expected = []
    for payload, field, reason in MALFORMED:
        seq = await publish_raw(nats_url, payload)
        named = re.search(rb'"run_id": "(bad-\d)"', payload)
        expected.append((named.group(1).decode() if named else f"req-{seq}", field, reason))
    for run_id, field, reason in expected:
        events = await run_events(nats_url, run_id, timeout_s=60)
        assert len(events) == 1, events
        rejected = events[0]
        assert rejected["type"] == "run.rejected" and rejected["seq"] == 1
        assert rejected["field"] == field, rejected
        assert reason in rejected["reason"], rejected
    await publish_raw(nats_url, _request("good-after-bad", max_nodes=1))
    events = await run_events(nats_url, "good-after-bad")
    assert events[-1]["type"] == "run.finished"
    assert daemon.alive()


async def test_sigkill_mid_run_then_a_new_daemon_finishes_it(nats_url, tmp_path):
    require("bwrap")
    first = DaemonProcess(nats_url, tmp_path / "state").start()
    second = DaemonProcess(nats_url, tmp_path / "state")
    try:
        await publish_raw(nats_url, _request("crashy", max_nodes=4, num_drafts=3))

        def node_in_flight(events):
            dispatched = [e for e in events if e["type"] == "node.dispatched"]
            return len(dispatched) >= 3 and events[-1]["type"] == "node.dispatched"

        before = await run_events(nats_url, "crashy", until=node_in_flight)
        first.kill()
        interrupted = before[-1]["node_id"]
        second.start()
        events = await run_events(nats_url, "crashy", timeout_s=240)
    finally:
        first.kill()
        second.stop()
    assert_continued_history(events, before, nodes=4)
    selected = [e["node_id"] for e in events if e["type"] == "node.selected"]
    assert selected == list(range(4))
    starts = [e for e in events if e["type"] == "run.started"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[0]["owner"] != starts[1]["owner"]
    dispatches = [e for e in events if e["type"] == "node.dispatched" and e["node_id"] == interrupted]
    assert len(dispatches) == 1, "the job in flight is reattached by its handle, not dispatched again"
    executed = [e for e in events if e["type"] == "node.executed" and e["node_id"] == interrupted]
    assert len(executed) == 1 and executed[0]["exit_code"] == 0 and executed[0]["killed"] is None
    assert not [e for e in events if e["type"] == "node.failed" and e["node_id"] == interrupted]


async def test_sigterm_stops_cleanly_and_the_next_daemon_resumes(nats_url, tmp_path):
    require("bwrap")
    first = DaemonProcess(nats_url, tmp_path / "state").start()
    second = DaemonProcess(nats_url, tmp_path / "state")
    try:
        await publish_raw(nats_url, _request("graceful", max_nodes=4, num_drafts=4))
        before = await run_events(nats_url, "graceful", until=lambda ev: ev and ev[-1]["type"] == "node.dispatched")
        assert first.stop() == 0
        second.start()
        events = await run_events(nats_url, "graceful", timeout_s=180)
    finally:
        first.kill()
        second.stop()
    assert_continued_history(events, before, nodes=4)


def assert_continued_history(events: list[dict], before: list[dict], nodes: int) -> None:
    """The second daemon appended to the first one's history: no rewrite, no gap, every node ended once."""
    assert events[: len(before)] == before
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    closed = [e["node_id"] for e in events if e["type"] in ("node.tested", "node.failed")]
    assert sorted(closed) == list(range(nodes)), "every node ends exactly once"
    assert events[-1]["type"] == "run.finished"


CUSTOM_DRAFT = """\
# Custom draft prompt (MARKER-7f3a) for {{ task.name }}

{{ task.description }}

You have {{ compute.cpus }} CPU and {{ time_limit }}; {{ packages | length }} packages are installed, among them
{% for p in packages if p.startswith("lightgbm==") %}{{ p }}{% endfor %}.

{{ output_contract }}
"""


async def _blob_texts(nats_url: str, refs: list[str]) -> list[str]:
    import nats

    from airad.events.jetstream import JetStreamBlobStore

    nc = await nats.connect(nats_url)
    try:
        blobs = await JetStreamBlobStore.open(nc.jetstream())
        return [(await blobs.get(ref)).decode() for ref in refs]
    finally:
        await nc.close()


@SERVED
async def test_a_request_s_own_template_makes_its_prompts_and_the_log_holds_its_text(served):
    nats_url, daemon = served
    body = json.loads(_request("templated-1", max_nodes=2))
    body["operators"] = {"template_set": "aide", "templates": {"draft": CUSTOM_DRAFT}}
    await publish_raw(nats_url, json.dumps(body).encode())
    events = await run_events(nats_url, "templated-1")
    assert events[0]["type"] == "run.submitted", events[0]
    assert events[0]["request"]["operators"]["templates"] == {"draft": CUSTOM_DRAFT}, "the log holds the text"
    generated = [e for e in events if e["type"] == "node.generated"]
    assert len(generated) == 2, [e["type"] for e in events]
    for prompt in await _blob_texts(nats_url, [e["prompt_ref"] for e in generated]):
        user = json.loads(prompt)[1][1]
        assert user.startswith("# Custom draft prompt (MARKER-7f3a) for breast-cancer\n")
        assert "You have 1 CPU and 10 minutes" in user and re.search(r"among them\nlightgbm==\d", user)
    scored = [e for e in events if e["type"] == "node.scored"]
    assert any(e["valid"] for e in scored), "the offline coder answered the custom prompt from its context"
    assert daemon.alive()


@SERVED
async def test_a_template_with_an_unknown_variable_is_rejected_naming_its_field(served):
    nats_url, daemon = served
    body = json.loads(_request("templated-bad", max_nodes=1))
    body["operators"] = {"templates": {"improve": "{{ parent.code }} {{ output_contract }}"}}
    await publish_raw(nats_url, json.dumps(body).encode())
    events = await run_events(nats_url, "templated-bad")
    assert [e["type"] for e in events] == ["run.rejected"]
    assert events[0]["field"] == "$.operators.templates.improve" and "parent" in events[0]["reason"]
    assert daemon.alive()


@SERVED
async def test_a_small_context_window_shortens_prompts_by_the_rule_and_the_node_records_it(served):
    nats_url, daemon = served
    body = json.loads(_request("small-window", max_nodes=3, num_drafts=3))
    body["model"] = {"context_tokens": 1800, "max_tokens": 400}
    await publish_raw(nats_url, json.dumps(body).encode())
    events = await run_events(nats_url, "small-window")
    generated = [e for e in events if e["type"] == "node.generated"]
    assert generated and any(e["shortened"] for e in generated), [(e["type"], e.get("reason")) for e in events]
    for event, prompt in zip(generated, await _blob_texts(nats_url, [e["prompt_ref"] for e in generated])):
        text = "".join(content for _, content in json.loads(prompt))
        assert len(text) // 4 <= 1800 - 400, "the prompt fits the window with the answer's tokens kept"
        if event["shortened"]:
            assert all(step.split(":")[0] in ("memory", "output tails", "data overview") for step in event["shortened"])
            assert "shortened to fit the model's context" in text or event["shortened"][0].startswith("memory")
    assert daemon.alive()


@SERVED
async def test_each_operator_can_have_its_own_model(served):
    nats_url, daemon = served
    body = json.loads(_request("per-operator", max_nodes=2))
    body["operator_models"] = {"analyze": {"name": "airad-offline/reviewer", "temperature": 0}}
    await publish_raw(nats_url, json.dumps(body).encode())
    events = await run_events(nats_url, "per-operator")
    assert {e["model"] for e in events if e["type"] == "node.generated"} == {"airad-offline/coder"}
    analyzed = [e for e in events if e["type"] == "node.analyzed"]
    assert analyzed and {e["model"] for e in analyzed} == {"airad-offline/reviewer"}
    assert daemon.alive()
