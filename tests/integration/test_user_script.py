"""`airad run` from the user's own script, as a user runs it: a real process, a real embedded
nats-server, the local executor and the offline coder. Node 0 is the user's weak train.py, the
harness reads each node's accuracy from the metrics.json it writes, and the search beats it."""

import json
from pathlib import Path

import pytest

from tests.conftest import require
from tests.integration.test_cli import airad

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]

TRAIN = '''"""A deliberately weak baseline: a depth-1 decision tree on the wine table in ./input/."""

import json

import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

data = pd.read_csv("input/wine.csv")
X, y = data.drop(columns=["cultivar"]), data["cultivar"]
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
model = DecisionTreeClassifier(max_depth=1, random_state=0)
model.fit(X_train, y_train)
accuracy = float((model.predict(X_valid) == y_valid).mean())
print(f"Validation metric: {accuracy:.4f}")
with open("metrics.json", "w") as handle:
    json.dump({"accuracy": accuracy}, handle)
'''

PROGRAM = """# Goal
Raise the accuracy of train.py.

## Ideas to try
- random forest

## Ideas to avoid
- k-nearest neighbours and support vector machines
"""

REQUEST = """seed = 4
program_file = "PROGRAM.md"
baseline_file = "project/train.py"
[task]
kind = "script"
dir = "project"
metric = "accuracy"
metric_key = "accuracy"
[policy]
kind = "mcts"
num_children = 2
[budget]
max_nodes = 4
[executor]
kind = "local"
node_timeout_s = 120
"""


def _project(folder: Path) -> Path:
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    project = folder / "project"
    project.mkdir()
    wine.to_csv(project / "wine.csv", index=False)
    (project / "train.py").write_text(TRAIN)
    (folder / "PROGRAM.md").write_text(PROGRAM)
    request = folder / "request.toml"
    request.write_text(REQUEST)
    return request


def test_a_run_from_the_users_script_improves_on_its_score(tmp_path):
    require("bwrap")
    request = _project(tmp_path)
    state_dir = tmp_path / "state"
    done = airad("run", str(request), state_dir=state_dir)
    assert done.returncode == 0, done.stderr
    assert "started from the user's script (node 0): validation accuracy" in done.stdout

    state = json.loads(airad("show", "req-1", "--json", state_dir=state_dir).stdout)
    nodes = state["nodes"]
    assert state["request"]["program"] == PROGRAM and state["request"]["baseline"] == TRAIN
    assert state["request"]["task"]["dir"] == str((tmp_path / "project").resolve())
    first = nodes[0]
    assert (first["operator"], first["model"], first["code"], first["parent_ids"]) == ("baseline", "user", TRAIN, [])
    assert first["valid"] and 0.3 < first["score"] < 0.8, "the weak script runs and the harness reads its score"
    assert all(n["parent_ids"] for n in nodes[1:]), "the search improves the script, it drafts nothing"
    assert "draft" not in {n["operator"] for n in nodes}
    best = next(n for n in nodes if n["id"] == state["best_node_id"])
    assert best["id"] != 0 and best["score"] > first["score"], "the search beats the user's script"
    assert nodes[1]["plan"].startswith("Model family: random forest."), "the program's idea to try comes first"
    plans = " ".join(n["plan"] for n in nodes)
    assert "Model family: k-nearest" not in plans and "Model family: support vector" not in plans

    events = [json.loads(line) for line in airad("events", "req-1", "--json", state_dir=state_dir).stdout.splitlines()]
    selected = [e for e in events if e["type"] == "node.selected"]
    assert selected[0]["operator"] == "baseline" and selected[0]["node_id"] == 0
    generated = next(e for e in events if e["type"] == "node.generated" and e["node_id"] == 0)
    assert generated["model"] == "user" and generated["prompt_ref"] == "" and generated["cost_usd"] == 0
    assert not [e for e in events if e["type"] == "node.analyzed" and e["node_id"] == 0], "no model call for node 0"
    scored_valid = {e["node_id"] for e in events if e["type"] == "node.scored" and e["valid"]}
    reviews = {e["node_id"]: e for e in events if e["type"] == "node.analyzed"}
    assert scored_valid - {0} and all(reviews[n]["is_bug"] is False for n in scored_valid - {0}), (
        "the review follows the task's contract: the metric is in metrics.json, not a printed line"
    )
    executed = next(e for e in events if e["type"] == "node.executed" and e["node_id"] == 0)
    assert list(executed["outputs"]) == ["metrics.json"], "the metric file comes back as a blob reference"


def test_the_example_runs_offline(tmp_path):
    require("bwrap")
    state_dir = tmp_path / "state"
    done = airad("run", str(ROOT / "examples" / "user-script" / "request.toml"), state_dir=state_dir)
    assert done.returncode == 0, done.stderr
    [summary] = json.loads(airad("runs", "--json", state_dir=state_dir).stdout)
    state = json.loads(airad("show", summary["run_id"], "--json", state_dir=state_dir).stdout)
    baseline = state["nodes"][0]
    assert baseline["operator"] == "baseline" and baseline["valid"]
    assert summary["metric"] == "accuracy" and summary["best_score"] > baseline["score"]
