"""The TUI's pure parts: the timeline's folds, seeking, reading event files, the tree's shape, the
digest of a state and the runs table's rows."""

import random

import msgspec
import pytest

from airad.agents.evolution import islands_of
from airad.agents.policy_view import policy_view
from airad.events.fold import fold
from airad.events.log import RunSummary
from airad.reports.summary import summarize
from airad.schemas.events import encode_event
from airad.tui import timeline as timeline_module
from airad.tui.digest import digest
from airad.tui.event_file import read_event_file
from airad.tui.run_rows import cells, matches, visible
from airad.tui.timeline import Timeline, seek_target
from airad.tui.tree_shape import Island, TreeShape
from tests.replay.make_golden import POLICIES, load
from tests.tui.helpers import selected_count, wide_run


@pytest.mark.parametrize("name", list(POLICIES))
def test_timeline_state_at_is_the_fold_of_the_prefix_in_any_order(name, monkeypatch):
    monkeypatch.setattr(timeline_module, "CHECKPOINT_EVERY", 7)
    events = load(name)
    timeline = Timeline(events[0].run_id, events)
    positions = list(range(len(events) + 1))
    random.Random(0).shuffle(positions)
    for position in positions + [3, 4, 5, 4, 3, len(events), 0]:
        assert timeline.state_at(position) == fold(events[:position], events[0].run_id), position


def test_checkpoints_folded_ahead_give_the_same_states(monkeypatch):
    monkeypatch.setattr(timeline_module, "CHECKPOINT_EVERY", 10)
    events = load("evolutionary")
    timeline = Timeline(events[0].run_id, events[:55])
    assert timeline.state_at(3) == fold(events[:3])
    added = 0
    while timeline.add_checkpoint():
        added += 1
    assert added == 5
    timeline.extend(events[55:])
    while timeline.add_checkpoint():
        added += 1
    assert added == len(events) // 10
    for position in (len(events), 41, 40, 39, 7, 66):
        assert timeline.state_at(position) == fold(events[:position]), position


def test_timeline_skips_redelivered_events_and_refuses_gaps():
    events = load("greedy")
    timeline = Timeline(events[0].run_id, events[:10])
    timeline.extend(events[5:20])
    assert len(timeline) == 20 and timeline.state_at(99) == fold(events[:20])
    with pytest.raises(ValueError, match="seq 22 after 20"):
        timeline.extend(events[21:22])
    assert timeline.node_count == selected_count(events[:20])


def test_timeline_knows_where_each_node_was_selected_and_the_elapsed_time():
    events = load("mcts")
    timeline = Timeline(events[0].run_id, events)
    for node in fold(events).nodes:
        position = timeline.selection_of(node.id)
        assert len(timeline.state_at(position).nodes) == node.id + 1
        assert len(timeline.state_at(position - 1).nodes) == node.id
    assert timeline.selection_of(999) is None
    assert timeline.node_count == len(fold(events).nodes)
    assert timeline.elapsed(0) == 0.0 and timeline.elapsed(len(events)) == events[-1].at - events[0].at


@pytest.mark.parametrize(("text", "expected"), [
    ("50%", 50), ("0%", 0), ("100%", 100), ("150%", 100), ("+10", 30), ("-10", 10), ("-99", 0), ("42", 42), ("500", 100),
])
def test_seek_targets(text, expected):
    assert seek_target(text, 20, 100) == expected


@pytest.mark.parametrize("text", ["", "abc", "5x%"])
def test_seek_target_rejects_nonsense(text):
    with pytest.raises(ValueError):
        seek_target(text, 0, 10)


