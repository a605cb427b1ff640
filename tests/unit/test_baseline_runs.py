"""A run from the user's script on a script task, against in-memory fakes: node 0 is the script (no
model call), the harness reads every node's score from its metric file, and a missing or garbled
file fails scoring with its reason while the search goes on."""

import time

import anyio

from airad.daemon.runner import drive_run
from airad.daemon.run_services import RunServices
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.schemas.events import NodeAnalyzed, NodeGenerated, NodeScored, NodeSelected, NodeTested, RunSubmitted
from airad.schemas.policies import GreedyPolicy
from airad.schemas.request import Budget, RunRequest, ScriptTask
from tests.fakes import InlineExecutor, ScriptedLLM

PROGRAM = "# Goal\nRaise the accuracy.\n\n## Ideas to avoid\n- support vector machines\n"


def script(value: str) -> str:
    """A script that reads its project's data file and writes `value` as the metric."""
    return (
        "import json\n"
        "rows = open('input/data.csv').read().splitlines()\n"
        f"json.dump({{'accuracy': {value}, 'rows': len(rows)}}, open('metrics.json', 'w'))\n"
    )


def answer(code: str) -> str:
    return f"Plan: a better model.\n\n```python\n{code}```\n"


def _services(tmp_path, llm):
    return RunServices(
        log=InMemoryEventLog(), blobs=InMemoryBlobStore(), index=InMemoryRunIndex(), llm=llm,
        executors={"local": InlineExecutor()}, limiters={"local": anyio.CapacityLimiter(4)},
        tasks_root=tmp_path / "tasks", owner="test-daemon",
    )


async def _run(tmp_path, llm, max_nodes, parallel=1):
    project = tmp_path / "project"
    project.mkdir()
    (project / "data.csv").write_text("x,y\n1,0\n2,1\n")
    services = _services(tmp_path, llm)
    request = RunRequest(
        task=ScriptTask(dir=str(project), metric="accuracy", metric_key="accuracy"),
        policy=GreedyPolicy(debug_prob=1.0, parallel=parallel), budget=Budget(max_nodes=max_nodes),
        baseline=script("0.5"), program=PROGRAM,
    )
    await services.log.append(RunSubmitted(run_id="r", seq=1, at=time.time(), request=request))
    state = await drive_run(services, "r")
    return state, await services.log.read("r")


async def test_node_0_is_the_users_script_and_the_search_improves_it(tmp_path):
    llm = ScriptedLLM([answer(script("0.8"))])
    state, events = await _run(tmp_path, llm, max_nodes=2)
    baseline = next(e for e in events if isinstance(e, NodeGenerated) and e.node_id == 0)
    assert (baseline.model, baseline.code, baseline.prompt_ref, baseline.cost_usd) == ("user", script("0.5"), "", 0.0)
    assert "user's own script" in baseline.plan
    assert [(n.operator, n.parent_ids) for n in state.nodes] == [("baseline", ()), ("improve", (0,))]
    assert [n.score for n in state.nodes] == [0.5, 0.8] and state.best_node_id == 1
    assert len(llm.prompts) == 1, "no model wrote node 0"
    assert not any(isinstance(e, NodeAnalyzed) and e.node_id == 0 for e in events), "nor reviewed it"
    prompt = llm.prompts[0]
    assert "# Research program" in prompt and "support vector machines" in prompt
    assert script("0.5").strip() in prompt and "Validation score measured by the harness: 0.5" in prompt
    assert "metrics.json` as a JSON object with the key `accuracy`" in prompt
    tested = [e for e in events if isinstance(e, NodeTested)]
    assert [t.score for t in tested] == [None, None], "a script task has no held-out test score"


async def test_a_missing_or_garbled_metric_file_fails_scoring_and_the_search_goes_on(tmp_path):
    llm = ScriptedLLM([answer("print('forgot the metric')\n"), answer("open('metrics.json', 'w').write('{oops')\n"), answer(script("0.9"))])
    state, events = await _run(tmp_path, llm, max_nodes=4)
    scored = {e.node_id: e for e in events if isinstance(e, NodeScored)}
    assert not scored[1].valid and "the script wrote no metrics.json" in scored[1].error
    assert not scored[2].valid and "metrics.json is not JSON" in scored[2].error
    assert state.nodes[2].operator == "debug" and state.nodes[3].operator == "debug"
    assert scored[3].valid and scored[3].score == 0.9 and state.best_node_id == 3
    assert "the script wrote no metrics.json" in llm.prompts[1], "the debug prompt shows the harness's reason"


async def test_a_parallel_run_decides_nothing_before_the_script_has_its_score(tmp_path):
    llm = ScriptedLLM(lambda prompt: answer(script("0.7")))
    state, events = await _run(tmp_path, llm, max_nodes=4, parallel=3)
    first_other = next(i for i, e in enumerate(events) if isinstance(e, NodeSelected) and e.node_id == 1)
    baseline_scored = next(i for i, e in enumerate(events) if isinstance(e, NodeScored) and e.node_id == 0)
    assert baseline_scored < first_other
    assert all(n.parent_ids for n in state.nodes[1:]) and len(state.nodes) == 4
