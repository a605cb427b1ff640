"""A synthetic competition laid out exactly like MLE-bench's prepared data, searched end to end by the
real CLI (offline coder, sandboxed local executor): fitness from the harness's validation split,
test scores with medals from the competition's leaderboard, and `airad report` over the run."""

from __future__ import annotations

import json

import pytest

from tests.conftest import require
from tests.integration.test_cli import airad
from tests.synthetic_competitions import leaf_classification, tabular_playground

pytestmark = pytest.mark.integration


def test_a_prepared_competition_is_searched_graded_and_medalled(tmp_path):
    require("bwrap")
    data = tabular_playground(tmp_path / "mle-bench" / "tabular-playground-series-may-2022" / "prepared")
    request = tmp_path / "competition.toml"
    request.write_text(
        'run_id = "playground"\nseed = 1\n'
        f'[task]\nkind = "mlebench"\ncompetition = "tabular-playground-series-may-2022"\ndata_dir = "{data}"\n'
        '[policy]\nkind = "greedy"\nnum_drafts = 2\n[budget]\nmax_nodes = 3\n'
    )
    state = tmp_path / "state"
    run = airad("run", str(request), "--json", state_dir=state, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["nodes"] == 3 and summary["metric"] == "roc_auc"
    assert 0.6 < summary["best_score"] <= 1.0

    events = [json.loads(line) for line in airad("events", "playground", "--json", state_dir=state).stdout.splitlines()]
    scored = [e for e in events if e["type"] == "node.scored" and e["valid"]]
    tested = [e for e in events if e["type"] == "node.tested"]
    assert scored and len(tested) == 3
    for event in tested:
        assert set(event["medal_thresholds"]) == {"gold", "silver", "bronze", "median"}
        assert event["above_median"] in (True, False)
        assert event["medal"] in (None, "gold", "silver", "bronze")

    detail = airad("show", "playground", "--node", str(summary["best_node_id"]), state_dir=state).stdout
    assert "grading (held-out test):" in detail and "thresholds: gold" in detail

    report = json.loads(airad("report", "playground", "--json", state_dir=state).stdout)
    [row] = report["runs"]
    assert row["has_medals"] and row["chosen"]["node_id"] == summary["best_node_id"]
    assert row["chosen"]["test"] is not None
    [group] = report["groups"]
    assert set(group["any_medal_pct"]) == {"validation", "oracle"}


def test_a_competition_with_one_hot_answers_is_searched_and_graded_on_held_out_training_rows(tmp_path):
    require("bwrap")
    data = leaf_classification(tmp_path / "mle-bench" / "leaf-classification" / "prepared")
    request = tmp_path / "leaf.toml"
    request.write_text(
        'run_id = "leaf"\nseed = 2\n'
        f'[task]\nkind = "mlebench"\ncompetition = "leaf-classification"\ndata_dir = "{data}"\nvalidation_fraction = 0.25\n'
        '[policy]\nkind = "greedy"\nnum_drafts = 2\n[budget]\nmax_nodes = 2\n'
    )
    state = tmp_path / "state"
    run = airad("run", str(request), "--json", state_dir=state, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["metric"] == "multiclass_log_loss"

    events = [json.loads(line) for line in airad("events", "leaf", "--json", state_dir=state).stdout.splitlines()]
    valid = [e for e in events if e["type"] == "node.scored" and e["valid"]]
    tested = [e for e in events if e["type"] == "node.tested" and e["score"] is not None]
    assert valid, "the offline coder plants bugs in some drafts, not in all"
    assert all(e["lower_is_better"] and 0.0 <= e["score"] < 1.0 for e in valid), "60 held-out leaves, by log loss"
    assert len(tested) == len(valid) and all(0.0 <= e["score"] < 1.0 for e in tested)
    assert all(e["medal"] in (None, "gold", "silver", "bronze") for e in tested)