def test_event_file_reads_bare_events_and_export_lines_skipping_the_rest(tmp_path):
    events = load("greedy")
    bare = tmp_path / "events.jsonl"
    bare.write_bytes(b"\n".join(encode_event(e) for e in events) + b"\n")
    assert read_event_file(bare) == events

    exported = tmp_path / "run.jsonl"
    header = {"kind": "header", "format": "airad-run", "version": 1, "run_id": events[0].run_id, "events": len(events)}
    lines = [msgspec.json.encode(header)]
    lines += [b'{"kind":"event","event":' + encode_event(e) + b"}" for e in reversed(events)]
    lines += [b'{"kind":"blob","ref":"ab","data":"AAA="}', b"not json", b'{"kind":"event","event":{"type":"nope"}}']
    exported.write_bytes(b"\n".join(lines))
    assert read_event_file(exported) == events

    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"kind":"header"}\n')
    with pytest.raises(ValueError, match="no events"):
        read_event_file(empty)


def test_tree_shape_puts_children_under_their_first_parent_and_drafts_on_islands():
    history = wide_run(40, drafts=6, islands=3)
    state = fold(history.events)
    shape = TreeShape(3)
    for node in state.nodes:
        shape.add(node)
    expected = islands_of(state.request.policy, policy_view(state))
    for node in state.nodes:
        key = node.id
        while isinstance(key, int):
            key = shape.home(key)
        assert key == Island(expected[node.id])
    assert shape.kids(None) == [Island(0), Island(1), Island(2)]
    assert sum(len(shape.kids(n.id)) for n in state.nodes) == 34
    while len(shape):
        shape.pop()
    assert shape.kids(Island(0)) == [] and shape.kids(None) == [Island(0), Island(1), Island(2)]


@pytest.mark.parametrize("name", list(POLICIES))
def test_digest_agrees_with_the_fold_and_the_summary(name):
    events = load(name)
    for position in (len(events) // 3, len(events)):
        state = fold(events[:position])
        facts = digest(state)
        summary = summarize(state, 0.0)
        assert facts.best == state.best_node()
        assert facts.buggy == summary.buggy and facts.in_flight == summary.in_flight
        if facts.best is not None:
            assert facts.series[-1] == facts.best.score and facts.series == sorted(facts.series)


def test_rows_filter_by_words_and_fields_and_sort_by_any_column():
    runs = [
        RunSummary("r-a", "finished", task="wine", policy="mcts", nodes=5, best_score=0.9, cost_usd=1.0, submitted_at=10.0),
        RunSummary("r-b", "running", task="iris", policy="greedy", nodes=9, best_score=None, cost_usd=3.0, submitted_at=30.0),
        RunSummary("r-c", "rejected", task="wine", policy="greedy", nodes=0, best_score=0.5, cost_usd=2.0, submitted_at=20.0),
    ]
    assert [s.run_id for s in visible(runs, "", "age", True)] == ["r-b", "r-c", "r-a"]
    assert [s.run_id for s in visible(runs, "", "valid", True)] == ["r-a", "r-c", "r-b"]
    assert [s.run_id for s in visible(runs, "", "cost", False)] == ["r-a", "r-c", "r-b"]
    assert [s.run_id for s in visible(runs, "wine", "run", False)] == ["r-a", "r-c"]
    assert [s.run_id for s in visible(runs, "status:run", "run", False)] == ["r-b"]
    assert [s.run_id for s in visible(runs, "wine greedy", "run", False)] == ["r-c"]
    assert not matches(runs[0], "policy:greedy")
    row = cells(RunSummary("x", "running", nodes=7, buggy=2, in_flight=1, best_score=0.123456, cost_usd=0.5, submitted_at=0.0), 125.0)
    assert row[4] == "7/2/1" and row[5] == "0.12346" and row[7] == "$0.50" and row[8] == "2m"


def test_the_run_header_shows_the_gradient_boosting_baseline_when_recorded():
    from airad.events.fold import RunState
    from airad.schemas.events import Baseline
    from airad.tui.digest import digest
    from airad.tui.run_screen import header

    plain = RunState(run_id="r", metric="roc_auc")
    assert "baseline" not in header(plain, digest(plain)).plain
    boosted = Baseline("gradient boosting", validation=0.95181, test=0.99457)
    state = RunState(run_id="r", metric="roc_auc", baselines=(Baseline("positive rate", 0.5, 0.5), boosted))
    assert "baseline (gradient boosting): 0.95181, test 0.99457" in header(state, digest(state)).plain
