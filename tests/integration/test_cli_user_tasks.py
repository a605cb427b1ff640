"""`airad tasks`, `airad task freeze` and `airad run` on a user's CSV and contract tasks, as a user runs them."""

import json

import pytest

from tests.conftest import require
from tests.integration.test_cli import airad
from tests.unit.test_user_tasks import CONTRACT, shop_table

pytestmark = pytest.mark.integration


def _shop_csv(folder):
    path = folder / "shop.csv"
    shop_table(200, seed=5).to_csv(path, index=False)
    return path


def _request(task_table: str) -> str:
    return f"seed = 1\n{task_table}\n[policy]\nkind = \"greedy\"\nnum_drafts = 2\n[budget]\nmax_nodes = 2\n"


def test_tasks_lists_bundled_tasks_and_metrics(tmp_path):
    listed = airad("tasks", "--json", state_dir=tmp_path / "s")
    assert listed.returncode == 0, listed.stderr
    tasks = {t["name"]: t for t in json.loads(listed.stdout)}
    assert tasks["penguins-species"]["categorical"] and tasks["penguins-species"]["missing"]
    assert tasks["penguins-body-mass"]["kind"] == "regression" and tasks["digits"]["features"] == 64
    table = airad("tasks", state_dir=tmp_path / "s").stdout
    assert table.splitlines()[0].split() == [
        "NAME", "KIND", "METRIC", "DIRECTION", "ROWS", "FEATURES", "CATEGORICAL", "MISSING", "TITLE",
    ]
    metrics = json.loads(airad("tasks", "--metrics", "--json", state_dir=tmp_path / "s").stdout)
    directions = {m["name"]: m["lower_is_better"] for m in metrics}
    assert directions == {
        "roc_auc": False, "accuracy": False, "rmse": True, "mae": True, "rmsle": True, "r2": False, "mape": True,
        "log_loss": True, "f1": False, "f1_macro": False, "mcc": False, "quadratic_weighted_kappa": False,
    }
    assert "lower is better" in airad("tasks", "--metrics", state_dir=tmp_path / "s").stdout


def test_run_on_a_user_csv_task(tmp_path):
    require("bwrap")
    data = _shop_csv(tmp_path)
    request = tmp_path / "shop.toml"
    request.write_text(_request(
        f'[task]\nkind = "csv"\ntrain = "{data}"\ntarget = "price"\nmetric = "rmse"\nid_column = "sku"\n'
        'title = "Shop prices"'
    ))
    state = tmp_path / "state"
    done = airad("run", str(request), state_dir=state)
    assert done.returncode == 0, done.stderr
    assert "best node" in done.stdout and "held-out test rmse" in done.stdout
    [summary] = json.loads(airad("runs", "--json", state_dir=state).stdout)
    assert summary["metric"] == "rmse" and summary["best_score"] is not None and summary["best_score"] < 10


def test_freeze_then_run_on_a_contract_task(tmp_path):
    require("bwrap")
    _shop_csv(tmp_path)
    contract = tmp_path / "shop_task.py"
    contract.write_text(CONTRACT)
    frozen = airad("task", "freeze", str(contract), state_dir=tmp_path / "state")
    assert frozen.returncode == 0, frozen.stderr
    assert 'kind = "contract"' in frozen.stdout and "sha256 = " in frozen.stdout
    request = tmp_path / "contract.toml"
    request.write_text(_request(frozen.stdout))
    done = airad("run", str(request), state_dir=tmp_path / "state")
    assert done.returncode == 0, done.stderr
    assert "best node" in done.stdout and "held-out test max_error" in done.stdout

    contract.write_text(CONTRACT + "\n# edited\n")
    rejected = airad("submit", str(request), state_dir=tmp_path / "other")
    assert rejected.returncode == 2
    assert "$.task.sha256" in rejected.stderr and "changed since it was frozen" in rejected.stderr
    broken = tmp_path / "broken.py"
    broken.write_text(CONTRACT.replace("def evaluate(", "def score("))
    refused = airad("task", "freeze", str(broken), state_dir=tmp_path / "state")
    assert refused.returncode == 2 and "defines no function evaluate()" in refused.stderr
