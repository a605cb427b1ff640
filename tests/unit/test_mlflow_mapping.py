"""What an MLflow run mirrors of an airad run, computed from the fold; and the tail's batching."""

from airad.events.fold import fold
from airad.schemas.events import NodeFailed, NodeSelected, RunFinished, RunRejected, RunStarted
from airad.schemas.request import BundledTask, LocalExecutor, RunRequest
from airad.tracking.mlflow_mapping import CURSOR_TAG, RUN_ID_TAG, mirror
from airad.tracking.tail import RunTail
from tests.factories import History

REQUEST = RunRequest(task=BundledTask(name="wine"), seed=3, executor=LocalExecutor(), labels={"team": "a"})


def finished_history() -> History:
    history = History("r1", REQUEST)
    history.add(RunStarted, owner="d1")
    history.node(0, "draft", score=0.7, test=0.6).node(1, "draft", score=None, exit_code=1)
    history.add(NodeSelected, node_id=2, operator="improve", parent_ids=(0,))
    history.add(NodeFailed, node_id=2, stage="generate", reason="nonsense", prompt_tokens=3, cost_usd=0.02)
    history.add(RunFinished, reason="max_nodes", best_node_id=0)
    return history


def points(batch, key):
    return [(p.step, p.value) for p in batch.metrics if p.key == key]


def test_a_whole_run_mirrors_params_tags_node_metrics_and_the_best():
    events = finished_history().events
    batch = mirror(fold(events), events)
    assert batch.params == {"task": "wine", "task_kind": "bundled", "policy": "greedy", "model": "airad-offline/coder",
                            "seed": "3", "executor": "local", "max_nodes": "20"}
    assert batch.tags[RUN_ID_TAG] == "r1" and batch.tags["label.team"] == "a" and batch.tags["airad.metric"] == "roc_auc"
    assert batch.tags[CURSOR_TAG] == str(len(events)) and batch.tags["airad.best_node_id"] == "0"
    assert batch.tags["airad.finish_reason"] == "max_nodes"
    assert points(batch, "validation_score") == [(0, 0.7)]
    assert points(batch, "test_score") == [(0, 0.6), (1, 0.8)]
    assert points(batch, "buggy") == [(0, 0.0), (1, 1.0), (2, 1.0)]
    assert points(batch, "exit_code") == [(0, 0.0), (1, 1.0)]
    assert points(batch, "tokens") == [(0, 12.0), (1, 12.0), (2, 3.0)]
    assert points(batch, "cost_usd") == [(0, 0.01), (1, 0.01), (2, 0.02)]
    assert points(batch, "best_validation_score") == [(0, 0.7)] and points(batch, "best_test_score") == [(0, 0.6)]
    assert points(batch, "nodes") == [(0, 3.0)] and points(batch, "buggy_nodes") == [(0, 2.0)]
    assert batch.status == "FINISHED" and batch.end_time_ms == round(events[-1].at * 1000)


def test_batches_write_each_point_once():
    events = finished_history().events
    whole = mirror(fold(events), events)
    cut = 9
    first = mirror(fold(events[:cut]), events[:cut])
    second = mirror(fold(events), events[cut:])
    assert sorted(first.metrics + second.metrics, key=repr) == sorted(whole.metrics, key=repr)
    assert first.status == "RUNNING" and first.params and not second.params
    assert first.tags[CURSOR_TAG] == str(cut)


def test_a_rejected_run_is_a_failed_mlflow_run():
    events = [RunRejected(run_id="bad", seq=1, at=5.0, field="$.budget.max_nodes", reason="must be >= 1")]
    batch = mirror(fold(events), events)
    assert batch.status == "FAILED" and batch.params == {} and not batch.metrics
    assert batch.tags["airad.finish_reason"] == "$.budget.max_nodes: must be >= 1"


async def test_the_tail_retries_a_failed_batch_and_forgets_ended_runs():
    calls, fail = [], [True]

    async def apply(state, events):
        calls.append((state.last_seq, [e.seq for e in events]))
        if fail[0]:
            raise OSError("store down")
        return len(events)

    tail = RunTail(apply)
    events = finished_history().events
    for event in events[:4]:
        tail.add(event)
    await tail.flush()
    assert tail.pending
    fail[0] = False
    for event in events[4:]:
        tail.add(event)
    await tail.flush()
    assert calls[-1] == (len(events), list(range(1, len(events) + 1)))
    assert not tail.pending and not tail.states and tail.ended == {"r1"} and tail.written == len(events)


async def test_a_run_whose_events_do_not_fold_is_left_out():
    async def apply(state, events):
        return len(events)

    tail = RunTail(apply)
    events = finished_history().events
    tail.add(events[0])
    tail.add(events[2])
    await tail.flush()
    assert tail.ended == {"r1"} and tail.written == 0
