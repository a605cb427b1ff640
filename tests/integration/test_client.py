"""airad.Client against a real daemon process and nats-server."""

import json
import math
import os
import re
import subprocess
import sys
import time

import pytest

from airad import Client
from airad.client import InvalidRequest, RunNotFound
from airad.events.fold import fold
from airad.events.jetstream import REQUESTS_STREAM
from airad.schemas.events import NodeGenerated, event_tag
from tests.integration.test_daemon import NODE, daemon  # noqa: F401  (the fixture: a real daemon process)

pytestmark = pytest.mark.integration

WINE = {"task": {"kind": "bundled", "name": "wine"}, "policy": {"kind": "greedy", "num_drafts": 2},
        "model": {"name": "airad-offline/coder"}, "budget": {"max_nodes": 2}, "seed": 1}


def airad_show_json(nats_url: str, run_id: str, state_dir) -> dict:
    env = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    shown = subprocess.run([sys.executable, "-m", "airad.cli", "--nats", nats_url, "show", run_id, "--json"],
                           env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


async def test_submit_watch_wait_and_read_a_run(nats_url, daemon, tmp_path):
    async with Client(nats_url) as client:
        run_id = await client.submit(WINE)
        assert run_id == "req-1"
        events, received = [], []
        async for event in client.watch(run_id):
            events.append(event)
            received.append(time.time())
        types = " ".join(event_tag(e) for e in events)
        assert re.fullmatch(r"run\.submitted run\.started" + NODE + r"{2} run\.finished", types), types
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert received[0] < events[-1].at, "events arrive while the run goes on, not after it"

        state = await client.wait(run_id)
        assert state.status == "finished" and state.finish_reason == "max_nodes"
        assert state == fold(events) == await client.run(run_id)
        assert await client.events(run_id) == events
        assert [e async for e in client.watch(run_id, after_seq=len(events))] == []
        assert [e.seq async for e in client.watch(run_id, after_seq=len(events) - 1)] == [len(events)]

        frame = await client.nodes(run_id)
        shown = airad_show_json(nats_url, run_id, tmp_path / "cli")
        assert len(frame) == len(shown["nodes"]) == 2
        for row, node in zip(frame.to_dict("records"), shown["nodes"]):
            for column in ("id", "operator", "status", "valid", "score", "test_score", "exit_code", "duration_s",
                           "tokens", "cost_usd", "model", "medal", "failure", "plan"):
                value = None if isinstance(row[column], float) and math.isnan(row[column]) else row[column]
                assert value == node.get(column), column  # the frame shows a missing value as NaN
            assert list(row["parent_ids"]) == node["parent_ids"]
        assert frame["score"].notna().any() and set(frame["operator"]) == {"draft"}

        summaries = await client.runs()
        assert [s.run_id for s in summaries] == [run_id]
        assert summaries[0].nodes == 2 and summaries[0].metric == "accuracy"

        generated = next(e for e in events if isinstance(e, NodeGenerated))
        prompt = await client.blob(generated.prompt_ref)
        assert b"wine" in prompt.lower()
        with pytest.raises(KeyError):
            await client.blob("0" * 64)
        with pytest.raises(RunNotFound):
            await client.run("no-such-run")


async def test_a_request_the_daemon_rejects_ends_the_watch(nats_url, daemon):
    async with Client(nats_url) as client:
        run_id = await client.submit({"run_id": "unknown-task", "task": {"kind": "bundled", "name": "no-such-dataset"}})
        state = await client.wait(run_id)
    assert state.status == "rejected" and "$.task.name" in state.rejection


async def test_an_invalid_request_raises_before_publishing(nats_url, tmp_path):
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text('[task]\nkind = "bundled"\nname = "wine"\n[budget]\nmax_nodes = 0\n')
    async with Client(nats_url) as client:
        with pytest.raises(InvalidRequest, match=r"\$\.budget\.max_nodes"):
            await client.submit({**WINE, "budget": {"max_nodes": 0}})
        with pytest.raises(InvalidRequest, match=r"\$\.budget\.max_nodes"):
            await client.submit(bad_file)
        with pytest.raises(InvalidRequest, match="unknown field `colour`"):
            await client.submit({**WINE, "colour": "red"})
        info = await client.js.stream_info(REQUESTS_STREAM)
    assert info.state.messages == 0 and info.state.last_seq == 0


async def test_submit_an_experiment_wait_for_it_and_read_its_report(nats_url, daemon):
    experiment = {
        "experiment_id": "client-exp",
        "tasks": [{"kind": "bundled", "name": "wine"}],
        "solvers": [{"name": "greedy", "policy": {"kind": "greedy", "num_drafts": 1}},
                    {"name": "mcts", "policy": {"kind": "mcts"}}],
        "seeds": [1],
        "budget": {"max_nodes": 1},
    }
    async with Client(nats_url) as client:
        with pytest.raises(InvalidRequest, match="experiment request"):
            await client.submit_experiment({**experiment, "seeds": [-1]})
        assert await client.submit_experiment(experiment) == "client-exp"
        done = await client.wait_experiment("client-exp")
        assert done.status == "done" and all(run.progress == "finished" for run in done.runs)
        assert (await client.experiment("client-exp")).last_seq == done.last_seq
        report = await client.experiment_report("client-exp")
        assert report.runs_ended == 2 and {cell.solver for cell in report.cells} == {"greedy", "mcts"}
        assert {rank.solver for rank in report.ranking.solvers} == {"greedy", "mcts"} and "Bradley" in report.ranking.method
        with pytest.raises(RunNotFound):
            await client.experiment("no-such-experiment")


async def test_the_outcome_of_a_request_under_a_taken_id_is_found_where_the_docs_say(nats_url, daemon):
    from airad.schemas.events import RunRejected

    mine = {**WINE, "run_id": "mine", "budget": {"max_nodes": 1}}
    async with Client(nats_url) as client:
        run_id, seq, published = await client.submitted(mine)
        assert await client.outcome(run_id, seq, published) == "mine"
        again = await client.submitted(mine)
        assert again[0] == "mine" and await client.outcome(*again) == "mine", "the same request again is that run"
        other = await client.submitted({**mine, "seed": 2})
        answered = await client.outcome(*other)
        assert answered == f"req-{other[1]}"
        assert (await client.wait(answered)).status == "rejected"
        [rejected] = await client.events(answered)
        assert isinstance(rejected, RunRejected) and rejected.field == "$.run_id" and "taken" in rejected.reason
        state = await client.wait("mine")
        assert state.request == published and state.status == "finished"
